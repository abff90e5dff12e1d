"""Invoke through the real server with boto3: results, errors, logs, lifecycle and limits."""

from __future__ import annotations

import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import RUNTIME, RunningServer, create, error_of, make_zip


def deploy(lam: Any, name: str, source: str, handler: str = "app.handler", **settings: Any) -> None:
    create(
        lam, name, make_zip({handler.rsplit(".", 1)[0].replace(".", "/") + ".py": source}), Handler=handler, **settings
    )


def invoke(lam: Any, name: str, event: Any = None, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event if event is not None else {}), **kwargs)
    body = response["Payload"].read()
    return (json.loads(body) if body else None), response


def tail(response: dict[str, Any]) -> str:
    return base64.b64decode(response["LogResult"]).decode()


HELLO = """
import json
def handler(event, context):
    print("Received event: " + json.dumps(event))
    return {"statusCode": 200, "body": json.dumps("Hello from Lambda!")}
"""


def test_hello_world_with_log_tail(lam: Any, name: str) -> None:
    deploy(lam, name, HELLO)
    result, response = invoke(lam, name, {"key": "value"}, LogType="Tail")
    assert result == {"statusCode": 200, "body": '"Hello from Lambda!"'}
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    lines = tail(response).splitlines()
    request_id = response["ResponseMetadata"]["RequestId"]
    assert lines[0] == f"START RequestId: {request_id} Version: $LATEST"
    assert lines[1] == 'Received event: {"key": "value"}'
    assert lines[2] == f"END RequestId: {request_id}"
    report = lines[3].split("\t")
    assert report[0] == f"REPORT RequestId: {request_id}"
    assert report[1].startswith("Duration: ") and report[1].endswith(" ms")
    assert report[2].startswith("Billed Duration: ")
    assert report[3] == "Memory Size: 128 MB"
    assert report[4].startswith("Max Memory Used: ")
    assert report[5].startswith("Init Duration: "), "the first invocation is a cold start"
    _, warm = invoke(lam, name, {}, LogType="Tail")
    assert "Init Duration" not in tail(warm)


CONTEXT = """
import os
def handler(event, context):
    return {
        "aws_request_id": context.aws_request_id,
        "request_id": context.request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
        "client_context": context.client_context and context.client_context.custom,
        "identity": context.identity.cognito_identity_id,
        "env": {k: v for k, v in os.environ.items()},
        "cwd": os.getcwd(),
    }
"""


def test_context_and_environment_variables(lam: Any, name: str) -> None:
    deploy(lam, name, CONTEXT, Timeout=7, MemorySize=256, Environment={"Variables": {"STAGE": "test", "TZ": "UTC"}})
    client_context = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    result, response = invoke(lam, name, {}, ClientContext=client_context)
    assert "FunctionError" not in response, result
    assert result["aws_request_id"] == result["request_id"] == response["ResponseMetadata"]["RequestId"]
    assert result["function_name"] == name
    assert result["function_version"] == "$LATEST"
    assert result["invoked_function_arn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert result["memory_limit_in_mb"] == 256
    assert result["log_group_name"] == f"/aws/lambda/{name}"
    assert "[$LATEST]" in result["log_stream_name"]
    assert 6000 < result["remaining"] <= 7000
    assert result["client_context"] == {"k": "v"}
    assert result["identity"] is None
    env = result["env"]
    assert env["STAGE"] == "test"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == result["log_stream_name"]
    assert env["AWS_EXECUTION_ENV"] == f"AWS_Lambda_{RUNTIME}"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["_HANDLER"] == "app.handler"
    assert env["LAMBDA_TASK_ROOT"] == result["cwd"]
    assert env["LAMBDA_RUNTIME_DIR"] == "/var/runtime"
    assert env["TZ"] == "UTC"
    assert env["AWS_ENDPOINT_URL_LAMBDA"].startswith("http://127.0.0.1:")


STATEFUL = """
import os
COUNTER = 0
def handler(event, context):
    global COUNTER
    COUNTER += 1
    path = os.path.join("/tmp", "seen.txt")
    with open(path, "a") as f:
        f.write("x")
    with open(path) as f:
        seen = len(f.read())
    if event.get("sleep"):
        import time
        time.sleep(event["sleep"])
    return {"counter": COUNTER, "tmp": seen}
"""


def test_globals_and_tmp_survive_warm_invocations_and_tmp_survives_a_timeout(lam: Any, name: str) -> None:
    deploy(lam, name, STATEFUL, Timeout=1)
    assert invoke(lam, name)[0] == {"counter": 1, "tmp": 1}
    assert invoke(lam, name)[0] == {"counter": 2, "tmp": 2}
    result, response = invoke(lam, name, {"sleep": 5}, LogType="Tail")
    assert response["FunctionError"] == "Unhandled"
    request_id = response["ResponseMetadata"]["RequestId"]
    assert result == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {request_id} Error: Task timed out after 1.00 seconds",
    }
    log = tail(response)
    assert f"{request_id} Task timed out after 1.00 seconds" in log
    assert "\tStatus: timeout" in log
    # the runtime was reset: globals start again, /tmp is kept
    assert invoke(lam, name)[0] == {"counter": 1, "tmp": 4}


def test_handler_exception_payload(lam: Any, name: str) -> None:
    deploy(lam, name, "def handler(event, context):\n    raise Exception('Handler fails')\n")
    result, response = invoke(lam, name, LogType="Tail")
    assert response["FunctionError"] == "Unhandled"
    assert response["StatusCode"] == 200
    assert list(result) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert result["errorMessage"] == "Handler fails"
    assert result["errorType"] == "Exception"
    assert result["requestId"] == response["ResponseMetadata"]["RequestId"]
    assert result["stackTrace"][0].startswith('  File "')
    assert 'app.py", line 2, in handler' in result["stackTrace"][0]
    assert "[ERROR] Exception: Handler fails" in tail(response)


@pytest.mark.parametrize(
    ("files", "handler", "error_type", "message"),
    [
        (
            {"app.py": "import not_a_module\n"},
            "app.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'app': No module named 'not_a_module'",
        ),
        (
            {"other.py": "X = 1\n"},
            "app.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'app': No module named 'app'",
        ),
        ({"app.py": "def handler(:\n"}, "app.handler", "Runtime.UserCodeSyntaxError", "Syntax error in module 'app': "),
        ({"app.py": "X = 1\n"}, "app.handler", "Runtime.HandlerNotFound", "Handler 'handler' missing on module 'app'"),
        (
            {"app.py": "X = 1\n"},
            "apphandler",
            "Runtime.MalformedHandlerName",
            "Bad handler 'apphandler': not enough values to unpack (expected 2, got 1)",
        ),
        ({"app.py": "raise ValueError('at import')\n"}, "app.handler", "ValueError", "at import"),
    ],
)
def test_init_errors(lam: Any, name: str, files: dict[str, str], handler: str, error_type: str, message: str) -> None:
    create(lam, name, make_zip(files), Handler=handler)
    for _ in range(2):  # a failed init is retried by the next invocation, and fails the same way
        result, response = invoke(lam, name, LogType="Tail")
        assert response["FunctionError"] == "Unhandled"
        assert result["errorType"] == error_type
        assert result["errorMessage"].startswith(message)
        assert result["requestId"] == ""


def test_handler_in_a_package_directory(lam: Any, name: str) -> None:
    code = make_zip({"pkg/__init__.py": "", "pkg/mod.py": "def go(event, context):\n    return event['n'] * 2\n"})
    create(lam, name, code, Handler="pkg/mod.go")
    assert invoke(lam, name, {"n": 21})[0] == 42


def test_marshal_error_and_none(lam: Any, name: str) -> None:
    source = (
        "import datetime\n"
        "def handler(event, context):\n"
        "    return None if event.get('none') else datetime.datetime(2024, 1, 1)\n"
    )
    deploy(lam, name, source)
    result, response = invoke(lam, name)
    assert response["FunctionError"] == "Unhandled"
    assert result["errorType"] == "Runtime.MarshalError"
    assert result["errorMessage"] == "Unable to marshal response: Object of type datetime is not JSON serializable"
    assert invoke(lam, name, {"none": True})[0] is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("import sys; sys.exit(0)", "Runtime exited without providing a reason"),
        ("import os; os._exit(3)", "Runtime exited with error: exit status 3"),
        ("import ctypes; ctypes.string_at(0)", "Runtime exited with error: signal: segmentation fault"),
    ],
)
def test_crashes_are_exit_errors_and_the_next_invocation_works(lam: Any, name: str, body: str, message: str) -> None:
    deploy(lam, name, f"def handler(event, context):\n    if event.get('crash'):\n        {body}\n    return 'fine'\n")
    result, response = invoke(lam, name, {"crash": True})
    request_id = response["ResponseMetadata"]["RequestId"]
    assert response["FunctionError"] == "Unhandled"
    assert result == {"errorType": "Runtime.ExitError", "errorMessage": f"RequestId: {request_id} Error: {message}"}
    assert invoke(lam, name)[0] == "fine"


def test_utf8_output_and_payload(lam: Any, name: str) -> None:
    deploy(lam, name, "def handler(event, context):\n    print('héllo ✓ 🚀')\n    return {'echo': event['s']}\n")
    result, response = invoke(lam, name, {"s": "ünïcödé ✓"}, LogType="Tail")
    assert result == {"echo": "ünïcödé ✓"}
    assert "héllo ✓ 🚀" in tail(response)


def test_logging_format(lam: Any, name: str) -> None:
    source = (
        "import logging\n"
        "logger = logging.getLogger()\n"
        "logger.setLevel(logging.INFO)\n"
        "def handler(event, context):\n"
        "    logger.info('Processed data: %s', 'VALUE')\n"
        "    logging.debug('hidden')\n"
        "    return 1\n"
    )
    deploy(lam, name, source)
    _, response = invoke(lam, name, LogType="Tail")
    request_id = response["ResponseMetadata"]["RequestId"]
    line = next(line for line in tail(response).splitlines() if line.startswith("[INFO]"))
    level, stamp, rid, message = line.split("\t")
    assert (level, rid, message) == ("[INFO]", request_id, "Processed data: VALUE")
    assert stamp.endswith("Z") and "T" in stamp
    assert "hidden" not in tail(response)


def test_a_fake_report_line_cannot_disturb_the_real_one(lam: Any, name: str) -> None:
    deploy(lam, name, "def handler(e, c):\n    print('REPORT RequestId: fake\\tDuration: 1.00 ms')\n    return 1\n")
    _, response = invoke(lam, name, LogType="Tail")
    reports = [line for line in tail(response).splitlines() if line.startswith("REPORT")]
    assert len(reports) == 2
    assert reports[-1].startswith(f"REPORT RequestId: {response['ResponseMetadata']['RequestId']}\t")


def test_configuration_change_is_seen_by_the_next_invocation(lam: Any, name: str) -> None:
    source = "import os\nV = os.environ.get('COLOUR')\ndef handler(e, c):\n    return [V, os.environ.get('COLOUR')]\n"
    deploy(lam, name, source, Environment={"Variables": {"COLOUR": "red"}})
    assert invoke(lam, name)[0] == ["red", "red"]
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"COLOUR": "blue"}})
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    assert invoke(lam, name)[0] == ["blue", "blue"]
    lam.update_function_code(FunctionName=name, ZipFile=make_zip({"app.py": "def handler(e, c):\n    return 'v2'\n"}))
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    assert invoke(lam, name)[0] == "v2"


def test_concurrent_invocations_get_their_own_environments(lam: Any, name: str) -> None:
    source = "import os, time\ndef handler(e, c):\n    time.sleep(0.5)\n    return c.log_stream_name\n"
    deploy(lam, name, source)
    with ThreadPoolExecutor(max_workers=50) as pool:
        streams = list(pool.map(lambda _: invoke(lam, name)[0], range(50)))
    assert len(set(streams)) == 50


def test_handler_can_invoke_another_function_with_boto3(lam: Any, name: str) -> None:
    deploy(lam, name + "-callee", "def handler(e, c):\n    return {'doubled': e['n'] * 2}\n")
    caller = (
        "import json, boto3\n"
        "client = boto3.client('lambda')\n"
        "def handler(event, context):\n"
        f"    r = client.invoke(FunctionName='{name}-callee', Payload=json.dumps({{'n': event['n']}}))\n"
        "    return json.loads(r['Payload'].read())\n"
    )
    deploy(lam, name, caller, Timeout=30)
    assert invoke(lam, name, {"n": 4})[0] == {"doubled": 8}


def test_dry_run_checks_existence_only(lam: Any, name: str) -> None:
    deploy(lam, name, "def handler(e, c):\n    raise SystemExit('must not run')\n")
    response = lam.invoke(FunctionName=name, InvocationType="DryRun")
    assert response["StatusCode"] == 204
    assert response["Payload"].read() == b""
    with pytest.raises(ClientError) as exc:
        lam.invoke(FunctionName=name + "-missing", InvocationType="DryRun")
    assert error_of(exc) == (
        "ResourceNotFoundException",
        f"Function not found: arn:aws:lambda:us-east-1:000000000000:function:{name}-missing:$LATEST",
        404,
    )


def test_payload_limits_and_bad_json(lam: Any, name: str) -> None:
    source = "def handler(e, c):\n    if e.get('big'):\n        return 'x' * 6291557\n    return len(str(e))\n"
    deploy(lam, name, source)
    big = json.dumps({"data": "x" * 6_291_456})
    with pytest.raises(ClientError) as exc:
        lam.invoke(FunctionName=name, Payload=big)
    assert error_of(exc) == (
        "RequestEntityTooLargeException",
        f"{len(big)} byte payload is too large for the RequestResponse invocation type (limit 6291456 bytes)",
        413,
    )
    result, response = invoke(lam, name, {"big": True})
    assert response["FunctionError"] == "Unhandled"
    assert result == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }
    with pytest.raises(ClientError) as exc:
        lam.invoke(FunctionName=name, Payload=b"{not json")
    code, message, status = error_of(exc)
    assert (code, status) == ("InvalidRequestContentException", 400)
    assert message.startswith("Could not parse request body into json: Could not parse payload into json: ")


def test_logs_are_stored_per_function_and_stream(server: RunningServer, lam: Any, name: str) -> None:
    deploy(lam, name, "def handler(e, c):\n    print('stored line')\n    return 1\n")
    _, response = invoke(lam, name)
    request_id = response["ResponseMetadata"]["RequestId"]
    import urllib.request

    with urllib.request.urlopen(f"{server.endpoint}/firebox/functions/{name}/logs", timeout=10) as r:
        events = json.loads(r.read())["events"]
    messages = [e["message"] for e in events]
    assert messages[0].startswith("INIT_START Runtime Version: ")
    assert f"START RequestId: {request_id} Version: $LATEST" in messages
    assert "stored line" in messages
    assert messages[-1].startswith(f"REPORT RequestId: {request_id}\t")
    assert {e["logStreamName"] for e in events} == {events[0]["logStreamName"]}


def test_three_second_timeout_is_enforced(lam: Any, name: str) -> None:
    deploy(lam, name, "import time\ndef handler(e, c):\n    time.sleep(10)\n    return 'slept'\n", Timeout=3)
    result, response = invoke(lam, name, LogType="Tail")
    assert result["errorType"] == "Sandbox.Timedout"
    assert result["errorMessage"].endswith("Task timed out after 3.00 seconds")
    assert "\tStatus: timeout" in tail(response)


def test_idle_environments_are_retired(tmp_path: Any) -> None:
    from tests.conftest import start_server

    running = start_server(tmp_path / "data", "--config", str(_idle_config(tmp_path)))
    try:
        lam = running.client()
        deploy(lam, "idle", STATEFUL)
        assert invoke(lam, "idle")[0]["counter"] == 1
        assert invoke(lam, "idle")[0]["counter"] == 2, "warm while in use"
        time.sleep(2.5)
        _, response = invoke(lam, "idle", LogType="Tail")
        assert "Init Duration" in tail(response), "the idle environment was retired: this was a cold start"
    finally:
        running.stop()


def _idle_config(tmp_path: Any) -> Any:
    path = tmp_path / "firebox.toml"
    path.write_text("environment_idle_ttl = 1.0\nshutdown_grace = 0.5\n")
    return path


def test_builtin_module_conflict(lam: Any, name: str) -> None:
    create(lam, name, make_zip({"app.py": "X = 1\n"}), Handler="sys.handler")
    result, response = invoke(lam, name)
    assert response["FunctionError"] == "Unhandled"
    assert result["errorType"] == "Runtime.BuiltInModuleConflict"
    assert result["errorMessage"] == "Cannot use built-in module sys as a handler module"


@pytest.mark.slow
def test_an_init_over_ten_seconds_is_retried_inside_the_first_invocation(lam: Any, name: str) -> None:
    source = "import time\ntime.sleep(11)\ndef handler(event, context):\n    return 'initialised'\n"
    create(lam, name, make_zip({"app.py": source}), Timeout=30)
    result, response = invoke(lam, name, LogType="Tail")
    assert result == "initialised", "the second INIT, under the function's 30 s timeout, succeeds"
    assert "Init Duration" not in tail(response), "the suppressed init counts in Duration, not as Init Duration"
    report = next(line for line in tail(response).splitlines() if line.startswith("REPORT"))
    assert float(report.split("\tDuration: ")[1].split(" ms")[0]) > 10_000


def test_process_sandbox_runs_functions_and_says_what_it_does_not_isolate(tmp_path: Any) -> None:
    from tests.conftest import start_server

    running = start_server(tmp_path / "data", "--sandbox", "process")
    try:
        lam = running.client()
        deploy(lam, "plain", CONTEXT)
        result, response = invoke(lam, "plain")
        assert "FunctionError" not in response, result
        assert result["function_name"] == "plain"
    finally:
        code, output = running.stop()
    assert code == 0
    assert "sandbox: process sandbox" in output and "NO memory/CPU limits" in output
