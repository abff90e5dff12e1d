"""Invocation speed: cold starts, warm latency, throughput, environment creation and idle footprint, next to a bare
HTTP server measured in the same run.

    python bench/invoke.py [--samples 2000] [--cold 40] [--seconds 5] [--idle 1000]

- cold start: a new function's first invocation, end to end over HTTP (one keep-alive connection), including the
  sandbox's creation, and the Init Duration the REPORT line gives;
- warm: the same hello-world function invoked again and again over one keep-alive connection (p50, p99), from
  Python's http.client and from wrk (one connection, one request at a time: a lighter client);
- throughput: wrk with 32 connections for `--seconds` against a no-op handler, and against the bare server;
- environment creation rate: cold starts per second, one after the other;
- idle footprint: `--idle` environments kept warm (one per function), and how much of the machine's memory they take.

Requires wrk (apt-get install wrk) for the throughput figures; everything else is Python.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Client, ms, repeat, start_bare_server, start_firebox, stop  # noqa: E402

ROLE = "arn:aws:iam::000000000000:role/bench"
RUNTIME = f"python3.{sys.version_info.minor}"
HELLO = "def handler(event, context):\n    return {'ok': True}\n"


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def code() -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("app.py", HELLO)
    return base64.b64encode(buffer.getvalue()).decode()


def wrk_latency(url: str, seconds: int, body: str, headers: dict[str, str] | None = None) -> tuple[float, float]:
    """p50 and p99 in ms over one keep-alive connection, one request at a time (wrk's own, lighter client)."""
    out = _wrk(url, seconds, body, "-t1", "-c1", "--latency", headers=headers)
    return _wrk_ms(out, "50%"), _wrk_ms(out, "99%")


def _wrk_ms(out: str, label: str) -> float:
    match = re.search(rf"^\s+{re.escape(label)}\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
    assert match, out
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def wrk(url: str, seconds: int, body: str, event: bool = False, headers: dict[str, str] | None = None) -> float:
    """Requests per second with 32 connections, POSTing `body` (as Event invocations if `event`)."""
    out = _wrk(url, seconds, body, "-t2", "-c32", event=event, headers=headers)
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert match, out
    return float(match.group(1))


def _wrk(
    url: str, seconds: int, body: str, *options: str, event: bool = False, headers: dict[str, str] | None = None
) -> str:
    script = Path(tempfile.mkstemp(prefix="firebox-bench-", suffix=".lua")[1])
    extra = {**({"X-Amz-Invocation-Type": "Event"} if event else {}), **(headers or {})}
    script.write_text(
        f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\nwrk.headers["Content-Type"] = "application/json"\n'
        + "".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n" for k, v in extra.items())
    )
    try:
        out = subprocess.run(
            ["wrk", *options, f"-d{seconds}s", "-s", str(script), url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        script.unlink()
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"wrk saw {errors.group(1)} error responses:\n{out}")
    return out


def mem_available_mb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--cold", type=int, default=40)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--idle", type=int, default=0, help="environments to keep warm for the footprint figure")
    parser.add_argument("--memory", type=int, default=128, help="MemorySize of the functions (CPU scales with it)")
    args = parser.parse_args()
    have_wrk = shutil.which("wrk") is not None
    rows: list[tuple[str, float, str]] = []

    bare, bare_port = start_bare_server()
    try:
        client = Client(bare_port)
        repeat(lambda: client.timed("POST", "/", {}), 200)
        bare_samples = repeat(lambda: client.timed("POST", "/", {}), args.samples)
        bare_rps = wrk(f"http://127.0.0.1:{bare_port}/", args.seconds, "{}") if have_wrk else 0.0
        bare_wrk = wrk_latency(f"http://127.0.0.1:{bare_port}/", args.seconds, "{}") if have_wrk else None
    finally:
        stop(bare)
    rows.append(("bare HTTP POST, p50 (reference)", ms(bare_samples), "ms"))
    rows.append(("bare HTTP POST, p99 (reference)", percentile(bare_samples, 0.99), "ms"))

    with tempfile.TemporaryDirectory(prefix="firebox-bench-") as tmp:
        firebox, port = start_firebox(Path(tmp) / "data")
        try:
            client = Client(port)
            zipped = code()

            def deploy(name: str) -> None:
                body = {
                    "FunctionName": name,
                    "Runtime": RUNTIME,
                    "Handler": "app.handler",
                    "Role": ROLE,
                    "MemorySize": args.memory,
                    "Code": {"ZipFile": zipped},
                }
                client.timed("POST", "/2015-03-31/functions", body, expect=201)
                while (
                    json.loads(client.request("GET", f"/2015-03-31/functions/{name}")[1])["Configuration"]["State"]
                    != "Active"
                ):
                    time.sleep(0.005)

            time.sleep(3)  # let the zygotes finish starting
            deploy("warmup")
            client.timed("POST", "/2015-03-31/functions/warmup/invocations", {})
            colds, inits = [], []
            for i in range(args.cold):
                deploy(f"cold-{i}")
                started = time.perf_counter()
                client.conn.request(
                    "POST",
                    f"/2015-03-31/functions/cold-{i}/invocations",
                    body=b"{}",
                    headers={"X-Amz-Log-Type": "Tail"},
                )
                response = client.conn.getresponse()
                response.read()
                colds.append(time.perf_counter() - started)
                log = base64.b64decode(response.headers["X-Amz-Log-Result"]).decode()
                inits.append(float(re.search(r"Init Duration: ([\d.]+) ms", log).group(1)) / 1000)  # type: ignore[union-attr]
            parallel = [f"parallel-{i}" for i in range(args.cold * 2)]
            for name in parallel:
                deploy(name)

            def first_invoke(name: str) -> None:
                Client(port).timed("POST", f"/2015-03-31/functions/{name}/invocations", {})

            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(first_invoke, parallel))
            parallel_rate = len(parallel) / (time.perf_counter() - started)
            warm_path = "/2015-03-31/functions/warmup/invocations"
            repeat(lambda: client.timed("POST", warm_path, {}), 200)
            warms = repeat(lambda: client.timed("POST", warm_path, {}), args.samples)
            rps = wrk(f"http://127.0.0.1:{port}{warm_path}", args.seconds, "{}") if have_wrk else 0.0
            warm_wrk = wrk_latency(f"http://127.0.0.1:{port}{warm_path}", args.seconds, "{}") if have_wrk else None
            footprint = None
            if args.idle:
                before = mem_available_mb()
                for i in range(args.idle):
                    name = f"idle-{i}"
                    deploy(name)
                    client.timed("POST", f"/2015-03-31/functions/{name}/invocations", {})
                time.sleep(1)
                footprint = (before - mem_available_mb(), args.idle)
        finally:
            stop(firebox)

    rows += [
        ("cold start, end to end, p50", ms(colds), "ms"),
        ("cold start, Init Duration, p50", ms(inits), "ms"),
        ("environment creation rate (sequential cold starts)", 1 / (sum(colds) / len(colds)), "/s"),
        ("environment creation rate (8 cold starts at a time)", parallel_rate, "/s"),
        ("warm invoke, end to end, p50", ms(warms), "ms"),
        ("warm invoke, end to end, p99", percentile(warms, 0.99), "ms"),
    ]
    if bare_wrk and warm_wrk:
        rows += [
            ("bare HTTP POST, wrk one connection, p50 (reference)", bare_wrk[0], "ms"),
            ("bare HTTP POST, wrk one connection, p99 (reference)", bare_wrk[1], "ms"),
            ("warm invoke, wrk one connection, p50", warm_wrk[0], "ms"),
            ("warm invoke, wrk one connection, p99", warm_wrk[1], "ms"),
        ]
    if have_wrk:
        rows += [
            ("bare HTTP, 32 connections (reference)", bare_rps, "req/s"),
            ("no-op invoke, 32 connections", rps, "req/s"),
            ("no-op invoke throughput / bare", 100 * rps / bare_rps, "%"),
        ]
    if footprint:
        used, count = footprint
        rows.append((f"{count} idle warm environments, memory taken", used, "MB"))
        rows.append(("per idle environment", used / count, "MB"))
    print(
        f"# invoke, {platform.python_implementation()} {platform.python_version()}, runtime {RUNTIME}, "
        f"MemorySize {args.memory}, {args.samples} warm samples, {args.cold} cold starts"
    )
    for label, value, unit in rows:
        print(f"{label:55} {value:10.2f} {unit}")
    print(json.dumps({label: round(value, 3) for label, value, _ in rows}))


if __name__ == "__main__":
    main()
