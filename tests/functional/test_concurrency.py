"""Reserved concurrency and throttling through the real server."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import RunningServer, create, error_of, make_zip, start_configured_server

SLEEPY = "import time\ndef handler(event, context):\n    time.sleep(event.get('sleep', 0))\n    return 'done'\n"


def attempt(lam: Any, name: str, sleep: float) -> str:
    """'done', the throttling Reason, or what else came back (so a test can show the server's log with it)."""
    try:
        response = lam.invoke(FunctionName=name, Payload=json.dumps({"sleep": sleep}))
        return str(json.loads(response["Payload"].read()))
    except ClientError as exc:
        response = exc.response
    error, status = response["Error"], response["ResponseMetadata"]["HTTPStatusCode"]
    if (error["Code"], error["Message"], status) != ("TooManyRequestsException", "Rate Exceeded.", 429):
        return f"unexpected {status} {error['Code']}: {error['Message']}"
    return str(response["Reason"])


def test_reserved_concurrency_round_trip_and_account_figures(own_server: RunningServer) -> None:
    lam = own_server.client()
    create(lam, "reserved", make_zip({"app.py": SLEEPY}))
    assert lam.get_function_concurrency(FunctionName="reserved").get("ReservedConcurrentExecutions") is None
    assert (
        lam.put_function_concurrency(FunctionName="reserved", ReservedConcurrentExecutions=25)[
            "ReservedConcurrentExecutions"
        ]
        == 25
    )
    assert lam.get_function_concurrency(FunctionName="reserved")["ReservedConcurrentExecutions"] == 25
    assert lam.get_function(FunctionName="reserved")["Concurrency"] == {"ReservedConcurrentExecutions": 25}
    limits = lam.get_account_settings()["AccountLimit"]
    assert (limits["ConcurrentExecutions"], limits["UnreservedConcurrentExecutions"]) == (1000, 975)
    with pytest.raises(ClientError) as exc:
        lam.put_function_concurrency(FunctionName="reserved", ReservedConcurrentExecutions=901)
    assert error_of(exc) == (
        "InvalidParameterValueException",
        "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution "
        "below its minimum value of [100].",
        400,
    )
    assert "Type" not in exc.value.response, "AWS sends this refusal without a Type"
    with pytest.raises(ClientError) as exc:
        lam.put_function_concurrency(FunctionName="reserved:$LATEST", ReservedConcurrentExecutions=1)
    assert error_of(exc)[1].startswith("This operation is permitted on Lambda functions only.")
    lam.delete_function_concurrency(FunctionName="reserved")
    assert "Concurrency" not in lam.get_function(FunctionName="reserved")
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 1000


def test_reserved_zero_throttles_everything(lam: Any, name: str) -> None:
    create(lam, name, make_zip({"app.py": SLEEPY}))
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    assert attempt(lam, name, 0) == "ReservedFunctionConcurrentInvocationLimitExceeded"
    lam.delete_function_concurrency(FunctionName=name)
    assert attempt(lam, name, 0) == "done"


def test_reserved_one_admits_one_at_a_time(lam: Any, name: str) -> None:
    create(lam, name, make_zip({"app.py": SLEEPY}))
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    assert attempt(lam, name, 0) == "done", "warm the environment"
    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = sorted(pool.map(lambda _: attempt(lam, name, 1.5), range(4)))
    assert outcomes.count("done") == 1
    assert outcomes.count("ReservedFunctionConcurrentInvocationLimitExceeded") == 3


@pytest.mark.slow
def test_the_account_limit_throttles_unreserved_functions(tmp_path: Path) -> None:
    running = start_configured_server(tmp_path, "concurrency_limit = 100\n")
    try:
        lam = running.client()
        create(lam, "busy", make_zip({"app.py": SLEEPY}), Timeout=30)
        with ThreadPoolExecutor(max_workers=110) as pool:
            outcomes = list(pool.map(lambda _: attempt(lam, "busy", 4), range(110)))
    finally:
        _, output = running.stop()
    assert sorted(set(outcomes)) == ["ConcurrentInvocationLimitExceeded", "done"], (outcomes, output)
    assert outcomes.count("ConcurrentInvocationLimitExceeded") == 10, output
    assert outcomes.count("done") == 100
