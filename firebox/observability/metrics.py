"""CloudWatch metrics: Lambda's own (`AWS/Lambda`, `LambdaInsights`) from the data plane's telemetry, and whatever
PutMetricData or the Embedded Metric Format publishes, aggregated in memory per 1-minute period and written to the
store about every second.

The telemetry subscribers run on the invocation's hot path, so each does one dict lookup and a few in-place
additions on the accumulator of its (minute, function, resource, executed version): the dimension sets
(account-wide, FunctionName, Resource, ExecutedVersion) are expanded at flush time, once per accumulator, not per
invocation. A flush merges into the stored rows in one transaction on the executor. Reads flush first, so a read
right after a write sees it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from typing import Protocol

from firebox.models.invocation import Outcome
from firebox.models.metrics import Dimensions, MetricPoint, SeriesKey, Stat
from firebox.models.telemetry import InvocationRecord
from firebox.observability import background
from firebox.store.base import MetricStore

log = logging.getLogger("firebox.observability")
LAMBDA = "AWS/Lambda"
INSIGHTS = "LambdaInsights"
PERIOD = 60
FLUSH_INTERVAL = 1.0
COMPACT_INTERVAL = 3600.0
COUNT, MILLISECONDS = "Count", "Milliseconds"
_SUCCESS = Outcome.SUCCESS
ASYNC_UNITS = {"AsyncEventAge": MILLISECONDS}
"""Units of the `Telemetry.count` metrics other than Count."""


class Peaks(Protocol):
    def take_peaks(self) -> tuple[int, int, dict[str, int]]: ...


class _Invocations:
    """What one (minute, function, resource, executed version, memory size) saw; expanded at flush."""

    __slots__ = ("count", "errors", "duration", "init", "memory", "cpu", "tmp", "provisioned", "provisioned_ms")

    def __init__(self) -> None:
        self.count = 0
        self.errors = 0
        self.duration = Stat()
        self.init: Stat | None = None
        self.memory = Stat(histogram=False)
        self.cpu: Stat | None = None
        self.tmp: Stat | None = None
        self.provisioned = 0
        self.provisioned_ms = 0.0


_InvocationKey = tuple[int, str, str | None, str | None, int]
"""(minute start, function, resource, executed version for alias invocations, memory size in MB)"""


class MetricsRecorder:
    def __init__(
        self,
        store: MetricStore,
        executor: Executor,
        peaks: Peaks | None = None,
        provisioned: Callable[[str, str], int] | None = None,
    ) -> None:
        self._store = store
        self._executor = executor
        self._peaks = peaks
        self._provisioned = provisioned
        """(function, qualifier) → provisioned environments kept for it."""
        self._invocations: dict[_InvocationKey, _Invocations] = {}
        self._throttles: dict[tuple[int, str, str | None], int] = {}
        self._counts: dict[tuple[int, str, str], Stat] = {}
        self._points: dict[tuple[SeriesKey, int], Stat] = {}
        self._foreign: list[MetricPoint] = []
        """Points handed over from other threads (EMF from the log writer), under `_foreign_lock`."""
        self._foreign_lock = threading.Lock()
        self._flush_lock = asyncio.Lock()
        self._last_flush = time.monotonic()
        self._tasks: list[asyncio.Task[None]] = []

    # the hot path (event loop)

    def invocation(self, record: InvocationRecord) -> None:
        key = (
            int(record.timestamp) // PERIOD * PERIOD,
            record.function,
            record.resource,
            record.executed_version if record.alias else None,
            record.memory_size_mb,
        )
        seen = self._invocations.get(key)
        if seen is None:
            seen = self._invocations[key] = _Invocations()
        seen.count += 1
        if record.outcome is not _SUCCESS:
            seen.errors += 1
        seen.duration.add(record.duration_ms)
        seen.memory.add(record.max_memory_used_mb)
        if record.init_duration_ms is not None:
            if seen.init is None:
                seen.init = Stat()
            seen.init.add(record.init_duration_ms)
        if record.provisioned:
            seen.provisioned += 1
            seen.provisioned_ms += record.duration_ms
        if record.cpu_time_ms is not None:
            if seen.cpu is None:
                seen.cpu = Stat(histogram=False)
            seen.cpu.add(record.cpu_time_ms)
        if record.tmp_bytes is not None:
            if seen.tmp is None:
                seen.tmp = Stat(histogram=False)
            seen.tmp.add(record.tmp_bytes)

    def throttle(self, function: str, resource: str | None, when: float) -> None:
        key = (int(when) // PERIOD * PERIOD, function, resource)
        self._throttles[key] = self._throttles.get(key, 0) + 1

    def count(self, metric: str, function: str, value: float, when: float) -> None:
        key = (int(when) // PERIOD * PERIOD, metric, function)
        stat = self._counts.get(key)
        if stat is None:
            stat = self._counts[key] = Stat()
        stat.add(value)

    # published metrics

    def put(self, points: Iterable[MetricPoint]) -> None:
        """PutMetricData's points (on the event loop); their timestamps are taken down to the minute."""
        for point in points:
            _into(self._points, point.series, point.timestamp // PERIOD * PERIOD, point.stat)

    def put_threadsafe(self, points: Sequence[MetricPoint]) -> None:
        """The same from another thread (the log writer's flush, for EMF): taken in at the next flush."""
        with self._foreign_lock:
            self._foreign.extend(points)

    # reading

    async def datapoints(
        self, namespace: str, name: str, dimensions: Dimensions, unit: str | None, start: int, end: int, period: int
    ) -> tuple[list[tuple[int, Stat]], str | None]:
        """The statistics of each `period` from `start` (taken down to the minute) to `end` (epoch seconds) of
        every unit of a metric (or only `unit`), and the unit when there is one; what is buffered is written
        first."""
        await self.flush()
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, self._read, namespace, name, dimensions, unit, start, end, period
        )

    def _read(
        self, namespace: str, name: str, dimensions: Dimensions, unit: str | None, start: int, end: int, period: int
    ) -> tuple[list[tuple[int, Stat]], str | None]:
        found = self._store.metric_series(namespace, name, dimensions, unit)
        units = {key.unit for _, key in found}
        origin = start // PERIOD * PERIOD
        buckets: dict[int, Stat] = {}
        for _, timestamp, stat in self._store.metric_points([series_id for series_id, _ in found], origin, end):
            bucket = origin + (timestamp - origin) // period * period
            target = buckets.get(bucket)
            if target is None:
                buckets[bucket] = stat
            else:
                target.merge(stat)
        return sorted(buckets.items()), (units.pop() if len(units) == 1 else None)

    async def list_metrics(
        self,
        namespace: str | None,
        metric_name: str | None,
        dimension_filter: Sequence[tuple[str, str | None]],
        after: int,
        limit: int,
        since: int = 0,
    ) -> list[tuple[int, str, str, Dimensions]]:
        await self.flush()
        return await asyncio.get_running_loop().run_in_executor(
            self._executor,
            self._store.list_metric_series,
            namespace,
            metric_name,
            dimension_filter,
            after,
            limit,
            since,
        )

    # writing

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(background.every(FLUSH_INTERVAL, self.flush, "writing metrics")),
            loop.create_task(self._compact_forever()),
        ]

    async def _compact_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                changed = await loop.run_in_executor(self._executor, self._store.compact_metrics, time.time())
                if changed:
                    log.info("metrics compaction rolled up or dropped %d points", changed)
            except Exception:
                log.exception("compacting metrics failed")
            await asyncio.sleep(COMPACT_INTERVAL)

    async def flush(self) -> None:
        """Write everything aggregated so far (one transaction); a failed write is kept for the next flush."""
        async with self._flush_lock:
            points = self._drain()
            if not points:
                return
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(self._executor, self._store.merge_metric_points, points)
            except Exception:
                self.put(points)
                raise

    async def close(self) -> None:
        await background.stop(self._tasks)
        self._tasks = []
        try:
            await self.flush()
        except Exception:
            log.exception("writing the last metrics failed; they are lost")

    def _drain(self) -> list[MetricPoint]:
        now = time.time()
        elapsed_ms = max(1.0, (time.monotonic() - self._last_flush) * 1000)
        self._last_flush = time.monotonic()
        out, self._points = self._points, {}
        with self._foreign_lock:
            foreign, self._foreign = self._foreign, []
        self.put_into(out, foreign)
        minute = int(now) // PERIOD * PERIOD
        if self._peaks is not None:
            self._expand_peaks(out, minute)
        invocations, self._invocations = self._invocations, {}
        for key, seen in invocations.items():
            self._expand_invocations(out, key, seen, elapsed_ms)
        throttles, self._throttles = self._throttles, {}
        for (when, function, resource), n in throttles.items():
            stat = Stat()
            stat.add(1.0, n)
            for dimensions in _dimension_sets(function, resource, None):
                _into(out, SeriesKey(LAMBDA, "Throttles", dimensions, COUNT), when, stat)
        counts, self._counts = self._counts, {}
        for (when, metric, function), stat in counts.items():
            unit = ASYNC_UNITS.get(metric, COUNT)
            for dimensions in ((), (("FunctionName", function),)):
                _into(out, SeriesKey(LAMBDA, metric, dimensions, unit), when, stat)
        return [MetricPoint(series, when, PERIOD, stat) for (series, when), stat in out.items()]

    @staticmethod
    def put_into(out: dict[tuple[SeriesKey, int], Stat], points: Iterable[MetricPoint]) -> None:
        for point in points:
            _into(out, point.series, point.timestamp // PERIOD * PERIOD, point.stat)

    def _expand_peaks(self, out: dict[tuple[SeriesKey, int], Stat], minute: int) -> None:
        assert self._peaks is not None
        account, unreserved, functions = self._peaks.take_peaks()
        if account:
            _into(out, SeriesKey(LAMBDA, "ConcurrentExecutions", (), COUNT), minute, _one(account))
        if unreserved:
            _into(out, SeriesKey(LAMBDA, "UnreservedConcurrentExecutions", (), COUNT), minute, _one(unreserved))
        for function, peak in functions.items():
            dimensions = (("FunctionName", function),)
            _into(out, SeriesKey(LAMBDA, "ConcurrentExecutions", dimensions, COUNT), minute, _one(peak))

    def _expand_invocations(
        self, out: dict[tuple[SeriesKey, int], Stat], key: _InvocationKey, seen: _Invocations, elapsed_ms: float
    ) -> None:
        when, function, resource, executed, memory_size = key
        invocations = Stat()
        invocations.add(1.0, seen.count)
        errors = Stat()
        errors.add(1.0, seen.errors)
        errors.add(0.0, seen.count - seen.errors)
        figures: list[tuple[str, str, Stat]] = [
            ("Invocations", COUNT, invocations),
            ("Errors", COUNT, errors),
            ("Duration", MILLISECONDS, seen.duration),
        ]
        if seen.init is not None:
            figures.append(("InitDuration", MILLISECONDS, seen.init))
            figures.append(("ColdStarts", COUNT, _one(1.0, seen.init.count)))
        for dimensions in _dimension_sets(function, resource, executed):
            for name, unit, stat in figures:
                _into(out, SeriesKey(LAMBDA, name, dimensions, unit), when, stat)
        if resource is not None:
            self._expand_provisioned(out, when, function, resource, seen, elapsed_ms)
        insights = (("function_name", function),)
        memory = seen.memory
        _into(out, SeriesKey(INSIGHTS, "used_memory_max", insights, "Megabytes"), when, memory)
        if memory_size:
            scale = 100.0 / memory_size
            utilization = Stat(histogram=False)
            utilization.add_set(memory.count, memory.total * scale, memory.low * scale, memory.high * scale)
            _into(out, SeriesKey(INSIGHTS, "memory_utilization", insights, "Percent"), when, utilization)
        if seen.cpu is not None:
            _into(out, SeriesKey(INSIGHTS, "cpu_total_time", insights, MILLISECONDS), when, seen.cpu)
        if seen.tmp is not None:
            _into(out, SeriesKey(INSIGHTS, "tmp_used", insights, "Bytes"), when, seen.tmp)

    def _expand_provisioned(
        self,
        out: dict[tuple[SeriesKey, int], Stat],
        when: int,
        function: str,
        resource: str,
        seen: _Invocations,
        elapsed_ms: float,
    ) -> None:
        """Provisioned-concurrency figures, approximated (docs/design.md, Metrics): spillover = invocations of a
        qualifier with provisioned environments that ran elsewhere; utilization = the provisioned environments'
        busy time since the last flush over (environments × that interval)."""
        allocated = self._provisioned(function, resource.partition(":")[2]) if self._provisioned else 0
        if not seen.provisioned and not allocated:
            return
        figures = [("ProvisionedConcurrencyInvocations", COUNT, _one(1.0, seen.provisioned))]
        if allocated:
            spill = seen.count - seen.provisioned
            if spill:
                figures.append(("ProvisionedConcurrencySpilloverInvocations", COUNT, _one(1.0, spill)))
            busy = min(1.0, seen.provisioned_ms / (allocated * elapsed_ms))
            figures.append(("ProvisionedConcurrencyUtilization", "None", _one(busy)))
        for dimensions in ((("FunctionName", function),), (("FunctionName", function), ("Resource", resource))):
            for name, unit, stat in figures:
                _into(out, SeriesKey(LAMBDA, name, dimensions, unit), when, stat)


def _dimension_sets(function: str, resource: str | None, executed: str | None) -> list[Dimensions]:
    sets: list[Dimensions] = [(), (("FunctionName", function),)]
    if resource is not None:
        sets.append((("FunctionName", function), ("Resource", resource)))
        if executed is not None:
            sets.append((("ExecutedVersion", executed), ("FunctionName", function), ("Resource", resource)))
    return sets


def _one(value: float, count: float = 1) -> Stat:
    stat = Stat()
    if count:
        stat.add(value, count)
    return stat


def _into(out: dict[tuple[SeriesKey, int], Stat], series: SeriesKey, when: int, stat: Stat) -> None:
    if not stat.count:
        return
    key = (series, when)
    target = out.get(key)
    if target is None:
        target = out[key] = Stat(histogram=stat.histogram is not None)
    target.merge(stat)
