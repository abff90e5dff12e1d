"""API Gateway HTTP APIs (apigatewayv2) through the real server: the management API with boto3, requests with
plain HTTP, Host-routed and path-style."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import HttpReply, RunningServer, create, error_of, http_call, make_zip, start_server

APP = """
import base64, json, time

def handler(event, context):
    path = event.get("rawPath") or event.get("path")
    if path.endswith("/slow"):
        time.sleep(3)
        return {"statusCode": 200, "body": "finally"}
    if path.endswith("/fail"):
        raise RuntimeError("boom")
    if path.endswith("/malformed"):
        return {"statusCode": "not a number"}
    if path.endswith("/multi"):
        return {"statusCode": 202, "multiValueHeaders": {"x-multi": ["a", "b"]}, "headers": {"x-one": "1"},
                "body": base64.b64encode(b"\\x00\\x01").decode(), "isBase64Encoded": True}
    if path.endswith("/cookies"):
        return {"statusCode": 200, "cookies": ["s=1", "t=2"], "body": "ok"}
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}
"""

AUTHORIZER = """
calls = 0

def handler(event, context):
    global calls
    calls += 1
    token = event["identitySource"][0] if isinstance(event["identitySource"], list) else event["identitySource"]
    if event.get("methodArn") or "policy" in token:
        effect = "Allow" if "allow" in token else "Deny"
        arn = event.get("routeArn") or event.get("methodArn")
        return {"principalId": "user-1", "context": {"calls": calls},
                "policyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Action": "execute-api:Invoke", "Effect": effect, "Resource": arn.split("/")[0] + "/*"}]}}
    return {"isAuthorized": token == "let-me-in", "context": {"calls": calls, "who": "alice"}}
"""


@pytest.fixture
def gw(server: RunningServer) -> Any:
    return server.client(service="apigatewayv2")


@pytest.fixture
def function_arn(lam: Any, name: str) -> str:
    arn: str = create(lam, name, make_zip({"app.py": APP}), Timeout=10)["FunctionArn"]
    return arn


def host(api: dict[str, Any]) -> str:
    return str(api["ApiEndpoint"]).split("//", 1)[1]


def call(server: RunningServer, api: dict[str, Any], method: str, path: str, **kwargs: Any) -> HttpReply:
    return http_call(server.port, method, path, host=host(api), **kwargs)


def integration(gw: Any, api_id: str, arn: str, **extra: Any) -> str:
    uri = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations"
    created = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=uri, **extra)
    return str(created["IntegrationId"])


def route(gw: Any, api_id: str, key: str, integration_id: str, **extra: Any) -> dict[str, Any]:
    created: dict[str, Any] = gw.create_route(
        ApiId=api_id, RouteKey=key, Target=f"integrations/{integration_id}", **extra
    )
    return created


# the management API


def test_quick_create_serves_at_once(server: RunningServer, gw: Any, function_arn: str) -> None:
    api = gw.create_api(Name="quick", ProtocolType="HTTP", Target=function_arn)
    assert api["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert api["ApiEndpoint"] == f"http://{api['ApiId']}.execute-api.localhost:{server.port}"
    assert api["ProtocolType"] == "HTTP" and api["RouteSelectionExpression"] == "${request.method} ${request.path}"
    routes = gw.get_routes(ApiId=api["ApiId"])["Items"]
    assert [r["RouteKey"] for r in routes] == ["$default"]
    [stage] = gw.get_stages(ApiId=api["ApiId"])["Items"]
    assert stage["StageName"] == "$default" and stage["AutoDeploy"] is True
    [found] = gw.get_integrations(ApiId=api["ApiId"])["Items"]
    assert found["IntegrationType"] == "AWS_PROXY" and found["PayloadFormatVersion"] == "2.0"
    reply = call(server, api, "GET", "/anything/at/all?x=1")
    assert reply.status == 200
    event = reply.json()
    assert event["routeKey"] == "$default" and event["rawPath"] == "/anything/at/all"
    assert event["requestContext"]["stage"] == "$default" and event["requestContext"]["apiId"] == api["ApiId"]
    assert reply.header("apigw-requestid") == event["requestContext"]["requestId"]


def test_management_shapes_and_errors(gw: Any, function_arn: str) -> None:
    api = gw.create_api(Name="managed", ProtocolType="HTTP", Description="d")
    api_id = api["ApiId"]
    assert gw.get_api(ApiId=api_id)["Name"] == "managed"
    assert api_id in [a["ApiId"] for a in gw.get_apis()["Items"]]
    assert gw.update_api(ApiId=api_id, Name="renamed")["Name"] == "renamed"
    integration_id = integration(gw, api_id, function_arn, PayloadFormatVersion="1.0", TimeoutInMillis=5000)
    got = gw.get_integration(ApiId=api_id, IntegrationId=integration_id)
    assert got["PayloadFormatVersion"] == "1.0" and got["TimeoutInMillis"] == 5000
    assert (
        gw.update_integration(ApiId=api_id, IntegrationId=integration_id, TimeoutInMillis=800)["TimeoutInMillis"] == 800
    )
    created = route(gw, api_id, "GET /items/{id}", integration_id)
    assert gw.get_route(ApiId=api_id, RouteId=created["RouteId"])["RouteKey"] == "GET /items/{id}"
    assert (
        gw.update_route(ApiId=api_id, RouteId=created["RouteId"], RouteKey="GET /things/{id}")["RouteKey"]
        == "GET /things/{id}"
    )
    stage = gw.create_stage(ApiId=api_id, StageName="prod", StageVariables={"color": "blue"})
    assert stage["StageName"] == "prod" and stage["StageVariables"] == {"color": "blue"}
    assert gw.update_stage(ApiId=api_id, StageName="prod", StageVariables={"color": "red"})["StageVariables"] == {
        "color": "red"
    }

    def refused(call: Any, **params: Any) -> tuple[str, str, int]:
        with pytest.raises(ClientError) as exc:
            call(**params)
        return error_of(exc)

    assert refused(gw.get_api, ApiId="nosuchapi")[0::2] == ("NotFoundException", 404)
    assert refused(gw.create_api, Name="ws", ProtocolType="WEBSOCKET")[0::2] == ("BadRequestException", 400)
    assert refused(gw.create_route, ApiId=api_id, RouteKey="FETCH /x")[0::2] == ("BadRequestException", 400)
    assert refused(gw.create_route, ApiId=api_id, RouteKey="GET /{a+}/b")[0::2] == ("BadRequestException", 400)
    code, message, status = refused(
        gw.create_route, ApiId=api_id, RouteKey="GET /things/{id}", Target=f"integrations/{integration_id}"
    )
    assert (code, status) == ("ConflictException", 409) and "GET /things/{id}" in message
    assert refused(gw.create_route, ApiId=api_id, RouteKey="GET /y", Target="integrations/nope")[0::2] == (
        "NotFoundException",
        404,
    )
    assert refused(gw.create_integration, ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationUri="http://x")[
        0::2
    ] == ("BadRequestException", 400)
    assert refused(
        gw.create_integration,
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=function_arn,
        TimeoutInMillis=30001,
    )[0::2] == ("BadRequestException", 400)
    assert refused(gw.create_stage, ApiId=api_id, StageName="prod")[0::2] == ("ConflictException", 409)
    assert refused(gw.get_stage, ApiId=api_id, StageName="nope")[0::2] == ("NotFoundException", 404)
    assert refused(gw.delete_integration, ApiId=api_id, IntegrationId=integration_id)[0::2] == (
        "ConflictException",
        409,
    )
    gw.delete_route(ApiId=api_id, RouteId=created["RouteId"])
    gw.delete_integration(ApiId=api_id, IntegrationId=integration_id)
    gw.delete_stage(ApiId=api_id, StageName="prod")
    assert gw.get_routes(ApiId=api_id)["Items"] == []
    gw.delete_api(ApiId=api_id)
    assert refused(gw.get_api, ApiId=api_id)[0::2] == ("NotFoundException", 404)


# serving


@pytest.fixture
def api(gw: Any, function_arn: str) -> dict[str, Any]:
    created: dict[str, Any] = gw.create_api(Name="routes", ProtocolType="HTTP")
    api_id = created["ApiId"]
    v2 = integration(gw, api_id, function_arn)
    v1 = integration(gw, api_id, function_arn, PayloadFormatVersion="1.0")
    for key in ("GET /items/{id}", "GET /items/special", "ANY /items/{id}", "ANY /files/{path+}", "POST /echo"):
        route(gw, api_id, key, v2)
    route(gw, api_id, "GET /v1/{id}", v1)
    route(gw, api_id, "GET /v1/{id}/multi", v1)
    route(gw, api_id, "GET /cookies", v2)
    route(gw, api_id, "GET /fail", v2)
    route(gw, api_id, "GET /malformed", v2)
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True, StageVariables={"env": "default"})
    gw.create_stage(ApiId=api_id, StageName="beta", StageVariables={"env": "beta"})
    return created


def test_most_specific_route_wins(server: RunningServer, api: dict[str, Any]) -> None:
    def route_of(method: str, path: str) -> tuple[str, Any]:
        reply = call(server, api, method, path)
        assert reply.status == 200, (method, path, reply.body)
        event = reply.json()
        return event["routeKey"], event.get("pathParameters")

    assert route_of("GET", "/items/special") == ("GET /items/special", None)
    assert route_of("GET", "/items/42") == ("GET /items/{id}", {"id": "42"})
    assert route_of("DELETE", "/items/42") == ("ANY /items/{id}", {"id": "42"})
    assert route_of("GET", "/files/a/b/c.txt") == ("ANY /files/{path+}", {"path": "a/b/c.txt"})
    assert call(server, api, "GET", "/files").status == 404
    missing = call(server, api, "GET", "/nowhere")
    assert missing.status == 404 and missing.json() == {"message": "Not Found"}


def test_payload_2_fields(server: RunningServer, api: dict[str, Any]) -> None:
    reply = call(
        server,
        api,
        "POST",
        "/echo?a=1&a=2",
        body=b'{"k": "v"}',
        headers=[("Content-Type", "application/json"), ("Cookie", "c=1"), ("X-Rep", "1"), ("X-Rep", "2")],
    )
    event = reply.json()
    assert event["version"] == "2.0" and event["routeKey"] == "POST /echo"
    assert event["queryStringParameters"] == {"a": "1,2"} and event["cookies"] == ["c=1"]
    assert event["headers"]["x-rep"] == "1,2" and event["body"] == '{"k": "v"}'
    assert event["stageVariables"] == {"env": "default"}
    context = event["requestContext"]
    assert context["accountId"] == "000000000000" and context["routeKey"] == "POST /echo"
    assert context["http"]["method"] == "POST" and context["http"]["path"] == "/echo"


def test_named_stage_and_path_style(server: RunningServer, api: dict[str, Any]) -> None:
    beta = call(server, api, "GET", "/beta/items/7").json()
    assert beta["requestContext"]["stage"] == "beta" and beta["stageVariables"] == {"env": "beta"}
    assert beta["rawPath"] == "/items/7"
    path_style = http_call(server.port, "GET", f"/_aws/execute-api/{api['ApiId']}/beta/items/8").json()
    assert path_style["requestContext"]["stage"] == "beta" and path_style["pathParameters"] == {"id": "8"}
    default = http_call(server.port, "GET", f"/_aws/execute-api/{api['ApiId']}/$default/items/9").json()
    assert default["requestContext"]["stage"] == "$default"


def test_payload_1_fields_and_multi_value_response(server: RunningServer, api: dict[str, Any]) -> None:
    event = call(server, api, "GET", "/v1/42?q=a&q=b", headers=[("X-Rep", "1"), ("X-Rep", "2")]).json()
    assert event["version"] == "1.0" and event["resource"] == "/v1/{id}" and event["path"] == "/v1/42"
    assert event["httpMethod"] == "GET" and event["pathParameters"] == {"id": "42"}
    assert event["queryStringParameters"] == {"q": "b"}
    assert event["multiValueQueryStringParameters"] == {"q": ["a", "b"]}
    assert event["multiValueHeaders"]["X-Rep"] == ["1", "2"]
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"
    assert event["body"] is None and event["isBase64Encoded"] is False
    multi = call(server, api, "GET", "/v1/42/multi")
    assert multi.status == 202 and multi.all("x-multi") == ["a", "b"] and multi.header("x-one") == "1"
    assert multi.body == b"\x00\x01"


def test_errors_and_cookies(server: RunningServer, api: dict[str, Any]) -> None:
    cookies = call(server, api, "GET", "/cookies")
    assert cookies.status == 200 and cookies.all("set-cookie") == ["s=1", "t=2"]
    for path in ("/fail", "/malformed"):
        reply = call(server, api, "GET", path)
        assert reply.status == 500 and reply.json() == {"message": "Internal Server Error"}


def test_integration_timeout(server: RunningServer, lam: Any, gw: Any, function_arn: str) -> None:
    api = gw.create_api(Name="slow", ProtocolType="HTTP")
    short = integration(gw, api["ApiId"], function_arn, TimeoutInMillis=500)
    route(gw, api["ApiId"], "GET /slow", short)
    gw.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    reply = call(server, api, "GET", "/slow")
    assert reply.status == 503 and reply.json() == {"message": "Service Unavailable"}
    request_id = reply.header("apigw-requestid")
    logs = server.client(service="logs")
    name = function_arn.rsplit(":", 1)[1]
    deadline = time.monotonic() + 30
    finished = False
    while not finished and time.monotonic() < deadline:  # the function runs on after the gateway gave up
        try:
            events = logs.filter_log_events(
                logGroupName=f"/aws/lambda/{name}", filterPattern=f'"REPORT RequestId: {request_id}"'
            )["events"]
        except logs.exceptions.ResourceNotFoundException:  # the group appears with the first flushed lines
            events = []
        finished = bool(events)
        time.sleep(0.5)
    assert finished


def test_cors_preflight(server: RunningServer, gw: Any, function_arn: str) -> None:
    cors = {"AllowOrigins": ["https://site.example"], "AllowMethods": ["GET"], "MaxAge": 60}
    api = gw.create_api(Name="cors", ProtocolType="HTTP", Target=function_arn, CorsConfiguration=cors)
    preflight = call(
        server,
        api,
        "OPTIONS",
        "/any",
        headers=[("Origin", "https://site.example"), ("Access-Control-Request-Method", "GET")],
    )
    assert preflight.status == 204
    assert preflight.header("access-control-allow-origin") == "https://site.example"
    assert preflight.header("access-control-max-age") == "60"
    simple = call(server, api, "GET", "/any", headers=[("Origin", "https://site.example")])
    assert simple.status == 200 and simple.header("access-control-allow-origin") == "https://site.example"


def test_lambda_authorizers(server: RunningServer, lam: Any, gw: Any, function_arn: str, name: str) -> None:
    authorizer_arn = create(lam, name + "-auth", make_zip({"app.py": AUTHORIZER}))["FunctionArn"]
    api = gw.create_api(Name="authorized", ProtocolType="HTTP")
    api_id = api["ApiId"]
    target = integration(gw, api_id, function_arn)
    simple = gw.create_authorizer(
        ApiId=api_id,
        Name="simple",
        AuthorizerType="REQUEST",
        AuthorizerUri=authorizer_arn,
        AuthorizerPayloadFormatVersion="2.0",
        EnableSimpleResponses=True,
        IdentitySource=["$request.header.Authorization"],
        AuthorizerResultTtlInSeconds=300,
    )
    policy = gw.create_authorizer(
        ApiId=api_id,
        Name="policy",
        AuthorizerType="REQUEST",
        AuthorizerUri=authorizer_arn,
        AuthorizerPayloadFormatVersion="2.0",
        IdentitySource=["$request.querystring.token"],
    )
    route(gw, api_id, "GET /simple", target, AuthorizationType="CUSTOM", AuthorizerId=simple["AuthorizerId"])
    route(gw, api_id, "GET /policy", target, AuthorizationType="CUSTOM", AuthorizerId=policy["AuthorizerId"])
    route(gw, api_id, "GET /iam", target, AuthorizationType="AWS_IAM")
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)

    missing = call(server, api, "GET", "/simple")
    assert missing.status == 401 and missing.json() == {"message": "Unauthorized"}
    denied = call(server, api, "GET", "/simple", headers=[("Authorization", "wrong")])
    assert denied.status == 403 and denied.json() == {"message": "Forbidden"}
    allowed = call(server, api, "GET", "/simple", headers=[("Authorization", "let-me-in")])
    assert allowed.status == 200
    context = allowed.json()["requestContext"]["authorizer"]["lambda"]
    again = call(server, api, "GET", "/simple", headers=[("Authorization", "let-me-in")])
    assert again.json()["requestContext"]["authorizer"]["lambda"] == context  # cached: not asked again
    assert context["who"] == "alice"

    assert call(server, api, "GET", "/policy?token=policy-allow").status == 200
    assert call(server, api, "GET", "/policy?token=policy-deny").status == 403
    assert call(server, api, "GET", "/policy").status == 401
    assert call(server, api, "GET", "/iam").status == 403


def test_deleted_api_is_not_served_and_apis_survive_restart(own_server: RunningServer, name: str) -> None:
    lam = own_server.client()
    gw = own_server.client(service="apigatewayv2")
    arn = create(lam, name, make_zip({"app.py": APP}))["FunctionArn"]
    kept = gw.create_api(Name="kept", ProtocolType="HTTP", Target=arn)
    gone = gw.create_api(Name="gone", ProtocolType="HTTP", Target=arn)
    assert call(own_server, gone, "GET", "/x").status == 200
    gw.delete_api(ApiId=gone["ApiId"])
    assert call(own_server, gone, "GET", "/x").status == 404
    own_server.stop()
    restarted = start_server(own_server.data_dir, port=own_server.port)
    try:
        reply = call(restarted, kept, "GET", "/after/restart")
        assert reply.status == 200 and reply.json()["rawPath"] == "/after/restart"
        assert call(restarted, gone, "GET", "/x").status == 404
    finally:
        restarted.stop()
