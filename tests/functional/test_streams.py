"""Event source mappings on Kinesis and DynamoDB streams, against moto in server mode: the event shapes, order per
shard and per partition key, partial batch responses, bisection, retries and record age with AWS's on-failure
records, tumbling windows, filters, resharding, and a kill -9 in the middle of a drain.

The functions write what they receive, one JSON line per invocation, to a file under /tmp named by an environment
variable (the servers run the process sandbox, which shares /tmp): unlike the log, it is written before the
invocation returns, so it survives the server being killed."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROLE, RunningServer, aws_client, create, make_zip, start_configured_server

RECORDER = """import json, os, time
def handler(event, context):
    entry = {"t": time.time_ns(), "event": event, "request": context.aws_request_id}
    with open(os.environ["EVIDENCE"], "a") as f:
        f.write(json.dumps(entry) + "\\n")
    return answer(event)
"""
ACCEPT = RECORDER + "def answer(event):\n    return {}\n"
FAIL_ON_BAD = (
    RECORDER
    + """import base64
def answer(event):
    if any(base64.b64decode(r['kinesis']['data']) == b'bad' for r in event['Records']):
        raise ValueError('bad record')
    return {}
"""
)
ACCOUNT = "123456789012"
"""moto's account."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> Iterator[RunningServer]:
    running = start_configured_server(tmp_path_factory.mktemp("streams"), _settings(moto_endpoint), *SANDBOX)
    yield running
    running.stop()


SANDBOX = ("--sandbox", "process")


def _settings(moto_endpoint: str) -> str:
    return f'aws_endpoint_url = "{moto_endpoint}"\npoll_interval_scale = 0.05\n'


@pytest.fixture
def kinesis(moto_endpoint: str) -> Any:
    return aws_client(moto_endpoint, "kinesis")


@pytest.fixture
def sqs(moto_endpoint: str) -> Any:
    return aws_client(moto_endpoint, "sqs")


@pytest.fixture
def evidence() -> Iterator[Path]:
    path = Path(f"/tmp/firebox-streams-{uuid.uuid4().hex}.jsonl")
    yield path
    path.unlink(missing_ok=True)


def _invocations(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    entries = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return sorted(entries, key=lambda entry: entry["t"])


def _until(check: Callable[[], bool], timeout: float = 60, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not come true within {timeout} s")


def _function(server: RunningServer, source: str, evidence: Path, **settings: Any) -> tuple[Any, str]:
    lam = server.client()
    name = f"fn-{uuid.uuid4().hex[:8]}"
    create(lam, name, make_zip({"app.py": source}), Environment={"Variables": {"EVIDENCE": str(evidence)}}, **settings)
    return lam, name


def _stream(kinesis: Any, shards: int = 1) -> tuple[str, str]:
    name = f"s-{uuid.uuid4().hex[:10]}"
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    return name, arn


def _put(kinesis: Any, stream: str, data: list[str], key: str = "k", shard: int | None = None, shards: int = 1) -> None:
    entries: list[dict[str, Any]] = [{"Data": d.encode(), "PartitionKey": key} for d in data]
    if shard is not None:
        for entry in entries:
            entry["ExplicitHashKey"] = str(shard * (2**128 // shards) + 1)
    for start in range(0, len(entries), 500):
        kinesis.put_records(StreamName=stream, Records=entries[start : start + 500])


def _map(lam: Any, arn: str, name: str, **settings: Any) -> str:
    settings.setdefault("StartingPosition", "TRIM_HORIZON")
    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, **settings)
    mapping_uuid = str(mapping["UUID"])
    _until(lambda: lam.get_event_source_mapping(UUID=mapping_uuid)["State"] == "Enabled", what="Enabled")
    return mapping_uuid


def _datas(invocation: dict[str, Any]) -> list[str]:
    import base64

    return [base64.b64decode(r["kinesis"]["data"]).decode() for r in invocation["event"]["Records"]]


def _seen(path: Path) -> list[str]:
    return [d for invocation in _invocations(path) for d in _datas(invocation)]


def _queue(sqs: Any) -> tuple[str, str]:
    name = f"q-{uuid.uuid4().hex[:10]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}"


def _messages(sqs: Any, url: str, count: int, timeout: float = 60) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(found) < count and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            found.append(json.loads(message["Body"]))
    assert len(found) >= count, f"{len(found)} of {count} messages arrived"
    return found


# event shapes


def test_kinesis_event_shape(server: RunningServer, kinesis: Any, evidence: Path) -> None:
    stream, arn = _stream(kinesis)
    lam, name = _function(server, ACCEPT, evidence)
    answer = kinesis.put_record(StreamName=stream, Data=b'{"hello": "world"}', PartitionKey="pk-1")
    _map(lam, arn, name)
    _until(lambda: bool(_invocations(evidence)), what="an invocation")
    event = _invocations(evidence)[0]["event"]
    assert list(event) == ["Records"]
    (record,) = event["Records"]
    kinesis_part = record.pop("kinesis")
    arrival = kinesis_part.pop("approximateArrivalTimestamp")
    assert isinstance(arrival, float) and abs(arrival - time.time()) < 120
    assert kinesis_part == {
        "kinesisSchemaVersion": "1.0",
        "partitionKey": "pk-1",
        "sequenceNumber": answer["SequenceNumber"],
        "data": "eyJoZWxsbyI6ICJ3b3JsZCJ9",
    }
    assert record == {
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{answer['ShardId']}:{answer['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": ROLE,
        "awsRegion": "us-east-1",
        "eventSourceARN": arn,
    }


@pytest.mark.parametrize("view", ["NEW_AND_OLD_IMAGES", "NEW_IMAGE", "OLD_IMAGE", "KEYS_ONLY"])
def test_dynamodb_event_shapes(server: RunningServer, moto_endpoint: str, evidence: Path, view: str) -> None:
    dynamodb = aws_client(moto_endpoint, "dynamodb")
    table = f"t-{uuid.uuid4().hex[:10]}"
    described = dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": view},
    )
    stream_arn = described["TableDescription"]["LatestStreamArn"]
    lam, name = _function(server, ACCEPT, evidence)
    _map(lam, stream_arn, name, BatchSize=10)
    dynamodb.put_item(TableName=table, Item={"id": {"S": "a"}, "n": {"N": "1"}, "b": {"B": b"\x00\x01"}})
    dynamodb.put_item(TableName=table, Item={"id": {"S": "a"}, "n": {"N": "2"}})
    dynamodb.delete_item(TableName=table, Key={"id": {"S": "a"}})
    _until(lambda: len([r for i in _invocations(evidence) for r in i["event"]["Records"]]) >= 3, what="3 records")
    records = [r for i in _invocations(evidence) for r in i["event"]["Records"]]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    first = {"id": {"S": "a"}, "n": {"N": "1"}, "b": {"B": "AAE="}}
    second = {"id": {"S": "a"}, "n": {"N": "2"}}
    by_view: dict[str, list[dict[str, Any]]] = {
        "NEW_AND_OLD_IMAGES": [{"NewImage": first}, {"OldImage": first, "NewImage": second}, {"OldImage": second}],
        "NEW_IMAGE": [{"NewImage": first}, {"NewImage": second}, {}],
        "OLD_IMAGE": [{}, {"OldImage": first}, {"OldImage": second}],
        "KEYS_ONLY": [{}, {}, {}],
    }
    for record, expected in zip(records, by_view[view], strict=True):
        assert list(record) == [
            "eventID",
            "eventName",
            "eventVersion",
            "eventSource",
            "awsRegion",
            "dynamodb",
            "eventSourceARN",
        ]
        assert record["eventVersion"] == "1.1" and record["eventSource"] == "aws:dynamodb"
        assert record["awsRegion"] == "us-east-1" and record["eventSourceARN"] == stream_arn
        stream = record["dynamodb"]
        assert isinstance(stream["ApproximateCreationDateTime"], int)
        assert abs(stream["ApproximateCreationDateTime"] - time.time()) < 120
        assert stream["Keys"] == {"id": {"S": "a"}}
        assert {k: v for k, v in stream.items() if k in ("NewImage", "OldImage")} == expected
        assert stream["StreamViewType"] == view
        assert isinstance(stream["SizeBytes"], int) and stream["SequenceNumber"].isdigit()
        assert [k for k in stream if k not in ("NewImage", "OldImage")] == [
            "ApproximateCreationDateTime",
            "Keys",
            "SequenceNumber",
            "SizeBytes",
            "StreamViewType",
        ]


# order


def test_four_shards_are_drained_in_order_per_shard(server: RunningServer, kinesis: Any, evidence: Path) -> None:
    stream, arn = _stream(kinesis, shards=4)
    for shard in range(4):
        _put(kinesis, stream, [f"{shard}-{i:03d}" for i in range(60)], shard=shard, shards=4)
    lam, name = _function(server, ACCEPT, evidence)
    _map(lam, arn, name, BatchSize=7)
    _until(lambda: len(_seen(evidence)) >= 240, what="240 records")
    per_shard: dict[str, list[str]] = {}
    for invocation in _invocations(evidence):
        records = invocation["event"]["Records"]
        assert len(records) <= 7
        shard_ids = {r["eventID"].split(":")[0] for r in records}
        assert len(shard_ids) == 1, "a batch holds records of one shard"
        per_shard.setdefault(shard_ids.pop(), []).extend(_datas(invocation))
    assert len(per_shard) == 4
    for datas in per_shard.values():
        prefix = datas[0].split("-")[0]
        assert datas == [f"{prefix}-{i:03d}" for i in range(60)], "each record once, in the shard's order"


def test_parallelization_factor_keeps_each_partition_key_in_order(
    server: RunningServer, kinesis: Any, evidence: Path
) -> None:
    stream, arn = _stream(kinesis)
    slow = RECORDER.replace(
        "    return answer(event)",
        '    time.sleep(0.3)\n    entry["end"] = time.time_ns()\n'
        '    with open(os.environ["EVIDENCE"] + ".end", "a") as f:\n'
        '        f.write(json.dumps([entry["t"], entry["end"]]) + "\\n")\n    return {}',
    )
    lam, name = _function(server, slow, evidence)
    entries = [{"Data": f"{key}-{i:02d}".encode(), "PartitionKey": f"key{key}"} for i in range(8) for key in range(8)]
    kinesis.put_records(StreamName=stream, Records=entries)
    _map(lam, arn, name, BatchSize=4, ParallelizationFactor=4)
    _until(lambda: len(_seen(evidence)) >= 64, what="64 records")
    by_key: dict[str, list[str]] = {}
    for invocation in _invocations(evidence):
        for data in _datas(invocation):
            by_key.setdefault(data.split("-")[0], []).append(data)
    assert sorted(by_key) == [str(k) for k in range(8)]
    for key, datas in by_key.items():
        assert datas == [f"{key}-{i:02d}" for i in range(8)], "each partition key in order"
    spans = [json.loads(line) for line in Path(str(evidence) + ".end").read_text().splitlines()]
    Path(str(evidence) + ".end").unlink()
    overlapping = any(a[0] < b[1] and b[0] < a[1] for a in spans for b in spans if a is not b)
    assert overlapping, "batches of one shard ran at the same time"


# failures


PARTIAL = (
    RECORDER
    + """import base64
def answer(event):
    records = event['Records']
    bad = [r for i, r in enumerate(records) if i > 0 and base64.b64decode(r['kinesis']['data']).startswith(b'bad')]
    return {'batchItemFailures': [{'itemIdentifier': r['kinesis']['sequenceNumber']} for r in reversed(bad)]}
"""
)


def test_partial_batch_failure_resumes_at_the_first_failed_record(
    server: RunningServer, kinesis: Any, evidence: Path
) -> None:
    stream, arn = _stream(kinesis)
    _put(kinesis, stream, ["a", "b", "bad1", "c", "bad2", "d"])
    lam, name = _function(server, PARTIAL, evidence)
    _map(lam, arn, name, BatchSize=6, FunctionResponseTypes=["ReportBatchItemFailures"])
    _until(lambda: "d" in _seen(evidence) and len(_invocations(evidence)) >= 3, what="the retries")
    batches = [_datas(i) for i in _invocations(evidence)]
    assert batches[:3] == [["a", "b", "bad1", "c", "bad2", "d"], ["bad1", "c", "bad2", "d"], ["bad2", "d"]]


def test_bisect_isolates_the_bad_record(server: RunningServer, kinesis: Any, sqs: Any, evidence: Path) -> None:
    stream, arn = _stream(kinesis)
    url, queue_arn = _queue(sqs)
    data = ["r0", "r1", "r2", "r3", "r4", "bad", "r6", "r7"]
    _put(kinesis, stream, data)
    lam, name = _function(server, FAIL_ON_BAD, evidence)
    _map(
        lam,
        arn,
        name,
        BatchSize=8,
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    (record,) = _messages(sqs, url, 1)
    _until(lambda: len(_invocations(evidence)) >= 7, what="the bisected batches")
    sizes = [len(i["event"]["Records"]) for i in _invocations(evidence)]
    assert sizes == [8, 4, 4, 2, 1, 1, 2]
    info = record["KinesisBatchInfo"]
    bad = next(r for i in _invocations(evidence) for r in i["event"]["Records"] if r["kinesis"]["data"] == "YmFk")
    assert info["batchSize"] == 1
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == bad["kinesis"]["sequenceNumber"]
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"


def test_exhausted_retries_send_aws_failure_record_to_sqs_and_the_shard_moves_on(
    server: RunningServer, kinesis: Any, sqs: Any, evidence: Path
) -> None:
    stream, arn = _stream(kinesis)
    url, queue_arn = _queue(sqs)
    _put(kinesis, stream, ["bad", "bad"])
    lam, name = _function(server, FAIL_ON_BAD, evidence)
    _map(
        lam,
        arn,
        name,
        BatchSize=10,
        MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    (record,) = _messages(sqs, url, 1)
    invocations = _invocations(evidence)
    assert len(invocations) == 3, "the first attempt and two retries"
    records = invocations[0]["event"]["Records"]
    assert list(record) == ["requestContext", "responseContext", "version", "timestamp", "KinesisBatchInfo"]
    assert record["requestContext"] == {
        "requestId": invocations[-1]["request"],
        "functionArn": f"arn:aws:lambda:us-east-1:000000000000:function:{name}",
        "condition": "RetryAttemptsExhausted",
        "approximateInvokeCount": 3,
    }
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["version"] == "1.0"
    assert time.strptime(record["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")
    info = record["KinesisBatchInfo"]
    assert list(info) == [
        "shardId",
        "startSequenceNumber",
        "endSequenceNumber",
        "approximateArrivalOfFirstRecord",
        "approximateArrivalOfLastRecord",
        "batchSize",
        "streamArn",
    ]
    assert info["shardId"] == records[0]["eventID"].split(":")[0]
    assert info["startSequenceNumber"] == records[0]["kinesis"]["sequenceNumber"]
    assert info["endSequenceNumber"] == records[1]["kinesis"]["sequenceNumber"]
    assert info["batchSize"] == 2 and info["streamArn"] == arn
    for member in ("approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord"):
        assert time.strptime(info[member], "%Y-%m-%dT%H:%M:%S.%fZ")
    _put(kinesis, stream, ["good"])
    _until(lambda: "good" in _seen(evidence), what="the next record")


def test_dynamodb_failure_record_reaches_an_sns_topic(
    server: RunningServer, moto_endpoint: str, sqs: Any, evidence: Path
) -> None:
    dynamodb, sns = aws_client(moto_endpoint, "dynamodb"), aws_client(moto_endpoint, "sns")
    table = f"t-{uuid.uuid4().hex[:10]}"
    stream_arn = dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]["LatestStreamArn"]
    topic = sns.create_topic(Name=f"topic-{uuid.uuid4().hex[:8]}")["TopicArn"]
    url, queue_arn = _queue(sqs)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    failing = RECORDER + "def answer(event):\n    raise RuntimeError('no')\n"
    lam, name = _function(server, failing, evidence)
    _map(lam, stream_arn, name, MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": topic}})
    dynamodb.put_item(TableName=table, Item={"id": {"S": "x"}})
    (record,) = _messages(sqs, url, 1)
    (invocation,) = _invocations(evidence)
    (stream_record,) = invocation["event"]["Records"]
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    info = record["DDBStreamBatchInfo"]
    assert info["shardId"].startswith("shardId-")
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == stream_record["dynamodb"]["SequenceNumber"]
    assert info["batchSize"] == 1 and info["streamArn"] == stream_arn
    assert time.strptime(info["approximateArrivalOfFirstRecord"], "%Y-%m-%dT%H:%M:%SZ")


def test_throttled_batches_wait_without_using_up_retries(server: RunningServer, kinesis: Any, evidence: Path) -> None:
    stream, arn = _stream(kinesis)
    lam, name = _function(server, ACCEPT, evidence)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    _put(kinesis, stream, ["patient"])
    mapping_uuid = _map(lam, arn, name, MaximumRetryAttempts=0)
    _until(
        lambda: lam.get_event_source_mapping(UUID=mapping_uuid)["LastProcessingResult"].startswith("PROBLEM"),
        what="the throttles being reported",
    )
    assert not _invocations(evidence)
    lam.delete_function_concurrency(FunctionName=name)
    _until(lambda: _seen(evidence) == ["patient"], what="the record after the throttling ended")
    _until(lambda: lam.get_event_source_mapping(UUID=mapping_uuid)["LastProcessingResult"] == "OK", what="OK")


@pytest.mark.slow
def test_records_past_their_maximum_age_go_to_the_destination(
    server: RunningServer, kinesis: Any, sqs: Any, evidence: Path
) -> None:
    stream, arn = _stream(kinesis)
    url, queue_arn = _queue(sqs)
    lam, name = _function(server, FAIL_ON_BAD, evidence)
    _put(kinesis, stream, ["bad"])
    _map(
        lam,
        arn,
        name,
        MaximumRecordAgeInSeconds=60,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    (record,) = _messages(sqs, url, 1, timeout=120)
    assert record["requestContext"]["condition"] == "RecordAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == len(_invocations(evidence)) > 1
    assert record["KinesisBatchInfo"]["batchSize"] == 1
    _put(kinesis, stream, ["fresh"])
    _until(lambda: "fresh" in _seen(evidence), what="the next record")


# windows and filters


WINDOW = (
    RECORDER
    + """def answer(event):
    state = dict(event.get('state') or {})
    state['count'] = state.get('count', 0) + len(event['Records'])
    return {'state': state}
"""
)


def test_tumbling_window_passes_state_between_invocations(server: RunningServer, kinesis: Any, evidence: Path) -> None:
    stream, arn = _stream(kinesis)
    lam, name = _function(server, WINDOW, evidence)
    _map(lam, arn, name, BatchSize=2, TumblingWindowInSeconds=2, StartingPosition="LATEST")
    time.sleep(0.5)
    _put(kinesis, stream, [f"w{i}" for i in range(5)])
    _until(lambda: any(i["event"]["isFinalInvokeForWindow"] for i in _invocations(evidence)), what="a final invocation")
    windows: dict[str, list[dict[str, Any]]] = {}
    for invocation in _invocations(evidence):
        event = invocation["event"]
        assert event["shardId"] == "shardId-000000000000" and event["eventSourceARN"] == arn
        assert event["isWindowTerminatedEarly"] is False
        windows.setdefault(event["window"]["start"], []).append(event)
    counted = 0
    for start, events in windows.items():
        if not events[-1]["isFinalInvokeForWindow"]:
            continue  # the window the next records fell in, still open
        end = events[0]["window"]["end"]
        assert (
            time.mktime(time.strptime(end, "%Y-%m-%dT%H:%M:%SZ"))
            - time.mktime(time.strptime(start, "%Y-%m-%dT%H:%M:%SZ"))
            == 2
        )
        expected: dict[str, Any] = {}
        for event in events:
            assert event["state"] == expected, "each invocation gets the state the last one answered"
            expected = {"count": expected.get("count", 0) + len(event["Records"])}
            assert len(event["Records"]) <= 2
        assert events[-1]["Records"] == [] and events[-1]["state"]["count"] == sum(len(e["Records"]) for e in events)
        counted += events[-1]["state"]["count"]
    assert counted >= 1


def test_filters_drop_records_before_the_function(server: RunningServer, kinesis: Any, evidence: Path) -> None:
    stream, arn = _stream(kinesis)
    lam, name = _function(server, ACCEPT, evidence)
    _put(kinesis, stream, ['{"kind": "drop", "n": 1}', '{"kind": "keep", "n": 2}', "not json", '{"kind": "keep"}'])
    pattern = json.dumps({"data": {"kind": ["keep"]}})
    mapping_uuid = _map(lam, arn, name, FilterCriteria={"Filters": [{"Pattern": pattern}]})
    _until(lambda: len(_seen(evidence)) >= 2, what="the kept records")
    time.sleep(1)
    assert _seen(evidence) == ['{"kind": "keep", "n": 2}', '{"kind": "keep"}']
    assert lam.get_event_source_mapping(UUID=mapping_uuid)["FilterCriteria"] == {"Filters": [{"Pattern": pattern}]}


# resharding and restarts


def _merge(kinesis: Any, stream: str) -> str:
    """Merge the stream's two shards; the child's id. (moto copies the parents' records into the child, and keeps
    routing new records to the parents: children get records no other way.)"""
    first, second = kinesis.list_shards(StreamName=stream)["Shards"][:2]
    kinesis.merge_shards(StreamName=stream, ShardToMerge=first["ShardId"], AdjacentShardToMerge=second["ShardId"])
    shards = kinesis.list_shards(StreamName=stream)["Shards"]
    return str(next(s["ShardId"] for s in shards if s.get("ParentShardId") == first["ShardId"]))


def _by_shard(evidence: Path, child: str) -> tuple[list[int], list[int], list[str]]:
    """When the parents' and the child's batches ran, and what the child delivered."""
    parents, children, delivered = [], [], []
    for invocation in _invocations(evidence):
        if invocation["event"]["Records"][0]["eventID"].split(":")[0] == child:
            children.append(invocation["t"])
            delivered.extend(_datas(invocation))
        else:
            parents.append(invocation["t"])
    return parents, children, delivered


def test_parents_are_read_to_their_end_before_their_children(
    server: RunningServer, kinesis: Any, evidence: Path
) -> None:
    stream, arn = _stream(kinesis, shards=2)
    parent_data = [f"p{shard}-{i:02d}" for shard in range(2) for i in range(20)]
    for shard in range(2):
        _put(kinesis, stream, parent_data[shard * 20 : shard * 20 + 20], shard=shard, shards=2)
    child = _merge(kinesis, stream)
    lam, name = _function(server, ACCEPT, evidence)
    _map(lam, arn, name, BatchSize=5)
    _until(lambda: len(_seen(evidence)) >= 80, what="the parents' and the child's records")
    parents, children, delivered = _by_shard(evidence, child)
    assert parents and children and max(parents) < min(children), "both parents finished before the child began"
    assert delivered == parent_data, "the child read from its start, in order"
    seen = _seen(evidence)
    for prefix in ("p0", "p1"):
        assert [d for d in seen if d.startswith(prefix)][:20] == [f"{prefix}-{i:02d}" for i in range(20)]


def test_a_merge_while_reading_moves_on_to_the_child(server: RunningServer, kinesis: Any, evidence: Path) -> None:
    stream, arn = _stream(kinesis, shards=2)
    lam, name = _function(server, ACCEPT, evidence)
    _map(lam, arn, name, BatchSize=5)
    _put(kinesis, stream, ["a0", "a1"], shard=0, shards=2)
    _put(kinesis, stream, ["b0"], shard=1, shards=2)
    _until(lambda: len(_seen(evidence)) >= 3, what="the first records")
    child = _merge(kinesis, stream)
    _until(lambda: len(_seen(evidence)) >= 6, what="the child's records")
    parents, children, delivered = _by_shard(evidence, child)
    assert max(parents) < min(children)
    assert delivered == ["a0", "a1", "b0"]


@pytest.mark.slow
def test_kill_9_during_a_drain_skips_nothing(tmp_path: Path, moto_endpoint: str, kinesis: Any, evidence: Path) -> None:
    stream, arn = _stream(kinesis, shards=2)
    for shard in range(2):
        _put(kinesis, stream, [f"{shard}-{i:03d}" for i in range(150)], shard=shard, shards=2)
    slow = RECORDER + "def answer(event):\n    time.sleep(0.05)\n    return {}\n"
    server = start_configured_server(tmp_path, _settings(moto_endpoint), *SANDBOX)
    try:
        lam, name = _function(server, slow, evidence)
        _map(lam, arn, name, BatchSize=5)
        _until(lambda: len(_seen(evidence)) >= 60, what="the drain being under way")
        server.process.send_signal(signal.SIGKILL)
        server.stop()
    finally:
        if server.process.poll() is None:
            server.stop()
    before = len(_seen(evidence))
    assert before < 300, "the kill came in the middle of the drain"
    restarted = start_configured_server(tmp_path, _settings(moto_endpoint), *SANDBOX)
    try:
        expected = {f"{shard}-{i:03d}" for shard in range(2) for i in range(150)}
        _until(lambda: expected <= set(_seen(evidence)), timeout=120, what="every record")
    finally:
        restarted.stop()
    per_shard: dict[str, list[str]] = {"0": [], "1": []}
    for data in _seen(evidence):
        per_shard[data[0]].append(data)
    for shard_name, datas in per_shard.items():
        first_seen = list(dict.fromkeys(datas))
        assert first_seen == [f"{shard_name}-{i:03d}" for i in range(150)], "first deliveries in the shard's order"
        restart_points = [i for i in range(1, len(datas)) if datas[i] <= datas[i - 1]]
        assert len(restart_points) <= 1, "records repeat only from the checkpoint the restart resumed at"


def test_latest_start_survives_a_restart(tmp_path: Path, moto_endpoint: str, kinesis: Any, evidence: Path) -> None:
    stream, arn = _stream(kinesis)
    _put(kinesis, stream, ["old"])
    server = start_configured_server(tmp_path, _settings(moto_endpoint), *SANDBOX)
    try:
        lam, name = _function(server, ACCEPT, evidence)
        _map(lam, arn, name, StartingPosition="LATEST")
        time.sleep(0.5)
    finally:
        server.stop()
    _put(kinesis, stream, ["while down"])
    restarted = start_configured_server(tmp_path, _settings(moto_endpoint), *SANDBOX)
    try:
        _until(lambda: "while down" in _seen(evidence), what="the record put while the server was down")
        _put(kinesis, stream, ["after"])
        _until(lambda: "after" in _seen(evidence), what="the next record")
    finally:
        restarted.stop()
    assert "old" not in _seen(evidence)


def test_the_mapping_counts_what_happened_to_its_records(server: RunningServer, kinesis: Any, evidence: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    stream, arn = _stream(kinesis)
    failing = RECORDER + "def answer(event):\n    assert 'fail' not in json.dumps(event)\n    return {}\n"
    lam, name = _function(server, failing, evidence)
    _put(kinesis, stream, ['{"n": 1}', '{"n": 2}', '{"skip": true}'])
    pattern = json.dumps({"data": {"n": [{"exists": True}]}})
    mapping_uuid = _map(lam, arn, name, MaximumRetryAttempts=0, FilterCriteria={"Filters": [{"Pattern": pattern}]})
    _until(lambda: len(_seen(evidence)) == 2, what="the kept records")
    _put(kinesis, stream, ['{"n": 3}'], key="fail")

    def figures() -> dict[str, float]:
        with urllib.request.urlopen(server.endpoint + "/metrics", timeout=5) as response:
            families = {f.name: f for f in text_string_to_metric_families(response.read().decode())}
        found = {
            s.labels["figure"]: s.value
            for s in families["firebox_event_source_events"].samples
            if s.labels["mapping"] == mapping_uuid
        }
        ages = [
            s.value for s in families["firebox_event_source_age_seconds"].samples if s.labels["mapping"] == mapping_uuid
        ]
        return {**found, "age": ages[0] if ages else -1}

    expected = {
        "PolledEventCount": 4,
        "FilteredOutEventCount": 1,
        "InvokedEventCount": 3,
        "FailedInvokeEventCount": 1,
        "DroppedEventCount": 1,
    }
    _until(lambda: all(figures().get(k) == v for k, v in expected.items()), what=f"the figures {expected}")
    assert figures()["age"] >= 0
