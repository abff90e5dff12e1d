"""Metric points in a real SQLite store: merging writes, compaction into 5-minute and 1-hour points, retention; and
the recorder's expansion of invocation records into CloudWatch's dimension sets, flushed to that store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from firebox.dataplane.concurrency import ConcurrencyLimiter
from firebox.models.invocation import Outcome
from firebox.models.metrics import MetricPoint, SeriesKey, Stat
from firebox.models.telemetry import InvocationRecord
from firebox.observability.metrics import LAMBDA, MetricsRecorder
from firebox.store.sqlite import SQLiteStore

DAY = 86_400
SERIES = SeriesKey("Shop", "Latency", (("Service", "cart"),), "Milliseconds")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "firebox.db")
    yield opened
    opened.close()


def stat_of(*values: float) -> Stat:
    stat = Stat()
    for value in values:
        stat.add(value)
    return stat


def stored(store: SQLiteStore, series: SeriesKey = SERIES, start: int = 0, end: int = 2**40) -> list[tuple[int, Stat]]:
    ids = [
        series_id for series_id, _ in store.metric_series(series.namespace, series.metric_name, series.dimensions, None)
    ]
    return [(timestamp, stat) for _, timestamp, stat in store.metric_points(ids, start, end)]


def series_id(store: SQLiteStore, series: SeriesKey = SERIES) -> int:
    return store.metric_series(series.namespace, series.metric_name, series.dimensions, series.unit)[0][0]


def test_writes_to_the_same_period_merge(store: SQLiteStore) -> None:
    minute = int(time.time()) // 60 * 60
    store.merge_metric_points([MetricPoint(SERIES, minute, 60, stat_of(5, 7))])
    store.merge_metric_points(
        [MetricPoint(SERIES, minute, 60, stat_of(1, 100)), MetricPoint(SERIES, minute + 60, 60, stat_of(2))]
    )
    [(first, merged), (second, alone)] = stored(store)
    assert (first, second) == (minute, minute + 60)
    assert (merged.count, merged.total, merged.low, merged.high) == (4, 113, 1, 100)
    assert merged.percentile(50) == pytest.approx(5, rel=0.01)
    assert (alone.count, alone.total) == (1, 2)
    other_unit = SeriesKey(SERIES.namespace, SERIES.metric_name, SERIES.dimensions, "Seconds")
    store.merge_metric_points([MetricPoint(other_unit, minute, 60, stat_of(9))])
    assert len(store.metric_series(SERIES.namespace, SERIES.metric_name, SERIES.dimensions, None)) == 2
    assert len(store.metric_series(SERIES.namespace, SERIES.metric_name, SERIES.dimensions, "Seconds")) == 1
    listed = store.list_metric_series("Shop", None, [("Service", None)], 0, 10, 0)
    assert [(ns, name, dims) for _, ns, name, dims in listed] == [("Shop", "Latency", SERIES.dimensions)], "units fold"
    assert store.list_metric_series("Shop", None, [("Service", "other")], 0, 10, 0) == []
    assert store.list_metric_series(None, None, [], 0, 10, int(time.time()) + 3600) == [], "none that recent"


def test_compaction_rolls_up_and_expires_like_cloudwatch(store: SQLiteStore) -> None:
    now = time.time()
    hour = int(now - 100 * DAY) // 3600 * 3600  # a whole hour, 100 days ago: ends as one 1-hour point
    five = int(now - 20 * DAY) // 300 * 300  # five minutes, 20 days ago: end as one 5-minute point
    recent = int(now - 2 * DAY) // 60 * 60  # stays at 1 minute
    ancient = int(now - 500 * DAY) // 3600 * 3600  # beyond 455 days: dropped
    points = [MetricPoint(SERIES, hour + 60 * m, 60, stat_of(m + 1.0)) for m in range(60)]
    points += [MetricPoint(SERIES, five + 60 * m, 60, stat_of(10.0 * (m + 1))) for m in range(5)]
    points += [MetricPoint(SERIES, recent, 60, stat_of(3.0)), MetricPoint(SERIES, ancient, 3600, stat_of(4.0))]
    store.merge_metric_points(points)
    assert store.compact_metrics(now) == 60 + 5 + 60 // 5 + 1  # 60 then 12 rolled twice, 5 once, 1 dropped
    assert store.metric_resolutions(series_id(store)) == [(hour, 3600), (five, 300), (recent, 60)]
    [(_, hourly), (_, five_minutes), (_, minute)] = stored(store)
    assert (hourly.count, hourly.total, hourly.low, hourly.high) == (60, sum(range(1, 61)), 1, 60)
    assert hourly.percentile(50) == pytest.approx(30, rel=0.02), "percentiles survive the roll-up"
    assert (five_minutes.count, five_minutes.total, five_minutes.high) == (5, 150, 50)
    assert (minute.count, minute.total) == (1, 3)
    assert store.compact_metrics(now) == 0, "a second run has nothing to do"


def test_compaction_merges_into_an_existing_coarse_point(store: SQLiteStore) -> None:
    now = time.time()
    five = int(now - 20 * DAY) // 300 * 300
    store.merge_metric_points(
        [MetricPoint(SERIES, five, 300, stat_of(1.0)), MetricPoint(SERIES, five + 60, 60, stat_of(2.0))]
    )
    store.compact_metrics(now)
    [(timestamp, stat)] = stored(store)
    assert (timestamp, stat.count, stat.total) == (five, 2, 3.0)


def record(function: str, outcome: Outcome = Outcome.SUCCESS, **changes: object) -> InvocationRecord:
    fields: dict[str, object] = dict(
        function=function,
        resource=None,
        executed_version="$LATEST",
        alias=False,
        outcome=outcome,
        timestamp=time.time(),
        duration_ms=10.0,
        billed_duration_ms=10,
        memory_size_mb=128,
        ephemeral_storage_mb=512,
        max_memory_used_mb=32,
        init_duration_ms=None,
        provisioned=False,
        asynchronous=False,
        trace_id="1-00000000-000000000000000000000000",
    )
    fields.update(changes)
    return InvocationRecord(**fields)  # type: ignore[arg-type]


def test_the_recorder_expands_records_into_dimension_sets(store: SQLiteStore) -> None:
    async def scenario() -> dict[str, list[tuple[int, Stat]]]:
        with ThreadPoolExecutor(2) as executor:
            limiter = ConcurrencyLimiter(1000)
            recorder = MetricsRecorder(store, executor, limiter)
            unreserved = limiter.admit("f", None, 0)
            limiter.admit("f", None, 0)
            limiter.release("f", unreserved)
            limiter.release("f", unreserved)
            for duration in (10.0, 20.0, 30.0):
                recorder.invocation(record("f", duration_ms=duration))
            recorder.invocation(record("f", Outcome.TIMEOUT, init_duration_ms=250.0, cpu_time_ms=4.0, tmp_bytes=4096))
            recorder.invocation(record("f", resource="f:live", executed_version="3", alias=True, duration_ms=40.0))
            recorder.throttle("f", "f:live", time.time())
            recorder.count("AsyncEventAge", "f", 1500.0, time.time())
            now = int(time.time())

            async def read(name: str, *dimensions: tuple[str, str], namespace: str = LAMBDA) -> list[tuple[int, Stat]]:
                points, _ = await recorder.datapoints(
                    namespace, name, tuple(sorted(dimensions)), None, now - 120, now + 60, 180
                )
                return points

            fn = ("FunctionName", "f")
            resource = ("Resource", "f:live")
            found = {
                "account": await read("Invocations"),
                "function": await read("Invocations", fn),
                "errors": await read("Errors", fn),
                "duration": await read("Duration", fn),
                "resource": await read("Invocations", fn, resource),
                "executed": await read("Duration", fn, resource, ("ExecutedVersion", "3")),
                "throttles": await read("Throttles", fn, resource),
                "age": await read("AsyncEventAge", fn),
                "concurrency": await read("ConcurrentExecutions", fn),
                "cold": await read("ColdStarts", fn),
                "memory": await read("memory_utilization", ("function_name", "f"), namespace="LambdaInsights"),
                "cpu": await read("cpu_total_time", ("function_name", "f"), namespace="LambdaInsights"),
            }
            await recorder.close()
            return found

    found = asyncio.run(scenario())
    totals = {name: [(stat.count, stat.total) for _, stat in points] for name, points in found.items()}
    assert totals["account"] == [(5, 5)]
    assert totals["function"] == [(5, 5)]
    assert totals["errors"] == [(5, 1)], "SampleCount is the invocations, Sum the errors"
    assert totals["resource"] == [(1, 1)]
    assert totals["executed"] == [(1, 40)]
    assert totals["throttles"] == [(1, 1)]
    assert totals["age"] == [(1, 1500)]
    assert totals["cold"] == [(1, 1)]
    assert totals["cpu"] == [(1, 4)]
    [(_, duration)] = found["duration"]
    assert (duration.low, duration.high) == (10, 40)
    assert duration.percentile(50) == pytest.approx(20, rel=0.01)
    [(_, concurrency)] = found["concurrency"]
    assert concurrency.high == 2, "the high-water mark of running invocations"
    [(_, memory)] = found["memory"]
    assert memory.high == pytest.approx(25.0), "32 MB of 128 MB"
