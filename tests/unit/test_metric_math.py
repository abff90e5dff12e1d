"""The metric-math subset of GetMetricData expressions."""

from __future__ import annotations

import pytest

from firebox.observability.metric_math import MathError, Series, evaluate

SERIES: dict[str, Series] = {
    "errors": {60: 1.0, 120: 0.0, 180: 4.0},
    "calls": {60: 10.0, 120: 5.0, 180: 0.0, 240: 7.0},
}


def lookup(name: str) -> Series:
    if name not in SERIES:
        raise MathError(f"unknown {name}")
    return SERIES[name]


def test_arithmetic_aligns_on_timestamps_and_drops_divisions_by_zero() -> None:
    assert evaluate("100 * errors / calls", lookup) == {60: 10.0, 120: 0.0}
    assert evaluate("calls - errors", lookup) == {60: 9.0, 120: 5.0, 180: -4.0}
    assert evaluate("-(calls) + 1", lookup) == {60: -9.0, 120: -4.0, 180: 1.0, 240: -6.0}


def test_functions_work_point_by_point() -> None:
    assert evaluate("SUM([errors, calls])", lookup) == {60: 11.0, 120: 5.0, 180: 4.0, 240: 7.0}
    assert evaluate("MAX(errors, calls)", lookup) == {60: 10.0, 120: 5.0, 180: 4.0, 240: 7.0}
    assert evaluate("AVG([errors, calls])", lookup)[60] == 5.5
    assert evaluate("MIN([errors, calls])", lookup)[240] == 7.0
    assert evaluate("ABS(errors - calls)", lookup) == {60: 9.0, 120: 5.0, 180: 4.0}


@pytest.mark.parametrize(
    "expression",
    ["METRICS()", "errors ** 2", "__import__('os')", "errors.real", "1 + 2", "SEARCH('x', 'Sum', 60)", "nope", "(("],
)
def test_anything_else_is_refused(expression: str) -> None:
    with pytest.raises(MathError):
        evaluate(expression, lookup)
