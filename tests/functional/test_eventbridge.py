"""The EventBridge API (`events`) on Firebox's endpoint, through boto3 against a real server: buses, rules, targets,
PutEvents into functions with EventBridge's envelope and target inputs, scheduled rules, dead-letter queues, and
asynchronous invocations' destinations on event buses and SNS topics (an SNS/SQS server, moto, started here)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from firebox.clock import SystemClock
from firebox.control.event_targets import EventTargetService
from firebox.control.events import EventBridgeService
from firebox.errors import ResourceConflictException
from firebox.eventsources.event_bus import EventBridge
from firebox.models.asynchronous import Delivery
from firebox.models.invocation import FunctionRef, InvokeRequest
from firebox.store.sqlite import SQLiteStore
from tests.conftest import RunningServer, create, error_of, free_port, make_zip, start_configured_server

REGION = "us-east-1"
ACCOUNT = "000000000000"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"
RULE_ARN = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/"
BUS_ARN = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/"
RECORDER = "import json\ndef handler(event, context):\n    print('EVENT ' + json.dumps(event))\n    return event\n"
FAILING = "def handler(event, context):\n    raise ValueError('it went wrong')\n"
ENVELOPE_KEYS = ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"]


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    moto = shutil.which("moto_server", path=os.path.dirname(sys.executable))
    assert moto, "moto[server] is installed by `make test`"
    port = free_port()
    process = subprocess.Popen(
        [moto, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            _aws("sqs", endpoint).list_queues()
            break
        except Exception:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.2)
    yield endpoint
    process.terminate()
    process.wait(timeout=10)


def _aws(service: str, endpoint: str) -> Any:
    factory: Any = boto3.client  # typed per service name; ours is a variable
    return factory(
        service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test"
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> Iterator[RunningServer]:
    """One server for the module (every test names its own functions, rules and buses), its SQS and SNS at moto."""
    running = start_configured_server(
        tmp_path_factory.mktemp("eventbridge"), f'async_retry_scale = 0.01\naws_endpoint_url = "{moto_endpoint}"\n'
    )
    yield running
    running.stop()


@pytest.fixture
def events(server: RunningServer) -> Any:
    return server.client(service="events")


@pytest.fixture
def lam(server: RunningServer) -> Any:
    return server.client()


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]


def refused(call: Callable[..., Any], **params: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as exc:
        call(**params)
    return error_of(exc)


def recorded(server: RunningServer, function: str, count: int = 1, seconds: float = 60.0) -> list[Any]:
    """The events `function` (a RECORDER) printed, once there are `count` of them."""
    logs = server.client(service="logs")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            found = logs.filter_log_events(logGroupName=f"/aws/lambda/{function}", filterPattern='"EVENT "')["events"]
        except ClientError:
            found = []
        messages = [e["message"].split("EVENT ", 1)[1] for e in found if "EVENT " in e["message"]]
        if len(messages) >= count:
            return [json.loads(m) for m in messages]
        time.sleep(0.2)
    raise AssertionError(f"{function} did not record {count} event(s) within {seconds} s")


def receive(sqs: Any, url: str, seconds: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], WaitTimeSeconds=1).get(
            "Messages", []
        )
        if messages:
            message: dict[str, Any] = messages[0]
            return message
    raise AssertionError("no message arrived")


def rule_to(events: Any, lam: Any, name: str, pattern: dict[str, Any], **target: Any) -> str:
    """A RECORDER function `name` and a rule `name` with `pattern` whose one target is it; the rule's ARN."""
    create(lam, name, make_zip({"app.py": RECORDER}))
    arn = events.put_rule(Name=name, EventPattern=json.dumps(pattern), **target.pop("rule", {}))["RuleArn"]
    bus = target.pop("EventBusName", None)
    extra = {"EventBusName": bus} if bus else {}
    answer = events.put_targets(Rule=name, Targets=[{"Id": "record", "Arn": FUNCTION_ARN + name, **target}], **extra)
    assert answer["FailedEntryCount"] == 0, answer
    return str(arn)


# event buses


def test_event_buses(events: Any, unique: str) -> None:
    name = f"orders-{unique}"
    buses = events.list_event_buses()["EventBuses"]
    assert {"Name": "default", "Arn": BUS_ARN + "default"}.items() <= buses[0].items()
    created = events.create_event_bus(Name=name, Description="orders and refunds")
    assert created["EventBusArn"] == BUS_ARN + name
    assert created["Description"] == "orders and refunds"
    described = events.describe_event_bus(Name=name)
    assert (described["Name"], described["Arn"], described["Description"]) == (
        name,
        BUS_ARN + name,
        created["Description"],
    )
    assert described["CreationTime"] == described["LastModifiedTime"]
    assert events.describe_event_bus(Name=BUS_ARN + name)["Name"] == name, "a bus ARN names it too"
    assert events.describe_event_bus()["Name"] == "default"
    assert [b["Name"] for b in events.list_event_buses(NamePrefix=name)["EventBuses"]] == [name]

    assert refused(events.create_event_bus, Name=name) == (
        "ResourceAlreadyExistsException",
        f"Event bus {name} already exists.",
        400,
    )
    assert refused(events.create_event_bus, Name="default")[0] == "ResourceAlreadyExistsException"
    assert refused(events.create_event_bus, Name="a/b") == (
        "ValidationException",
        "Event bus name must not contain '/'.",
        400,
    )
    assert refused(events.create_event_bus, Name="a b")[1] == (
        "1 validation error detected: Value 'a b' at 'name' failed to satisfy constraint: Member must satisfy "
        "regular expression pattern: [/\\.\\-_A-Za-z0-9]+"
    )
    assert refused(events.delete_event_bus, Name="default") == (
        "ValidationException",
        "Cannot delete event bus default.",
        400,
    )
    events.put_rule(Name="r", EventBusName=name, EventPattern='{"source": ["x"]}')
    assert refused(events.delete_event_bus, Name=name) == (
        "ValidationException",
        "EventBus can't be deleted since it has rules.",
        400,
    )
    events.delete_rule(Name="r", EventBusName=name)
    events.delete_event_bus(Name=name)
    events.delete_event_bus(Name=name)  # deleting what is not there succeeds, as on AWS
    assert refused(events.describe_event_bus, Name=name) == (
        "ResourceNotFoundException",
        f"Event bus {name} does not exist.",
        400,
    )


def test_event_bus_pagination(events: Any, unique: str) -> None:
    names = [f"page-{unique}-{i}" for i in range(3)]
    for name in names:
        events.create_event_bus(Name=name)
    first = events.list_event_buses(NamePrefix=f"page-{unique}", Limit=2)
    assert [b["Name"] for b in first["EventBuses"]] == names[:2]
    rest = events.list_event_buses(NamePrefix=f"page-{unique}", Limit=2, NextToken=first["NextToken"])
    assert [b["Name"] for b in rest["EventBuses"]] == names[2:]
    assert "NextToken" not in rest
    for name in names:
        events.delete_event_bus(Name=name)


# rules


def test_rules(events: Any, unique: str) -> None:
    name = f"orders-{unique}"
    pattern = '{"source": ["shop"], "detail-type": ["OrderPlaced"]}'
    arn = events.put_rule(Name=name, EventPattern=pattern, Description="new orders")["RuleArn"]
    assert arn == RULE_ARN + name
    described = events.describe_rule(Name=name)
    described.pop("ResponseMetadata")
    assert described == {
        "Name": name,
        "Arn": arn,
        "EventPattern": pattern,
        "State": "ENABLED",
        "Description": "new orders",
        "EventBusName": "default",
        "CreatedBy": ACCOUNT,
    }
    events.disable_rule(Name=name)
    assert events.describe_rule(Name=name)["State"] == "DISABLED"
    events.enable_rule(Name=name)
    assert events.describe_rule(Name=name)["State"] == "ENABLED"
    scheduled = events.put_rule(Name=f"{name}-nightly", ScheduleExpression="cron(0 2 * * ? *)", State="DISABLED")
    assert scheduled["RuleArn"] == f"{RULE_ARN}{name}-nightly"
    listed = events.list_rules(NamePrefix=name)["Rules"]
    assert [(r["Name"], r["State"]) for r in listed] == [(name, "ENABLED"), (f"{name}-nightly", "DISABLED")]
    assert listed[1]["ScheduleExpression"] == "cron(0 2 * * ? *)"
    assert "CreatedBy" not in listed[0]
    page = events.list_rules(NamePrefix=name, Limit=1)
    assert [r["Name"] for r in page["Rules"]] == [name]
    assert [r["Name"] for r in events.list_rules(NamePrefix=name, NextToken=page["NextToken"])["Rules"]] == [
        f"{name}-nightly"
    ]
    events.put_rule(Name=name, EventPattern='{"source": ["shop"]}')  # PutRule replaces the rule
    assert "Description" not in events.describe_rule(Name=name)
    for rule in (name, f"{name}-nightly"):
        events.delete_rule(Name=rule)
    events.delete_rule(Name=name)  # deleting what is not there succeeds, as on AWS
    assert events.list_rules(NamePrefix=name)["Rules"] == []


def test_rule_errors(events: Any, unique: str) -> None:
    name = f"bad-{unique}"
    assert refused(events.describe_rule, Name=name) == (
        "ResourceNotFoundException",
        f"Rule {name} does not exist on EventBus default.",
        400,
    )
    assert refused(events.enable_rule, Name=name)[1] == f"Rule {name} does not exist on EventBus default."
    assert refused(events.put_rule, Name=name) == (
        "ValidationException",
        "Parameter(s) EventPattern or ScheduleExpression must be specified.",
        400,
    )
    bus = f"bus-{unique}"
    events.create_event_bus(Name=bus)
    assert refused(events.put_rule, Name=name, EventBusName=bus, ScheduleExpression="rate(5 minutes)") == (
        "ValidationException",
        "ScheduleExpression is supported only on the default event bus.",
        400,
    )
    events.delete_event_bus(Name=bus)
    for expression in ("rate(1 minutes)", "rate(0 minutes)", "cron(0 2 * * * *)", "at(2030-01-01T00:00:00)"):
        assert refused(events.put_rule, Name=name, ScheduleExpression=expression) == (
            "ValidationException",
            "Parameter ScheduleExpression is not valid.",
            400,
        ), expression
    code, message, status = refused(events.put_rule, Name=name, EventPattern='{"source": "shop"}')
    assert (code, status) == ("InvalidEventPatternException", 400)
    assert message.startswith("Event pattern is not valid. Reason: ")
    assert refused(events.put_rule, Name=name, EventPattern="{not json")[0] == "InvalidEventPatternException"
    assert refused(events.put_rule, Name=name, EventBusName="nowhere", EventPattern='{"source": ["x"]}') == (
        "ResourceNotFoundException",
        "Event bus nowhere does not exist.",
        400,
    )
    assert refused(events.put_rule, Name="a b", EventPattern='{"source": ["x"]}')[1] == (
        "1 validation error detected: Value 'a b' at 'name' failed to satisfy constraint: Member must satisfy "
        "regular expression pattern: [\\.\\-_A-Za-z0-9]+"
    )


def test_test_event_pattern(events: Any) -> None:
    event = json.dumps(
        {
            "id": "1",
            "account": ACCOUNT,
            "source": "shop",
            "time": "2026-01-01T00:00:00Z",
            "region": REGION,
            "detail-type": "OrderPlaced",
            "resources": [],
            "detail": {"total": 120, "currency": "EUR"},
        }
    )
    matching = '{"source": ["shop"], "detail": {"total": [{"numeric": [">", 100]}]}}'
    assert events.test_event_pattern(EventPattern=matching, Event=event)["Result"] is True
    assert events.test_event_pattern(EventPattern='{"source": ["bank"]}', Event=event)["Result"] is False
    assert refused(events.test_event_pattern, EventPattern='{"source": "shop"}', Event=event)[0] == (
        "InvalidEventPatternException"
    )
    assert refused(events.test_event_pattern, EventPattern=matching, Event='{"source": "shop"}') == (
        "ValidationException",
        "Parameter Event is not valid.",
        400,
    )


# targets


def test_targets(events: Any, unique: str) -> None:
    rule = f"targets-{unique}"
    events.put_rule(Name=rule, EventPattern='{"source": ["shop"]}')
    function = FUNCTION_ARN + f"consumer-{unique}"
    answer = events.put_targets(
        Rule=rule,
        Targets=[
            {"Id": "lambda", "Arn": function, "RetryPolicy": {"MaximumRetryAttempts": 3}},
            {"Id": "queue", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders"},
        ],
    )
    assert answer["FailedEntryCount"] == 1
    (failed,) = answer["FailedEntries"]
    assert (failed["TargetId"], failed["ErrorCode"]) == ("queue", "ValidationException")
    assert events.list_targets_by_rule(Rule=rule)["Targets"] == [
        {"Id": "lambda", "Arn": function, "RetryPolicy": {"MaximumRetryAttempts": 3}}
    ]
    events.put_targets(Rule=rule, Targets=[{"Id": "lambda", "Arn": function, "Input": '{"fixed": true}'}])
    assert events.list_targets_by_rule(Rule=rule)["Targets"] == [
        {"Id": "lambda", "Arn": function, "Input": '{"fixed": true}'}
    ]
    assert events.list_rule_names_by_target(TargetArn=function)["RuleNames"] == [rule]
    assert refused(events.delete_rule, Name=rule) == (
        "ValidationException",
        "Rule can't be deleted since it has targets.",
        400,
    )
    more = [{"Id": f"t{i}", "Arn": function} for i in range(5)]
    assert refused(events.put_targets, Rule=rule, Targets=more) == (
        "LimitExceededException",
        "The requested resource exceeds the maximum number allowed.",
        400,
    )
    removed = events.remove_targets(Rule=rule, Ids=["lambda", "ghost"])
    assert removed["FailedEntryCount"] == 1
    assert removed["FailedEntries"] == [
        {
            "TargetId": "ghost",
            "ErrorCode": "ResourceNotFoundException",
            "ErrorMessage": f"Rule '{rule}' does not have a target with the Id 'ghost'.",
        }
    ]
    assert events.list_targets_by_rule(Rule=rule)["Targets"] == []
    events.delete_rule(Name=rule)
    for call, params in (
        (events.list_targets_by_rule, {}),
        (events.remove_targets, {"Ids": ["x"]}),
        (events.put_targets, {"Targets": [{"Id": "x", "Arn": function}]}),
    ):
        assert refused(call, Rule=rule, **params) == (
            "ResourceNotFoundException",
            f"Rule {rule} does not exist on EventBus default.",
            400,
        )


def test_target_errors(events: Any, unique: str) -> None:
    rule = f"target-errors-{unique}"
    events.put_rule(Name=rule, EventPattern='{"source": ["shop"]}')
    function = FUNCTION_ARN + "anything"

    def put(**target: Any) -> tuple[str, str, int]:
        return refused(events.put_targets, Rule=rule, Targets=[{"Id": "t", "Arn": function, **target}])

    assert put(Input="{not json") == ("ValidationException", "Input for target t is not a valid JSON text.", 400)
    assert put(Input="{}", InputPath="$.detail") == (
        "ValidationException",
        "Only one of Input, InputPath, or InputTransformer must be provided for target t.",
        400,
    )
    assert put(InputTransformer={"InputPathsMap": {"a": "$.detail.a"}, "InputTemplate": '{"x": <b>}'}) == (
        "ValidationException",
        "InputTemplate for target t contains invalid placeholder b.",
        400,
    )
    assert put(InputPath="detail")[0] == "ValidationException"
    assert put(RetryPolicy={"MaximumRetryAttempts": 186})[1] == (
        "1 validation error detected: Value '186' at 'targets.1.member.retryPolicy.maximumRetryAttempts' failed to "
        "satisfy constraint: Member must have value less than or equal to 185"
    )
    assert put(DeadLetterConfig={"Arn": f"arn:aws:sns:{REGION}:{ACCOUNT}:topic"})[0] == "ValidationException"
    assert refused(events.put_targets, Rule=rule, Targets=[{"Id": "t", "Arn": "not-an-arn"}]) == (
        "ValidationException",
        "Parameter not-an-arn is not valid. Reason: Provided Arn is not in correct format.",
        400,
    )
    assert events.list_targets_by_rule(Rule=rule)["Targets"] == []
    events.delete_rule(Name=rule)


# PutEvents


def test_put_events_delivers_the_envelope(server: RunningServer, events: Any, lam: Any, unique: str) -> None:
    name = f"placed-{unique}"
    rule_arn = rule_to(
        events, lam, name, {"source": [f"shop.{unique}"], "detail": {"total": [{"numeric": [">", 100]}]}}
    )
    answer = events.put_events(
        Entries=[
            {
                "Source": f"shop.{unique}",
                "DetailType": "OrderPlaced",
                "Detail": json.dumps({"order": 42, "total": 120}),
                "Resources": ["arn:aws:shop:::order/42"],
                "Time": 1767225600,  # 2026-01-01T00:00:00Z
            },
            {"Source": f"shop.{unique}", "DetailType": "OrderPlaced", "Detail": json.dumps({"order": 43, "total": 5})},
            {"Source": f"bank.{unique}", "DetailType": "OrderPlaced", "Detail": json.dumps({"total": 500})},
        ]
    )
    assert answer["FailedEntryCount"] == 0
    ids = [entry["EventId"] for entry in answer["Entries"]]
    assert len(set(ids)) == 3
    (event,) = recorded(server, name)
    assert list(event) == ENVELOPE_KEYS
    assert event == {
        "version": "0",
        "id": ids[0],
        "detail-type": "OrderPlaced",
        "source": f"shop.{unique}",
        "account": ACCOUNT,
        "time": "2026-01-01T00:00:00Z",
        "region": REGION,
        "resources": ["arn:aws:shop:::order/42"],
        "detail": {"order": 42, "total": 120},
    }
    events.disable_rule(Name=name)
    events.put_events(Entries=[{"Source": f"shop.{unique}", "DetailType": "Again", "Detail": '{"total": 999}'}])
    events.enable_rule(Name=name)
    events.put_events(Entries=[{"Source": f"shop.{unique}", "DetailType": "Third", "Detail": '{"total": 101}'}])
    later = recorded(server, name, 2)
    assert [e["detail-type"] for e in later] == ["OrderPlaced", "Third"], "the disabled rule delivered nothing"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", later[1]["time"])
    assert later[1]["resources"] == []
    assert rule_arn == RULE_ARN + name


def test_put_events_entry_errors_and_limits(events: Any) -> None:
    answer = events.put_events(
        Entries=[
            {"DetailType": "x", "Detail": "{}"},
            {"Source": "app", "Detail": "{}"},
            {"Source": "app", "DetailType": "x"},
            {"Source": "app", "DetailType": "x", "Detail": "[1, 2]"},
            {"Source": "app", "DetailType": "x", "Detail": "{broken"},
            {"Source": "aws.ec2", "DetailType": "x", "Detail": "{}"},
            {"Source": "app", "DetailType": "x", "Detail": "{}", "EventBusName": "no-such-bus"},
        ]
    )
    assert answer["FailedEntryCount"] == 6
    assert answer["Entries"][:6] == [
        {
            "ErrorCode": "InvalidArgument",
            "ErrorMessage": "Parameter Source is not valid. Reason: Source is a required argument.",
        },
        {
            "ErrorCode": "InvalidArgument",
            "ErrorMessage": "Parameter DetailType is not valid. Reason: DetailType is a required argument.",
        },
        {
            "ErrorCode": "InvalidArgument",
            "ErrorMessage": "Parameter Detail is not valid. Reason: Detail is a required argument.",
        },
        {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."},
        {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."},
        {"ErrorCode": "NotAuthorizedForSourceException", "ErrorMessage": "Not authorized for the source."},
    ]
    assert "EventId" in answer["Entries"][6], "a bus that does not exist takes the event, as on AWS"
    too_many = [{"Source": "app", "DetailType": "x", "Detail": "{}"}] * 11
    code, message, status = refused(events.put_events, Entries=too_many)
    assert (code, status) == ("ValidationException", 400)
    assert message.endswith(
        "at 'entries' failed to satisfy constraint: Member must have length less than or equal to 10"
    )
    too_big = [{"Source": "app", "DetailType": "x", "Detail": json.dumps({"pad": "x" * 140_000})}] * 2
    assert refused(events.put_events, Entries=too_big) == (
        "ValidationException",
        "Total size of the entries in the request is over the limit.",
        400,
    )


def test_target_inputs(server: RunningServer, events: Any, lam: Any, unique: str) -> None:
    rule = f"inputs-{unique}"
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [f"ec2.{unique}"]}))
    names = {kind: f"{kind}-{unique}" for kind in ("constant", "path", "json", "text")}
    for function in names.values():
        create(lam, function, make_zip({"app.py": RECORDER}))
    events.put_targets(
        Rule=rule,
        Targets=[
            {"Id": "constant", "Arn": FUNCTION_ARN + names["constant"], "Input": '{"warmup": true}'},
            {"Id": "path", "Arn": FUNCTION_ARN + names["path"], "InputPath": "$.detail"},
            {
                "Id": "json",
                "Arn": FUNCTION_ARN + names["json"],
                "InputTransformer": {
                    "InputPathsMap": {
                        "instance": "$.detail.instance-id",
                        "state": "$.detail.state",
                        "first": "$.resources[0]",
                        "missing": "$.detail.nothing",
                    },
                    "InputTemplate": '{"instance": <instance>, "state": [9, <state>, true], "status": '
                    '"instance \\"<instance>\\" is in <state>", "first": <first>, "missing": <missing>, '
                    '"rule": <aws.events.rule-name>, "arn": "<aws.events.rule-arn>"}',
                },
            },
            {
                "Id": "text",
                "Arn": FUNCTION_ARN + names["text"],
                "InputTransformer": {
                    "InputPathsMap": {"instance": "$.detail.instance-id", "state": "$.detail.state"},
                    "InputTemplate": '"instance <instance> is in <state>"',
                },
            },
        ],
    )
    detail = {"instance-id": "i-0123456789", "state": "RUNNING"}
    events.put_events(
        Entries=[
            {
                "Source": f"ec2.{unique}",
                "DetailType": "EC2 Instance State-change Notification",
                "Detail": json.dumps(detail),
                "Resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789"],
            }
        ]
    )
    assert recorded(server, names["constant"]) == [{"warmup": True}]
    assert recorded(server, names["path"]) == [detail]
    assert recorded(server, names["json"]) == [
        {
            "instance": "i-0123456789",
            "state": [9, "RUNNING", True],
            "status": 'instance "i-0123456789" is in RUNNING',
            "first": "arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789",
            "missing": None,
            "rule": rule,
            "arn": RULE_ARN + rule,
        }
    ]
    assert recorded(server, names["text"]) == ["instance i-0123456789 is in RUNNING"]


def test_custom_bus(server: RunningServer, events: Any, lam: Any, unique: str) -> None:
    bus = f"orders-{unique}"
    events.create_event_bus(Name=bus)
    name = f"on-bus-{unique}"
    arn = rule_to(events, lam, name, {"source": ["shop"]}, rule={"EventBusName": bus}, EventBusName=bus)
    assert arn == f"{RULE_ARN}{bus}/{name}"
    assert events.describe_rule(Name=name, EventBusName=bus)["EventBusName"] == bus
    assert [r["Name"] for r in events.list_rules(EventBusName=bus)["Rules"]] == [name]
    events.put_events(Entries=[{"Source": "shop", "DetailType": "on default", "Detail": "{}"}])
    events.put_events(Entries=[{"Source": "shop", "DetailType": "on the bus", "Detail": "{}", "EventBusName": bus}])
    events.put_events(
        Entries=[{"Source": "shop", "DetailType": "by ARN", "Detail": "{}", "EventBusName": BUS_ARN + bus}]
    )
    delivered = recorded(server, name, 2)
    assert sorted(e["detail-type"] for e in delivered) == ["by ARN", "on the bus"]
    assert events.list_rule_names_by_target(TargetArn=FUNCTION_ARN + name, EventBusName=bus)["RuleNames"] == [name]
    assert events.list_rule_names_by_target(TargetArn=FUNCTION_ARN + name)["RuleNames"] == []


def test_dead_letter_queue_for_a_deleted_function(events: Any, lam: Any, moto_endpoint: str, unique: str) -> None:
    sqs = _aws("sqs", moto_endpoint)
    queue = f"rule-dlq-{unique}"
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    name = f"gone-{unique}"
    rule_arn = rule_to(
        events,
        lam,
        name,
        {"source": [f"shop.{unique}"]},
        DeadLetterConfig={"Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}"},
    )
    lam.delete_function(FunctionName=name)
    entry = events.put_events(Entries=[{"Source": f"shop.{unique}", "DetailType": "Lost", "Detail": '{"n": 1}'}])
    message = receive(sqs, url)
    event = json.loads(message["Body"])
    assert event["id"] == entry["Entries"][0]["EventId"]
    assert (event["detail-type"], event["detail"]) == ("Lost", {"n": 1})
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["RULE_ARN"] == rule_arn
    assert attributes["TARGET_ARN"] == FUNCTION_ARN + name
    assert attributes["ERROR_CODE"] == "NO_RESOURCE"
    assert attributes["ERROR_MESSAGE"] == f"Function not found: {FUNCTION_ARN}{name}:$LATEST"


class _PendingFunctions:
    """A stand-in for the data plane's router: it refuses a function's first submissions the way Lambda refuses a
    function that is still Pending (409), `refusals` times per function name (-1: always), then accepts them."""

    def __init__(self, refusals: dict[str, int]) -> None:
        self.refusals = refusals
        self.accepted: list[InvokeRequest] = []

    def resolve(self, text: str, qualifier: str | None = None) -> FunctionRef:
        return FunctionRef(text.rsplit(":", 1)[-1], qualifier, text)

    async def submit(self, request: InvokeRequest, require_active: bool = True) -> None:
        left = self.refusals.get(request.function.name, 0)
        if left:
            self.refusals[request.function.name] = left - 1
            raise ResourceConflictException(
                "The operation cannot be performed at this time. The function is currently in the following state: "
                "Pending"
            )
        self.accepted.append(request)


def test_refused_deliveries_are_retried_then_dead_lettered(tmp_path: Path) -> None:
    """The retry policy with the real store and event bus, against a router that refuses: a target refused twice
    gets the event on the third try; one refused every time, with MaximumRetryAttempts 1, goes to its DLQ after
    one retry with EXHAUSTED_RETRY_CONDITION."""

    async def scenario() -> None:
        store = SQLiteStore(tmp_path / "firebox.db")
        executor = ThreadPoolExecutor(max_workers=2)
        router = _PendingFunctions({"eventually": 2, "never": -1})
        bus = EventBridge(store, store, executor, router, REGION, ACCOUNT, retry_scale=0.001)  # type: ignore[arg-type]
        rules = EventBridgeService(store, executor, REGION, ACCOUNT, SystemClock(), bus)
        rules.on_change(bus.changed)
        queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:dead-letters"
        await rules.put_rule({"Name": "r", "EventPattern": '{"source": ["shop"]}'})
        await EventTargetService(rules).put_targets(
            {
                "Rule": "r",
                "Targets": [
                    {"Id": "eventually", "Arn": FUNCTION_ARN + "eventually"},
                    {
                        "Id": "never",
                        "Arn": FUNCTION_ARN + "never",
                        "RetryPolicy": {"MaximumRetryAttempts": 1},
                        "DeadLetterConfig": {"Arn": queue},
                    },
                ],
            }
        )
        running = asyncio.get_running_loop().create_task(bus.run_forever())
        try:
            answer = await bus.put_events([{"Source": "shop", "DetailType": "Placed", "Detail": '{"n": 1}'}])
            event_id = answer["Entries"][0]["EventId"]
            deadline = time.monotonic() + 20
            dead: list[Delivery] = []
            while time.monotonic() < deadline and not (router.accepted and dead):
                await asyncio.sleep(0.05)
                now = time.time()
                dead += await asyncio.get_running_loop().run_in_executor(
                    executor, store.lease_deliveries, now, now + 60, 10
                )
            (accepted,) = router.accepted
            assert accepted.function.name == "eventually"
            assert json.loads(accepted.payload)["id"] == event_id
            (letter,) = dead
            assert letter.destination == queue
            assert json.loads(letter.body)["id"] == event_id
            assert letter.attributes == {
                "RULE_ARN": RULE_ARN + "r",
                "TARGET_ARN": FUNCTION_ARN + "never",
                "ERROR_CODE": "RESOURCE_MODIFICATION_COLLISION",
                "ERROR_MESSAGE": "The operation cannot be performed at this time. The function is currently in the "
                "following state: Pending",
                "RETRY_ATTEMPTS": "1",
                "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts",
            }
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
            await bus.close()
            executor.shutdown()
            store.close()

    asyncio.run(scenario())


@pytest.mark.slow
def test_a_scheduled_rule_fires(server: RunningServer, events: Any, lam: Any, unique: str) -> None:
    name = f"every-minute-{unique}"
    create(lam, name, make_zip({"app.py": RECORDER}))
    arn = events.put_rule(Name=name, ScheduleExpression="rate(1 minute)")["RuleArn"]
    events.put_targets(Rule=name, Targets=[{"Id": "record", "Arn": FUNCTION_ARN + name}])
    (event,) = recorded(server, name, seconds=150)
    assert list(event) == ENVELOPE_KEYS
    assert (event["detail-type"], event["source"], event["resources"], event["detail"]) == (
        "Scheduled Event",
        "aws.events",
        [arn],
        {},
    )
    assert (event["account"], event["region"], event["version"]) == (ACCOUNT, REGION, "0")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"])
    events.remove_targets(Rule=name, Ids=["record"])
    events.delete_rule(Name=name)


# asynchronous invocations' destinations


def test_destinations_on_an_event_bus(server: RunningServer, events: Any, lam: Any, unique: str) -> None:
    bus = f"outcomes-{unique}"
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    failures = f"failures-{unique}"
    rule_to(
        events,
        lam,
        failures,
        {"source": ["lambda"], "detail-type": ["Lambda Function Invocation Result - Failure"]},
        rule={"EventBusName": bus},
        EventBusName=bus,
    )
    successes = f"successes-{unique}"
    rule_to(
        events,
        lam,
        successes,
        {"source": ["lambda"], "detail-type": ["Lambda Function Invocation Result - Success"]},
        rule={"EventBusName": bus},
        EventBusName=bus,
    )
    failing, echo = f"failing-{unique}", f"echo-{unique}"
    create(lam, failing, make_zip({"app.py": FAILING}))
    create(lam, echo, make_zip({"app.py": RECORDER}))
    lam.put_function_event_invoke_config(
        FunctionName=failing, MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": bus_arn}}
    )
    lam.put_function_event_invoke_config(FunctionName=echo, DestinationConfig={"OnSuccess": {"Destination": bus_arn}})
    assert lam.get_function_event_invoke_config(FunctionName=failing)["DestinationConfig"]["OnFailure"] == {
        "Destination": bus_arn
    }
    request_id = lam.invoke(FunctionName=failing, InvocationType="Event", Payload=b'{"order": 7}')["ResponseMetadata"][
        "RequestId"
    ]
    lam.invoke(FunctionName=echo, InvocationType="Event", Payload=b'{"fine": true}')

    (failure,) = recorded(server, failures)
    assert list(failure) == ENVELOPE_KEYS
    assert (failure["source"], failure["detail-type"]) == ("lambda", "Lambda Function Invocation Result - Failure")
    assert failure["resources"] == [bus_arn, f"{FUNCTION_ARN}{failing}:$LATEST"]
    record = failure["detail"]
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestPayload"] == {"order": 7}
    assert record["responsePayload"]["errorType"] == "ValueError"

    (success,) = recorded(server, successes)
    assert success["detail-type"] == "Lambda Function Invocation Result - Success"
    assert success["detail"]["responsePayload"] == {"fine": True}
    assert success["detail"]["requestContext"]["condition"] == "Success"


def test_sns_destination_and_dead_letter_topic(lam: Any, moto_endpoint: str, unique: str) -> None:
    sns, sqs = _aws("sns", moto_endpoint), _aws("sqs", moto_endpoint)
    topic = sns.create_topic(Name=f"outcomes-{unique}")["TopicArn"]
    url = sqs.create_queue(QueueName=f"outcomes-{unique}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})

    echo = f"sns-echo-{unique}"
    create(lam, echo, make_zip({"app.py": RECORDER}))
    lam.put_function_event_invoke_config(FunctionName=echo, DestinationConfig={"OnSuccess": {"Destination": topic}})
    lam.invoke(FunctionName=echo, InvocationType="Event", Payload=b'{"via": "sns"}')
    record = json.loads(receive(sqs, url)["Body"])
    assert record["requestContext"]["condition"] == "Success"
    assert record["responsePayload"] == {"via": "sns"}

    failing = f"sns-dlq-{unique}"
    create(lam, failing, make_zip({"app.py": FAILING}), DeadLetterConfig={"TargetArn": topic})
    lam.put_function_event_invoke_config(FunctionName=failing, MaximumRetryAttempts=0)
    payload = b'{"order": 9}'
    request_id = lam.invoke(FunctionName=failing, InvocationType="Event", Payload=payload)["ResponseMetadata"][
        "RequestId"
    ]
    dead = receive(sqs, url)
    assert dead["Body"] == payload.decode(), "the original payload, byte for byte"
    attributes = {k: (v["DataType"], v["StringValue"]) for k, v in dead["MessageAttributes"].items()}
    assert attributes == {
        "RequestID": ("String", request_id),
        "ErrorCode": ("Number", "200"),
        "ErrorMessage": ("String", "it went wrong"),
    }


def test_rules_survive_a_restart(tmp_path: Path) -> None:
    running = start_configured_server(tmp_path, "")
    events = running.client(service="events")
    events.create_event_bus(Name="kept")
    events.put_rule(Name="kept", EventBusName="kept", EventPattern='{"source": ["x"]}')
    events.put_targets(Rule="kept", EventBusName="kept", Targets=[{"Id": "t", "Arn": FUNCTION_ARN + "f"}])
    running.stop()
    running = start_configured_server(tmp_path, "")
    try:
        events = running.client(service="events")
        assert events.describe_rule(Name="kept", EventBusName="kept")["EventPattern"] == '{"source": ["x"]}'
        assert [t["Id"] for t in events.list_targets_by_rule(Rule="kept", EventBusName="kept")["Targets"]] == ["t"]
    finally:
        running.stop()
