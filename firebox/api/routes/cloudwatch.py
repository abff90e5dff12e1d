"""The CloudWatch metrics API (`GraniteServiceVersion20100801`, AWS JSON 1.0 or RPC v2 CBOR) over Firebox's metrics:
PutMetricData, GetMetricStatistics, GetMetricData and ListMetrics.

Parameters arrive as plain dicts (`firebox.api.rpc`); members are named in error messages the way CloudWatch's
query protocol names them (`MetricData.member.1.Value`), since that is what AWS's messages say.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import time
from typing import Any

from firebox.api import rpc
from firebox.api.routes.rpc_types import Operation
from firebox.api.services import Services
from firebox.errors import InvalidParameterCombinationError, InvalidParameterValueError, MissingParameterError
from firebox.models.metrics import Dimensions, MetricPoint, SeriesKey, Stat
from firebox.observability import metric_math

UNITS = (
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
)
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_PERCENTILE = re.compile(r"p(100(\.0+)?|\d{1,2}(\.\d+)?)")
_QUERY_ID = re.compile(r"[a-z][a-zA-Z0-9_]*")
MAX_DATUMS = 1000
MAX_DIMENSIONS = 30
MAX_VALUES = 150
MAX_DATAPOINTS = 1440
MAX_QUERIES = 500
DEFAULT_MAX_DATAPOINTS = 100_800
LIST_PAGE = 500
PAST_LIMIT = 14 * 86_400
FUTURE_LIMIT = 2 * 3600


# parameters


def _required(params: dict[str, Any], member: str, where: str = "") -> Any:
    value = params.get(member)
    if value is None or value == "" or value == []:
        raise MissingParameterError(f"The parameter {where}{member} is required.")
    return value


def _string(params: dict[str, Any], member: str, where: str = "", limit: int = 255) -> str:
    value = _required(params, member, where)
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidParameterValueError(f"The parameter {where}{member} must be a string of 1 to {limit} characters.")
    return value


def _list(params: dict[str, Any], member: str, where: str = "") -> list[Any]:
    value = params.get(member)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidParameterValueError(f"The parameter {where}{member} must be a list.")
    return value


def _number(value: Any, member: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidParameterValueError(f"The value {value!r} for parameter {member} is invalid.")
    return float(value)


def _unit(params: dict[str, Any], where: str = "") -> str | None:
    unit = params.get("Unit")
    if unit is not None and unit not in UNITS:
        units = ", ".join(UNITS)
        raise InvalidParameterValueError(f"The parameter {where}Unit must be a value in the set [ {units} ].")
    return unit


def _dimensions(params: dict[str, Any], where: str) -> Dimensions:
    items = _list(params, "Dimensions", where)
    if len(items) > MAX_DIMENSIONS:
        raise InvalidParameterValueError(f"The collection {where}Dimensions must not have more than 30 members.")
    pairs: dict[str, str] = {}
    for n, item in enumerate(items, 1):
        at = f"{where}Dimensions.member.{n}."
        if not isinstance(item, dict):
            raise InvalidParameterValueError(f"The parameter {at[:-1]} must be a structure.")
        name = _string(item, "Name", at)
        value = _string(item, "Value", at, 1024)
        if name in pairs:
            raise InvalidParameterValueError(f"No Metric may specify the same dimension name twice: {name}.")
        pairs[name] = value
    return tuple(sorted(pairs.items()))


def _namespace(params: dict[str, Any], publishing: bool = False) -> str:
    namespace = _string(params, "Namespace")
    if publishing and namespace.startswith("AWS/"):
        raise InvalidParameterValueError(f"The value {namespace} for parameter Namespace is invalid.")
    return namespace


def _statistic(name: Any, member: str) -> str:
    if isinstance(name, str) and (name in STATISTICS or _PERCENTILE.fullmatch(name)):
        return name
    raise InvalidParameterValueError(
        f"The value {name} for parameter {member} is invalid: use SampleCount, Average, Sum, Minimum, Maximum or a "
        "percentile such as p99 or p99.9 (Firebox computes no trimmed means or other statistics)."
    )


def _period(value: Any, member: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidParameterValueError(f"The parameter {member} must be a positive integer (seconds).")
    if value in (1, 5, 10, 30):
        raise InvalidParameterValueError(
            f"The parameter {member} must be a multiple of 60: Firebox keeps metrics at 1-minute resolution and "
            "serves no high-resolution periods (1, 5, 10, 30 s)."
        )
    if value % 60:
        raise InvalidParameterValueError(f"The parameter {member} must be a multiple of 60.")
    return value


def _time_range(params: dict[str, Any]) -> tuple[int, int]:
    start = rpc.timestamp_ms(_required(params, "StartTime"), "StartTime") // 1000
    end = rpc.timestamp_ms(_required(params, "EndTime"), "EndTime") // 1000
    if start >= end:
        raise InvalidParameterValueError("The parameter StartTime must be less than the parameter EndTime.")
    return start, end


def _value(stat: Stat, statistic: str) -> float | None:
    if statistic == "SampleCount":
        return stat.count
    if statistic == "Sum":
        return stat.total
    if statistic == "Average":
        return stat.total / stat.count
    if statistic == "Minimum":
        return stat.low
    if statistic == "Maximum":
        return stat.high
    return stat.percentile(float(statistic[1:]))


# PutMetricData


def _datum(raw: Any, n: int, now: float, namespace: str) -> MetricPoint:
    at = f"MetricData.member.{n}."
    if not isinstance(raw, dict):
        raise InvalidParameterValueError(f"The parameter MetricData.member.{n} must be a structure.")
    name = _string(raw, "MetricName", at)
    dimensions = _dimensions(raw, at)
    unit = _unit(raw, at) or "None"
    when = now
    if raw.get("Timestamp") is not None:
        when = rpc.timestamp_ms(raw["Timestamp"], f"{at}Timestamp") / 1000
        if when < now - PAST_LIMIT or when > now + FUTURE_LIMIT:
            raise InvalidParameterValueError(
                f"The parameter {at}Timestamp must specify a time no more than two weeks in the past "
                "and no more than two hours in the future."
            )
    given = [member for member in ("Value", "Values", "StatisticValues") if raw.get(member) is not None]
    if len(given) > 1:
        raise InvalidParameterCombinationError(
            f"The parameters {at}{given[0]} and {at}{given[1]} are mutually exclusive and you have specified both."
        )
    if not given:
        raise MissingParameterError(f"The parameter {at}Value, {at}Values or {at}StatisticValues is required.")
    stat = Stat()
    if given[0] == "Value":
        stat.add(_number(raw["Value"], f"{at}Value"))
    elif given[0] == "Values":
        values = [_number(v, f"{at}Values") for v in _list(raw, "Values", at)]
        counts = [_number(c, f"{at}Counts") for c in _list(raw, "Counts", at)] or [1.0] * len(values)
        if len(values) > MAX_VALUES:
            raise InvalidParameterValueError(f"The collection {at}Values must not have more than 150 members.")
        if len(counts) != len(values):
            raise InvalidParameterValueError(f"The parameters {at}Values and {at}Counts must be of the same size.")
        for value, count in zip(values, counts, strict=True):
            if count < 0:
                raise InvalidParameterValueError(f"The parameter {at}Counts must not hold negative numbers.")
            stat.add(value, count)
    else:
        stats = raw["StatisticValues"]
        if not isinstance(stats, dict):
            raise InvalidParameterValueError(f"The parameter {at}StatisticValues must be a structure.")
        figures = [
            _number(_required(stats, member, f"{at}StatisticValues."), f"{at}StatisticValues.{member}")
            for member in ("SampleCount", "Sum", "Minimum", "Maximum")
        ]
        if figures[2] > figures[3] or figures[0] <= 0:
            raise InvalidParameterValueError(
                f"The parameter {at}StatisticValues must have SampleCount > 0 and Minimum <= Maximum."
            )
        stat.add_set(*figures)
    return MetricPoint(SeriesKey(namespace, name, dimensions, unit), int(when), 60, stat)


async def put_metric_data(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    namespace = _namespace(params, publishing=True)
    data = _list(params, "MetricData")
    if not data:
        raise MissingParameterError("The parameter MetricData is required.")
    if len(data) > MAX_DATUMS:
        raise InvalidParameterValueError("The collection MetricData must not have more than 1000 members.")
    if params.get("EntityMetricData"):
        raise InvalidParameterValueError("EntityMetricData is not supported by Firebox; send MetricData only.")
    now = time.time()
    services.metrics.put([_datum(raw, n, now, namespace) for n, raw in enumerate(data, 1)])
    return {}


# GetMetricStatistics


async def get_metric_statistics(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    namespace = _namespace(params)
    name = _string(params, "MetricName")
    dimensions = _dimensions(params, "")
    start, end = _time_range(params)
    period = _period(_required(params, "Period"), "Period")
    unit = _unit(params)
    statistics = [_statistic(s, "Statistics") for s in _list(params, "Statistics")]
    extended = [_statistic(s, "ExtendedStatistics") for s in _list(params, "ExtendedStatistics")]
    if not statistics and not extended:
        raise InvalidParameterCombinationError("Must specify either Statistics or ExtendedStatistics")
    if any(s not in STATISTICS for s in statistics) or any(s in STATISTICS for s in extended):
        raise InvalidParameterValueError(
            "Statistics takes SampleCount, Average, Sum, Minimum and Maximum only; "
            "percentiles go in ExtendedStatistics."
        )
    if len(statistics) + len(extended) > 10:
        raise InvalidParameterValueError("At most 10 Statistics and ExtendedStatistics together may be requested.")
    requested = -(-(end - start // 60 * 60) // period)
    if requested > MAX_DATAPOINTS:
        raise InvalidParameterCombinationError(
            f"You have requested up to {requested:,} datapoints, which exceeds the limit of {MAX_DATAPOINTS:,}. "
            "You may reduce the datapoints requested by increasing Period, or decreasing the time range."
        )
    services.telemetry.drain()
    points, found_unit = await services.metrics.datapoints(namespace, name, dimensions, unit, start, end, period)
    datapoints = []
    for timestamp, stat in points:
        point: dict[str, Any] = {"Timestamp": rpc.epoch(timestamp * 1000)}
        for statistic in statistics:
            point[statistic] = _value(stat, statistic)
        percentiles = {p: v for p in extended if (v := _value(stat, p)) is not None}
        if percentiles:
            point["ExtendedStatistics"] = percentiles
        point["Unit"] = unit or found_unit or "None"
        datapoints.append(point)
    return {"Label": name, "Datapoints": datapoints}


# GetMetricData


def _metric(raw: Any, at: str) -> tuple[str, str, Dimensions]:
    if not isinstance(raw, dict):
        raise MissingParameterError(f"The parameter {at}Metric is required.")
    return _string(raw, "Namespace", at), _string(raw, "MetricName", at), _dimensions(raw, at)


def _token(params: dict[str, Any]) -> int:
    token = params.get("NextToken")
    if token is None:
        return 0
    try:
        skip = json.loads(base64.b64decode(token, validate=True))["skip"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidParameterValueError("The parameter NextToken is invalid.") from None
    if not isinstance(skip, int) or skip < 0:
        raise InvalidParameterValueError("The parameter NextToken is invalid.")
    return skip


async def get_metric_data(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    queries = _list(params, "MetricDataQueries")
    if not queries:
        raise MissingParameterError("The parameter MetricDataQueries is required.")
    if len(queries) > MAX_QUERIES:
        raise InvalidParameterValueError("The collection MetricDataQueries must not have more than 500 members.")
    start, end = _time_range(params)
    descending = params.get("ScanBy", "TimestampDescending") != "TimestampAscending"
    if params.get("ScanBy") not in (None, "TimestampDescending", "TimestampAscending"):
        raise InvalidParameterValueError("The parameter ScanBy must be TimestampDescending or TimestampAscending.")
    budget = params.get("MaxDatapoints", DEFAULT_MAX_DATAPOINTS)
    if isinstance(budget, bool) or not isinstance(budget, int) or budget <= 0:
        raise InvalidParameterValueError("The parameter MaxDatapoints must be a positive integer.")
    skip = _token(params)
    parsed: dict[str, tuple[dict[str, Any], str]] = {}
    for n, query in enumerate(queries, 1):
        at = f"MetricDataQueries.member.{n}."
        if not isinstance(query, dict):
            raise InvalidParameterValueError(f"The parameter MetricDataQueries.member.{n} must be a structure.")
        query_id = _string(query, "Id", at)
        if not _QUERY_ID.fullmatch(query_id):
            raise InvalidParameterValueError(
                f"The value {query_id} for parameter {at}Id is invalid: it must start with a lowercase letter and "
                "hold only letters, digits and underscores."
            )
        if query_id in parsed:
            raise InvalidParameterValueError(f"The value {query_id} for parameter {at}Id is not unique.")
        if (query.get("Expression") is None) == (query.get("MetricStat") is None):
            raise InvalidParameterCombinationError(f"Exactly one of {at}MetricStat and {at}Expression is required.")
        parsed[query_id] = (query, at)
    series: dict[str, metric_math.Series] = {}
    labels: dict[str, str] = {}
    services.telemetry.drain()
    for query_id, (query, at) in parsed.items():
        stat_query = query.get("MetricStat")
        if stat_query is None:
            continue
        if not isinstance(stat_query, dict):
            raise InvalidParameterValueError(f"The parameter {at}MetricStat must be a structure.")
        namespace, name, dimensions = _metric(stat_query.get("Metric"), f"{at}MetricStat.Metric.")
        period = _period(_required(stat_query, "Period", f"{at}MetricStat."), f"{at}MetricStat.Period")
        statistic = _statistic(_string(stat_query, "Stat", f"{at}MetricStat."), f"{at}MetricStat.Stat")
        unit = _unit(stat_query, f"{at}MetricStat.")
        points, _ = await services.metrics.datapoints(namespace, name, dimensions, unit, start, end, period)
        series[query_id] = {t: v for t, stat in points if (v := _value(stat, statistic)) is not None}
        labels[query_id] = name
    for query_id, (query, _) in parsed.items():
        if query.get("Expression") is not None:
            _expression(query_id, parsed, series, [])
    results: list[dict[str, Any]] = []
    for query_id, (query, _) in parsed.items():
        if query.get("ReturnData", True) is False:
            continue
        values = sorted(series[query_id].items(), reverse=descending)
        results.append(
            {
                "Id": query_id,
                "Label": query.get("Label") or labels.get(query_id, query_id),
                "Timestamps": [rpc.epoch(t * 1000) for t, _ in values],
                "Values": [v for _, v in values],
                "StatusCode": "Complete",
            }
        )
    return _paged(results, skip, budget)


def _expression(
    query_id: str,
    parsed: dict[str, tuple[dict[str, Any], str]],
    series: dict[str, metric_math.Series],
    evaluating: list[str],
) -> metric_math.Series:
    """The series of an Expression query, evaluating the expressions it names first (once each)."""
    if query_id in series:
        return series[query_id]
    query, at = parsed[query_id]
    expression = query["Expression"]
    if not isinstance(expression, str) or not expression.strip():
        raise InvalidParameterValueError(f"The parameter {at}Expression must be a non-empty string.")
    if query_id in evaluating:
        raise InvalidParameterValueError(f"The expressions refer to each other in a circle: {' -> '.join(evaluating)}.")

    def lookup(name: str) -> metric_math.Series:
        if name not in parsed:
            raise metric_math.MathError(f"The expression {expression!r} names {name}, which is no query Id.")
        return _expression(name, parsed, series, [*evaluating, query_id])

    try:
        series[query_id] = metric_math.evaluate(expression, lookup)
    except metric_math.MathError as error:
        raise InvalidParameterValueError(f"{at}Expression: {error}") from None
    return series[query_id]


def _paged(results: list[dict[str, Any]], skip: int, budget: int) -> dict[str, Any]:
    """Up to `budget` datapoints across the results, after the first `skip` (from NextToken)."""
    taken = 0
    position = 0
    truncated = False
    for result in results:
        size = len(result["Values"])
        begin = min(size, max(0, skip - position))
        stop = min(size, begin + budget - taken)
        position += size
        if stop < size:
            truncated = True
            result["StatusCode"] = "PartialData"
        result["Timestamps"] = result["Timestamps"][begin:stop]
        result["Values"] = result["Values"][begin:stop]
        taken += stop - begin
    answer: dict[str, Any] = {"MetricDataResults": results}
    if truncated:
        answer["NextToken"] = base64.b64encode(json.dumps({"skip": skip + taken}).encode()).decode()
    return answer


# ListMetrics


async def list_metrics(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    namespace = params.get("Namespace") or None
    metric_name = params.get("MetricName") or None
    filters: list[tuple[str, str | None]] = []
    items = _list(params, "Dimensions")
    if len(items) > 10:
        raise InvalidParameterValueError("The collection Dimensions must not have more than 10 members.")
    for n, item in enumerate(items, 1):
        at = f"Dimensions.member.{n}."
        if not isinstance(item, dict):
            raise InvalidParameterValueError(f"The parameter Dimensions.member.{n} must be a structure.")
        value = item.get("Value")
        filters.append((_string(item, "Name", at), None if value is None else _string(item, "Value", at, 1024)))
    after = 0
    if params.get("NextToken") is not None:
        token = params["NextToken"]
        if not isinstance(token, str) or not token.isdigit():
            raise InvalidParameterValueError("The parameter NextToken is invalid.")
        after = int(token)
    recently = params.get("RecentlyActive")
    if recently not in (None, "PT3H"):
        raise InvalidParameterValueError("The parameter RecentlyActive must be PT3H.")
    since = int(time.time()) - 3 * 3600 if recently else 0
    services.telemetry.drain()
    found = await services.metrics.list_metrics(namespace, metric_name, filters, after, LIST_PAGE + 1, since)
    answer: dict[str, Any] = {
        "Metrics": [
            {
                "Namespace": ns,
                "MetricName": name,
                "Dimensions": [{"Name": n, "Value": v} for n, v in dimensions],
            }
            for _, ns, name, dimensions in found[:LIST_PAGE]
        ]
    }
    if len(found) > LIST_PAGE:
        answer["NextToken"] = str(found[LIST_PAGE - 1][0])
    return answer


OPERATIONS: dict[str, Operation] = {
    "PutMetricData": put_metric_data,
    "GetMetricStatistics": get_metric_statistics,
    "GetMetricData": get_metric_data,
    "ListMetrics": list_metrics,
}
