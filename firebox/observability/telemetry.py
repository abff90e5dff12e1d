"""The data plane's one door into observability: each finished invocation, throttle or gauge reading is handed to
whoever subscribed (metrics, billing, Prometheus). Called on the hot path, so subscribers only update memory; they
write to the store in batches of their own, off the path."""

from __future__ import annotations

import logging
from collections.abc import Callable

from firebox.models.telemetry import InvocationRecord

log = logging.getLogger("firebox.observability")

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
        for sink in self._invocation_sinks:
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
