"""SQS destinations and dead-letter queues, against an SQS-compatible server (moto, in server mode) started here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import RunningServer, create, free_port, make_zip, start_configured_server

ARN = "arn:aws:lambda:us-east-1:000000000000:function:"
FAILING = "def handler(event, context):\n    raise ValueError('it went wrong')\n"
ECHO = "def handler(event, context):\n    return event\n"


@pytest.fixture(scope="module")
def sqs_endpoint() -> Iterator[str]:
    moto = shutil.which("moto_server", path=os.path.dirname(sys.executable))
    assert moto, "moto[server] is installed by `make test`"
    port = free_port()
    process = subprocess.Popen(
        [moto, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    endpoint = f"http://127.0.0.1:{port}"
    client = _sqs(endpoint)
    deadline = time.monotonic() + 30
    while True:
        try:
            client.list_queues()
            break
        except Exception:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.2)
    yield endpoint
    process.terminate()
    process.wait(timeout=10)


def _sqs(endpoint: str) -> Any:
    return boto3.client(
        "sqs", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )


@pytest.fixture
def server(tmp_path: Path, sqs_endpoint: str) -> Iterator[RunningServer]:
    running = start_configured_server(tmp_path, f'async_retry_scale = 0.01\nsqs_endpoint = "{sqs_endpoint}"\n')
    yield running
    running.stop()


def _receive(client: Any, url: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        messages = client.receive_message(QueueUrl=url, MessageAttributeNames=["All"], WaitTimeSeconds=1).get(
            "Messages", []
        )
        if messages:
            message: dict[str, Any] = messages[0]
            return message
    raise AssertionError("no message arrived")


def test_failure_destination_and_dead_letter_queue_on_sqs(server: RunningServer, sqs_endpoint: str) -> None:
    sqs = _sqs(sqs_endpoint)
    failures = sqs.create_queue(QueueName="failures")["QueueUrl"]
    dlq = sqs.create_queue(QueueName="dead-letters")["QueueUrl"]
    lam = server.client()
    create(
        lam,
        "failing",
        make_zip({"app.py": FAILING}),
        DeadLetterConfig={"TargetArn": "arn:aws:sqs:us-east-1:123456789012:dead-letters"},
    )
    lam.put_function_event_invoke_config(
        FunctionName="failing",
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:123456789012:failures"}},
    )
    payload = b'{"order": 42}'
    request_id = lam.invoke(FunctionName="failing", InvocationType="Event", Payload=payload)["ResponseMetadata"][
        "RequestId"
    ]
    record = json.loads(_receive(sqs, failures)["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responsePayload"]["errorType"] == "ValueError"
    dead = _receive(sqs, dlq)
    assert dead["Body"] == payload.decode(), "the original payload, byte for byte"
    attributes = {k: (v["DataType"], v["StringValue"]) for k, v in dead["MessageAttributes"].items()}
    assert attributes == {
        "RequestID": ("String", request_id),
        "ErrorCode": ("Number", "200"),
        "ErrorMessage": ("String", "it went wrong"),
    }


def test_success_destination_on_sqs(server: RunningServer, sqs_endpoint: str) -> None:
    sqs = _sqs(sqs_endpoint)
    successes = sqs.create_queue(QueueName="successes")["QueueUrl"]
    lam = server.client()
    create(lam, "echo", make_zip({"app.py": ECHO}))
    lam.put_function_event_invoke_config(
        FunctionName="echo",
        DestinationConfig={"OnSuccess": {"Destination": "arn:aws:sqs:us-east-1:123456789012:successes"}},
    )
    lam.invoke(FunctionName="echo", InvocationType="Event", Payload=b'{"fine": true}')
    record = json.loads(_receive(sqs, successes)["Body"])
    assert record["requestContext"]["condition"] == "Success"
    assert record["responsePayload"] == {"fine": True}


def test_unsupported_dead_letter_targets_are_refused(server: RunningServer) -> None:
    from botocore.exceptions import ClientError

    lam = server.client()
    with pytest.raises(ClientError) as exc:
        create(
            lam,
            "s3-dlq",
            make_zip({"app.py": ECHO}),
            DeadLetterConfig={"TargetArn": "arn:aws:s3:::a-bucket"},
        )
    assert exc.value.response["Error"]["Code"] == "InvalidParameterValueException"
