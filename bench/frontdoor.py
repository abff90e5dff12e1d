"""The HTTP front doors' cost: a warm request through a function URL and through an HTTP API route, next to a
direct Invoke of the same function and the bare HTTP server, all in the same run.

    python bench/frontdoor.py [--seconds 5] [--rounds 3] [--memory 1769]

Each round measures, with wrk, one connection (one request at a time: p50, p99) and 32 connections (requests per
second) for the bare server, Invoke, the function URL (Host-routed) and the HTTP API (quick-created, `$default`
route and stage), one after the other; the figures are the medians over the rounds. The function returns a
payload-2.0 response (`{"statusCode": 200, "body": "ok"}`) to all three, at `--memory` MB (1,769 MB is one vCPU, so
the CPU share is not what is measured). Requires wrk.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import platform
import statistics
import sys
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import start_bare_server, start_firebox, stop  # noqa: E402
from invoke import ROLE, RUNTIME, wrk, wrk_latency  # noqa: E402

APP = "def handler(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n"


def _zip() -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("app.py", APP)
    return base64.b64encode(buffer.getvalue()).decode()


def _call(port: int, method: str, path: str, body: object | None = None) -> dict[str, object]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        raw = response.read()
    doc: dict[str, object] = json.loads(raw) if raw else {}
    return doc


def _deploy(port: int, memory: int) -> tuple[str, str]:
    """The function, its URL's Host and its HTTP API's Host."""
    function = {"FunctionName": "frontdoor", "Runtime": RUNTIME, "Role": ROLE, "Handler": "app.handler"}
    created = _call(
        port, "POST", "/2015-03-31/functions", {**function, "MemorySize": memory, "Code": {"ZipFile": _zip()}}
    )
    while _call(port, "GET", "/2015-03-31/functions/frontdoor/configuration").get("State") != "Active":
        time.sleep(0.05)
    url = str(_call(port, "POST", "/2021-10-31/functions/frontdoor/url", {"AuthType": "NONE"})["FunctionUrl"])
    api = _call(port, "POST", "/v2/apis", {"name": "bench", "protocolType": "HTTP", "target": created["FunctionArn"]})
    return url.split("//", 1)[1].rstrip("/"), str(api["apiEndpoint"]).split("//", 1)[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--memory", type=int, default=1769)
    args = parser.parse_args()
    figures: dict[str, list[float]] = {}

    def record(label: str, value: float) -> None:
        figures.setdefault(label, []).append(value)

    with tempfile.TemporaryDirectory(prefix="firebox-bench-") as tmp:
        firebox, port = start_firebox(Path(tmp) / "data")
        bare, bare_port = start_bare_server()
        try:
            url_host, api_host = _deploy(port, args.memory)
            base = f"http://127.0.0.1:{port}"
            targets = {
                "bare server": (f"http://127.0.0.1:{bare_port}/", None),
                "Invoke": (f"{base}/2015-03-31/functions/frontdoor/invocations", None),
                "function URL": (f"{base}/", {"Host": url_host}),
                "HTTP API": (f"{base}/", {"Host": api_host}),
            }
            for url, headers in targets.values():  # warm every path (and the environments) first
                wrk(url, 1, "{}", headers=headers)
            for _ in range(args.rounds):
                for label, (url, headers) in targets.items():
                    p50, p99 = wrk_latency(url, args.seconds, "{}", headers=headers)
                    record(f"{label}, one connection, p50", p50)
                    record(f"{label}, one connection, p99", p99)
                    record(f"{label}, 32 connections", wrk(url, args.seconds, "{}", headers=headers))
        finally:
            stop(bare)
            stop(firebox)

    medians = {label: statistics.median(values) for label, values in figures.items()}
    for door in ("function URL", "HTTP API"):
        medians[f"{door} p50 / Invoke p50"] = (
            medians[f"{door}, one connection, p50"] / medians["Invoke, one connection, p50"]
        )
        medians[f"{door} throughput / Invoke"] = medians[f"{door}, 32 connections"] / medians["Invoke, 32 connections"]
    print(
        f"# frontdoor, CPython {platform.python_version()}, MemorySize {args.memory}, {args.rounds} rounds of "
        f"{args.seconds} s, medians"
    )
    for label, value in medians.items():
        unit = (
            "ms"
            if "p50" in label and "/" not in label or "p99" in label
            else "req/s"
            if "connections" in label
            else "x"
        )
        print(f"{label:48s} {value:10.3f} {unit}")
    print(json.dumps({label: round(value, 3) for label, value in medians.items()}))


if __name__ == "__main__":
    main()
