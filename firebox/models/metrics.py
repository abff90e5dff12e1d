"""Metric data points as CloudWatch keeps them: a series identity and each point's statistics: SampleCount, Sum,
Minimum, Maximum and a log-bucketed histogram.

The histogram keeps a count per bucket `(GAMMA**(i-1), GAMMA**i]` (and the mirror image for negative values, and
one count for zero), so any percentile is known within `(GAMMA - 1) / (GAMMA + 1)` ≈ 1 % of the true value, in
memory that grows with the logarithm of the range of values, not with their number. Two points merge by adding
their buckets, which is what makes per-minute points roll up into 5-minute and 1-hour points without losing their
percentiles.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

GAMMA = 1.02
_LOG_GAMMA = math.log(GAMMA)
_MIDPOINT = 2 / (1 + GAMMA)
"""A bucket's representative is GAMMA**i * _MIDPOINT: the value whose relative error to both bounds is equal."""


def bucket_of(value: float) -> int:
    """The bucket index of a positive value."""
    return math.ceil(math.log(value) / _LOG_GAMMA)


class Histogram:
    __slots__ = ("positive", "negative", "zero")

    def __init__(self) -> None:
        self.positive: dict[int, int] = {}
        self.negative: dict[int, int] = {}
        """Buckets of |value| for negative values."""
        self.zero = 0

    def add(self, value: float, count: int = 1) -> None:
        if value > 0:
            i = math.ceil(math.log(value) / _LOG_GAMMA)
            buckets = self.positive
        elif value < 0:
            i = math.ceil(math.log(-value) / _LOG_GAMMA)
            buckets = self.negative
        else:
            self.zero += count
            return
        buckets[i] = buckets.get(i, 0) + count

    @property
    def count(self) -> int:
        return self.zero + sum(self.positive.values()) + sum(self.negative.values())

    def merge(self, other: Histogram) -> None:
        for mine, theirs in ((self.positive, other.positive), (self.negative, other.negative)):
            for i, n in theirs.items():
                mine[i] = mine.get(i, 0) + n
        self.zero += other.zero

    def percentile(self, p: float, low: float, high: float) -> float | None:
        """The p-th percentile (0-100), clamped to the point's real [low, high]; None when empty."""
        total = self.count
        if not total:
            return None
        if p <= 0:
            return low
        if p >= 100:
            return high
        rank = math.ceil(p / 100 * total)
        seen = 0
        for i in sorted(self.negative, reverse=True):
            seen += self.negative[i]
            if seen >= rank:
                return max(low, min(high, -(GAMMA**i) * _MIDPOINT))
        seen += self.zero
        if seen >= rank:
            return max(low, min(high, 0.0))
        for i in sorted(self.positive):
            seen += self.positive[i]
            if seen >= rank:
                return max(low, min(high, GAMMA**i * _MIDPOINT))
        return high

    def encode(self) -> str:
        doc: dict[str, Any] = {}
        if self.positive:
            doc["p"] = sorted(self.positive.items())
        if self.negative:
            doc["n"] = sorted(self.negative.items())
        if self.zero:
            doc["z"] = self.zero
        return json.dumps(doc, separators=(",", ":"))

    @classmethod
    def decode(cls, text: str) -> Histogram:
        doc = json.loads(text)
        histogram = cls()
        histogram.positive = {int(i): int(n) for i, n in doc.get("p", [])}
        histogram.negative = {int(i): int(n) for i, n in doc.get("n", [])}
        histogram.zero = int(doc.get("z", 0))
        return histogram


class Stat:
    """The statistics of one data point. `histogram` is None when percentiles are not known (values given as a
    StatisticSet, or a figure recorded without one to keep the hot path cheap)."""

    __slots__ = ("count", "total", "low", "high", "histogram")

    def __init__(self, histogram: bool = True) -> None:
        self.count = 0.0
        self.total = 0.0
        self.low = math.inf
        self.high = -math.inf
        self.histogram: Histogram | None = Histogram() if histogram else None

    def add(self, value: float, count: float = 1) -> None:
        if count <= 0:
            return
        self.count += count
        self.total += value * count
        if value < self.low:
            self.low = value
        if value > self.high:
            self.high = value
        if self.histogram is not None:
            self.histogram.add(value, int(count))

    def add_set(self, count: float, total: float, low: float, high: float) -> None:
        """A StatisticSet: percentiles stay known only when all its values are equal."""
        if count <= 0:
            return
        if low == high and count == int(count) and self.histogram is not None:
            self.add(low, count)
            return
        self.count += count
        self.total += total
        self.low = min(self.low, low)
        self.high = max(self.high, high)
        self.histogram = None

    def merge(self, other: Stat) -> None:
        if not other.count:
            return
        self.count += other.count
        self.total += other.total
        self.low = min(self.low, other.low)
        self.high = max(self.high, other.high)
        if self.histogram is not None and other.histogram is not None:
            self.histogram.merge(other.histogram)
        else:
            self.histogram = None

    def percentile(self, p: float) -> float | None:
        if self.histogram is None or not self.count:
            return None
        return self.histogram.percentile(p, self.low, self.high)


Dimensions = tuple[tuple[str, str], ...]
"""A canonical dimension set: (name, value) pairs sorted by name."""


@dataclass(frozen=True, slots=True)
class SeriesKey:
    namespace: str
    metric_name: str
    dimensions: Dimensions
    unit: str
    """`None` (CloudWatch's word) when no unit was given."""


@dataclass(slots=True)
class MetricPoint:
    series: SeriesKey
    timestamp: int
    """Epoch seconds at the start of the period."""
    resolution: int
    """The period in seconds: 60 (or coarser after roll-up: 300, 3600)."""
    stat: Stat
