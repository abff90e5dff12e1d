"""What logging, metrics, tracing and billing cost a warm invocation: throughput with them on and off.

Each run starts two servers in turn, one with its default settings and one with `telemetry = false` (no log
writing, no metrics, no ledger: the switch exists for this measurement), deploys a function that prints one log
line per invocation (1,769 MB, so a whole vCPU and no CPU quota in the way), warms it, and drives it with wrk
(32 connections, `--seconds` each; the server's CPU time per invocation over that run from /proc) and with wrk over
one connection for the p50 latency. The bare HTTP server is
measured in the same run as the reference. Modes alternate within each run, and the medians of the runs are quoted.

Usage: .venv/bin/python bench/observability.py [--runs 3] [--seconds 5]   (needs wrk: apt-get install wrk)
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Client, start_bare_server, start_firebox, stop  # noqa: E402
from invoke import wrk, wrk_latency  # noqa: E402

ROLE = "arn:aws:iam::000000000000:role/bench"
RUNTIME = f"python3.{sys.version_info.minor}"
ONE_LINE = "def handler(event, context):\n    print('handled', context.aws_request_id)\n    return {'ok': True}\n"
PATH = "/2015-03-31/functions/one-line/invocations"


def deploy(port: int) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", ONE_LINE)
    client = Client(port)
    body = {
        "FunctionName": "one-line",
        "Runtime": RUNTIME,
        "Handler": "app.handler",
        "Role": ROLE,
        "MemorySize": 1769,
        "Code": {"ZipFile": base64.b64encode(buffer.getvalue()).decode()},
    }
    client.timed("POST", "/2015-03-31/functions", body, expect=201)
    while json.loads(client.request("GET", "/2015-03-31/functions/one-line")[1])["Configuration"]["State"] != "Active":
        time.sleep(0.01)
    for _ in range(200):
        client.timed("POST", PATH, {})


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(telemetry: bool, seconds: int) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory(prefix="firebox-bench-") as tmp:
        config = Path(tmp) / "firebox.toml"
        config.write_text(f"telemetry = {'true' if telemetry else 'false'}\n")
        firebox, port = start_firebox(Path(tmp) / "data", "--config", str(config))
        try:
            time.sleep(2)  # let the zygotes finish starting
            deploy(port)
            url = f"http://127.0.0.1:{port}{PATH}"
            cpu, started = cpu_seconds(firebox.pid), time.monotonic()
            rps = wrk(url, seconds, "{}")
            cpu_us = (cpu_seconds(firebox.pid) - cpu) / (rps * (time.monotonic() - started)) * 1e6
            return rps, cpu_us, wrk_latency(url, seconds, "{}")[0]
        finally:
            stop(firebox)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    rows: dict[str, list[float]] = {k: [] for k in ("bare", "on", "off", "on_cpu", "off_cpu", "on_p50", "off_p50")}
    for run in range(args.runs):
        bare, bare_port = start_bare_server()
        try:
            rows["bare"].append(wrk(f"http://127.0.0.1:{bare_port}/", args.seconds, "{}"))
        finally:
            stop(bare)
        modes = (True, False) if run % 2 == 0 else (False, True)
        for telemetry in modes:
            rps, cpu_us, p50 = measure(telemetry, args.seconds)
            mode = "on" if telemetry else "off"
            rows[mode].append(rps)
            rows[f"{mode}_cpu"].append(cpu_us)
            rows[f"{mode}_p50"].append(p50)
        print(f"run {run + 1}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in rows.items()), flush=True)
    median = {k: statistics.median(v) for k, v in rows.items()}
    print(f"\n{platform.python_implementation()} {platform.python_version()}, {args.runs} runs of {args.seconds} s")
    print("| figure | " + " | ".join(f"run {i + 1}" for i in range(args.runs)) + " | median | × bare |")
    print("|---|" + "---:|" * (args.runs + 2))
    labels = {
        "bare": "bare HTTP POST, 32 connections (reference), req/s",
        "off": "one-line function, telemetry off, req/s",
        "on": "one-line function, telemetry on (default), req/s",
        "off_cpu": "telemetry off, server CPU per invocation, µs",
        "on_cpu": "telemetry on, server CPU per invocation, µs",
        "off_p50": "telemetry off, one connection, p50 ms",
        "on_p50": "telemetry on, one connection, p50 ms",
    }
    for key, label in labels.items():
        values = " | ".join(f"{v:.2f}" for v in rows[key])
        ratio = f"{median[key] / median['bare']:.3f}" if key in ("on", "off") else ""
        print(f"| {label} | {values} | {median[key]:.2f} | {ratio} |")
    cost = 1 - median["on"] / median["off"]
    print(f"\nthroughput cost of logs + metrics + billing + traces: {cost * 100:.1f} % (target < 10 %)")


if __name__ == "__main__":
    main()
