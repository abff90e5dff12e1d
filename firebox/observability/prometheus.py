"""Prometheus exposition (`GET /metrics`) with the standard client library.

Two kinds of figures:
- counters kept here from the data plane's telemetry (invocations by function and outcome, errors, throttles, cold
  starts, duration sums): the sinks only add to dicts, as the hot path requires;
- gauges read when scraped, from a snapshot the API gathers (environments by state, concurrency, zygote forks,
  queue depths), so nothing is sampled in between.

A custom collector turns both into metric families at scrape time; no prometheus_client metric object sits on the
hot path.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from firebox.models.telemetry import InvocationRecord

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class _FunctionCounters:
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    cold_starts: int = 0
    throttles: int = 0
    duration_seconds: float = 0.0
    init_seconds: float = 0.0
    billed_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class PoolSnapshot:
    """What the server reports about itself at scrape time."""

    environments: Mapping[str, int]
    """Environments by state (`ready`, `busy`, ...)."""
    idle_environments: int
    concurrent_executions: int
    unreserved_concurrent_executions: int
    zygote_forks: Mapping[str, int]
    """By runtime."""
    spare_runtimes: Mapping[str, int]
    async_queued: int
    async_in_flight: int
    deliveries_pending: int
    mappings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Event source mappings' figures by UUID (`MappingManager.figures`): FunctionName, Polling, and counts."""


class PrometheusExporter:
    def __init__(self) -> None:
        self._functions: dict[str, _FunctionCounters] = defaultdict(_FunctionCounters)

    def invocation(self, record: InvocationRecord) -> None:
        counters = self._functions[record.function]
        counters.outcomes[record.outcome.value] += 1
        counters.duration_seconds += record.duration_ms / 1000
        counters.billed_seconds += record.billed_duration_ms / 1000
        if record.init_duration_ms is not None:
            counters.cold_starts += 1
            counters.init_seconds += record.init_duration_ms / 1000

    def throttle(self, function: str, _resource: str | None, _when: float) -> None:
        self._functions[function].throttles += 1

    def render(self, snapshot: PoolSnapshot) -> bytes:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Collector(self._functions, snapshot))
        return generate_latest(registry)


class _Collector(Collector):
    def __init__(self, functions: Mapping[str, _FunctionCounters], snapshot: PoolSnapshot) -> None:
        self.functions = functions
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        yield from self._function_families()
        yield from self._pool_families()
        yield from self._mapping_families()

    def _function_families(self) -> Iterator[Metric]:
        invocations = CounterMetricFamily(
            "firebox_invocations", "Invocations that ran, by function and outcome.", labels=["function", "outcome"]
        )
        throttles = CounterMetricFamily("firebox_throttles", "Invocations refused with 429.", labels=["function"])
        cold = CounterMetricFamily(
            "firebox_cold_starts", "Invocations that initialised an environment.", labels=["function"]
        )
        duration = CounterMetricFamily(
            "firebox_invocation_duration_seconds", "Time spent running invocations.", labels=["function"]
        )
        billed = CounterMetricFamily(
            "firebox_billed_duration_seconds", "Billed duration of invocations.", labels=["function"]
        )
        init = CounterMetricFamily("firebox_init_duration_seconds", "Time spent initialising.", labels=["function"])
        for name, counters in sorted(self.functions.items()):
            for outcome, count in sorted(counters.outcomes.items()):
                invocations.add_metric([name, outcome], count)
            throttles.add_metric([name], counters.throttles)
            cold.add_metric([name], counters.cold_starts)
            duration.add_metric([name], counters.duration_seconds)
            billed.add_metric([name], counters.billed_seconds)
            init.add_metric([name], counters.init_seconds)
        yield from (invocations, throttles, cold, duration, billed, init)

    def _pool_families(self) -> Iterator[Metric]:
        snap = self.snapshot
        environments = GaugeMetricFamily("firebox_environments", "Execution environments by state.", labels=["state"])
        for state, count in sorted(snap.environments.items()):
            environments.add_metric([state], count)
        yield environments
        yield GaugeMetricFamily("firebox_idle_environments", "Warm environments waiting.", value=snap.idle_environments)
        yield GaugeMetricFamily(
            "firebox_concurrent_executions", "Invocations running now.", value=snap.concurrent_executions
        )
        yield GaugeMetricFamily(
            "firebox_unreserved_concurrent_executions",
            "Invocations running now in the unreserved pool.",
            value=snap.unreserved_concurrent_executions,
        )
        forks = CounterMetricFamily("firebox_zygote_forks", "Processes forked by each zygote.", labels=["runtime"])
        for runtime, count in sorted(snap.zygote_forks.items()):
            forks.add_metric([runtime], count)
        yield forks
        spares = GaugeMetricFamily("firebox_spare_runtimes", "Sandboxes isolated ahead of time.", labels=["runtime"])
        for runtime, count in sorted(snap.spare_runtimes.items()):
            spares.add_metric([runtime], count)
        yield spares
        queue = GaugeMetricFamily("firebox_async_events", "Event invocations in the durable queue.", labels=["state"])
        queue.add_metric(["queued"], snap.async_queued)
        queue.add_metric(["in_flight"], snap.async_in_flight)
        yield queue
        yield GaugeMetricFamily(
            "firebox_deliveries_pending",
            "Records waiting for a webhook or SQS destination.",
            value=snap.deliveries_pending,
        )

    def _mapping_families(self) -> Iterator[Metric]:
        events = CounterMetricFamily(
            "firebox_event_source_events",
            "Records an event source mapping's poller handled, by what happened to them (PolledEventCount, "
            "InvokedEventCount, FailedInvokeEventCount, FilteredOutEventCount, DeletedEventCount, ...).",
            labels=["mapping", "function", "figure"],
        )
        age = GaugeMetricFamily(
            "firebox_event_source_age_seconds",
            "Age of the oldest record in a mapping's last batch (IteratorAge for streams).",
            labels=["mapping", "function"],
        )
        polling = GaugeMetricFamily(
            "firebox_event_source_polling", "1 while a mapping's poller runs.", labels=["mapping", "function"]
        )
        for mapping, figures in sorted(self.snapshot.mappings.items()):
            function = str(figures.get("FunctionName", ""))
            polling.add_metric([mapping, function], 1 if figures.get("Polling") else 0)
            for figure, value in sorted(figures.items()):
                if figure.endswith("Count") and isinstance(value, int | float):
                    events.add_metric([mapping, function, figure], value)
            lag = figures.get("IteratorAge", figures.get("RecordAge"))
            if isinstance(lag, int | float):
                age.add_metric([mapping, function], lag / 1000)
        yield from (events, age, polling)
