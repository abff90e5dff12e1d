"""The log-bucketed histogram behind percentile statistics: accuracy, merging, encoding."""

from __future__ import annotations

import math
import random

import pytest

from firebox.models.metrics import GAMMA, Histogram, Stat

BOUND = (GAMMA - 1) / (GAMMA + 1) + 1e-9
"""The relative error a bucket's representative can have."""


def exact(values: list[float], p: float) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def stat_of(values: list[float]) -> Stat:
    stat = Stat()
    for value in values:
        stat.add(value)
    return stat


@pytest.mark.parametrize(
    "draw",
    [
        lambda rng: rng.lognormvariate(3, 1.5),  # latencies: a long tail
        lambda rng: rng.uniform(0.001, 0.01),  # tiny values
        lambda rng: rng.uniform(1e6, 1e9),  # large values
        lambda rng: float(rng.randint(1, 5)),  # few distinct values
    ],
    ids=["lognormal", "tiny", "huge", "discrete"],
)
def test_percentiles_are_within_the_relative_error_bound(draw: object) -> None:
    rng = random.Random(7)
    values = [draw(rng) for _ in range(5000)]  # type: ignore[operator]
    stat = stat_of(values)
    for p in (1, 10, 50, 90, 99, 99.9):
        got = stat.percentile(p)
        want = exact(values, p)
        assert got is not None
        assert abs(got - want) <= BOUND * want, (p, got, want)
    assert stat.percentile(0) == min(values)
    assert stat.percentile(100) == max(values)
    assert (stat.count, stat.low, stat.high) == (5000, min(values), max(values))
    assert stat.total == pytest.approx(sum(values))


def test_negative_values_and_zero_take_their_place_in_order() -> None:
    values = [-50.0, -5.0, 0.0, 0.0, 3.0, 30.0, 300.0]
    stat = stat_of(values)
    assert stat.percentile(10) == pytest.approx(-50.0, rel=BOUND)
    assert stat.percentile(20) == pytest.approx(-5.0, rel=BOUND)
    assert stat.percentile(50) == 0.0
    assert stat.percentile(80) == pytest.approx(30.0, rel=BOUND)
    assert stat.percentile(100) == 300.0


def test_merging_two_points_equals_one_point_of_all_values() -> None:
    rng = random.Random(3)
    first = [rng.expovariate(0.01) for _ in range(1000)]
    second = [rng.expovariate(0.1) for _ in range(300)]
    merged = stat_of(first)
    merged.merge(stat_of(second))
    whole = stat_of(first + second)
    assert merged.histogram is not None and whole.histogram is not None
    assert merged.histogram.positive == whole.histogram.positive
    for p in (50, 90, 99):
        assert merged.percentile(p) == whole.percentile(p)


def test_encoding_round_trips() -> None:
    histogram = Histogram()
    for value in (-2.5, 0.0, 0.0, 1.0, 1e-3, 12345.678):
        histogram.add(value, 3)
    decoded = Histogram.decode(histogram.encode())
    assert (decoded.positive, decoded.negative, decoded.zero) == (
        histogram.positive,
        histogram.negative,
        histogram.zero,
    )
    assert decoded.count == 18
    assert Histogram.decode(Histogram().encode()).count == 0


def test_a_statistic_set_keeps_percentiles_only_when_all_values_are_equal() -> None:
    equal = Stat()
    equal.add_set(4, 20.0, 5.0, 5.0)
    assert equal.percentile(50) == 5.0
    spread = Stat()
    spread.add(1.0)
    spread.add_set(10, 100.0, 2.0, 30.0)
    assert (spread.count, spread.total, spread.low, spread.high) == (11, 101.0, 1.0, 30.0)
    assert spread.percentile(50) is None, "percentiles of a StatisticSet are unknown"
    assert Stat().percentile(50) is None


def test_counts_weight_values() -> None:
    stat = Stat()
    stat.add(10.0, 99)
    stat.add(1000.0, 1)
    assert stat.count == 100
    assert stat.percentile(99) == pytest.approx(10.0, rel=BOUND)
    assert stat.percentile(99.5) == pytest.approx(1000.0, rel=BOUND)
    stat.add(5.0, 0)
    assert stat.low == 10.0, "a zero count adds nothing"
