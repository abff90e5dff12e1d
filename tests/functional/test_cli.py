"""The `firebox` client commands and the AWS CLI v1, each against a real server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROLE, RUNTIME, RunningServer, make_zip


def _firebox(server: RunningServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "firebox", *args, "--endpoint-url", server.endpoint]
        if args[0] != "functions"
        else [sys.executable, "-m", "firebox", args[0], "--endpoint-url", server.endpoint, *args[1:]],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _aws(server: RunningServer, *args: str, service: str = "lambda") -> subprocess.CompletedProcess[str]:
    aws = shutil.which("aws", path=os.path.dirname(sys.executable)) or shutil.which("aws")
    assert aws, "the AWS CLI is installed by `make test`"
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    return subprocess.run(
        [aws, "--endpoint-url", server.endpoint, "--output", "json", service, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def _json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_deploy_creates_then_updates_a_directory(own_server: RunningServer, tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "pkg").mkdir(parents=True)
    (source / "app.py").write_text("def handler(event, context):\n    return 1\n")
    (source / "pkg" / "__init__.py").write_text("")
    created = _firebox(
        own_server,
        "deploy",
        str(source),
        "--name",
        "cli-fn",
        "--handler",
        "app.handler",
        "--runtime",
        RUNTIME,
        "--memory",
        "256",
        "--env",
        "STAGE=dev",
    )
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("created arn:aws:lambda:us-east-1:000000000000:function:cli-fn")
    lam = own_server.client()
    config = lam.get_function_configuration(FunctionName="cli-fn")
    assert (config["State"], config["MemorySize"]) == ("Active", 256)
    assert config["Environment"] == {"Variables": {"STAGE": "dev"}}

    again = _firebox(
        own_server,
        "deploy",
        str(source),
        "--name",
        "cli-fn",
        "--handler",
        "app.handler",
        "--runtime",
        RUNTIME,
        "--timeout",
        "30",
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("updated ")
    after = lam.get_function_configuration(FunctionName="cli-fn")
    assert after["CodeSha256"] == config["CodeSha256"], "zipping the same directory gives the same archive"
    assert (after["Timeout"], after["LastUpdateStatus"]) == (30, "Successful")

    listed = _firebox(own_server, "functions", "list")
    assert listed.returncode == 0 and "cli-fn" in listed.stdout and RUNTIME in listed.stdout
    deleted = _firebox(own_server, "functions", "delete", "cli-fn")
    assert deleted.returncode == 0 and deleted.stdout.strip() == "deleted cli-fn"
    missing = _firebox(own_server, "functions", "delete", "cli-fn")
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: ResourceNotFoundException: Function not found:")


def test_deploy_reports_api_errors_without_traceback(server: RunningServer, tmp_path: Path) -> None:
    zip_path = tmp_path / "f.zip"
    zip_path.write_bytes(make_zip())
    result = _firebox(
        server,
        "deploy",
        str(zip_path),
        "--name",
        "cli-bad",
        "--handler",
        "app.handler",
        "--runtime",
        "python2.7",
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: InvalidParameterValueException: The runtime parameter of python2.7")
    assert "Traceback" not in result.stderr


def test_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "firebox", "functions", "--endpoint-url", "http://127.0.0.1:9", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: Could not connect to the endpoint URL")


@pytest.mark.slow
def test_aws_cli_create_get_list_update_delete(own_server: RunningServer, tmp_path: Path) -> None:
    zip_path = tmp_path / "function.zip"
    zip_path.write_bytes(make_zip())
    created = _json(
        _aws(
            own_server,
            "create-function",
            "--function-name",
            "aws-cli-fn",
            "--runtime",
            RUNTIME,
            "--handler",
            "app.handler",
            "--role",
            ROLE,
            "--zip-file",
            f"fileb://{zip_path}",
            "--environment",
            "Variables={GREETING=hello}",
        )
    )
    assert created["State"] == "Pending"
    assert _aws(own_server, "wait", "function-active-v2", "--function-name", "aws-cli-fn").returncode == 0
    listed = _json(_aws(own_server, "list-functions"))
    assert [f["FunctionName"] for f in listed["Functions"]] == ["aws-cli-fn"]
    got = _json(_aws(own_server, "get-function", "--function-name", "aws-cli-fn"))
    assert got["Configuration"]["Environment"] == {"Variables": {"GREETING": "hello"}}
    updated = _json(
        _aws(own_server, "update-function-configuration", "--function-name", "aws-cli-fn", "--timeout", "60")
    )
    assert updated["LastUpdateStatus"] == "InProgress"
    bad = _aws(own_server, "update-function-configuration", "--function-name", "aws-cli-fn", "--timeout", "901")
    assert bad.returncode != 0
    assert "ValidationException" in bad.stderr and "less than or equal to 900" in bad.stderr
    assert _aws(own_server, "delete-function", "--function-name", "aws-cli-fn").returncode == 0
    assert _json(_aws(own_server, "list-functions"))["Functions"] == []


def test_invoke_prints_the_result_and_the_log_tail(server: RunningServer, tmp_path: Path) -> None:
    source = tmp_path / "fn"
    source.mkdir()
    (source / "app.py").write_text(
        "def handler(event, context):\n    print('from the function')\n    if event.get('fail'):\n"
        "        raise RuntimeError('no')\n    return {'got': event}\n"
    )
    deployed = _firebox(
        server, "deploy", str(source), "--name", "cli-invoke", "--handler", "app.handler", "--runtime", RUNTIME
    )
    assert deployed.returncode == 0, deployed.stderr
    event_file = tmp_path / "event.json"
    event_file.write_text('{"a": 1}')
    result = _firebox(server, "invoke", "cli-invoke", "--payload", f"@{event_file}", "--log-tail")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"got": {"a": 1}}
    assert "from the function" in result.stderr and "REPORT RequestId: " in result.stderr
    failed = _firebox(server, "invoke", "cli-invoke", "--payload", '{"fail": true}')
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["errorType"] == "RuntimeError"
    queue = _firebox(server, "functions", "queue", "cli-invoke")
    assert (queue.returncode, queue.stdout) == (0, "cli-invoke: 0 queued, 0 in flight\n"), queue.stderr
    missing = _firebox(server, "functions", "queue", "no-such-function")
    assert missing.returncode == 1 and missing.stderr.startswith("error: ResourceNotFoundException: "), missing.stderr


@pytest.mark.slow
def test_aws_cli_versions_aliases_layers_and_permissions(own_server: RunningServer, tmp_path: Path) -> None:
    function_zip = tmp_path / "function.zip"
    function_zip.write_bytes(make_zip({"app.py": "import shared\ndef handler(e, c):\n    return shared.WHO\n"}))
    layer_zip = tmp_path / "layer.zip"
    layer_zip.write_bytes(make_zip({"python/shared.py": "WHO = 'layer'\n"}))
    layer = _json(
        _aws(
            own_server,
            "publish-layer-version",
            "--layer-name",
            "shared",
            "--zip-file",
            f"fileb://{layer_zip}",
            "--compatible-runtimes",
            RUNTIME,
        )
    )
    assert layer["Version"] == 1
    _json(
        _aws(
            own_server,
            "create-function",
            "--function-name",
            "cli-v",
            "--runtime",
            RUNTIME,
            "--handler",
            "app.handler",
            "--role",
            ROLE,
            "--zip-file",
            f"fileb://{function_zip}",
            "--layers",
            layer["LayerVersionArn"],
        )
    )
    assert _aws(own_server, "wait", "function-active-v2", "--function-name", "cli-v").returncode == 0
    assert _json(_aws(own_server, "publish-version", "--function-name", "cli-v"))["Version"] == "1"
    _json(_aws(own_server, "update-function-configuration", "--function-name", "cli-v", "--description", "two"))
    assert _aws(own_server, "wait", "function-updated-v2", "--function-name", "cli-v").returncode == 0
    _json(_aws(own_server, "update-function-configuration", "--function-name", "cli-v", "--timeout", "5"))
    assert _aws(own_server, "wait", "function-updated-v2", "--function-name", "cli-v").returncode == 0
    assert _json(_aws(own_server, "publish-version", "--function-name", "cli-v"))["Version"] == "2"
    alias = _json(
        _aws(
            own_server,
            "create-alias",
            "--function-name",
            "cli-v",
            "--name",
            "live",
            "--function-version",
            "1",
            "--routing-config",
            "AdditionalVersionWeights={2=0.25}",
        )
    )
    assert alias["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.25}}
    statement = _json(
        _aws(
            own_server,
            "add-permission",
            "--function-name",
            "cli-v",
            "--statement-id",
            "any",
            "--action",
            "lambda:InvokeFunction",
            "--principal",
            "*",
            "--qualifier",
            "live",
        )
    )
    assert json.loads(statement["Statement"])["Resource"].endswith(":function:cli-v:live")
    out = tmp_path / "out.json"
    invoked = _json(_aws(own_server, "invoke", "--function-name", "cli-v", "--qualifier", "live", str(out)))
    assert invoked["ExecutedVersion"] in ("1", "2")
    assert json.loads(out.read_text()) == "layer"


def test_deploy_with_url_and_url_command(server: RunningServer, tmp_path: Path) -> None:
    from tests.conftest import http_call

    name = "cli-url-" + os.urandom(4).hex()
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return {'path': event['rawPath']}\n")
    deployed = _firebox(server, "deploy", str(tmp_path), "--name", name, "--handler", "app.handler", "--url")
    assert deployed.returncode == 0, deployed.stderr
    url = deployed.stdout.strip().splitlines()[-1]
    assert url.startswith("http://") and f".lambda-url.us-east-1.localhost:{server.port}/" in url
    again = _firebox(server, "url", name)
    assert again.returncode == 0 and again.stdout.strip() == url  # printed, not created twice
    reply = http_call(server.port, "GET", "/hello", host=url.split("//")[1].rstrip("/"))
    assert reply.status == 200 and reply.json() == {"path": "/hello"}
    missing = _firebox(server, "url", name + "-missing")
    assert missing.returncode == 1 and "ResourceNotFoundException" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_aws_cli_function_url_configs(server: RunningServer, tmp_path: Path) -> None:
    name = "cli-url-" + os.urandom(4).hex()
    (tmp_path / "app.zip").write_bytes(make_zip())
    _json(
        _aws(
            server,
            "create-function",
            "--function-name",
            name,
            "--runtime",
            RUNTIME,
            "--handler",
            "app.handler",
            "--role",
            ROLE,
            "--zip-file",
            f"fileb://{tmp_path / 'app.zip'}",
        )
    )
    created = _json(_aws(server, "create-function-url-config", "--function-name", name, "--auth-type", "NONE"))
    assert created["AuthType"] == "NONE" and created["FunctionUrl"].endswith("/")
    listed = _json(_aws(server, "list-function-url-configs", "--function-name", name))
    assert [c["FunctionUrl"] for c in listed["FunctionUrlConfigs"]] == [created["FunctionUrl"]]
    assert _aws(server, "delete-function-url-config", "--function-name", name).returncode == 0


def test_aws_cli_http_api_quick_create(server: RunningServer, tmp_path: Path) -> None:
    from tests.conftest import http_call

    name = "cli-api-" + os.urandom(4).hex()
    (tmp_path / "app.zip").write_bytes(
        make_zip({"app.py": "def handler(event, context):\n    return {'route': event['routeKey']}\n"})
    )
    arn = _json(
        _aws(
            server,
            "create-function",
            "--function-name",
            name,
            "--runtime",
            RUNTIME,
            "--handler",
            "app.handler",
            "--role",
            ROLE,
            "--zip-file",
            f"fileb://{tmp_path / 'app.zip'}",
        )
    )["FunctionArn"]
    api = _json(
        _aws(server, "create-api", "--name", name, "--protocol-type", "HTTP", "--target", arn, service="apigatewayv2")
    )
    assert api["ApiEndpoint"] == f"http://{api['ApiId']}.execute-api.localhost:{server.port}"
    routes = _json(_aws(server, "get-routes", "--api-id", api["ApiId"], service="apigatewayv2"))["Items"]
    assert [r["RouteKey"] for r in routes] == ["$default"]
    reply = http_call(server.port, "GET", f"/_aws/execute-api/{api['ApiId']}/$default/anything")
    assert reply.status == 200 and reply.json() == {"route": "$default"}
    assert _aws(server, "delete-api", "--api-id", api["ApiId"], service="apigatewayv2").returncode == 0
