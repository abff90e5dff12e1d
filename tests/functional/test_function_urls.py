"""Function URLs through the real server: the config API with boto3, and requests with plain HTTP, Host-routed
and path-style."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.conftest import HttpReply, RunningServer, create, error_of, http_call, make_zip, start_server

APP = """
import base64, json

def handler(event, context):
    path = event["rawPath"]
    if path.startswith("/echo"):
        return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}
    if path == "/inferred":
        return {"hello": "world"}
    if path == "/string":
        return "just a string"
    if path == "/binary":
        return {
            "statusCode": 201,
            "headers": {"content-type": "application/octet-stream", "x-custom": "yes"},
            "cookies": ["a=1; Path=/", "b=2; HttpOnly"],
            "body": base64.b64encode(bytes(range(256))).decode(),
            "isBase64Encoded": True,
        }
    if path == "/cors-headers":
        return {"statusCode": 200, "headers": {"access-control-allow-origin": "https://evil.example"}, "body": "x"}
    if path == "/fail":
        raise RuntimeError("boom")
    if path == "/version":
        return {"statusCode": 200, "body": context.function_version}
    return {"statusCode": 404, "body": "no such page"}
"""


def host_of(url: str) -> str:
    return url.split("//", 1)[1].rstrip("/")


def url_id_of(url: str) -> str:
    return host_of(url).split(".", 1)[0]


@pytest.fixture
def app(lam: Any, name: str) -> str:
    create(lam, name, make_zip({"app.py": APP}))
    return name


@pytest.fixture
def url(lam: Any, app: str) -> str:
    config: str = lam.create_function_url_config(FunctionName=app, AuthType="NONE")["FunctionUrl"]
    return config


def get(server: RunningServer, url: str, path: str, **kwargs: Any) -> HttpReply:
    return http_call(server.port, kwargs.pop("method", "GET"), path, host=host_of(url), **kwargs)


def echo(server: RunningServer, url: str, path: str = "/echo", **kwargs: Any) -> dict[str, Any]:
    reply = get(server, url, path, **kwargs)
    assert reply.status == 200, reply.body
    event: dict[str, Any] = reply.json()
    return event


# the configuration API


def test_create_get_update_list_delete(server: RunningServer, lam: Any, app: str) -> None:
    created = lam.create_function_url_config(FunctionName=app, AuthType="NONE")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["FunctionUrl"].startswith("http://")
    assert created["FunctionUrl"].endswith(f".lambda-url.us-east-1.localhost:{server.port}/")
    url_id = url_id_of(created["FunctionUrl"])
    assert len(url_id) == 32 and url_id.isalnum() and url_id.islower()
    assert created["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{app}"
    assert created["AuthType"] == "NONE" and created["InvokeMode"] == "BUFFERED"
    assert "LastModifiedTime" not in created and "Cors" not in created

    got = lam.get_function_url_config(FunctionName=app)
    assert got["FunctionUrl"] == created["FunctionUrl"] and got["CreationTime"] == created["CreationTime"]
    assert "LastModifiedTime" in got

    cors = {"AllowOrigins": ["https://app.example"], "AllowMethods": ["GET", "POST"], "MaxAge": 300}
    updated = lam.update_function_url_config(FunctionName=app, Cors=cors, InvokeMode="RESPONSE_STREAM")
    assert updated["Cors"] == cors and updated["InvokeMode"] == "RESPONSE_STREAM"
    assert updated["FunctionUrl"] == created["FunctionUrl"] and updated["AuthType"] == "NONE"

    listed = lam.list_function_url_configs(FunctionName=app)["FunctionUrlConfigs"]
    assert [c["FunctionUrl"] for c in listed] == [created["FunctionUrl"]]

    lam.delete_function_url_config(FunctionName=app)
    with pytest.raises(ClientError) as exc:
        lam.get_function_url_config(FunctionName=app)
    assert error_of(exc) == ("ResourceNotFoundException", "The resource you requested does not exist.", 404)
    assert lam.list_function_url_configs(FunctionName=app)["FunctionUrlConfigs"] == []


def test_config_errors(lam: Any, app: str) -> None:
    lam.create_function_url_config(FunctionName=app, AuthType="NONE")
    with pytest.raises(ClientError) as exc:
        lam.create_function_url_config(FunctionName=app, AuthType="NONE")
    code, message, status = error_of(exc)
    assert (code, status) == ("ResourceConflictException", 409)
    assert message == (
        f"Failed to create function url config for [functionArn = arn:aws:lambda:us-east-1:000000000000:function:"
        f"{app}]. Error message:  FunctionUrlConfig exists for this Lambda function"
    )
    lam.publish_version(FunctionName=app)
    for qualifier in ("1", "$LATEST"):
        with pytest.raises(ClientError) as exc:
            lam.create_function_url_config(FunctionName=app, Qualifier=qualifier, AuthType="NONE")
        code, message, status = error_of(exc)
        assert (code, status) == ("ValidationException", 400) and "qualifier" in message
    with pytest.raises(ClientError) as exc:
        lam.create_function_url_config(FunctionName=app, Qualifier="nosuchalias", AuthType="NONE")
    assert error_of(exc)[0::2] == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as exc:
        lam.create_function_url_config(FunctionName=app + "-missing", AuthType="NONE")
    assert error_of(exc)[0::2] == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as exc:
        lam.update_function_url_config(FunctionName=app, AuthType="SIGNED")
    code, message, status = error_of(exc)
    assert (code, status) == ("ValidationException", 400) and "authType" in message
    with pytest.raises(ClientError) as exc:
        lam.update_function_url_config(FunctionName=app, Cors={"MaxAge": 86401})
    code, message, status = error_of(exc)
    assert (code, status) == ("ValidationException", 400) and "cors.maxAge" in message
    with pytest.raises(ClientError) as exc:
        lam.delete_function_url_config(FunctionName=app, Qualifier="nosuchalias")
    assert error_of(exc)[0::2] == ("ResourceNotFoundException", 404)


def test_alias_url_invokes_the_alias(server: RunningServer, lam: Any, app: str) -> None:
    lam.publish_version(FunctionName=app)
    lam.create_alias(FunctionName=app, Name="live", FunctionVersion="1")
    live = lam.create_function_url_config(FunctionName=app, Qualifier="live", AuthType="NONE")
    latest = lam.create_function_url_config(FunctionName=app, AuthType="NONE")
    assert live["FunctionArn"].endswith(f"function:{app}:live")
    assert live["FunctionUrl"] != latest["FunctionUrl"]
    assert get(server, live["FunctionUrl"], "/version").body == b"1"
    assert get(server, latest["FunctionUrl"], "/version").body == b"$LATEST"
    configs = lam.list_function_url_configs(FunctionName=app, MaxItems=1)
    assert len(configs["FunctionUrlConfigs"]) == 1 and "NextMarker" in configs
    rest = lam.list_function_url_configs(FunctionName=app, Marker=configs["NextMarker"])
    assert {c["FunctionUrl"] for c in configs["FunctionUrlConfigs"] + rest["FunctionUrlConfigs"]} == {
        live["FunctionUrl"],
        latest["FunctionUrl"],
    }
    lam.delete_alias(FunctionName=app, Name="live")  # the alias's URL goes with it
    assert get(server, live["FunctionUrl"], "/version").status == 403
    assert get(server, latest["FunctionUrl"], "/version").status == 200


# the event


def test_get_event_fields(server: RunningServer, url: str) -> None:
    event = echo(
        server,
        url,
        "/echo/a%20b?x=1&x=2&empty=&y=%C3%A9",
        headers=[("User-Agent", "probe/1.0"), ("X-Twice", "one"), ("X-Twice", "two"), ("Cookie", "c1=v1; c2=v2")],
    )
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/echo/a%20b"
    assert event["rawQueryString"] == "x=1&x=2&empty=&y=%C3%A9"
    assert event["queryStringParameters"] == {"x": "1,2", "empty": "", "y": "é"}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    headers = event["headers"]
    assert headers["x-twice"] == "one,two" and headers["user-agent"] == "probe/1.0"
    assert "cookie" not in headers and all(k == k.lower() for k in headers)
    assert headers["host"] == host_of(url) and headers["x-forwarded-for"] == "127.0.0.1"
    context = event["requestContext"]
    url_id = url_id_of(url)
    assert context["accountId"] == "anonymous" and context["apiId"] == url_id
    assert context["domainName"] == f"{url_id}.lambda-url.us-east-1.localhost"
    assert context["domainPrefix"] == url_id
    assert context["http"] == {
        "method": "GET",
        "path": "/echo/a b",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "probe/1.0",
    }
    assert context["routeKey"] == "$default" and context["stage"] == "$default"
    assert isinstance(context["timeEpoch"], int) and context["time"].endswith("+0000")
    assert len(context["requestId"]) == 36
    assert "body" not in event and event["isBase64Encoded"] is False


def test_bodies_text_json_and_binary(server: RunningServer, url: str) -> None:
    text = echo(server, url, method="POST", body=b"hello there", headers=[("Content-Type", "text/plain")])
    assert text["body"] == "hello there" and text["isBase64Encoded"] is False
    assert text["requestContext"]["http"]["method"] == "POST"
    doc = echo(server, url, method="PUT", body=b'{"k": 1}', headers=[("Content-Type", "application/json")])
    assert doc["body"] == '{"k": 1}' and doc["isBase64Encoded"] is False
    raw = bytes([0, 255, 128, 10])
    binary = echo(server, url, method="POST", body=raw, headers=[("Content-Type", "application/octet-stream")])
    assert binary["isBase64Encoded"] is True and base64.b64decode(binary["body"]) == raw


def test_path_style_requests(server: RunningServer, url: str) -> None:
    url_id = url_id_of(url)
    reply = http_call(server.port, "GET", f"/_aws/lambda-url/{url_id}/echo/deep?q=1")
    assert reply.status == 200
    event = reply.json()
    assert event["rawPath"] == "/echo/deep" and event["queryStringParameters"] == {"q": "1"}
    assert http_call(server.port, "GET", f"/_aws/lambda-url/{url_id}").status == 404  # "/" is the app's 404


# the response


def test_response_mappings(server: RunningServer, url: str) -> None:
    inferred = get(server, url, "/inferred")
    assert inferred.status == 200 and inferred.header("content-type") == "application/json"
    assert inferred.json() == {"hello": "world"}
    string = get(server, url, "/string")
    assert string.status == 200 and string.json() == "just a string"
    binary = get(server, url, "/binary")
    assert binary.status == 201 and binary.body == bytes(range(256))
    assert binary.header("content-type") == "application/octet-stream" and binary.header("x-custom") == "yes"
    assert binary.all("set-cookie") == ["a=1; Path=/", "b=2; HttpOnly"]
    missing = get(server, url, "/nothing-here")
    assert missing.status == 404 and missing.body == b"no such page"
    assert missing.header("x-amzn-requestid")


def test_function_error_is_502(server: RunningServer, url: str) -> None:
    reply = get(server, url, "/fail")
    assert reply.status == 502 and reply.body == b"Internal Server Error"


def test_request_over_6_mb_is_refused(server: RunningServer, url: str) -> None:
    body = b"x" * (6 * 1024 * 1024 + 1)
    reply = get(server, url, "/echo", method="POST", body=body, headers=[("Content-Type", "text/plain")])
    assert reply.status == 413 and reply.header("x-amzn-errortype") == "RequestEntityTooLargeException"


def test_cors(server: RunningServer, lam: Any, app: str) -> None:
    cors = {
        "AllowOrigins": ["https://app.example"],
        "AllowMethods": ["GET", "POST"],
        "AllowHeaders": ["content-type", "x-token"],
        "ExposeHeaders": ["x-custom"],
        "MaxAge": 600,
        "AllowCredentials": True,
    }
    url = lam.create_function_url_config(FunctionName=app, AuthType="NONE", Cors=cors)["FunctionUrl"]
    preflight = get(
        server,
        url,
        "/echo",
        method="OPTIONS",
        headers=[("Origin", "https://app.example"), ("Access-Control-Request-Method", "POST")],
    )
    assert preflight.status == 200 and preflight.body == b""  # answered without invoking the function
    assert preflight.header("access-control-allow-origin") == "https://app.example"
    assert preflight.header("access-control-allow-methods") == "GET,POST"
    assert preflight.header("access-control-allow-headers") == "content-type,x-token"
    assert preflight.header("access-control-max-age") == "600"
    assert preflight.header("access-control-allow-credentials") == "true"
    other = get(
        server,
        url,
        "/echo",
        method="OPTIONS",
        headers=[("Origin", "https://evil.example"), ("Access-Control-Request-Method", "POST")],
    )
    assert other.header("access-control-allow-origin") is None
    simple = get(server, url, "/cors-headers", headers=[("Origin", "https://app.example")])
    assert simple.header("access-control-allow-origin") == "https://app.example"  # the function's is replaced
    assert simple.header("access-control-expose-headers") == "x-custom"


# authentication, unknown and deleted URLs, restarts


def test_aws_iam_refuses_unsigned_requests(server: RunningServer, lam: Any, app: str) -> None:
    url = lam.create_function_url_config(FunctionName=app, AuthType="AWS_IAM")["FunctionUrl"]
    unsigned = get(server, url, "/echo")
    assert unsigned.status == 403 and unsigned.header("x-amzn-errortype") == "AccessDeniedException"
    request = AWSRequest(method="GET", url=f"http://{host_of(url)}/echo", headers={"Host": host_of(url)})
    SigV4Auth(Credentials("test", "test"), "lambda", "us-east-1").add_auth(request)
    signed = get(server, url, "/echo", headers=[(k, v) for k, v in request.headers.items() if k != "Host"])
    assert signed.status == 200
    assert "iam" in signed.json()["requestContext"]["authorizer"]


def test_unknown_and_deleted_urls_are_403(server: RunningServer, lam: Any, app: str, url: str) -> None:
    assert get(server, url, "/echo").status == 200
    unknown = http_call(server.port, "GET", "/", host=f"{'0' * 32}.lambda-url.us-east-1.localhost")
    assert unknown.status == 403 and unknown.json() == {"Message": None}
    assert unknown.header("x-amzn-errortype") == "AccessDeniedException"
    lam.delete_function_url_config(FunctionName=app)
    assert get(server, url, "/echo").status == 403
    lam.create_function_url_config(FunctionName=app, AuthType="NONE")
    assert get(server, url, "/echo").status == 403  # a new config gets a new URL
    second = lam.get_function_url_config(FunctionName=app)["FunctionUrl"]
    assert get(server, second, "/echo").status == 200
    lam.delete_function(FunctionName=app)  # the function is gone: so are its URLs
    assert get(server, second, "/echo").status == 403


def test_urls_survive_a_restart(own_server: RunningServer, name: str) -> None:
    lam = own_server.client()
    create(lam, name, make_zip({"app.py": APP}))
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    assert get(own_server, url, "/string").json() == "just a string"
    own_server.stop()
    restarted = start_server(own_server.data_dir, port=own_server.port)
    try:
        assert get(restarted, url, "/string").json() == "just a string"
        assert restarted.client().get_function_url_config(FunctionName=name)["FunctionUrl"] == url
    finally:
        restarted.stop()
