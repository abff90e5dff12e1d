"""Asynchronous (Event) invocations through the real server: 202 after a durable commit, execution, retries,
event age, destinations, event invoke configurations."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import (
    RunningServer,
    create,
    error_of,
    http_receiver,
    make_zip,
    start_configured_server,
)

ARN = "arn:aws:lambda:us-east-1:000000000000:function:"
ECHO = "import json\ndef handler(event, context):\n    print('EVENT ' + json.dumps(event))\n    return event\n"
FAILING = (
    "def handler(event, context):\n"
    "    print('ATTEMPT', context.aws_request_id)\n"
    "    raise Exception('intentional failure')\n"
)


@pytest.fixture
def fast_server(tmp_path: Path) -> Iterator[RunningServer]:
    """A server whose async retry delays are 1/100 of Lambda's (0.6 s and 1.2 s instead of 60 s and 120 s)."""
    running = start_configured_server(tmp_path, "async_retry_scale = 0.01\n")
    yield running
    running.stop()


def log_lines(server: RunningServer, name: str) -> list[str]:
    with urllib.request.urlopen(f"{server.endpoint}/firebox/functions/{name}/logs?limit=10000", timeout=10) as r:
        return [e["message"] for e in json.loads(r.read())["events"]]


def wait_for(predicate: Any, seconds: float = 30.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("the condition did not hold in time")


def test_event_invocation_is_acknowledged_then_runs(fast_server: RunningServer) -> None:
    lam = fast_server.client()
    create(lam, "echo", make_zip({"app.py": ECHO}))
    response = lam.invoke(FunctionName="echo", InvocationType="Event", Payload=json.dumps({"n": 1}))
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    request_id = response["ResponseMetadata"]["RequestId"]
    lines = wait_for(
        lambda: [x for x in log_lines(fast_server, "echo") if x.startswith(f"START RequestId: {request_id}")]
    )
    assert lines == [f"START RequestId: {request_id} Version: $LATEST"], "ran once, with the acknowledged request id"
    assert 'EVENT {"n": 1}' in log_lines(fast_server, "echo")


def test_async_payload_limit(fast_server: RunningServer) -> None:
    lam = fast_server.client()
    create(lam, "echo", make_zip({"app.py": ECHO}))
    payload = json.dumps({"data": "x" * 1_048_576})
    with pytest.raises(ClientError) as exc:
        lam.invoke(FunctionName="echo", InvocationType="Event", Payload=payload)
    assert error_of(exc) == (
        "RequestEntityTooLargeException",
        f"{len(payload)} byte payload is too large for the Event invocation type (limit 1048576 bytes)",
        413,
    )


def test_function_errors_are_retried_twice_then_go_to_the_failure_destination(fast_server: RunningServer) -> None:
    lam = fast_server.client()
    create(lam, "failing", make_zip({"app.py": FAILING}))
    create(lam, "failures", make_zip({"app.py": ECHO}))
    lam.put_function_event_invoke_config(
        FunctionName="failing", DestinationConfig={"OnFailure": {"Destination": f"{ARN}failures"}}
    )
    request_id = lam.invoke(FunctionName="failing", InvocationType="Event", Payload=b'{"raise_error": 1}')[
        "ResponseMetadata"
    ]["RequestId"]
    record_line = wait_for(lambda: [x for x in log_lines(fast_server, "failures") if x.startswith("EVENT ")])[0]
    record = json.loads(record_line.removeprefix("EVENT "))
    assert record["version"] == "1.0"
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": f"{ARN}failing:$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 3,
    }
    assert record["requestPayload"] == {"raise_error": 1}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["responsePayload"]["errorMessage"] == "intentional failure"
    attempts = [x for x in log_lines(fast_server, "failing") if x.startswith("ATTEMPT")]
    assert attempts == [f"ATTEMPT {request_id}"] * 3, "three attempts, one request id"


def test_zero_retries_and_success_destination(fast_server: RunningServer) -> None:
    lam = fast_server.client()
    create(lam, "failing", make_zip({"app.py": FAILING}))
    create(lam, "echo", make_zip({"app.py": ECHO}))
    create(lam, "outcomes", make_zip({"app.py": ECHO}))
    lam.put_function_event_invoke_config(
        FunctionName="failing",
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": f"{ARN}outcomes"}},
    )
    lam.put_function_event_invoke_config(
        FunctionName="echo", DestinationConfig={"OnSuccess": {"Destination": f"{ARN}outcomes"}}
    )
    lam.invoke(FunctionName="failing", InvocationType="Event", Payload=b"{}")
    lam.invoke(FunctionName="echo", InvocationType="Event", Payload=b'{"ok": true}')
    records = wait_for(
        lambda: (lambda found: found if len(found) == 2 else None)(
            [json.loads(x.removeprefix("EVENT ")) for x in log_lines(fast_server, "outcomes") if x.startswith("EVENT ")]
        )
    )
    by_condition = {r["requestContext"]["condition"]: r for r in records}
    assert by_condition["RetriesExhausted"]["requestContext"]["approximateInvokeCount"] == 1
    assert by_condition["Success"]["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert by_condition["Success"]["responsePayload"] == {"ok": True}


def test_event_age_and_zero_reserved_concurrency(fast_server: RunningServer) -> None:
    lam = fast_server.client()
    create(lam, "failing", make_zip({"app.py": FAILING}))
    create(lam, "outcomes", make_zip({"app.py": ECHO}))
    lam.put_function_event_invoke_config(
        FunctionName="failing",
        MaximumEventAgeInSeconds=60,
        DestinationConfig={"OnFailure": {"Destination": f"{ARN}outcomes"}},
    )
    lam.update_function_event_invoke_config(FunctionName="failing", MaximumRetryAttempts=2)
    config = lam.get_function_event_invoke_config(FunctionName="failing")
    assert (config["MaximumEventAgeInSeconds"], config["MaximumRetryAttempts"]) == (60, 2), "Update merges"
    lam.put_function_concurrency(FunctionName="failing", ReservedConcurrentExecutions=0)
    lam.invoke(FunctionName="failing", InvocationType="Event", Payload=b"{}")
    record = json.loads(
        wait_for(lambda: [x for x in log_lines(fast_server, "outcomes") if x.startswith("EVENT ")])[0].removeprefix(
            "EVENT "
        )
    )
    assert record["requestContext"]["condition"] == "ZeroReservedConcurrency"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert "responseContext" not in record
    assert not [x for x in log_lines(fast_server, "failing") if x.startswith("ATTEMPT")], "never ran"


def test_event_invoke_config_api_and_errors(fast_server: RunningServer) -> None:
    lam = fast_server.client()
    create(lam, "f", make_zip({"app.py": ECHO}), Publish=True)
    create(lam, "target", make_zip({"app.py": ECHO}))
    put = lam.put_function_event_invoke_config(FunctionName="f", Qualifier="1", MaximumRetryAttempts=1)
    assert put["FunctionArn"] == f"{ARN}f:1"
    assert put["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {}}
    assert isinstance(put["LastModified"], type(put["LastModified"]))
    listed = lam.list_function_event_invoke_configs(FunctionName="f")["FunctionEventInvokeConfigs"]
    assert [c["FunctionArn"] for c in listed] == [f"{ARN}f:1"]

    def refused(**kwargs: Any) -> tuple[str, str, int]:
        with pytest.raises(ClientError) as exc:
            lam.put_function_event_invoke_config(**{"FunctionName": "f", **kwargs})
        return error_of(exc)

    assert refused() == (
        "InvalidParameterValueException",
        "You must specify at least one of error handling or destination setting.",
        400,
    )
    assert refused(DestinationConfig={"OnFailure": {"Destination": f"{ARN}f"}}) == (
        "InvalidParameterValueException",
        "You can't specify the function as a destination for itself.",
        400,
    )
    assert refused(DestinationConfig={"OnFailure": {"Destination": f"{ARN}nothing"}}) == (
        "InvalidParameterValueException",
        f"The destination ARN {ARN}nothing is invalid.",
        400,
    )
    assert refused(MaximumRetryAttempts=3)[0] == "ValidationException"
    assert refused(FunctionName="missing", MaximumRetryAttempts=1) == (
        "ResourceNotFoundException",
        "The function doesn't exist.",
        404,
    )
    with pytest.raises(ClientError) as exc:
        lam.get_function_event_invoke_config(FunctionName="f")
    assert error_of(exc) == (
        "ResourceNotFoundException",
        f"The function {ARN}f:$LATEST doesn't have an EventInvokeConfig",
        404,
    )
    lam.delete_function_event_invoke_config(FunctionName="f", Qualifier="1")
    assert lam.list_function_event_invoke_configs(FunctionName="f")["FunctionEventInvokeConfigs"] == []


def test_cli_async(fast_server: RunningServer) -> None:
    lam = fast_server.client()
    create(lam, "echo", make_zip({"app.py": ECHO}))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "firebox",
            "invoke",
            "--endpoint-url",
            fast_server.endpoint,
            "echo",
            "--async",
            "--payload",
            '{"from": "cli"}',
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("queued ")
    wait_for(lambda: 'EVENT {"from": "cli"}' in log_lines(fast_server, "echo"))


class _Hook(http.server.BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []
    failures_left = 0

    def do_POST(self) -> None:  # noqa: N802 - the standard library's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if _Hook.failures_left > 0:
            _Hook.failures_left -= 1
            self.send_response(503)
            self.end_headers()
            return
        _Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    _Hook.received = []
    _Hook.failures_left = 2
    with http_receiver(_Hook) as url:
        yield url + "/hook"


def test_webhook_destination_is_retried_until_delivered(fast_server: RunningServer, webhook: str) -> None:
    lam = fast_server.client()
    create(lam, "echo", make_zip({"app.py": ECHO}))
    lam.put_function_event_invoke_config(FunctionName="echo", DestinationConfig={"OnSuccess": {"Destination": webhook}})
    assert lam.get_function_event_invoke_config(FunctionName="echo")["DestinationConfig"]["OnSuccess"] == {
        "Destination": webhook
    }
    request_id = lam.invoke(FunctionName="echo", InvocationType="Event", Payload=b'{"hook": 1}')["ResponseMetadata"][
        "RequestId"
    ]
    wait_for(lambda: _Hook.received)
    assert _Hook.failures_left == 0, "the two refused deliveries were retried"
    (record,) = _Hook.received
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "Success"
    assert record["responsePayload"] == {"hook": 1}


def test_a_retry_that_would_outlive_the_event_age_is_event_age_exceeded(own_server: RunningServer) -> None:
    """At Lambda's own pace (no scaling) the first retry would come 60 s after a failure; with an event age of 60 s
    it would be too old, so the event takes the failure path at once with EventAgeExceeded."""
    lam = own_server.client()
    create(lam, "failing", make_zip({"app.py": FAILING}))
    create(lam, "outcomes", make_zip({"app.py": ECHO}))
    lam.put_function_event_invoke_config(
        FunctionName="failing",
        MaximumEventAgeInSeconds=60,
        MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": f"{ARN}outcomes"}},
    )
    lam.invoke(FunctionName="failing", InvocationType="Event", Payload=b"{}")
    line = wait_for(lambda: [x for x in log_lines(own_server, "outcomes") if x.startswith("EVENT ")])[0]
    record = json.loads(line.removeprefix("EVENT "))
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["responseContext"]["functionError"] == "Unhandled"
