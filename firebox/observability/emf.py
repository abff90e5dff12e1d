"""The CloudWatch Embedded Metric Format: log lines that are JSON objects carrying `_aws.CloudWatchMetrics` become
metric data, as if the function had called PutMetricData.

```json
{"_aws": {"Timestamp": 1574109732004,
          "CloudWatchMetrics": [{"Namespace": "shop", "Dimensions": [["Service"]],
                                 "Metrics": [{"Name": "Latency", "Unit": "Milliseconds"}]}]},
 "Service": "cart", "Latency": [12, 14]}
```

Each directive names a namespace, dimension sets (lists of root keys whose string values are the dimension values)
and metrics (root keys holding a number or a list of up to 100 numbers). A directive that is not well formed is
skipped, as CloudWatch does. Lines without `"_aws"` cost one substring test.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any

from firebox.models.logs import LogEvent
from firebox.models.metrics import MetricPoint, SeriesKey, Stat

MARK = '"_aws"'
MAX_VALUES = 100
MAX_DIMENSIONS = 30
PAST_LIMIT_MS = 14 * 86_400_000
FUTURE_LIMIT_MS = 2 * 3_600_000


def points_of(line: str, default_ms: int) -> list[MetricPoint]:
    """The metric points an EMF line carries (none for any other line)."""
    if MARK not in line:
        return []
    start = line.find("{")
    if start < 0:
        return []
    try:
        doc = json.loads(line[start:])
    except ValueError:
        return []
    if not isinstance(doc, dict):
        return []
    meta = doc.get("_aws")
    if not isinstance(meta, dict) or not isinstance(meta.get("CloudWatchMetrics"), list):
        return []
    when_ms = meta.get("Timestamp", default_ms)
    if isinstance(when_ms, bool) or not isinstance(when_ms, int | float):
        return []
    if not default_ms - PAST_LIMIT_MS <= when_ms <= default_ms + FUTURE_LIMIT_MS:
        return []
    found: list[MetricPoint] = []
    for directive in meta["CloudWatchMetrics"]:
        found.extend(_directive(doc, directive, int(when_ms // 1000)))
    return found


def _directive(doc: dict[str, Any], directive: Any, when: int) -> list[MetricPoint]:
    if not isinstance(directive, dict):
        return []
    namespace = directive.get("Namespace")
    dimension_sets = directive.get("Dimensions", [[]])
    metrics = directive.get("Metrics")
    if not isinstance(namespace, str) or not namespace or namespace.startswith("AWS/"):
        return []
    if not isinstance(dimension_sets, list) or not isinstance(metrics, list):
        return []
    sets: list[tuple[tuple[str, str], ...]] = []
    for keys in dimension_sets:
        if not isinstance(keys, list) or len(keys) > MAX_DIMENSIONS:
            return []
        pairs: list[tuple[str, str]] = []
        for key in keys:
            value = doc.get(key) if isinstance(key, str) else None
            if not isinstance(value, str) or not value:
                return []
            pairs.append((key, value))
        sets.append(tuple(sorted(pairs)))
    found: list[MetricPoint] = []
    for metric in metrics:
        if not isinstance(metric, dict) or not isinstance(metric.get("Name"), str):
            continue
        name = metric["Name"]
        unit = metric.get("Unit")
        if not isinstance(unit, str) or not unit:
            unit = "None"
        stat = _stat_of(doc.get(name))
        if stat is None:
            continue
        for dimensions in sets:
            found.append(MetricPoint(SeriesKey(namespace, name, dimensions, unit), when, 60, stat))
    return found


def _stat_of(raw: Any) -> Stat | None:
    values = raw if isinstance(raw, list) else [raw]
    if not values or len(values) > MAX_VALUES:
        return None
    stat = Stat()
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return None
        stat.add(float(value))
    return stat


class EmfExtractor:
    """A `LogWriter.on_flush` callback: runs in the executor thread, hands the points to `sink` (thread-safe)."""

    def __init__(self, sink: Callable[[Sequence[MetricPoint]], None]) -> None:
        self._sink = sink

    def __call__(self, batch: Sequence[LogEvent]) -> None:
        found: list[MetricPoint] = []
        for event in batch:
            if MARK not in event.message:
                continue
            for line in event.message.splitlines():
                found.extend(points_of(line, event.timestamp))
        if found:
            self._sink(found)
