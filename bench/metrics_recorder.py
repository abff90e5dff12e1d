"""What the metrics recorder's hot-path subscriber costs per invocation, and what a flush of the result costs.

Feeds `MetricsRecorder.invocation` pre-built records (so the record's own construction, which the data plane pays
anyway, is not counted) for a spread of functions, aliases, errors and cold starts, in batches as the data plane
would between two flushes, then flushes each batch to a real SQLite store in a temporary directory. Reports the
median per-call cost in µs over several rounds.

Usage: .venv/bin/python bench/metrics_recorder.py [--calls 200000] [--rounds 5] [--functions 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from firebox.models.invocation import Outcome
from firebox.models.telemetry import InvocationRecord
from firebox.observability.metrics import MetricsRecorder
from firebox.store.sqlite import SQLiteStore


def records(count: int, functions: int) -> list[InvocationRecord]:
    now = time.time()
    made = []
    for i in range(count):
        name = f"fn-{i % functions}"
        alias = i % 4 == 0
        made.append(
            InvocationRecord(
                function=name,
                resource=f"{name}:live" if alias else None,
                executed_version="1" if alias else "$LATEST",
                alias=alias,
                outcome=Outcome.FUNCTION_ERROR if i % 50 == 0 else Outcome.SUCCESS,
                timestamp=now,
                duration_ms=1.0 + (i % 97) * 0.37,
                billed_duration_ms=2,
                memory_size_mb=128,
                ephemeral_storage_mb=512,
                max_memory_used_mb=30 + i % 5,
                init_duration_ms=120.0 if i % 1000 == 0 else None,
                provisioned=False,
                asynchronous=False,
                trace_id="1-00000000-000000000000000000000000",
                cpu_time_ms=0.8,
                tmp_bytes=4096,
            )
        )
    return made


async def measure(calls: int, rounds: int, functions: int) -> None:
    batch = records(calls, functions)
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(2) as executor:
        store = SQLiteStore(Path(tmp) / "firebox.db")
        recorder = MetricsRecorder(store, executor)
        per_call, flushes = [], []
        for _ in range(rounds):
            invocation = recorder.invocation
            started = time.perf_counter()
            for record in batch:
                invocation(record)
            per_call.append((time.perf_counter() - started) / calls * 1e6)
            started = time.perf_counter()
            await recorder.flush()
            flushes.append((time.perf_counter() - started) * 1000)
        store.close()
    print(f"recorder.invocation: median {statistics.median(per_call):.2f} µs/call over {rounds} rounds of {calls}")
    print(f"  (min {min(per_call):.2f}, max {max(per_call):.2f}); {functions} functions, a quarter through an alias")
    print(f"flush of one round (expand + one SQLite transaction): median {statistics.median(flushes):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--functions", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(measure(args.calls, args.rounds, args.functions))


if __name__ == "__main__":
    main()
