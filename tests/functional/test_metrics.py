"""CloudWatch metrics through the real server: Lambda's own metrics from invocations, PutMetricData (from a client
and from inside a handler), the Embedded Metric Format, the query APIs and their refusals, on both wires (AWS JSON
1.0 through boto3, Smithy RPC v2 CBOR through botocore's own serializer and parser)."""

from __future__ import annotations

import datetime
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import botocore.parsers
import botocore.serialize
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import RunningServer, create, error_of, make_zip, start_server

FLAKY = (
    "def handler(event, context):\n"
    "    if event.get('fail'):\n"
    "        raise RuntimeError('asked to fail')\n"
    "    return 'ok'\n"
)
PUBLISHER = (
    "import boto3\n"
    "def handler(event, context):\n"
    "    boto3.client('cloudwatch').put_metric_data(Namespace=event['namespace'], MetricData=[\n"
    "        {'MetricName': 'Orders', 'Value': event['value'], 'Unit': 'Count',\n"
    "         'Dimensions': [{'Name': 'Shop', 'Value': 'north'}]}])\n"
    "    return 'published'\n"
)
EMF = (
    "import json, time\n"
    "def handler(event, context):\n"
    "    print(json.dumps({'_aws': {'Timestamp': int(time.time() * 1000), 'CloudWatchMetrics': [\n"
    "        {'Namespace': event['namespace'], 'Dimensions': [['Service'], []],\n"
    "         'Metrics': [{'Name': 'Latency', 'Unit': 'Milliseconds'}]}]},\n"
    "        'Service': 'cart', 'Latency': [12, 14, 400], 'requestId': context.aws_request_id}))\n"
    "    print('an ordinary line mentioning _aws')\n"
    "    return 'logged'\n"
)


def window() -> dict[str, datetime.datetime]:
    now = datetime.datetime.now(datetime.UTC)
    return {"StartTime": now - datetime.timedelta(minutes=10), "EndTime": now + datetime.timedelta(minutes=2)}


def fn(name: str, **more: str) -> list[dict[str, str]]:
    return [{"Name": "FunctionName", "Value": name}] + [{"Name": k, "Value": v} for k, v in more.items()]


def statistics(
    cw: Any, metric: str, dimensions: list[dict[str, str]], namespace: str = "AWS/Lambda", **extra: Any
) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"Statistics": ["Sum", "SampleCount", "Minimum", "Maximum", "Average"], **extra}
    points: list[dict[str, Any]] = cw.get_metric_statistics(
        Namespace=namespace, MetricName=metric, Dimensions=dimensions, Period=60, **window(), **params
    )["Datapoints"]
    return points


def total(points: list[dict[str, Any]], statistic: str = "Sum") -> float:
    return sum(point[statistic] for point in points)


def eventually(probe: Callable[[], Any], timeout: float = 15.0) -> Any:
    """The first truthy value of probe(), polling until the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


@pytest.fixture
def cw(server: RunningServer) -> Any:
    return server.client(service="cloudwatch")


def test_invocations_errors_throttles_and_duration(lam: Any, cw: Any, name: str) -> None:
    create(lam, name, make_zip({"app.py": FLAKY}))
    successes, failures, throttles = 3, 2, 2
    for _ in range(successes):
        assert "FunctionError" not in lam.invoke(FunctionName=name, Payload=b"{}")
    for _ in range(failures):
        assert lam.invoke(FunctionName=name, Payload=json.dumps({"fail": 1}))["FunctionError"] == "Unhandled"
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    for _ in range(throttles):
        with pytest.raises(ClientError) as exc:
            lam.invoke(FunctionName=name, Payload=b"{}")
        assert error_of(exc)[2] == 429
    lam.delete_function_concurrency(FunctionName=name)

    assert total(statistics(cw, "Invocations", fn(name))) == successes + failures
    assert total(statistics(cw, "Errors", fn(name))) == failures
    assert total(statistics(cw, "Errors", fn(name)), "SampleCount") == successes + failures
    assert total(statistics(cw, "Throttles", fn(name))) == throttles
    assert total(statistics(cw, "ColdStarts", fn(name))) >= 1
    assert total(statistics(cw, "Invocations", [])) >= successes + failures, "account-wide"
    durations = statistics(cw, "Duration", fn(name), ExtendedStatistics=["p50", "p99", "p99.9"])
    assert total(durations, "SampleCount") == successes + failures
    for point in durations:
        assert point["Unit"] == "Milliseconds"
        assert 0 < point["Minimum"] <= point["Average"] <= point["Maximum"]
        assert point["Minimum"] <= point["ExtendedStatistics"]["p50"] <= point["ExtendedStatistics"]["p99"]
        assert point["ExtendedStatistics"]["p99"] <= point["Maximum"]
    assert max(point["Maximum"] for point in statistics(cw, "ConcurrentExecutions", fn(name))) >= 1
    insights = [{"Name": "function_name", "Value": name}]
    memory = statistics(cw, "used_memory_max", insights, namespace="LambdaInsights")
    assert total(memory, "SampleCount") == successes + failures and all(p["Unit"] == "Megabytes" for p in memory)
    utilization = statistics(cw, "memory_utilization", insights, namespace="LambdaInsights")
    assert all(0 < p["Maximum"] <= 100 and p["Unit"] == "Percent" for p in utilization) and utilization

    queries = [
        {
            "Id": metric.lower(),
            "MetricStat": {
                "Metric": {"Namespace": "AWS/Lambda", "MetricName": metric, "Dimensions": fn(name)},
                "Period": 60,
                "Stat": "Sum",
            },
        }
        for metric in ("Invocations", "Errors", "Throttles")
    ]
    queries.append(
        {
            "Id": "p90",
            "Label": "latency",
            "MetricStat": {
                "Metric": {"Namespace": "AWS/Lambda", "MetricName": "Duration", "Dimensions": fn(name)},
                "Period": 60,
                "Stat": "p90",
            },
        }
    )
    for query in queries[:2]:
        query["ReturnData"] = False
    queries.append({"Id": "rate", "Label": "error rate", "Expression": "100 * errors / invocations"})
    results = {r["Id"]: r for r in cw.get_metric_data(MetricDataQueries=queries, **window())["MetricDataResults"]}
    assert "invocations" not in results and "errors" not in results, "ReturnData false"
    rate = results.pop("rate")
    assert rate["Label"] == "error rate" and rate["Values"], rate
    if len(rate["Values"]) == 1:  # the invocations all fell in one minute
        assert rate["Values"] == [pytest.approx(100 * failures / (successes + failures))]
    for query in queries[:2]:
        del query["ReturnData"]
    queries.pop()
    results = {r["Id"]: r for r in cw.get_metric_data(MetricDataQueries=queries, **window())["MetricDataResults"]}
    assert {key: sum(r["Values"]) for key, r in results.items() if key != "p90"} == {
        "invocations": successes + failures,
        "errors": failures,
        "throttles": throttles,
    }
    assert all(r["StatusCode"] == "Complete" for r in results.values())
    assert results["invocations"]["Label"] == "Invocations" and results["p90"]["Label"] == "latency"
    assert results["p90"]["Values"] and len(results["p90"]["Timestamps"]) == len(results["p90"]["Values"])
    stamps = results["invocations"]["Timestamps"]
    assert stamps == sorted(stamps, reverse=True), "TimestampDescending by default"

    listed = cw.list_metrics(Namespace="AWS/Lambda", Dimensions=[{"Name": "FunctionName", "Value": name}])["Metrics"]
    names = {metric["MetricName"] for metric in listed}
    assert {"Invocations", "Errors", "Throttles", "Duration", "ConcurrentExecutions"} <= names
    assert all({"Name": "FunctionName", "Value": name} in metric["Dimensions"] for metric in listed)


def test_alias_invocations_report_resource_and_executed_version(lam: Any, cw: Any, name: str) -> None:
    create(lam, name)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    for _ in range(2):
        lam.invoke(FunctionName=name, Qualifier="live")
    lam.invoke(FunctionName=name, Qualifier=version)
    lam.invoke(FunctionName=name)

    assert total(statistics(cw, "Invocations", fn(name))) == 4
    alias = fn(name, Resource=f"{name}:live", ExecutedVersion=version)
    assert total(statistics(cw, "Invocations", alias)) == 2
    assert total(statistics(cw, "Duration", alias), "SampleCount") == 2
    assert total(statistics(cw, "Invocations", fn(name, Resource=f"{name}:live"))) == 2
    assert total(statistics(cw, "Invocations", fn(name, Resource=f"{name}:{version}"))) == 1
    with_version = cw.list_metrics(
        MetricName="Invocations",
        Dimensions=[{"Name": "FunctionName", "Value": name}, {"Name": "ExecutedVersion"}],
    )["Metrics"]
    assert [sorted((d["Name"], d["Value"]) for d in m["Dimensions"]) for m in with_version] == [
        [("ExecutedVersion", version), ("FunctionName", name), ("Resource", f"{name}:live")]
    ], "ExecutedVersion only for the alias invocation"


def test_put_metric_data_from_inside_a_handler(lam: Any, cw: Any, name: str) -> None:
    create(lam, name, make_zip({"app.py": PUBLISHER}))
    namespace = f"Handler/{name}"
    for value in (3, 4):
        response = lam.invoke(FunctionName=name, Payload=json.dumps({"namespace": namespace, "value": value}))
        assert json.loads(response["Payload"].read()) == "published", response.get("FunctionError")
    points = statistics(cw, "Orders", [{"Name": "Shop", "Value": "north"}], namespace=namespace)
    assert (total(points), total(points, "SampleCount")) == (7, 2)
    assert {point["Unit"] for point in points} == {"Count"}
    assert cw.list_metrics(Namespace=namespace)["Metrics"] == [
        {"Namespace": namespace, "MetricName": "Orders", "Dimensions": [{"Name": "Shop", "Value": "north"}]}
    ]


def test_embedded_metric_format_printed_by_a_handler_becomes_a_metric(lam: Any, cw: Any, name: str) -> None:
    create(lam, name, make_zip({"app.py": EMF}))
    namespace = f"Emf/{name}"
    response = lam.invoke(FunctionName=name, Payload=json.dumps({"namespace": namespace}))
    assert json.loads(response["Payload"].read()) == "logged"
    service = [{"Name": "Service", "Value": "cart"}]
    points = eventually(lambda: statistics(cw, "Latency", service, namespace=namespace, ExtendedStatistics=["p50"]))
    assert points, "the EMF line never became a metric"
    [point] = points
    assert (point["SampleCount"], point["Sum"], point["Minimum"], point["Maximum"]) == (3, 426, 12, 400)
    assert point["Unit"] == "Milliseconds"
    assert point["ExtendedStatistics"]["p50"] == pytest.approx(14, rel=0.02)
    assert total(statistics(cw, "Latency", [], namespace=namespace)) == 426, "the empty dimension set too"
    assert len(cw.list_metrics(Namespace=namespace)["Metrics"]) == 2


def test_values_counts_statistic_sets_and_units(cw: Any) -> None:
    namespace = f"Put/{uuid.uuid4().hex[:8]}"
    dims = [{"Name": "B", "Value": "2"}, {"Name": "A", "Value": "1"}]
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": "m",
                "Dimensions": dims,
                "Values": [1.0, 10.0, 100.0],
                "Counts": [50, 40, 10],
                "Unit": "Seconds",
            },
            {
                "MetricName": "m",
                "Dimensions": dims,
                "StatisticValues": {"SampleCount": 4, "Sum": 8, "Minimum": 0.5, "Maximum": 4},
                "Unit": "Seconds",
            },
            {"MetricName": "m", "Dimensions": dims, "Value": 7, "Unit": "Bytes"},
        ],
    )
    reordered = list(reversed(dims))
    [seconds] = statistics(cw, "m", reordered, namespace=namespace, Unit="Seconds")
    assert (seconds["SampleCount"], seconds["Sum"], seconds["Minimum"], seconds["Maximum"]) == (104, 1458, 0.5, 100)
    assert seconds["Unit"] == "Seconds"
    [everything] = statistics(cw, "m", dims, namespace=namespace)
    assert everything["SampleCount"] == 105, "every unit without a Unit filter"
    assert statistics(cw, "m", dims[:1], namespace=namespace) == [], "dimensions match exactly"
    percentiles = cw.get_metric_statistics(
        Namespace=namespace,
        MetricName="m",
        Dimensions=dims,
        Period=300,
        ExtendedStatistics=["p50"],
        Unit="Bytes",
        **window(),
    )["Datapoints"]
    assert [p["ExtendedStatistics"]["p50"] for p in percentiles] == [pytest.approx(7, rel=0.02)]
    assert "Sum" not in percentiles[0], "only what was asked for"


def test_refusals(server: RunningServer, cw: Any) -> None:
    def refused(call: Callable[[], Any]) -> tuple[str, str, int]:
        with pytest.raises(ClientError) as exc:
            call()
        return error_of(exc)

    datum = [{"MetricName": "m", "Value": 1.0}]
    code, message, status = refused(lambda: cw.put_metric_data(Namespace="AWS/Lambda", MetricData=datum))
    assert (code, status) == ("InvalidParameterValue", 400) and "Namespace" in message
    raw = boto3.client(  # without boto3's own checks, so the server sees the request
        "cloudwatch",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(parameter_validation=False, retries={"total_max_attempts": 1}),
    )
    server.clients.append(raw)
    assert refused(lambda: raw.put_metric_data(MetricData=datum)) == (
        "MissingParameter",
        "The parameter Namespace is required.",
        400,
    )
    code, message, status = refused(
        lambda: cw.get_metric_statistics(Namespace="N", MetricName="m", Period=90, Statistics=["Sum"], **window())
    )
    assert (code, status) == ("InvalidParameterValue", 400) and "multiple of 60" in message
    code, message, status = refused(
        lambda: cw.get_metric_statistics(Namespace="N", MetricName="m", Period=10, Statistics=["Sum"], **window())
    )
    assert (code, status) == ("InvalidParameterValue", 400) and "high-resolution" in message
    now = datetime.datetime.now(datetime.UTC)
    code, message, status = refused(
        lambda: cw.get_metric_statistics(
            Namespace="N",
            MetricName="m",
            Period=60,
            Statistics=["Sum"],
            StartTime=now - datetime.timedelta(days=2),
            EndTime=now,
        )
    )
    assert (code, status) == ("InvalidParameterCombination", 400)
    assert message.startswith("You have requested up to 2,88") and "exceeds the limit of 1,440" in message
    assert refused(lambda: cw.get_metric_statistics(Namespace="N", MetricName="m", Period=60, **window()))[:2] == (
        "InvalidParameterCombination",
        "Must specify either Statistics or ExtendedStatistics",
    )
    code, message, _ = refused(
        lambda: cw.get_metric_data(MetricDataQueries=[{"Id": "e", "Expression": "SUM(METRICS())"}], **window())
    )
    assert code == "InvalidParameterValue" and "METRICS()" in message
    code, message, _ = refused(
        lambda: cw.get_metric_data(MetricDataQueries=[{"Id": "e", "Expression": "e + 1"}], **window())
    )
    assert code == "InvalidParameterValue" and "circle" in message
    code, message, _ = refused(
        lambda: cw.get_metric_data(MetricDataQueries=[{"Id": "e", "Expression": "nope * 2"}], **window())
    )
    assert code == "InvalidParameterValue" and "no query Id" in message
    old = now - datetime.timedelta(days=15)
    code, message, _ = refused(
        lambda: cw.put_metric_data(Namespace="N", MetricData=[{"MetricName": "m", "Value": 1.0, "Timestamp": old}])
    )
    assert code == "InvalidParameterValue" and "two weeks" in message
    code, _, _ = refused(
        lambda: cw.put_metric_data(
            Namespace="N",
            MetricData=[
                {
                    "MetricName": "m",
                    "Value": 1.0,
                    "StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1},
                }
            ],
        )
    )
    assert code == "InvalidParameterCombination"


def test_list_metrics_pages_and_get_metric_data_pages(cw: Any) -> None:
    namespace = f"Pages/{uuid.uuid4().hex[:8]}"
    for start in range(0, 1200, 1000):
        cw.put_metric_data(
            Namespace=namespace,
            MetricData=[
                {"MetricName": "m", "Value": 1.0, "Dimensions": [{"Name": "i", "Value": str(i)}]}
                for i in range(start, min(start + 1000, 1200))
            ],
        )
    first = cw.list_metrics(Namespace=namespace)
    assert len(first["Metrics"]) == 500 and "NextToken" in first
    second = cw.list_metrics(Namespace=namespace, NextToken=first["NextToken"])
    third = cw.list_metrics(Namespace=namespace, NextToken=second["NextToken"])
    assert "NextToken" not in third
    seen = [m["Dimensions"][0]["Value"] for page in (first, second, third) for m in page["Metrics"]]
    assert sorted(seen, key=int) == [str(i) for i in range(1200)], "every metric once"

    cw.put_metric_data(Namespace=namespace, MetricData=[{"MetricName": "x", "Value": 1.0}])
    queries = [
        {
            "Id": f"q{i}",
            "MetricStat": {
                "Metric": {"Namespace": namespace, "MetricName": "m", "Dimensions": [{"Name": "i", "Value": str(i)}]},
                "Period": 60,
                "Stat": "SampleCount",
            },
        }
        for i in range(3)
    ]
    page = cw.get_metric_data(MetricDataQueries=queries, MaxDatapoints=2, ScanBy="TimestampAscending", **window())
    counts = [len(r["Values"]) for r in page["MetricDataResults"]]
    assert sum(counts) == 2 and "NextToken" in page
    rest = cw.get_metric_data(MetricDataQueries=queries, MaxDatapoints=2, NextToken=page["NextToken"], **window())
    assert sum(len(r["Values"]) for r in rest["MetricDataResults"]) == 1 and "NextToken" not in rest


def _cbor_call(server: RunningServer, operation: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """One call over Smithy RPC v2 CBOR, serialized and parsed by botocore's own code for that protocol."""
    model = botocore.session.get_session().get_service_model("cloudwatch").operation_model(operation)
    request = botocore.serialize.create_serializer("smithy-rpc-v2-cbor").serialize_to_request(params, model)
    http = urllib.request.Request(
        server.endpoint + request["url_path"], data=request["body"], headers=request["headers"], method="POST"
    )
    try:
        with urllib.request.urlopen(http, timeout=30) as response:
            status, headers, body = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, headers, body = error.code, dict(error.headers), error.read()
    assert headers.get("smithy-protocol") == "rpc-v2-cbor"
    parser = botocore.parsers.create_parser("smithy-rpc-v2-cbor")
    parsed: dict[str, Any] = parser.parse({"status_code": status, "headers": headers, "body": body}, model.output_shape)
    return status, parsed


def test_the_cbor_wire(server: RunningServer) -> None:
    namespace = f"Cbor/{uuid.uuid4().hex[:8]}"
    now = datetime.datetime.now(datetime.UTC)
    status, _ = _cbor_call(
        server,
        "PutMetricData",
        {
            "Namespace": namespace,
            "MetricData": [{"MetricName": "m", "Value": 2.5, "Timestamp": now, "Unit": "Percent"}],
        },
    )
    assert status == 200
    status, answer = _cbor_call(
        server,
        "GetMetricStatistics",
        {"Namespace": namespace, "MetricName": "m", "Period": 60, "Statistics": ["Sum", "Maximum"], **window()},
    )
    assert status == 200
    [point] = answer["Datapoints"]
    assert (point["Sum"], point["Maximum"], point["Unit"]) == (2.5, 2.5, "Percent")
    assert isinstance(point["Timestamp"], datetime.datetime)
    assert abs((now.replace(second=0, microsecond=0) - point["Timestamp"]).total_seconds()) < 1
    status, answer = _cbor_call(server, "ListMetrics", {"Namespace": namespace})
    assert answer["Metrics"] == [{"Namespace": namespace, "MetricName": "m", "Dimensions": []}]
    status, answer = _cbor_call(
        server, "PutMetricData", {"Namespace": "AWS/X", "MetricData": [{"MetricName": "m", "Value": 1.0}]}
    )
    assert status == 400
    assert answer["Error"]["Code"] == "InvalidParameterValue", answer


def test_asynchronous_invocations_count_received_events_and_their_age(lam: Any, cw: Any, name: str) -> None:
    create(lam, name)
    assert lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
    assert total(statistics(cw, "AsyncEventsReceived", fn(name))) == 1
    ages = eventually(lambda: statistics(cw, "AsyncEventAge", fn(name)))
    assert ages and total(ages, "SampleCount") == 1
    assert {point["Unit"] for point in ages} == {"Milliseconds"}
    assert ages[0]["Minimum"] >= 0
    assert eventually(lambda: total(statistics(cw, "Invocations", fn(name))) == 1), "the event ran once"


SLEEPY = "import time\ndef handler(event, context):\n    time.sleep(event.get('sleep', 0))\n    return 'done'\n"


def test_provisioned_concurrency_invocations_spillover_and_utilization(lam: Any, cw: Any, name: str) -> None:
    create(lam, name, make_zip({"app.py": SLEEPY}), Publish=True)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=1)
    assert eventually(
        lambda: lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="live")["Status"] == "READY", 60
    )
    lam.invoke(FunctionName=name, Qualifier="live", Payload=b"{}")
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda _: lam.invoke(FunctionName=name, Qualifier="live", Payload=b'{"sleep": 1}'), range(2)))
    resource = fn(name, Resource=f"{name}:live")
    assert total(statistics(cw, "ProvisionedConcurrencyInvocations", resource)) == 2
    assert total(statistics(cw, "ProvisionedConcurrencySpilloverInvocations", resource)) == 1
    assert total(statistics(cw, "ProvisionedConcurrencyInvocations", fn(name))) == 2
    utilization = statistics(cw, "ProvisionedConcurrencyUtilization", resource)
    assert 0 < max(point["Maximum"] for point in utilization) <= 1
    lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="live")


def test_metrics_survive_a_restart(tmp_path: Path) -> None:
    first = start_server(tmp_path / "data")
    try:
        first.client(service="cloudwatch").put_metric_data(
            Namespace="Durable", MetricData=[{"MetricName": "kept", "Value": 42.0}]
        )
    finally:
        assert first.stop()[0] == 0
    second = start_server(tmp_path / "data")
    try:
        points = statistics(second.client(service="cloudwatch"), "kept", [], namespace="Durable")
        assert [(p["Sum"], p["SampleCount"]) for p in points] == [(42.0, 1.0)]
    finally:
        second.stop()
