"""Async invocation rates: how fast Event invocations are durably acknowledged (202 after the commit), and how fast a
no-op function drains them, next to a bare HTTP server measured in the same run.

    python bench/async_queue.py [--seconds 5] [--concurrency 16]

Enqueue: wrk with 32 connections POSTing Event invocations (each 202 only after its group commit). Drain: the
queue's length, read from Firebox's queue view while nothing new arrives. Requires wrk (apt-get install wrk).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Client, start_bare_server, start_firebox, stop  # noqa: E402
from invoke import code, wrk  # noqa: E402

ROLE = "arn:aws:iam::000000000000:role/bench"


def queued(port: int, name: str) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/firebox/functions/{name}/queue", timeout=10) as response:
        doc = json.loads(response.read())
    return int(doc["Queued"]) + int(doc["InFlight"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()

    bare, bare_port = start_bare_server()
    try:
        bare_rps = wrk(f"http://127.0.0.1:{bare_port}/", args.seconds, "{}")
    finally:
        stop(bare)

    with tempfile.TemporaryDirectory(prefix="firebox-bench-") as tmp:
        firebox, port = start_firebox(Path(tmp) / "data")
        try:
            client = Client(port)
            body = {
                "FunctionName": "noop",
                "Runtime": f"python3.{sys.version_info.minor}",
                "Handler": "app.handler",
                "Role": ROLE,
                "MemorySize": 1769,
                "Code": {"ZipFile": code()},
            }
            client.timed("POST", "/2015-03-31/functions", body, expect=201)
            time.sleep(3)
            # The workers drain while wrk enqueues (as in production); what is left afterwards drains on its own.
            enqueue_rps = wrk(
                f"http://127.0.0.1:{port}/2015-03-31/functions/noop/invocations", args.seconds, "{}", event=True
            )
            start_depth, started = queued(port, "noop"), time.perf_counter()
            while queued(port, "noop") > 0:
                time.sleep(0.05)
            drained_in = time.perf_counter() - started
        finally:
            stop(firebox)
    drain_rate = start_depth / drained_in if start_depth else float("nan")
    rows = [
        ("bare HTTP, 32 connections (reference)", bare_rps, "req/s"),
        ("Event invocations acknowledged (durable), 32 connections", enqueue_rps, "/s"),
        ("acknowledged / bare", 100 * enqueue_rps / bare_rps, "%"),
        (f"drain of the {start_depth} left queued, no-op function", drain_rate, "/s"),
    ]
    print(f"# async queue, {platform.python_implementation()} {platform.python_version()}, {args.seconds} s of wrk")
    for label, value, unit in rows:
        print(f"{label:60} {value:10.1f} {unit}")
    print(json.dumps({label: round(value, 1) for label, value, _ in rows}))


if __name__ == "__main__":
    main()
