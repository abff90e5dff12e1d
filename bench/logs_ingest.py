"""Log ingest rate: lines per second that `LogWriter` takes from `emit` to committed rows in the SQLite store.

    python bench/logs_ingest.py [--invocations 40000] [--streams 50] [--runs 5]

Each "invocation" is one block of 5 lines as the invoker emits it (START, two printed lines, END, REPORT) on one of
`--streams` streams of 10 functions; the loop yields to the event loop every 500 emits, as a busy server does
between requests, so the background task writes in its usual batches. The clock stops when the last batch is
committed. Prints the median and the spread of `--runs` runs, each on a fresh store.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from firebox.models.function import CodeArchive, FunctionConfig  # noqa: E402
from firebox.observability.logs import LogWriter  # noqa: E402
from firebox.store.sqlite import SQLiteStore  # noqa: E402

LINES_PER_BLOCK = 5


def _block(request_id: str, n: int) -> str:
    return (
        f"START RequestId: {request_id} Version: $LATEST\n"
        f"processing order {n} for customer {n % 977}\n"
        f'{{"level": "info", "order": {n}, "latency_ms": {n % 300}}}\n'
        f"END RequestId: {request_id}\n"
        f"REPORT RequestId: {request_id}\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 40 MB\t\n"
    )


async def _run_once(data_dir: Path, invocations: int, streams: int) -> float:
    """Seconds from the first emit to the last commit."""
    store = SQLiteStore(data_dir / "firebox.db")
    executor = ThreadPoolExecutor(max_workers=4)
    writer = LogWriter(store, executor)
    configs = [
        FunctionConfig(f"fn{i}", "python3.12", "app.handler", "role", CodeArchive("0" * 64, 1, 1), "r", 0.0)
        for i in range(10)
    ]
    stream_names = [f"2026/01/01/[$LATEST]{uuid.uuid4().hex}" for _ in range(streams)]
    blocks = [_block(str(uuid.uuid4()), n) for n in range(invocations)]
    writer.start()
    started = time.perf_counter()
    for n, text in enumerate(blocks):
        writer.emit(configs[n % len(configs)], stream_names[n % streams], text)
        if n % 500 == 499:
            await asyncio.sleep(0)
    await writer.close()
    elapsed = time.perf_counter() - started
    texts = store._conn().execute("SELECT text FROM log_blocks").fetchall()
    stored = sum(text.count("\n") for (text,) in texts)
    assert stored == invocations * LINES_PER_BLOCK, f"{stored} lines stored, {invocations * LINES_PER_BLOCK} emitted"
    executor.shutdown()
    store.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--invocations", type=int, default=40_000)
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rates = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="firebox-bench-logs-") as tmp:
            seconds = asyncio.run(_run_once(Path(tmp), args.invocations, args.streams))
        rates.append(args.invocations * LINES_PER_BLOCK / seconds)
    lines = args.invocations * LINES_PER_BLOCK
    print(f"# python {' '.join(sys.argv)}")
    print(
        f"# log ingest, {platform.python_implementation()} {platform.python_version()}, {args.runs} runs of "
        f"{lines} lines ({args.invocations} blocks of {LINES_PER_BLOCK}, {args.streams} streams)"
    )
    print(f"{'lines/s, median':40} {statistics.median(rates):12.0f}")
    print(f"{'lines/s, min .. max':40} {min(rates):12.0f} .. {max(rates):.0f}")
    print(json.dumps({"lines_per_second_median": round(statistics.median(rates)), "runs": [round(r) for r in rates]}))


if __name__ == "__main__":
    main()
