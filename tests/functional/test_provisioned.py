"""Provisioned concurrency through the real server: READY when initialised, used first (no cold start), spill-over
to on-demand environments, released when lowered or deleted."""

from __future__ import annotations

import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import create, error_of, make_zip

SOURCE = (
    "import os, time\n"
    "def handler(event, context):\n"
    "    time.sleep(event.get('sleep', 0))\n"
    "    return [os.environ['AWS_LAMBDA_INITIALIZATION_TYPE'], context.log_stream_name]\n"
)


def ready(lam: Any, name: str, qualifier: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        config: dict[str, Any] = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier)
        if config["Status"] == "READY":
            return config
        time.sleep(0.1)
    raise AssertionError("provisioned concurrency did not become READY")


def run(lam: Any, name: str, qualifier: str, sleep: float = 0) -> tuple[list[str], str]:
    response = lam.invoke(FunctionName=name, Qualifier=qualifier, Payload=json.dumps({"sleep": sleep}), LogType="Tail")
    return json.loads(response["Payload"].read()), base64.b64decode(response["LogResult"]).decode()


def test_provisioned_environments_serve_without_cold_starts(lam: Any, name: str) -> None:
    create(lam, name, make_zip({"app.py": SOURCE}), Publish=True)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    put = lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=2)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert put["RequestedProvisionedConcurrentExecutions"] == 2
    config = ready(lam, name, "live")
    assert (config["AvailableProvisionedConcurrentExecutions"], config["AllocatedProvisionedConcurrentExecutions"]) == (
        2,
        2,
    )
    result, log = run(lam, name, "live")
    assert result[0] == "provisioned-concurrency"
    assert "Init Duration" not in log, "no cold start"
    with ThreadPoolExecutor(max_workers=3) as pool:
        outcomes = list(pool.map(lambda _: run(lam, name, "live", 1.0), range(3)))
    kinds = sorted(result[0] for result, _ in outcomes)
    assert kinds == ["on-demand", "provisioned-concurrency", "provisioned-concurrency"], "the third spilled over"
    listed = lam.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"]
    assert [c["FunctionArn"].rsplit(":", 1)[1] for c in listed] == ["live"]
    lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
    with pytest.raises(ClientError) as exc:
        lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
    assert error_of(exc) == (
        "ProvisionedConcurrencyConfigNotFoundException",
        "No Provisioned Concurrency Config found for this function",
        404,
    )


def test_provisioned_concurrency_rules(lam: Any, name: str) -> None:
    create(lam, name, make_zip({"app.py": SOURCE}), Publish=True)
    with pytest.raises(ClientError) as exc:
        lam.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="$LATEST", ProvisionedConcurrentExecutions=1
        )
    assert error_of(exc) == (
        "InvalidParameterValueException",
        "Provisioned Concurrency Configs cannot be applied to unpublished function versions.",
        400,
    )
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    with pytest.raises(ClientError) as exc:
        lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=2)
    assert error_of(exc)[1] == (
        "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function"
    )
    with pytest.raises(ClientError) as exc:
        lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="9", ProvisionedConcurrentExecutions=1)
    assert error_of(exc)[2] == 404
