"""EventBridge Scheduler on a real server: every operation and its errors with boto3's `scheduler` client, schedules
firing their Lambda function (seen in its CloudWatch Logs), a restart that resumes schedules and fires a missed tick
once, and the dead-letter queue (moto's SQS) of a schedule whose function does not exist."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, RunningServer, aws_client, create, error_of, make_zip, start_configured_server

T = TypeVar("T")
ACCOUNT = "000000000000"
REGION = "us-east-1"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"
SCHEDULER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/scheduler"
PRINTER = "import json\n\ndef handler(event, context):\n    print('EVENT ' + json.dumps(event, sort_keys=True))\n"


@pytest.fixture
def scheduler(server: RunningServer) -> Any:
    return server.client(service="scheduler")


def _name(prefix: str = "s") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _target(function: str = "anything", **extra: Any) -> dict[str, Any]:
    return {"Arn": FUNCTION_ARN + function, "RoleArn": SCHEDULER_ROLE, **extra}


def _create(scheduler: Any, name: str, expression: str = "rate(1 hour)", **extra: Any) -> str:
    params: dict[str, Any] = {"FlexibleTimeWindow": {"Mode": "OFF"}, "Target": _target(), **extra}
    arn: str = scheduler.create_schedule(Name=name, ScheduleExpression=expression, **params)["ScheduleArn"]
    return arn


def _error(call: Callable[[], Any]) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    return error_of(caught)


def _wait_for(probe: Callable[[], T | None], seconds: float = 60.0) -> T:
    deadline = time.monotonic() + seconds
    while True:
        found = probe()
        if found:
            return found
        assert time.monotonic() < deadline, "nothing came in time"
        time.sleep(0.25)


def _events(logs: Any, function: str) -> list[dict[str, Any]]:
    """What the function printed, oldest first (nothing before its log group exists)."""
    try:
        found = logs.filter_log_events(logGroupName=f"/aws/lambda/{function}", filterPattern='"EVENT "')["events"]
    except ClientError:
        return []
    return [json.loads(event["message"].split("EVENT ", 1)[1]) for event in found]


def _at(seconds_ahead: float) -> tuple[str, datetime]:
    moment = (datetime.now(UTC) + timedelta(seconds=seconds_ahead)).replace(microsecond=0)
    return f"at({moment.strftime('%Y-%m-%dT%H:%M:%S')})", moment


# schedule groups


def test_schedule_groups_and_their_tags(scheduler: Any) -> None:
    default = scheduler.get_schedule_group(Name="default")
    assert default["Arn"] == f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule-group/default"
    assert (default["Name"], default["State"]) == ("default", "ACTIVE")
    group = _name("g")
    arn = scheduler.create_schedule_group(Name=group, Tags=[{"Key": "team", "Value": "a"}])["ScheduleGroupArn"]
    assert arn == f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule-group/{group}"
    assert _error(lambda: scheduler.create_schedule_group(Name=group)) == (
        "ConflictException",
        f"Schedule group {group} already exists.",
        409,
    )
    got = scheduler.get_schedule_group(Name=group)
    assert got["State"] == "ACTIVE" and got["CreationDate"] <= got["LastModificationDate"]
    assert scheduler.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "a"}]
    scheduler.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "test"}])
    scheduler.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert scheduler.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "test"}]

    prefix = _name("p")
    for index in range(3):
        scheduler.create_schedule_group(Name=f"{prefix}-{index}")
    page = scheduler.list_schedule_groups(NamePrefix=prefix, MaxResults=2)
    rest = scheduler.list_schedule_groups(NamePrefix=prefix, NextToken=page["NextToken"])
    names = [g["Name"] for g in page["ScheduleGroups"] + rest["ScheduleGroups"]]
    assert names == [f"{prefix}-{index}" for index in range(3)] and "NextToken" not in rest
    listed = [
        g["Name"]
        for g in scheduler.get_paginator("list_schedule_groups").paginate().build_full_result()["ScheduleGroups"]
    ]
    assert "default" in listed and group in listed

    inside = _name()
    _create(scheduler, inside, GroupName=group)
    scheduler.delete_schedule_group(Name=group)
    assert _error(lambda: scheduler.get_schedule_group(Name=group)) == (
        "ResourceNotFoundException",
        f"Schedule group {group} does not exist.",
        404,
    )
    assert _error(lambda: scheduler.get_schedule(Name=inside, GroupName=group))[0] == "ResourceNotFoundException"
    assert _error(lambda: scheduler.delete_schedule_group(Name=group))[2] == 404
    assert _error(lambda: scheduler.list_tags_for_resource(ResourceArn=arn))[2] == 404
    assert _error(lambda: scheduler.delete_schedule_group(Name="default"))[:1] == ("ValidationException",)
    assert _error(lambda: scheduler.create_schedule_group(Name="bad name"))[0] == "ValidationException"


# schedules


def test_schedule_lifecycle(scheduler: Any) -> None:
    name = _name()
    token = uuid.uuid4().hex
    arn = _create(scheduler, name, "cron(0 12 ? * MON-FRI *)", ClientToken=token, Description="weekdays")
    assert arn == f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/{name}"
    # the same ClientToken is the same request; another one is a conflict
    assert _create(scheduler, name, "cron(0 12 ? * MON-FRI *)", ClientToken=token) == arn
    assert _error(lambda: _create(scheduler, name)) == ("ConflictException", f"Schedule {name} already exists.", 409)

    got = scheduler.get_schedule(Name=name)
    assert got["Arn"] == arn and got["GroupName"] == "default" and got["Description"] == "weekdays"
    assert (got["State"], got["ScheduleExpressionTimezone"], got["ActionAfterCompletion"]) == ("ENABLED", "UTC", "NONE")
    assert got["Target"] == {
        "Arn": FUNCTION_ARN + "anything",
        "RoleArn": SCHEDULER_ROLE,
        "RetryPolicy": {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185},
    }
    assert got["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert "ClientToken" not in got

    start = datetime.now(UTC) + timedelta(days=1)
    scheduler.update_schedule(
        Name=name,
        ScheduleExpression="rate(5 minutes)",
        ScheduleExpressionTimezone="Europe/Paris",
        State="DISABLED",
        StartDate=start,
        EndDate=start + timedelta(days=2),
        FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 10},
        Target=_target(Input='{"k": 1}', RetryPolicy={"MaximumRetryAttempts": 0}),
    )
    updated = scheduler.get_schedule(Name=name)
    assert "Description" not in updated  # an update replaces the whole definition
    assert updated["State"] == "DISABLED" and updated["ScheduleExpressionTimezone"] == "Europe/Paris"
    assert abs(updated["StartDate"].timestamp() - start.timestamp()) < 1
    assert updated["Target"]["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 0}
    assert updated["CreationDate"] == got["CreationDate"] and updated["LastModificationDate"] >= got["CreationDate"]

    scheduler.delete_schedule(Name=name)
    missing = ("ResourceNotFoundException", f"Schedule {name} does not exist.", 404)
    assert _error(lambda: scheduler.get_schedule(Name=name)) == missing
    assert _error(lambda: scheduler.delete_schedule(Name=name)) == missing
    assert (
        _error(
            lambda: scheduler.update_schedule(
                Name=name, ScheduleExpression="rate(1 hour)", FlexibleTimeWindow={"Mode": "OFF"}, Target=_target()
            )
        )
        == missing
    )
    no_group = ("ResourceNotFoundException", "Schedule group nowhere does not exist.", 404)
    assert _error(lambda: _create(scheduler, _name(), GroupName="nowhere")) == no_group
    assert _error(lambda: scheduler.get_schedule(Name=name, GroupName="nowhere")) == no_group
    assert _error(lambda: scheduler.list_schedules(GroupName="nowhere")) == no_group


def test_list_schedules_filters_and_pages(scheduler: Any) -> None:
    group = _name("g")
    scheduler.create_schedule_group(Name=group)
    prefix = _name("l")
    for index in range(5):
        _create(scheduler, f"{prefix}-{index}", GroupName=group, State="DISABLED" if index % 2 else "ENABLED")
    _create(scheduler, f"{prefix}-default")

    def names(**params: Any) -> list[str]:
        pages = scheduler.get_paginator("list_schedules").paginate(**params, PaginationConfig={"PageSize": 2})
        return [s["Name"] for s in pages.build_full_result()["Schedules"]]

    assert names(GroupName=group) == [f"{prefix}-{index}" for index in range(5)]
    assert names(GroupName=group, State="DISABLED") == [f"{prefix}-1", f"{prefix}-3"]
    # by group, then name: "default" comes before "g-..."
    assert names(NamePrefix=prefix) == [f"{prefix}-default"] + [f"{prefix}-{index}" for index in range(5)]
    first = scheduler.list_schedules(GroupName=group, MaxResults=1)
    summary = first["Schedules"][0]
    assert set(summary) == {"Arn", "Name", "GroupName", "State", "CreationDate", "LastModificationDate", "Target"}
    assert summary["Target"] == {"Arn": FUNCTION_ARN + "anything"} and "NextToken" in first
    assert _error(lambda: scheduler.list_schedules(NextToken="not-a-token"))[0] == "ValidationException"


@pytest.mark.parametrize(
    "expression",
    ["cron(0 1 * * * *)", "cron(71 8 1 * ? *)", "rate(10 seconds)", "rate(1 minutes)", "at(2021-12-31T23:59:59Z)"],
)
def test_invalid_expressions_are_refused_as_aws_words_it(scheduler: Any, expression: str) -> None:
    assert _error(lambda: _create(scheduler, _name(), expression)) == (
        "ValidationException",
        f"Invalid Schedule Expression {expression}.",
        400,
    )


def test_validation(scheduler: Any) -> None:
    def refused(**params: Any) -> tuple[str, str, int]:
        body = {"Name": _name(), "ScheduleExpression": "rate(1 hour)", "FlexibleTimeWindow": {"Mode": "OFF"}}
        body["Target"] = _target()
        body.update(params)
        return _error(lambda: scheduler.create_schedule(**body))

    code, message, status = refused(Name="no spaces allowed")
    assert (code, status) == ("ValidationException", 400)
    assert message == (
        "1 validation error detected: Value 'no spaces allowed' at 'name' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [0-9a-zA-Z-_.]+"
    )
    assert refused(Target={"Arn": FUNCTION_ARN + "f", "RoleArn": "nope"})[1].endswith(
        "at 'target.roleArn' failed to satisfy constraint: Member must satisfy regular expression pattern: "
        "arn:aws[a-z-]*:iam::\\d{12}:role\\/[\\w+=,.@\\/-]+"
    )
    assert (
        "at 'target.retryPolicy.maximumRetryAttempts'"
        in refused(Target=_target(RetryPolicy={"MaximumRetryAttempts": 186}))[1]
    )
    assert refused(ScheduleExpressionTimezone="Mars/Base")[1] == "Invalid ScheduleExpressionTimezone Mars/Base."
    assert refused(FlexibleTimeWindow={"Mode": "FLEXIBLE"})[0] == "ValidationException"
    assert refused(StartDate=datetime.now(UTC) - timedelta(hours=1))[1] == (
        "The StartDate you specify cannot be earlier than 5 minutes ago."
    )
    start = datetime.now(UTC) + timedelta(hours=2)
    assert refused(StartDate=start, EndDate=start - timedelta(hours=1))[0] == "ValidationException"
    assert (
        "Lambda functions only" in refused(Target={"Arn": "arn:aws:sqs:us-east-1:000000000000:q", "RoleArn": ROLE})[1]
    )
    assert "Lambda functions only" in refused(Target=_target(SqsParameters={"MessageGroupId": "g"}))[1]
    assert (
        "Lambda functions only"
        in refused(Target={"Arn": "arn:aws:lambda:eu-west-1:000000000000:function:f", "RoleArn": ROLE})[1]
    )


# schedules firing


@pytest.mark.slow
def test_an_at_schedule_fires_its_function_once_and_deletes_itself(server: RunningServer, scheduler: Any) -> None:
    lam, logs = server.client(), server.client(service="logs")
    function = _name("fn")
    create(lam, function, make_zip({"app.py": PRINTER}))
    expression, moment = _at(4)
    name = _name()
    _create(
        scheduler,
        name,
        expression,
        ActionAfterCompletion="DELETE",
        Target=_target(
            function, Input='{"at": "<aws.scheduler.scheduled-time>", "arn": "<aws.scheduler.schedule-arn>"}'
        ),
    )
    events = _wait_for(lambda: _events(logs, function))
    assert events == [
        {
            "at": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "arn": f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/{name}",
        }
    ]
    _wait_for(lambda: _error(lambda: scheduler.get_schedule(Name=name))[0] == "ResourceNotFoundException")


@pytest.mark.slow
def test_a_rate_schedule_fires_at_once_and_a_disabled_one_never(server: RunningServer, scheduler: Any) -> None:
    lam, logs = server.client(), server.client(service="logs")
    function, quiet = _name("fn"), _name("fn")
    create(lam, function, make_zip({"app.py": PRINTER}))
    create(lam, quiet, make_zip({"app.py": PRINTER}))
    _create(scheduler, _name(), "rate(1 minute)", Target=_target(function, Input='{"rate": true}'))
    _create(scheduler, _name(), "rate(1 minute)", State="DISABLED", Target=_target(quiet))
    assert _wait_for(lambda: _events(logs, function)) == [{"rate": True}]  # no StartDate: it starts at once
    assert _events(logs, quiet) == []


@pytest.mark.slow
def test_a_restart_resumes_schedules_and_fires_a_missed_tick_once(tmp_path: Path) -> None:
    running = start_configured_server(tmp_path, "")
    try:
        scheduler, lam = running.client(service="scheduler"), running.client()
        function = _name("fn")
        create(lam, function, make_zip({"app.py": PRINTER}))
        # a rate whose StartDate was 55 s ago: its first tick catches up at once, the next is due in 5 s
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=55)
        _create(
            scheduler,
            _name(),
            "rate(1 minute)",
            StartDate=start,
            Target=_target(function, Input='{"tick": "<aws.scheduler.scheduled-time>"}'),
        )
        first = _wait_for(lambda: _events(running.client(service="logs"), function))
        assert first == [{"tick": start.strftime("%Y-%m-%dT%H:%M:%SZ")}]
        status, output = running.stop()
        assert status == 0, output
        missed = start + timedelta(minutes=1)
        while datetime.now(UTC) < missed + timedelta(seconds=2):  # the next tick passes while the server is down
            time.sleep(0.2)
        running = start_configured_server(tmp_path, "")
        logs = running.client(service="logs")
        both = _wait_for(lambda: found if len(found := _events(logs, function)) >= 2 else None)
        time.sleep(2)  # give a wrongly repeated tick the chance to show
        assert (
            _events(logs, function)
            == both
            == [
                {"tick": start.strftime("%Y-%m-%dT%H:%M:%SZ")},
                {"tick": missed.strftime("%Y-%m-%dT%H:%M:%SZ")},
            ]
        )
    finally:
        running.stop()


@pytest.fixture
def sqs_server(tmp_path: Path, moto_endpoint: str) -> Iterator[RunningServer]:
    running = start_configured_server(tmp_path, f'aws_endpoint_url_sqs = "{moto_endpoint}"\nasync_retry_scale = 0.01\n')
    yield running
    running.stop()


@pytest.mark.slow
def test_a_schedule_whose_function_is_missing_dead_letters_to_sqs(
    sqs_server: RunningServer, moto_endpoint: str
) -> None:
    sqs = aws_client(moto_endpoint, "sqs")
    queue = f"dlq-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    scheduler = sqs_server.client(service="scheduler")
    name = _name()
    arn = _create(
        scheduler,
        name,
        "rate(1 hour)",
        Target=_target(
            "no-such-function",
            Input='{"hello": "<aws.scheduler.execution-id>"}',
            DeadLetterConfig={"Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}"},
        ),
    )

    def receive() -> list[dict[str, Any]] | None:
        found = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], WaitTimeSeconds=1)
        messages: list[dict[str, Any]] = found.get("Messages", [])
        return messages or None

    message = _wait_for(receive)[0]
    attributes = {key: value["StringValue"] for key, value in message["MessageAttributes"].items()}
    execution = attributes.pop("EXECUTION_ID")
    scheduled = attributes.pop("SCHEDULED_TIME")
    assert json.loads(message["Body"]) == {"hello": execution}
    assert datetime.strptime(scheduled, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) <= datetime.now(UTC)
    assert attributes == {
        "ERROR_CODE": "ResourceNotFoundException",
        "ERROR_MESSAGE": f"Function not found: {FUNCTION_ARN}no-such-function:$LATEST",
        "IS_PAYLOAD_TRUNCATED": "false",
        "RETRY_ATTEMPTS": "0",
        "SCHEDULE_ARN": arn,
        "TARGET_ARN": FUNCTION_ARN + "no-such-function",
    }
