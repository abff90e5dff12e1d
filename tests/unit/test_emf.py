"""Embedded Metric Format lines into metric points; everything else (and anything malformed) into none."""

from __future__ import annotations

import json
import time
from typing import Any

from firebox.models.logs import LogEvent
from firebox.models.metrics import MetricPoint
from firebox.observability.emf import EmfExtractor, points_of

NOW_MS = int(time.time() * 1000)


def line(**changes: Any) -> str:
    doc: dict[str, Any] = {
        "_aws": {
            "Timestamp": NOW_MS,
            "CloudWatchMetrics": [
                {
                    "Namespace": "shop",
                    "Dimensions": [["Service", "Region"], ["Service"]],
                    "Metrics": [{"Name": "Latency", "Unit": "Milliseconds"}, {"Name": "Orders"}],
                }
            ],
        },
        "Service": "cart",
        "Region": "north",
        "Latency": [12, 14.5],
        "Orders": 3,
    }
    doc.update(changes)
    return json.dumps(doc)


def test_a_directive_gives_a_point_per_metric_and_dimension_set() -> None:
    points = points_of(line(), 0 + NOW_MS)
    seen = {(p.series.metric_name, p.series.dimensions, p.series.unit): (p.stat.count, p.stat.total) for p in points}
    assert seen == {
        ("Latency", (("Region", "north"), ("Service", "cart")), "Milliseconds"): (2, 26.5),
        ("Latency", (("Service", "cart"),), "Milliseconds"): (2, 26.5),
        ("Orders", (("Region", "north"), ("Service", "cart")), "None"): (1, 3),
        ("Orders", (("Service", "cart"),), "None"): (1, 3),
    }
    assert {p.timestamp for p in points} == {NOW_MS // 1000}
    assert {p.series.namespace for p in points} == {"shop"}


def test_ordinary_and_malformed_lines_give_nothing() -> None:
    assert points_of("START RequestId: 1 Version: $LATEST", NOW_MS) == []
    assert points_of('not json but mentions "_aws"', NOW_MS) == []
    assert points_of('{"_aws": 1}', NOW_MS) == []
    assert points_of(line(Service=7), NOW_MS) == [], "a dimension value must be a string"
    assert points_of(line(Region=None), NOW_MS) == [], "every dimension must be present"
    assert [p.series.metric_name for p in points_of(line(Latency="fast"), NOW_MS)].count("Latency") == 0
    assert points_of(line(Latency=list(range(101))), NOW_MS) != [], "Orders still counts"
    stale = json.loads(line())
    stale["_aws"]["Timestamp"] = NOW_MS - 15 * 86_400_000
    assert points_of(json.dumps(stale), NOW_MS) == []
    reserved = json.loads(line())
    reserved["_aws"]["CloudWatchMetrics"][0]["Namespace"] = "AWS/Lambda"
    assert points_of(json.dumps(reserved), NOW_MS) == []


def test_the_extractor_reads_every_line_of_a_block() -> None:
    handed: list[MetricPoint] = []
    extract = EmfExtractor(handed.extend)
    block = f"START RequestId: 1\n{line()}\nplain\nEND RequestId: 1\n"
    extract([LogEvent("/aws/lambda/f", "s", NOW_MS, block), LogEvent("/aws/lambda/f", "s", NOW_MS, "nothing here")])
    assert len(handed) == 4
