"""Lambda event filtering (FilterCriteria): validation with Lambda's errors, and what each source kind keeps."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from firebox.errors import InvalidParameterValueException, ValidationException
from firebox.expressions.filters import INVALID_PATTERN, TOO_MANY_FILTERS, RecordFilter


def criteria(*patterns: Any) -> dict[str, Any]:
    return {"Filters": [{"Pattern": p if isinstance(p, str) else json.dumps(p)} for p in patterns]}


def sqs_record(body: str, **extra: Any) -> dict[str, Any]:
    return {
        "messageId": "059f36b4",
        "receiptHandle": "AQEB",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SenderId": "AIDA"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-3:210987654321:orders",
        **extra,
    }


def b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def kinesis_record(data: bytes | str, partition_key: str = "7") -> dict[str, Any]:
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": partition_key,
            "sequenceNumber": "4959",
            "data": b64(data),
        },
        "eventSource": "aws:kinesis",
        "eventID": "shardId-000000000000:4959",
    }


def mq_record(data: bytes | str, priority: int = 4) -> dict[str, Any]:
    return {
        "basicProperties": {"contentType": "text/plain", "priority": priority},
        "redelivered": False,
        "data": b64(data),
    }


DDB_INSERT = {
    "eventID": "c4ca4238",
    "eventName": "INSERT",
    "eventSource": "aws:dynamodb",
    "dynamodb": {
        "Keys": {"PK": {"S": "ORDER#17"}},
        "NewImage": {"PK": {"S": "ORDER#17"}, "total": {"N": "120"}, "status": {"S": "NEW"}},
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    },
}


# ---- criteria ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, {}, {"Filters": None}, {"Filters": []}])
def test_no_filters_keep_everything(value: Any) -> None:
    record_filter = RecordFilter.from_criteria(value)
    assert record_filter.empty
    assert record_filter.keeps(sqs_record("anything"), "sqs")
    assert record_filter.keeps(DDB_INSERT, "dynamodb")


@pytest.mark.parametrize(
    "value",
    [
        "not a mapping",
        {"Filters": "nope"},
        {"Filters": [{}]},
        {"Filters": [{"Pattern": None}]},
        {"Filters": [{"Pattern": ""}]},
        {"Filters": [{"Pattern": 7}]},
        {"Filters": ["{}"]},
        criteria("not json"),
        criteria('["an", "array"]'),
        criteria({"eventName": "INSERT"}),
        criteria({"eventName": ["INSERT"]}, {"body": {"n": [{"numeric": [">", 1, ">", 2]}]}}),
        criteria({"body": {}}),
    ],
    ids=[
        "criteria not an object",
        "filters not a list",
        "no pattern",
        "null pattern",
        "empty pattern",
        "pattern not a string",
        "filter not an object",
        "pattern not JSON",
        "pattern not an object",
        "leaf not an array",
        "a bad second filter",
        "empty object",
    ],
)
def test_invalid_filters_are_refused_as_lambda_does(value: Any) -> None:
    with pytest.raises(InvalidParameterValueException) as caught:
        RecordFilter.from_criteria(value)
    assert caught.value.message == INVALID_PATTERN == "Invalid filter pattern definition."
    assert caught.value.body() == {"Type": "User", "message": "Invalid filter pattern definition."}
    assert caught.value.status == 400


def test_at_most_five_filters() -> None:
    assert len(RecordFilter.from_criteria(criteria(*[{"n": [i]} for i in range(5)]))._filters) == 5
    with pytest.raises(InvalidParameterValueException, match=TOO_MANY_FILTERS.replace("(", r"\(").replace(")", r"\)")):
        RecordFilter.from_criteria(criteria(*[{"n": [i]} for i in range(6)]))


def test_a_pattern_longer_than_4096_characters_fails_the_length_constraint() -> None:
    fits = json.dumps({"body": {"k": ["x" * (4096 - 21)]}})
    assert len(fits) == 4096
    RecordFilter.from_criteria({"Filters": [{"Pattern": fits}]})
    long = json.dumps({"body": {"k": ["x" * (4096 - 20)]}})
    with pytest.raises(ValidationException) as caught:
        RecordFilter.from_criteria(criteria(long))
    assert caught.value.message.startswith("1 validation error detected: Value '{")
    assert caught.value.message.endswith(
        "at 'filterCriteria.filters.1.member.pattern' failed to satisfy constraint: "
        "Member must have length less than or equal to 4096"
    )


def test_several_filters_are_or_ed() -> None:
    record_filter = RecordFilter.from_criteria(criteria({"body": {"kind": ["a"]}}, {"body": {"kind": ["b"]}}))
    assert record_filter.keeps(sqs_record('{"kind": "a"}'), "sqs")
    assert record_filter.keeps(sqs_record('{"kind": "b"}'), "sqs")
    assert not record_filter.keeps(sqs_record('{"kind": "c"}'), "sqs")


def test_an_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown record kind 'kafka'"):
        RecordFilter.from_criteria(criteria({"value": ["x"]})).keeps({"value": "x"}, "kafka")


# ---- SQS ---------------------------------------------------------------------------------------------------------

SQS_CASES: list[tuple[str, dict[str, Any], str, bool]] = [
    ("JSON body, JSON pattern", {"body": {"RequestCode": ["BBBB"]}}, '{"RequestCode": "BBBB", "n": 3}', True),
    ("JSON body, other value", {"body": {"RequestCode": ["BBBB"]}}, '{"RequestCode": "AAAA"}', False),
    ("JSON body, numeric", {"body": {"n": [{"numeric": [">", 2]}]}}, '{"RequestCode": "BBBB", "n": 3}', True),
    (
        "nested JSON body",
        {"body": {"order": {"items": {"sku": ["B"]}}}},
        '{"order": {"items": [{"sku": "A"}, {"sku": "B"}]}}',
        True,
    ),
    ("plain body, JSON pattern: dropped", {"body": {"RequestCode": ["BBBB"]}}, "RequestCode=BBBB", False),
    ("plain body, absence pattern: dropped", {"body": {"x": [{"exists": False}]}}, "plain text", False),
    ("plain body, plain pattern", {"body": ["hello"]}, "hello", True),
    ("plain body, plain prefix", {"body": [{"prefix": "ORDER-"}]}, "ORDER-17", True),
    ("JSON body, plain pattern: dropped", {"body": [{"prefix": "{"}]}, '{"a": 1}', False),
    ("JSON body, plain absence pattern: dropped", {"body": [{"exists": False}]}, '{"a": 1}', False),
    ("a JSON array body is text", {"body": [{"prefix": "["}]}, "[1, 2]", True),
    ("metadata with a JSON body", {"attributes": {"SenderId": ["AIDA"]}}, '{"a": 1}', True),
    ("metadata with a plain body", {"eventSource": ["aws:sqs"]}, "plain", True),
    ("metadata mismatch", {"eventSource": ["aws:kinesis"]}, "plain", False),
    ("metadata and body", {"attributes": {"SenderId": ["AIDA"]}, "body": {"a": [1]}}, '{"a": 1}', True),
    ("$or over body and metadata", {"$or": [{"body": {"a": [2]}}, {"messageId": ["059f36b4"]}]}, '{"a": 1}', True),
    (
        "body with big integers",
        {"body": {"id": [123456789012345678901234567890]}},
        '{"id": 123456789012345678901234567890}',
        True,
    ),
]


@pytest.mark.parametrize(("pattern", "body", "expected"), [pytest.param(p, b, e, id=i) for i, p, b, e in SQS_CASES])
def test_sqs(pattern: dict[str, Any], body: str, expected: bool) -> None:
    assert RecordFilter.from_criteria(criteria(pattern)).keeps(sqs_record(body), "sqs") is expected


def test_sqs_filtering_does_not_change_the_record() -> None:
    record = sqs_record('{"a": 1}')
    before = json.dumps(record)
    assert RecordFilter.from_criteria(criteria({"body": {"a": [1]}})).keeps(record, "sqs")
    assert json.dumps(record) == before


# ---- Kinesis -----------------------------------------------------------------------------------------------------

KINESIS_CASES: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    ("JSON data", {"data": {"City": ["Seattle"]}}, kinesis_record('{"City": "Seattle", "Temperature": 55}'), True),
    (
        "JSON data, numeric",
        {"data": {"Temperature": [{"numeric": [">", 50, "<=", 60]}]}},
        kinesis_record('{"Temperature": 61}'),
        False,
    ),
    ("partition key", {"partitionKey": ["7"]}, kinesis_record("anything"), True),
    (
        "partition key and data",
        {"partitionKey": ["7"], "data": {"City": ["Paris"]}},
        kinesis_record('{"City": "Seattle"}'),
        False,
    ),
    ("non-JSON data, JSON pattern: dropped", {"data": {"City": ["Seattle"]}}, kinesis_record("City=Seattle"), False),
    (
        "non-UTF-8 data, JSON pattern: dropped",
        {"data": {"x": [{"exists": False}]}},
        kinesis_record(b"\xff\xfe\x00"),
        False,
    ),
    ("plain data, plain pattern", {"data": [{"prefix": "City="}]}, kinesis_record("City=Seattle"), True),
    ("JSON data, plain pattern: dropped", {"data": [{"prefix": "{"}]}, kinesis_record('{"a": 1}'), False),
    (
        "data that is not base64",
        {"data": {"a": [1]}},
        {"kinesis": {"partitionKey": "7", "data": "!!not base64!!"}},
        False,
    ),
]


@pytest.mark.parametrize(
    ("pattern", "record", "expected"), [pytest.param(p, r, e, id=i) for i, p, r, e in KINESIS_CASES]
)
def test_kinesis(pattern: dict[str, Any], record: dict[str, Any], expected: bool) -> None:
    assert RecordFilter.from_criteria(criteria(pattern)).keeps(record, "kinesis") is expected


def test_kinesis_and_dynamodb_refuse_plain_patterns_for_their_payload() -> None:
    plain_data = RecordFilter.from_criteria(criteria({"data": ["x"]}))
    plain_data.check_kind("mq")
    plain_data.check_kind("sqs")
    with pytest.raises(InvalidParameterValueException, match=INVALID_PATTERN):
        plain_data.check_kind("kinesis")
    RecordFilter.from_criteria(criteria({"data": {"x": ["y"]}})).check_kind("kinesis")
    with pytest.raises(InvalidParameterValueException, match=INVALID_PATTERN):
        RecordFilter.from_criteria(criteria({"dynamodb": [{"exists": True}]})).check_kind("dynamodb")


# ---- DynamoDB ----------------------------------------------------------------------------------------------------

DYNAMODB_CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("event name", {"eventName": ["INSERT"]}, True),
    ("other event names", {"eventName": ["MODIFY", "REMOVE"]}, False),
    ("a key", {"dynamodb": {"Keys": {"PK": {"S": [{"prefix": "ORDER#"}]}}}}, True),
    ("a new image attribute", {"dynamodb": {"NewImage": {"status": {"S": ["NEW"]}}}}, True),
    ("numbers are strings in DynamoDB", {"dynamodb": {"NewImage": {"total": {"N": [{"numeric": [">", 100]}]}}}}, False),
    ("a number as its string", {"dynamodb": {"NewImage": {"total": {"N": ["120"]}}}}, True),
    ("an attribute absent", {"dynamodb": {"NewImage": {"coupon": [{"exists": False}]}}}, True),
    ("an attribute's type absent", {"dynamodb": {"NewImage": {"status": {"N": [{"exists": True}]}}}}, False),
    ("an attribute is an object, not a value", {"dynamodb": {"NewImage": {"status": [{"exists": True}]}}}, False),
    (
        "anything-but or absent",
        {"dynamodb": {"NewImage": {"status": {"S": [{"anything-but": ["CANCELLED"]}, {"exists": False}]}}}},
        True,
    ),
]


@pytest.mark.parametrize(("pattern", "expected"), [pytest.param(p, e, id=i) for i, p, e in DYNAMODB_CASES])
def test_dynamodb(pattern: dict[str, Any], expected: bool) -> None:
    assert RecordFilter.from_criteria(criteria(pattern)).keeps(DDB_INSERT, "dynamodb") is expected


# ---- Amazon MQ ---------------------------------------------------------------------------------------------------

MQ_CASES: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    ("JSON data", {"data": {"kind": ["order"]}}, mq_record('{"kind": "order"}'), True),
    ("JSON data, other value", {"data": {"kind": ["order"]}}, mq_record('{"kind": "refund"}'), False),
    ("plain data, plain pattern", {"data": [{"prefix": "ABC:"}]}, mq_record("ABC:AAAA"), True),
    ("plain data, plain pattern, other value", {"data": ["ABC:AAAA"]}, mq_record("ABC:BBBB"), False),
    (
        "plain data, JSON pattern: metadata decides",
        {"data": {"kind": ["order"]}, "redelivered": [False]},
        mq_record("x"),
        True,
    ),
    (
        "plain data, JSON pattern: metadata fails",
        {"data": {"kind": ["order"]}, "redelivered": [True]},
        mq_record("x"),
        False,
    ),
    (
        "JSON data, plain pattern: metadata decides",
        {"data": ["x"], "basicProperties": {"priority": [4]}},
        mq_record("{}"),
        True,
    ),
    ("a data-only pattern that cannot apply", {"data": {"kind": ["order"]}}, mq_record("plain"), True),
    (
        "non-UTF-8 data: metadata decides",
        {"data": ["x"], "basicProperties": {"priority": [5]}},
        mq_record(b"\xff"),
        False,
    ),
]


@pytest.mark.parametrize(("pattern", "record", "expected"), [pytest.param(p, r, e, id=i) for i, p, r, e in MQ_CASES])
def test_mq(pattern: dict[str, Any], record: dict[str, Any], expected: bool) -> None:
    assert RecordFilter.from_criteria(criteria(pattern)).keeps(record, "mq") is expected
