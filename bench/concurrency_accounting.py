"""What concurrency accounting adds to a synchronous invocation: the reservation lookup (cached) and the admission
and release, timed on their own, next to the whole invocation's server time measured with wrk in the same run.

    python bench/concurrency_accounting.py

The server time per invocation is the inverse of the no-op throughput with 32 connections (`bench/invoke.py`'s
figure), so the ratio is an upper bound on the share of the server's work that goes to accounting.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import Client, start_firebox, stop  # noqa: E402
from invoke import code, wrk  # noqa: E402

from firebox.dataplane.catalog import FunctionCatalog  # noqa: E402
from firebox.dataplane.concurrency import ConcurrencyLimiter  # noqa: E402
from firebox.store.sqlite import SQLiteStore  # noqa: E402

ROUNDS = 200_000


async def accounting_ns(store: SQLiteStore) -> float:
    catalog = FunctionCatalog(store, ThreadPoolExecutor(max_workers=1))
    limiter = ConcurrencyLimiter(1000)
    await catalog.reserved("noop")  # warm the cache, as a busy function's is
    samples = []
    for _ in range(5):
        started = time.perf_counter_ns()
        for _ in range(ROUNDS):
            reserved, total = await catalog.reserved("noop")
            limiter.release("noop", limiter.admit("noop", reserved, total))
        samples.append((time.perf_counter_ns() - started) / ROUNDS)
    return statistics.median(samples)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="firebox-bench-") as tmp:
        data = Path(tmp) / "data"
        firebox, port = start_firebox(data)
        try:
            client = Client(port)
            body = {
                "FunctionName": "noop",
                "Runtime": f"python3.{sys.version_info.minor}",
                "Handler": "app.handler",
                "Role": "arn:aws:iam::000000000000:role/bench",
                "MemorySize": 1769,
                "Code": {"ZipFile": code()},
            }
            client.timed("POST", "/2015-03-31/functions", body, expect=201)
            time.sleep(3)
            rps = wrk(f"http://127.0.0.1:{port}/2015-03-31/functions/noop/invocations", 5, "{}")
        finally:
            stop(firebox)
        per_invocation_ns = asyncio.run(accounting_ns(SQLiteStore(data / "firebox.db")))
    server_ns = 1e9 / rps
    print(
        f"accounting per invocation: {per_invocation_ns:.0f} ns; server time per invocation (1 / {rps:.0f} req/s): "
        f"{server_ns / 1000:.0f} us; share: {100 * per_invocation_ns / server_ns:.2f} %"
    )


if __name__ == "__main__":
    main()
