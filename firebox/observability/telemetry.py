"""The data plane's one door into observability: each finished invocation, throttle or count is handed to whoever
subscribed (metrics, billing, Prometheus, OTLP spans). Subscribers only update memory; they write to the store in
batches of their own, off the hot path.

Invocation records are not handed over one by one: `invocation` appends the record to a list, and `drain` (every
`DRAIN_INTERVAL` on the event loop, and before anything reads what the subscribers keep) gives the batch to each
subscriber in turn. Running one subscriber over many records keeps its code and data warm, which measurably
lightens what observability costs a busy function (bench/observability.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from firebox.models.telemetry import InvocationRecord

log = logging.getLogger("firebox.observability")
DRAIN_INTERVAL = 0.05
"""Seconds an invocation record may wait before the subscribers see it."""

InvocationSink = Callable[[InvocationRecord], None]
ThrottleSink = Callable[[str, str | None, float], None]
"""(function, resource or None, epoch seconds)"""
CountSink = Callable[[str, str, float, float], None]
"""(metric name, function, value, epoch seconds): DeadLetterErrors, DestinationDeliveryFailures, Async* ..."""


class Telemetry:
    """`enabled=False` (the `telemetry = false` setting, for measuring what observability costs) ignores every
    subscription, so nothing is recorded."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._invocation_sinks: list[InvocationSink] = []
        self._throttle_sinks: list[ThrottleSink] = []
        self._count_sinks: list[CountSink] = []
        self._records: list[InvocationRecord] = []
        self._drain_due = False

    def on_invocation(self, sink: InvocationSink) -> None:
        if self.enabled:
            self._invocation_sinks.append(sink)

    def on_throttle(self, sink: ThrottleSink) -> None:
        if self.enabled:
            self._throttle_sinks.append(sink)

    def on_count(self, sink: CountSink) -> None:
        if self.enabled:
            self._count_sinks.append(sink)

    def invocation(self, record: InvocationRecord) -> None:
        if not self._invocation_sinks:
            return
        self._records.append(record)
        if not self._drain_due:
            self._drain_due = True
            asyncio.get_running_loop().call_later(DRAIN_INTERVAL, self.drain)

    def drain(self) -> None:
        """Hand the records waiting to the subscribers now (call it before reading what they keep)."""
        self._drain_due = False
        records, self._records = self._records, []
        for sink in self._invocation_sinks:
            for record in records:
                try:
                    sink(record)
                except Exception as exc:  # observability must never fail an invocation
                    log.error("recording an invocation failed", exc_info=exc)

    def throttle(self, function: str, resource: str | None, when: float) -> None:
        for sink in self._throttle_sinks:
            try:
                sink(function, resource, when)
            except Exception as exc:
                log.error("recording a throttle failed", exc_info=exc)

    def count(self, metric: str, function: str, value: float, when: float) -> None:
        for sink in self._count_sinks:
            try:
                sink(metric, function, value, when)
            except Exception as exc:
                log.error("recording %s failed", metric, exc_info=exc)
