"""A small subset of CloudWatch metric math for GetMetricData `Expression` queries.

Supported: query ids, numbers, `+ - * /`, parentheses, and the functions `ABS(x)`, `SUM(...)`, `AVG(...)`,
`MIN(...)`, `MAX(...)` (each over its arguments or a `[a, b, ...]` list, point by point). A time series is a dict of
period start → value. Between two series an operator keeps the timestamps both have; with a number it applies to
every point; a division by zero drops the point. Anything else (METRICS(), FILL, SEARCH, Metrics Insights SQL...)
is refused with `MathError`, which the API reports as InvalidParameterValue.

The expression is parsed with Python's `ast` and only the node types above are accepted, so nothing is evaluated
but arithmetic.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

Series = dict[int, float]
Value = Series | float
MAX_LENGTH = 2048


class MathError(ValueError):
    pass


def evaluate(expression: str, lookup: Callable[[str], Series]) -> Series:
    """The series an expression gives, reading the series of the ids it names with `lookup` (which raises
    MathError for an unknown id)."""
    result = _eval(_parse(expression).body, lookup)
    if not isinstance(result, dict):
        raise MathError("The expression must give a time series, not a single number.")
    return result


_FUNCTIONS = {"ABS", "SUM", "AVG", "MIN", "MAX"}


def _parse(expression: str) -> ast.Expression:
    if len(expression) > MAX_LENGTH:
        raise MathError(f"The expression is longer than {MAX_LENGTH} characters.")
    try:
        return ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        raise MathError(f"The expression {expression!r} could not be parsed.") from None


def _eval(node: ast.expr, lookup: Callable[[str], Series]) -> Value:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.Name):
        return dict(lookup(node.id))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = _eval(node.operand, lookup)
        sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
        return _apply(lambda a, _: sign * a, operand, 0.0)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Div):
        left, right = _eval(node.left, lookup), _eval(node.right, lookup)
        op = node.op
        if isinstance(op, ast.Add):
            return _apply(lambda a, b: a + b, left, right)
        if isinstance(op, ast.Sub):
            return _apply(lambda a, b: a - b, left, right)
        if isinstance(op, ast.Mult):
            return _apply(lambda a, b: a * b, left, right)
        return _apply(lambda a, b: None if b == 0 else a / b, left, right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS:
        if node.keywords:
            raise MathError(f"{node.func.id} takes no named arguments.")
        args: list[ast.expr] = []
        for arg in node.args:
            args.extend(arg.elts if isinstance(arg, ast.List) else [arg])
        if not args:
            raise MathError(f"{node.func.id} needs at least one argument.")
        values = [_eval(arg, lookup) for arg in args]
        return _aggregate(node.func.id, values)
    raise MathError(
        f"Firebox's metric math supports query ids, numbers, + - * /, and ABS, SUM, AVG, MIN, MAX; "
        f"not {ast.unparse(node)!r}."
    )


def _apply(op: Callable[[float, float], float | None], left: Value, right: Value) -> Value:
    if isinstance(left, float) and isinstance(right, float):
        value = op(left, right)
        if value is None:
            raise MathError("The expression divides by zero.")
        return value
    if isinstance(left, float):
        assert isinstance(right, dict)
        pairs = {t: (left, v) for t, v in right.items()}
    elif isinstance(right, float):
        pairs = {t: (v, right) for t, v in left.items()}
    else:
        pairs = {t: (v, right[t]) for t, v in left.items() if t in right}
    result: Series = {}
    for t, (a, b) in pairs.items():
        value = op(a, b)
        if value is not None:
            result[t] = value
    return result


def _aggregate(name: str, values: list[Value]) -> Value:
    if name == "ABS":
        if len(values) != 1:
            raise MathError("ABS takes one argument.")
        return _apply(lambda a, _: abs(a), values[0], 0.0)
    series = [v for v in values if isinstance(v, dict)]
    numbers = [v for v in values if isinstance(v, float)]
    timestamps = sorted({t for s in series for t in s})
    if not series:
        return _reduce(name, numbers)
    return {t: _reduce(name, [s[t] for s in series if t in s] + numbers) for t in timestamps}


def _reduce(name: str, values: list[float]) -> float:
    if name == "SUM":
        return sum(values)
    if name == "AVG":
        return sum(values) / len(values)
    return min(values) if name == "MIN" else max(values)
