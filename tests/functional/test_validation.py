"""Bad input gets AWS's exception, status and message, never a traceback or half-written state."""

from __future__ import annotations

import base64
import http.client
import json
import urllib.parse
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import ROLE, RUNTIME, RunningServer, create, error_of, make_zip

RESERVED_MESSAGE = (
    "Lambda was unable to configure your environment variables because the environment variables you have provided "
    "contains reserved keys that are currently not supported for modification. Reserved keys used in this request: "
)


@pytest.fixture
def raw_lam(server: RunningServer) -> Any:
    """A boto3 client that skips its own parameter checks, so the server's checks are what answers."""
    import boto3

    return boto3.client(
        "lambda",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}, parameter_validation=False),
    )


def _create_error(client: Any, name: str, **overrides: Any) -> tuple[str, str, int]:
    params: dict[str, Any] = {
        "FunctionName": name,
        "Runtime": RUNTIME,
        "Handler": "app.handler",
        "Role": ROLE,
        "Code": {"ZipFile": make_zip()},
        **overrides,
    }
    params = {k: v for k, v in params.items() if v is not None}
    with pytest.raises(ClientError) as exc:
        client.create_function(**params)
    return error_of(exc)


def _validation(value: str, field: str, constraint: str) -> tuple[str, str, int]:
    return (
        "ValidationException",
        f"1 validation error detected: Value {value} at '{field}' failed to satisfy constraint: {constraint}",
        400,
    )


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"Timeout": 901},
            _validation("'901'", "timeout", "Member must have value less than or equal to 900"),
        ),
        ({"Timeout": 0}, _validation("'0'", "timeout", "Member must have value greater than or equal to 1")),
        (
            {"MemorySize": 10241},
            _validation("'10241'", "memorySize", "Member must have value less than or equal to 10240"),
        ),
        (
            {"MemorySize": 127},
            _validation("'127'", "memorySize", "Member must have value greater than or equal to 128"),
        ),
        (
            {"EphemeralStorage": {"Size": 10241}},
            _validation("'10241'", "ephemeralStorage.size", "Member must have value less than or equal to 10240"),
        ),
        (
            {"EphemeralStorage": {"Size": 511}},
            _validation("'511'", "ephemeralStorage.size", "Member must have value greater than or equal to 512"),
        ),
        (
            {"Role": "r1"},
            _validation(
                "'r1'",
                "role",
                r"Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?"
                r"[a-zA-Z_0-9+=,.@\-_/]+",
            ),
        ),
        (
            {"Handler": "app handler"},
            _validation("'app handler'", "handler", r"Member must satisfy regular expression pattern: [^\s]+"),
        ),
        (
            {"Handler": "h" * 129},
            _validation(f"'{'h' * 129}'", "handler", "Member must have length less than or equal to 128"),
        ),
        (
            {"Architectures": ["x86_64", "arm64"]},
            _validation("'[x86_64, arm64]'", "architectures", "Member must have length less than or equal to 1"),
        ),
        (
            {"Environment": {"Variables": {"1BAD": "x"}}},
            _validation(
                "'****'",
                "environment.variables",
                "Map keys must satisfy constraint: [Member must satisfy regular expression pattern: "
                "[a-zA-Z]([a-zA-Z0-9_])+]",
            ),
        ),
        ({"Role": None}, _validation("null", "role", "Member must not be null")),
    ],
)
def test_constraint_failures_are_validation_exceptions(
    raw_lam: Any, name: str, overrides: dict[str, Any], expected: tuple[str, str, int]
) -> None:
    assert _create_error(raw_lam, name, **overrides) == expected
    with pytest.raises(ClientError):
        raw_lam.get_function(FunctionName=name)


def test_several_violations_are_reported_together(raw_lam: Any, name: str) -> None:
    code, message, _ = _create_error(raw_lam, name, Timeout=0, MemorySize=99999)
    assert code == "ValidationException"
    assert message.startswith("2 validation errors detected: ")
    assert "at 'timeout'" in message and "at 'memorySize'" in message


def test_unknown_runtime_lists_what_this_host_has(lam: Any, name: str) -> None:
    code, message, status = _create_error(lam, name, Runtime="nodejs20.x")
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert message.startswith("Value nodejs20.x at 'runtime' failed to satisfy constraint: Member must satisfy enum")
    assert RUNTIME in message and message.endswith("] or be a valid ARN")


def test_deprecated_runtime(lam: Any, name: str) -> None:
    assert _create_error(lam, name, Runtime="python3.7") == (
        "InvalidParameterValueException",
        "The runtime parameter of python3.7 is no longer supported for creating or updating AWS Lambda functions. "
        "We recommend you use a supported runtime while creating or updating functions.",
        400,
    )


def test_runtime_and_handler_are_required_for_zip(lam: Any, name: str) -> None:
    assert _create_error(lam, name, Runtime=None) == (
        "InvalidParameterValueException",
        "Runtime and Handler are mandatory parameters for functions created with deployment packages.",
        400,
    )


def test_reserved_environment_keys_are_refused(lam: Any, name: str) -> None:
    variables = {"AWS_REGION": "x", "OK_KEY": "y", "AWS_ACCESS_KEY_ID": "z"}
    assert _create_error(lam, name, Environment={"Variables": variables}) == (
        "InvalidParameterValueException",
        RESERVED_MESSAGE + "AWS_REGION, AWS_ACCESS_KEY_ID",
        400,
    )


def test_environment_over_4kb_is_refused_with_the_measured_string(lam: Any, name: str) -> None:
    variables = {"BIG": "x" * 4090}
    measured = json.dumps(variables, separators=(",", ":"))
    assert _create_error(lam, name, Environment={"Variables": variables}) == (
        "InvalidParameterValueException",
        "Lambda was unable to configure your environment variables because the environment variables you have "
        f"provided exceeded the 4KB limit. String measured: {measured}",
        400,
    )
    create(lam, name, Environment={"Variables": {"BIG": "x" * 4000}})
    with pytest.raises(ClientError) as exc:
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
    assert error_of(exc)[0] == "InvalidParameterValueException"
    assert lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]["BIG"] == "x" * 4000


def test_function_names(lam: Any, raw_lam: Any) -> None:
    long_name = "n" * 65
    assert _create_error(lam, long_name) == (
        "InvalidParameterValueException",
        f"1 validation error detected: Value '{long_name}' at 'functionName' failed to satisfy constraint: "
        "Member must have length less than or equal to 64",
        400,
    )
    code, message, status = _create_error(raw_lam, "bad name!")
    assert (code, status) == ("ValidationException", 400)
    assert "at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern" in message


def test_log_level_needs_json_format(lam: Any, name: str) -> None:
    assert _create_error(lam, name, LoggingConfig={"LogFormat": "Text", "ApplicationLogLevel": "DEBUG"}) == (
        "InvalidParameterValueException",
        'LogLevel is not supported when LogFormat is set to "Text". Remove LogLevel from your request or change the '
        'LogFormat to "JSON" and try again.',
        400,
    )


def test_code_sources_firebox_cannot_use(lam: Any, name: str) -> None:
    code, message, _ = _create_error(lam, name, Code={"S3Bucket": "bucket", "S3Key": "key.zip"})
    assert code == "InvalidParameterValueException" and "ZipFile" in message
    code, message, _ = _create_error(lam, name, Code={"ImageUri": "repo/image:1"}, PackageType="Image")
    assert code == "InvalidParameterValueException" and "Image" in message
    assert _create_error(lam, name, Code={"ZipFile": b"this is not a zip"}) == (
        "InvalidParameterValueException",
        "Could not unzip uploaded file. Please check your file, then try to upload again. (not a zip archive)",
        400,
    )


def test_update_unknown_function(lam: Any, name: str) -> None:
    with pytest.raises(ClientError) as exc:
        lam.update_function_configuration(FunctionName=name, Timeout=5)
    assert error_of(exc) == (
        "ResourceNotFoundException",
        f"Function not found: arn:aws:lambda:us-east-1:000000000000:function:{name}",
        404,
    )


def test_list_max_items_bounds(raw_lam: Any) -> None:
    with pytest.raises(ClientError) as exc:
        raw_lam.list_functions(MaxItems=0)
    assert error_of(exc) == _validation("'0'", "maxItems", "Member must have value greater than or equal to 1")


# Raw HTTP: what no SDK would send.


def _raw(server: RunningServer, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.putrequest(method, path)
        sent_headers = {"Content-Length": str(len(body)), **(headers or {})}
        for key, value in sent_headers.items():
            conn.putheader(key, value)
        conn.endheaders()
        if body:
            conn.send(body)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def _error_parts(status: int, headers: dict[str, str], body: bytes) -> tuple[int, str, dict[str, Any]]:
    lowered = {k.lower(): v for k, v in headers.items()}
    assert lowered.get("x-amzn-requestid"), "every response carries a request id"
    return status, lowered["x-amzn-errortype"], json.loads(body)


def test_malformed_json_body(server: RunningServer) -> None:
    status, code, body = _error_parts(*_raw(server, "POST", "/2015-03-31/functions", b"{not json"))
    assert (status, code) == (400, "InvalidRequestContentException")
    assert body["message"].startswith("Could not parse request body into json: ")
    assert body["Type"] == "User"


def test_unknown_field_is_refused(server: RunningServer, name: str) -> None:
    doc = {
        "FunctionName": name,
        "Role": ROLE,
        "Runtime": RUNTIME,
        "Handler": "app.handler",
        "Code": {"ZipFile": base64.b64encode(make_zip()).decode()},
        "Colour": "blue",
    }
    status, code, body = _error_parts(*_raw(server, "POST", "/2015-03-31/functions", json.dumps(doc).encode()))
    assert (status, code) == (400, "InvalidRequestContentException")
    assert (
        body["message"]
        == 'Could not parse request body into json: Unrecognized field "Colour", not marked as ignorable'
    )


def test_wrong_json_type_is_refused(server: RunningServer, name: str) -> None:
    doc = {"Timeout": "ten"}
    path = f"/2015-03-31/functions/{name}/configuration"
    status, code, _ = _error_parts(*_raw(server, "PUT", path, json.dumps(doc).encode()))
    assert (status, code) == (400, "InvalidRequestContentException")


def test_zip_file_not_base64(server: RunningServer, name: str) -> None:
    doc = {
        "FunctionName": name,
        "Role": ROLE,
        "Runtime": RUNTIME,
        "Handler": "a.b",
        "Code": {"ZipFile": "@@@"},
    }
    status, code, _ = _error_parts(*_raw(server, "POST", "/2015-03-31/functions", json.dumps(doc).encode()))
    assert (status, code) == (400, "InvalidRequestContentException")


def test_request_body_over_the_create_limit(server: RunningServer) -> None:
    status, code, body = _error_parts(
        *_raw(server, "POST", "/2015-03-31/functions", b"{}", {"Content-Length": "70167212"})
    )
    assert (status, code) == (413, "RequestEntityTooLargeException")
    assert body == {"Message": "Request must be smaller than 70167211 bytes for the CreateFunction operation"}


@pytest.mark.slow
def test_zipped_code_over_50_mb(server: RunningServer, name: str) -> None:
    payload = base64.b64encode(b"\0" * 52_428_801).decode()
    doc = {
        "FunctionName": name,
        "Role": ROLE,
        "Runtime": RUNTIME,
        "Handler": "a.b",
        "Code": {"ZipFile": payload},
    }
    status, code, body = _error_parts(*_raw(server, "POST", "/2015-03-31/functions", json.dumps(doc).encode()))
    assert (status, code) == (413, "RequestEntityTooLargeException")
    assert body == {"Message": "Zipped size must be smaller than 52428800 bytes"}


def test_unknown_operation(server: RunningServer) -> None:
    status, code, _ = _error_parts(*_raw(server, "GET", "/2099-01-01/nothing"))
    assert (status, code) == (404, "UnknownOperationException")
    quoted = urllib.parse.quote("/2015-03-31/functions")
    status, code, _ = _error_parts(*_raw(server, "PATCH", quoted))
    assert (status, code) == (404, "UnknownOperationException")
