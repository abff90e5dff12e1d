"""Event source mappings on SQS (standard and FIFO), against moto in server mode: the mapping API with AWS's shapes,
states and errors, and the poller's behaviour (event shape, deletes after success, partial batch responses,
filters, FIFO order, batching window, redrive, a restart)."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import RunningServer, aws_client, create, error_of, make_zip, start_configured_server

RECORDER = "import json\ndef handler(event, context):\n    print('EVENT ' + json.dumps(event))\n    return {}\n"
PARTIAL = (
    "import json\n"
    "def handler(event, context):\n"
    "    failed = []\n"
    "    for record in event['Records']:\n"
    "        print('SEEN ' + record['body'])\n"
    "        if json.loads(record['body']).get('fail') and record['attributes']['ApproximateReceiveCount'] == '1':\n"
    "            failed.append({'itemIdentifier': record['messageId']})\n"
    "    return {'batchItemFailures': failed}\n"
)


@pytest.fixture
def server(tmp_path: Path, moto_endpoint: str) -> Iterator[RunningServer]:
    running = start_configured_server(tmp_path, _settings(moto_endpoint))
    yield running
    running.stop()


def _settings(moto_endpoint: str) -> str:
    return f'aws_endpoint_url = "{moto_endpoint}"\npoll_interval_scale = 0.05\n'


@pytest.fixture
def sqs(moto_endpoint: str) -> Any:
    return aws_client(moto_endpoint, "sqs")


def _queue(sqs: Any, fifo: bool = False, **attributes: str) -> tuple[str, str]:
    name = f"q-{uuid.uuid4().hex[:12]}" + (".fifo" if fifo else "")
    if fifo:
        attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "true", **attributes}
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _function(server: RunningServer, source: str = RECORDER, **settings: Any) -> tuple[Any, str]:
    lam = server.client()
    name = f"fn-{uuid.uuid4().hex[:8]}"
    create(lam, name, make_zip({"app.py": source}), **settings)
    return lam, name


def _lines(server: RunningServer, function: str, prefix: str, count: int, timeout: float = 30) -> list[str]:
    """The function's log lines starting with `prefix`, once there are at least `count` of them."""
    logs = server.client(service="logs")
    deadline = time.monotonic() + timeout
    found: list[str] = []
    while time.monotonic() < deadline:
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]
        except ClientError:
            events = []
        found = [e["message"][len(prefix) :].strip() for e in events if e["message"].startswith(prefix)]
        if len(found) >= count:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{len(found)} of {count} {prefix!r} lines arrived: {found}")


def _until(check: Callable[[], bool], timeout: float = 30, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not come true")


def _empty(sqs: Any, url: str) -> bool:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return (
        attributes["ApproximateNumberOfMessages"] == "0" and attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
    )


def _state(lam: Any, mapping_uuid: str, state: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def reached() -> bool:
        found.update(lam.get_event_source_mapping(UUID=mapping_uuid))
        return bool(found["State"] == state)

    _until(reached, what=f"state {state}")
    return found


# the API


def test_mapping_lifecycle_shapes_and_states(server: RunningServer, sqs: Any) -> None:
    _, arn = _queue(sqs)
    lam, name = _function(server)
    created = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=5)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert created["State"] == "Creating"
    assert created["StateTransitionReason"] == "USER_INITIATED"
    assert created["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert created["EventSourceArn"] == arn
    assert created["BatchSize"] == 5
    assert created["MaximumBatchingWindowInSeconds"] == 0
    assert created["FunctionResponseTypes"] == []
    mapping_uuid = created["UUID"]
    assert created["EventSourceMappingArn"].endswith(f":event-source-mapping:{mapping_uuid}")
    assert "StartingPosition" not in created and "ParallelizationFactor" not in created
    enabled = _state(lam, mapping_uuid, "Enabled")
    assert enabled["LastModified"] == created["LastModified"]

    updated = lam.update_event_source_mapping(
        UUID=mapping_uuid,
        BatchSize=50,
        MaximumBatchingWindowInSeconds=2,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        ScalingConfig={"MaximumConcurrency": 2},
    )
    assert updated["State"] == "Updating"
    assert updated["BatchSize"] == 50 and updated["MaximumBatchingWindowInSeconds"] == 2
    assert updated["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert updated["ScalingConfig"] == {"MaximumConcurrency": 2}
    _state(lam, mapping_uuid, "Enabled")

    assert lam.update_event_source_mapping(UUID=mapping_uuid, Enabled=False)["State"] == "Disabling"
    _state(lam, mapping_uuid, "Disabled")
    assert lam.update_event_source_mapping(UUID=mapping_uuid, Enabled=True)["State"] == "Enabling"
    _state(lam, mapping_uuid, "Enabled")

    deleted = lam.delete_event_source_mapping(UUID=mapping_uuid)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert deleted["State"] == "Deleting"

    def gone() -> bool:
        try:
            lam.get_event_source_mapping(UUID=mapping_uuid)
        except ClientError as exc:
            return bool(exc.response["Error"]["Code"] == "ResourceNotFoundException")
        return False

    _until(gone, what="the mapping's deletion")
    with pytest.raises(ClientError) as exc:
        lam.get_event_source_mapping(UUID=mapping_uuid)
    assert error_of(exc) == ("ResourceNotFoundException", "The resource you requested does not exist.", 404)


def test_list_by_function_and_source_paginated(server: RunningServer, sqs: Any) -> None:
    lam, name = _function(server)
    _, other = _function(server)
    arns = [_queue(sqs)[1] for _ in range(3)]
    uuids = {lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name)["UUID"] for arn in arns}
    lam.create_event_source_mapping(EventSourceArn=arns[0], FunctionName=other)
    seen: set[str] = set()
    marker: dict[str, str] = {}
    while True:
        page = lam.list_event_source_mappings(FunctionName=name, MaxItems=2, **marker)
        assert len(page["EventSourceMappings"]) <= 2
        seen |= {m["UUID"] for m in page["EventSourceMappings"]}
        if "NextMarker" not in page:
            break
        marker = {"Marker": page["NextMarker"]}
    assert seen == uuids
    by_source = lam.list_event_source_mappings(EventSourceArn=arns[0])["EventSourceMappings"]
    assert {m["FunctionArn"].rsplit(":", 1)[1] for m in by_source} == {name, other}
    both = lam.list_event_source_mappings(
        EventSourceArn=arns[0], FunctionName=f"arn:aws:lambda:us-east-1:000000000000:function:{other}"
    )
    assert len(both["EventSourceMappings"]) == 1


def test_versions_and_aliases_are_mapped(server: RunningServer, sqs: Any) -> None:
    url, arn = _queue(sqs)
    lam, name = _function(server)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=f"{name}:live")
    assert mapping["FunctionArn"].endswith(f":function:{name}:live")
    _, other = _queue(sqs)
    assert lam.create_event_source_mapping(EventSourceArn=other, FunctionName=f"{name}:{version}")[
        "FunctionArn"
    ].endswith(f":{name}:{version}")
    with pytest.raises(ClientError) as exc:
        lam.create_event_source_mapping(EventSourceArn=other, FunctionName=f"{name}:nope")
    assert error_of(exc)[0] == "ResourceNotFoundException"
    sqs.send_message(QueueUrl=url, MessageBody="through the alias")
    assert _lines(server, name, "EVENT ", 1)


def test_bad_mappings_get_aws_errors(server: RunningServer, sqs: Any) -> None:
    _, arn = _queue(sqs)
    _, fifo = _queue(sqs, fifo=True)
    lam, name = _function(server)
    cases: list[tuple[dict[str, Any], str, str]] = [
        (
            {"EventSourceArn": arn, "BatchSize": 100},
            "InvalidParameterValueException",
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10",
        ),
        (
            {"EventSourceArn": fifo, "BatchSize": 11, "MaximumBatchingWindowInSeconds": 1},
            "InvalidParameterValueException",
            "FIFO",
        ),
        ({"EventSourceArn": arn, "StartingPosition": "LATEST"}, "InvalidParameterValueException", "StartingPosition"),
        (
            {"EventSourceArn": arn, "ParallelizationFactor": 2},
            "InvalidParameterValueException",
            "ParallelizationFactor",
        ),
        ({"EventSourceArn": "arn:aws:s3:::bucket"}, "InvalidParameterValueException", "Unrecognized event source"),
    ]
    for params, code, text in cases:
        with pytest.raises(ClientError) as exc:
            lam.create_event_source_mapping(FunctionName=name, **params)
        got = error_of(exc)
        assert got[0] == code and text in got[1], (params, got)
    with pytest.raises(ClientError) as exc:
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="no-such-function")
    assert error_of(exc)[0] == "ResourceNotFoundException"
    first = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name)
    with pytest.raises(ClientError) as exc:
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name)
    code, message, status = error_of(exc)
    assert (code, status) == ("ResourceConflictException", 409)
    assert message == (
        f'An event source mapping with SQS arn (" {arn} ") and function (" arn:aws:lambda:us-east-1:000000000000:'
        f'function:{name} ") already exists. Please update or delete the existing mapping with UUID {first["UUID"]}'
    )
    with pytest.raises(ClientError) as exc:
        lam.get_event_source_mapping(UUID=str(uuid.uuid4()))
    assert error_of(exc)[0] == "ResourceNotFoundException"


def test_a_service_without_an_endpoint_is_refused_clearly(tmp_path: Path) -> None:
    server = start_configured_server(tmp_path, "")
    try:
        lam, name = _function(server)
        with pytest.raises(ClientError) as exc:
            lam.create_event_source_mapping(EventSourceArn="arn:aws:sqs:us-east-1:000000000000:q", FunctionName=name)
        code, message, _ = error_of(exc)
        assert code == "InvalidParameterValueException"
        assert "AWS_ENDPOINT_URL_SQS" in message and "aws_endpoint_url_sqs" in message
    finally:
        server.stop()


# the poller


def test_event_shape_and_deletion_after_success(server: RunningServer, sqs: Any) -> None:
    url, arn = _queue(sqs)
    lam, name = _function(server)
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=1)
    sent = sqs.send_message(
        QueueUrl=url,
        MessageBody='{"hello": "world"}',
        MessageAttributes={
            "colour": {"DataType": "String", "StringValue": "blue"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    event = json.loads(_lines(server, name, "EVENT ", 1)[0])
    (record,) = event["Records"]
    assert list(record) == [
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "md5OfMessageAttributes",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    ]
    assert record["messageId"] == sent["MessageId"]
    assert record["body"] == '{"hello": "world"}'
    assert record["md5OfBody"] == sent["MD5OfMessageBody"]
    assert record["md5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == arn and record["awsRegion"] == "us-east-1"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["messageAttributes"] == {
        "colour": {"stringValue": "blue", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
        "blob": {"binaryValue": "AAE=", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"},
    }
    _until(lambda: _empty(sqs, url), what="the queue's emptying")


def test_handler_code_reaches_the_same_sqs(server: RunningServer, sqs: Any) -> None:
    url, _ = _queue(sqs)
    sender = (
        "import boto3\n"
        "def handler(event, context):\n"
        "    boto3.client('sqs').send_message(QueueUrl=event['url'], MessageBody='from the handler')\n"
        "    return 'sent'\n"
    )
    lam, name = _function(server, sender)
    answer = lam.invoke(FunctionName=name, Payload=json.dumps({"url": url}).encode())
    assert answer["Payload"].read() == b'"sent"'
    messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)["Messages"]
    assert messages[0]["Body"] == "from the handler"


def test_partial_batch_failure_returns_only_the_failed(server: RunningServer, sqs: Any) -> None:
    url, arn = _queue(sqs, VisibilityTimeout="2")
    lam, name = _function(server, PARTIAL)
    lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=name, BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"]
    )
    bodies = [json.dumps({"n": n, "fail": n in (2, 5)}) for n in range(8)]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)])
    _lines(server, name, "SEEN ", 10)
    _until(lambda: _empty(sqs, url), what="the queue's emptying")
    seen = _lines(server, name, "SEEN ", 10)
    counts = {body: seen.count(body) for body in bodies}
    assert counts == {body: 2 if json.loads(body)["fail"] else 1 for body in bodies}, counts


def test_function_error_returns_the_whole_batch_and_redrive_is_sqs_own(server: RunningServer, sqs: Any) -> None:
    dlq_url, dlq_arn = _queue(sqs)
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    url, arn = _queue(sqs, VisibilityTimeout="1", RedrivePolicy=policy)
    failing = "def handler(event, context):\n    print('TRY ' + event['Records'][0]['body'])\n    raise ValueError()\n"
    lam, name = _function(server, failing)
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=1)
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    assert _lines(server, name, "TRY ", 2) == ["poison", "poison"]

    def dead_lettered() -> bool:
        messages = sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=1).get("Messages", [])
        return bool(messages) and messages[0]["Body"] == "poison"

    _until(dead_lettered, what="the message's move to the dead-letter queue")


def test_fifo_order_per_message_group(server: RunningServer, sqs: Any) -> None:
    url, arn = _queue(sqs, fifo=True)
    source = (
        "import json\n"
        "def handler(event, context):\n"
        "    for r in event['Records']:\n"
        "        print('ORDER ' + r['attributes']['MessageGroupId'] + ' ' + r['body'])\n"
        "    return {}\n"
    )
    lam, name = _function(server, source)
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=3)
    for n in range(12):
        sqs.send_message(QueueUrl=url, MessageBody=str(n), MessageGroupId="ab"[n % 2])
    lines = _lines(server, name, "ORDER ", 12)
    for group in "ab":
        numbers = [int(line.split()[1]) for line in lines if line.split()[0] == group]
        assert numbers == sorted(numbers) and len(numbers) == 6, (group, numbers)


def test_batching_window_gathers_more_than_one_receive(server: RunningServer, sqs: Any) -> None:
    url, arn = _queue(sqs)
    source = "def handler(event, context):\n    print('SIZE %d' % len(event['Records']))\n    return {}\n"
    lam, name = _function(server, source)
    mapping = lam.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=name,
        BatchSize=100,
        MaximumBatchingWindowInSeconds=2,
        ScalingConfig={"MaximumConcurrency": 2},
        Enabled=False,
    )
    for start in range(0, 40, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(start + i)} for i in range(10)])
    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
    _until(lambda: _empty(sqs, url), what="the queue's emptying")
    sizes = [int(size) for size in _lines(server, name, "SIZE ", 1)]
    assert sum(sizes) == 40
    assert max(sizes) > 10, sizes


def test_disabled_mappings_leave_messages_and_a_restart_resumes(tmp_path: Path, moto_endpoint: str, sqs: Any) -> None:
    url, arn = _queue(sqs, VisibilityTimeout="2")  # a long poll cut off by the stop may have taken the message
    server = start_configured_server(tmp_path, _settings(moto_endpoint))
    try:
        lam, name = _function(server)
        mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name)
        _state(lam, mapping["UUID"], "Enabled")
    finally:
        server.stop()
    sqs.send_message(QueueUrl=url, MessageBody="while it was down")
    server = start_configured_server(tmp_path, _settings(moto_endpoint))
    try:
        event = json.loads(_lines(server, name, "EVENT ", 1)[0])
        assert event["Records"][0]["body"] == "while it was down"
        _until(lambda: _empty(sqs, url), what="the queue's emptying")
        lam = server.client()
        lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
        _state(lam, mapping["UUID"], "Disabled")
        sqs.send_message(QueueUrl=url, MessageBody="while disabled")
        time.sleep(1)
        assert (
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
                "ApproximateNumberOfMessages"
            ]
            == "1"
        )
    finally:
        server.stop()


def test_figures_reach_cloudwatch_prometheus_and_the_cli(server: RunningServer, sqs: Any) -> None:
    url, arn = _queue(sqs)
    lam, name = _function(server)
    mapping_uuid = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=10)["UUID"]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(4)])
    _until(lambda: _empty(sqs, url), what="the queue's emptying")
    cw = server.client(service="cloudwatch")
    now = datetime.datetime.now(datetime.UTC)

    def invoked() -> float:
        points = cw.get_metric_statistics(
            Namespace="AWS/Lambda",
            MetricName="InvokedEventCount",
            Dimensions=[{"Name": "EventSourceMappingUUID", "Value": mapping_uuid}],
            StartTime=now - datetime.timedelta(minutes=5),
            EndTime=now + datetime.timedelta(minutes=2),
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
        return float(sum(p["Sum"] for p in points))

    _until(lambda: invoked() == 4, what="InvokedEventCount 4 in CloudWatch")
    with urllib.request.urlopen(server.endpoint + "/metrics", timeout=5) as response:
        families = {f.name: f for f in text_string_to_metric_families(response.read().decode())}
    samples = {
        s.labels["figure"]: s.value
        for s in families["firebox_event_source_events"].samples
        if s.labels["mapping"] == mapping_uuid
    }
    assert samples["PolledEventCount"] == 4 and samples["DeletedEventCount"] == 4
    listed = subprocess.run(
        [sys.executable, "-m", "firebox", "mappings", "--endpoint-url", server.endpoint, "list", "--function", name],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.splitlines()
    assert listed[0].split() == ["UUID", "FUNCTION", "SOURCE", "STATE", "BATCH", "POLLED", "INVOKED", "FAILED", "LAG"]
    row = listed[1].split()
    assert row[:8] == [mapping_uuid, name, arn.split(":")[5], "Enabled", "10", "4", "4", "0"]
    shown = subprocess.run(
        [sys.executable, "-m", "firebox", "mappings", "--endpoint-url", server.endpoint, "show", mapping_uuid],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    doc = json.loads(shown)
    assert doc["UUID"] == mapping_uuid and doc["Figures"]["InvokedEventCount"] == 4 and doc["Figures"]["Polling"]
