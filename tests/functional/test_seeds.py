"""The specification's own handlers, run unchanged.

Each case names a Python code block in `../shared/seeds/` by file and the line its code starts on; the test reads
the block from the seed at run time (nothing is copied here), deploys it with the configuration the seed describes,
invokes it and checks the behaviour the seed says it has. The cases are the seed handlers that run with the
standard library alone; the others need third-party packages or AWS services Firebox does not host (S3, DynamoDB,
...).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import create, make_zip

SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"

pytestmark = pytest.mark.skipif(not SEEDS.is_dir(), reason="the seeds live in ../shared/seeds beside the repository")


def seed_block(prefix: str, line: int) -> str:
    """The code of the ```python block whose first line is `line` (1-based) in the seed starting with `prefix`."""
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    lines = path.read_text().split("\n")
    assert lines[line - 2].strip().startswith("```python"), f"{path.name}:{line} does not start a python block"
    end = next(i for i in range(line - 1, len(lines)) if lines[i].strip().startswith("```"))
    return "\n".join(lines[line - 1 : end]) + "\n"


@dataclass
class Case:
    seed: str
    line: int
    check: Callable[[Any, dict[str, Any], str], None]
    event: Any = field(default_factory=dict)
    module: str = "lambda_function"
    settings: dict[str, Any] = field(default_factory=dict)


def ok_200(result: Any, response: dict[str, Any], log: str) -> None:
    assert "FunctionError" not in response, result
    assert result["statusCode"] == 200


def hello(result: Any, response: dict[str, Any], log: str) -> None:
    assert result == {"statusCode": 200, "body": json.dumps("Hello Firebox!")}


def timed_out(result: Any, response: dict[str, Any], log: str) -> None:
    assert response["FunctionError"] == "Unhandled"
    assert result["errorType"] == "Sandbox.Timedout"
    assert result["errorMessage"].endswith("Task timed out after 5.00 seconds")
    assert "Task timed out after 5.00 seconds" in log


def timeout_demo_partial(result: Any, response: dict[str, Any], log: str) -> None:
    assert result["statusCode"] == 206, "the demo saves its progress before the 5 s timeout"
    assert json.loads(result["body"])["message"] == "Partial completion"
    assert "WARNING: Running out of time! Saving progress..." in log


def memory_test(result: Any, response: dict[str, Any], log: str) -> None:
    body = json.loads(result["body"])
    assert body["iterations"] == 1000 and body["memoryMB"] == 512
    assert "Allocated memory: 512 MB" in log


def reserved_variables(result: Any, response: dict[str, Any], log: str) -> None:
    assert result == {"statusCode": 200}
    assert "in us-east-1 with 128MB memory" in log


def env_config(result: Any, response: dict[str, Any], log: str) -> None:
    ok_200(result, response, log)
    assert "✅ Bucket: my-bucket" in log and "Stage: prod" in log and "- Memory: 128MB" in log


def structured_log(result: Any, response: dict[str, Any], log: str) -> None:
    assert result is None
    line = next(json.loads(x) for x in log.splitlines() if x.startswith("{"))
    assert line["request_id"] == response["ResponseMetadata"]["RequestId"] and line["user_id"] == "u1"


def processed(result: Any, response: dict[str, Any], log: str) -> None:
    assert result == {"statusCode": 200, "body": json.dumps("Processed data: VALUE")}
    assert "\tProcessed value: VALUE" in log


def returns_none(result: Any, response: dict[str, Any], log: str) -> None:
    assert "FunctionError" not in response, result
    assert result is None


CASES = {
    "timeout-error-example": Case("000", 245, timed_out, settings={"Timeout": 5}),
    "timeout-demo": Case("000", 484, timeout_demo_partial, {"processingTime": 10}, "timeout_demo", {"Timeout": 5}),
    "memory-test": Case("000", 1208, memory_test, {"iterations": 1000}, "memory_test", {"MemorySize": 512}),
    "environment-variables": Case(
        "000",
        1423,
        returns_none,
        settings={"Environment": {"Variables": {"BUCKET_NAME": "b", "API_KEY": "k", "DB_HOST": "h"}}},
    ),
    "accessing-environment": Case(
        "000",
        1573,
        lambda r, resp, log: ok_200(r, resp, log) if "Debug mode enabled: yes" in log else pytest.fail(log),
        settings={"Environment": {"Variables": {"BUCKET_NAME": "b", "DEBUG": "yes"}}},
    ),
    "reserved-variables": Case("000", 1670, reserved_variables),
    "env-config-exercise": Case(
        "000",
        1994,
        env_config,
        module="env_config",
        settings={"Environment": {"Variables": {"BUCKET_NAME": "my-bucket", "TABLE_NAME": "t", "STAGE": "prod"}}},
    ),
    "function-anatomy": Case("001", 49, hello, {"name": "Firebox"}),
    "tmp-storage": Case("001", 112, lambda r, resp, log: ok_200(r, resp, log)),
    "structured-logging": Case("001", 840, structured_log, {"user_id": "u1"}),
    "environment-at-import": Case(
        "001", 1296, returns_none, settings={"Environment": {"Variables": {"DB_HOST": "h", "API_KEY": "k"}}}
    ),
    "logging-example": Case("004", 1047, processed, {"key": "value"}),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_seed_handler_runs_unchanged(lam: Any, name: str, case: Case) -> None:
    code = make_zip({f"{case.module}.py": seed_block(case.seed, case.line)})
    create(lam, name, code, Handler=f"{case.module}.lambda_handler", **case.settings)
    response = lam.invoke(FunctionName=name, Payload=json.dumps(case.event), LogType="Tail")
    body = response["Payload"].read()
    result = json.loads(body) if body else None
    case.check(result, response, base64.b64decode(response["LogResult"]).decode())
