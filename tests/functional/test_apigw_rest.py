"""API Gateway REST APIs (`apigateway`) with Lambda proxy integrations through the real server: the management API
with boto3, requests with plain HTTP, Host-routed and path-style."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import HttpReply, RunningServer, create, error_of, http_call, make_zip, start_server

APP = """
import base64, json, time

def handler(event, context):
    path = event["path"]
    if path.endswith("/slow"):
        time.sleep(5)
        return {"statusCode": 200, "body": "finally"}
    if path.endswith("/fail"):
        raise RuntimeError("boom")
    if path.endswith("/malformed"):
        return {"body": "no status code"}
    if path.endswith("/object-body"):
        return {"statusCode": 200, "body": {"not": "a string"}}
    if path.endswith("/plain"):
        return {"statusCode": 200, "body": "hi"}
    if path.endswith("/binary"):
        return {"statusCode": 201, "multiValueHeaders": {"x-multi": ["a", "b"]}, "headers": {"x-one": "1"},
                "body": base64.b64encode(b"\\x00\\xff").decode(), "isBase64Encoded": True}
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}
"""


@pytest.fixture
def apigw(server: RunningServer) -> Any:
    return server.client(service="apigateway")


@pytest.fixture
def function_arn(lam: Any, name: str) -> str:
    arn: str = create(lam, name, make_zip({"app.py": APP}), Timeout=10)["FunctionArn"]
    return arn


def uri(arn: str) -> str:
    return f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations"


def proxy_method(
    apigw: Any, api_id: str, resource_id: str, arn: str, method: str = "ANY", auth: str = "NONE", **extra: Any
) -> None:
    apigw.put_method(restApiId=api_id, resourceId=resource_id, httpMethod=method, authorizationType=auth)
    apigw.put_integration(
        restApiId=api_id,
        resourceId=resource_id,
        httpMethod=method,
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        uri=uri(arn),
        **extra,
    )


def build(apigw: Any, arn: str, **api: Any) -> dict[str, Any]:
    """/ (ANY), /items (ANY), /items/{id} (ANY), /items/special (GET), /files/{proxy+} (ANY), deployed to `prod`
    with the stage variable color=blue."""
    created: dict[str, Any] = apigw.create_rest_api(name="shop", **api)
    api_id, root = created["id"], created["rootResourceId"]
    items = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="items")["id"]
    item = apigw.create_resource(restApiId=api_id, parentId=items, pathPart="{id}")["id"]
    special = apigw.create_resource(restApiId=api_id, parentId=items, pathPart="special")["id"]
    files = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="files")["id"]
    greedy = apigw.create_resource(restApiId=api_id, parentId=files, pathPart="{proxy+}")["id"]
    for resource in (root, items, item, greedy):
        proxy_method(apigw, api_id, resource, arn)
    proxy_method(apigw, api_id, special, arn, method="GET")
    apigw.create_deployment(restApiId=api_id, stageName="prod", variables={"color": "blue"})
    return created


def host(server: RunningServer, api: dict[str, Any]) -> str:
    return f"{api['id']}.execute-api.localhost:{server.port}"


def call(server: RunningServer, api: dict[str, Any], method: str, path: str, **kwargs: Any) -> HttpReply:
    return http_call(server.port, method, path, host=host(server, api), **kwargs)


def refused(operation: Any, **params: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as exc:
        operation(**params)
    return error_of(exc)


def assert_missing_token(reply: HttpReply) -> None:
    assert reply.status == 403 and reply.json() == {"message": "Missing Authentication Token"}
    assert reply.header("x-amzn-ErrorType") == "MissingAuthenticationTokenException"


# the management API


def test_apis_and_resources(apigw: Any) -> None:
    api = apigw.create_rest_api(name="managed", description="d", binaryMediaTypes=["image/png"])
    assert api["ResponseMetadata"]["HTTPStatusCode"] == 201
    api_id, root_id = api["id"], api["rootResourceId"]
    assert len(api_id) == 10 and api_id.isalnum() and api_id == api_id.lower()
    assert api["name"] == "managed" and api["description"] == "d" and api["binaryMediaTypes"] == ["image/png"]
    assert api["apiKeySource"] == "HEADER" and api["endpointConfiguration"]["types"] == ["EDGE"]
    assert api["disableExecuteApiEndpoint"] is False and api["createdDate"].year >= 2024
    got = apigw.get_rest_api(restApiId=api_id)
    assert {k: v for k, v in got.items() if k != "ResponseMetadata"} == {
        k: v for k, v in api.items() if k != "ResponseMetadata"
    }
    updated = apigw.update_rest_api(
        restApiId=api_id,
        patchOperations=[
            {"op": "replace", "path": "/name", "value": "renamed"},
            {"op": "add", "path": "/binaryMediaTypes/application~1octet-stream"},
            {"op": "remove", "path": "/binaryMediaTypes/image~1png"},
        ],
    )
    assert updated["name"] == "renamed" and updated["binaryMediaTypes"] == ["application/octet-stream"]

    [root] = apigw.get_resources(restApiId=api_id)["items"]
    assert root == {"id": root_id, "path": "/"}
    pets = apigw.create_resource(restApiId=api_id, parentId=root_id, pathPart="pets")
    assert pets["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert (pets["path"], pets["parentId"], pets["pathPart"]) == ("/pets", root_id, "pets")
    pet = apigw.create_resource(restApiId=api_id, parentId=pets["id"], pathPart="{petId}")
    assert pet["path"] == "/pets/{petId}"
    greedy = apigw.create_resource(restApiId=api_id, parentId=pet["id"], pathPart="{proxy+}")
    assert greedy["path"] == "/pets/{petId}/{proxy+}"
    assert apigw.get_resource(restApiId=api_id, resourceId=pet["id"])["path"] == "/pets/{petId}"

    assert refused(apigw.create_resource, restApiId=api_id, parentId=root_id, pathPart="pets") == (
        "ConflictException",
        "Another resource with the same parent already has this name: pets",
        409,
    )
    code, message, status = refused(apigw.create_resource, restApiId=api_id, parentId=pets["id"], pathPart="{x}")
    assert (code, status) == ("BadRequestException", 400) and "only one is allowed" in message
    code, message, status = refused(apigw.create_resource, restApiId=api_id, parentId=greedy["id"], pathPart="x")
    assert (code, status) == ("BadRequestException", 400) and "greedy" in message
    code, _, status = refused(apigw.create_resource, restApiId=api_id, parentId=root_id, pathPart="a b")
    assert (code, status) == ("BadRequestException", 400)
    assert refused(apigw.create_resource, restApiId=api_id, parentId="nope", pathPart="x") == (
        "NotFoundException",
        "Invalid Resource identifier specified",
        404,
    )
    assert refused(apigw.get_rest_api, restApiId="nosuchapi0") == (
        "NotFoundException",
        "Invalid API identifier specified 000000000000:nosuchapi0",
        404,
    )
    code, _, status = refused(apigw.delete_resource, restApiId=api_id, resourceId=root_id)
    assert (code, status) == ("BadRequestException", 400)

    page = apigw.get_resources(restApiId=api_id, limit=2)
    assert len(page["items"]) == 2 and page["position"]
    rest = apigw.get_resources(restApiId=api_id, limit=2, position=page["position"])
    assert len(rest["items"]) == 2 and "position" not in rest
    assert {r["id"] for r in page["items"] + rest["items"]} == {root_id, pets["id"], pet["id"], greedy["id"]}

    deleted = apigw.delete_resource(restApiId=api_id, resourceId=pets["id"])  # and its children
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert [r["id"] for r in apigw.get_resources(restApiId=api_id)["items"]] == [root_id]
    assert refused(apigw.get_resource, restApiId=api_id, resourceId=greedy["id"])[0] == "NotFoundException"

    others = [apigw.create_rest_api(name=f"page-{i}")["id"] for i in range(3)]
    seen, position = [], None
    while True:
        listed = apigw.get_rest_apis(limit=2, **({"position": position} if position else {}))
        seen += [a["id"] for a in listed["items"]]
        position = listed.get("position")
        if not position:
            break
    assert {api_id, *others} <= set(seen) and len(seen) == len(set(seen))
    for ident in [api_id, *others]:
        assert apigw.delete_rest_api(restApiId=ident)["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert refused(apigw.get_rest_api, restApiId=api_id)[0] == "NotFoundException"


def test_methods_integrations_deployments_and_stages(apigw: Any, function_arn: str) -> None:
    api = apigw.create_rest_api(name="parts")
    api_id, root_id = api["id"], api["rootResourceId"]
    code, message, _ = refused(apigw.create_deployment, restApiId=api_id, stageName="prod")
    assert (code, message) == ("BadRequestException", "The REST API doesn't contain any methods")

    method = apigw.put_method(restApiId=api_id, resourceId=root_id, httpMethod="GET", authorizationType="NONE")
    assert method["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert (method["httpMethod"], method["authorizationType"], method["apiKeyRequired"]) == ("GET", "NONE", False)
    assert refused(
        apigw.put_method, restApiId=api_id, resourceId=root_id, httpMethod="GET", authorizationType="NONE"
    ) == ("ConflictException", "Method already exists for this resource", 409)
    code, _, status = refused(
        apigw.put_method, restApiId=api_id, resourceId=root_id, httpMethod="FETCH", authorizationType="NONE"
    )
    assert (code, status) == ("BadRequestException", 400)
    assert refused(apigw.get_integration, restApiId=api_id, resourceId=root_id, httpMethod="GET") == (
        "NotFoundException",
        "Invalid Integration identifier specified",
        404,
    )
    code, message, _ = refused(apigw.create_deployment, restApiId=api_id)
    assert (code, message) == ("BadRequestException", "No integration defined for method")

    def integrate(**params: Any) -> Any:
        return apigw.put_integration(
            restApiId=api_id,
            resourceId=root_id,
            httpMethod="GET",
            type="AWS_PROXY",
            integrationHttpMethod="POST",
            **params,
        )

    integration = integrate(uri=uri(function_arn))
    assert integration["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert (integration["type"], integration["httpMethod"], integration["uri"]) == (
        "AWS_PROXY",
        "POST",
        uri(function_arn),
    )
    assert integration["timeoutInMillis"] == 29000 and integration["passthroughBehavior"] == "WHEN_NO_MATCH"
    assert integrate(uri=uri(function_arn), timeoutInMillis=1500)["timeoutInMillis"] == 1500  # PUT replaces
    for bad in (
        {"uri": uri(function_arn), "timeoutInMillis": 29001},
        {"uri": uri(function_arn), "timeoutInMillis": 49},
    ):
        assert refused(integrate, **bad) == ("BadRequestException", "Timeout should be between 50 ms and 29000 ms", 400)
    assert refused(integrate, uri="arn:aws:lambda:us-east-1:000000000000:function:f")[0] == "BadRequestException"
    code, _, status = refused(
        apigw.put_integration, restApiId=api_id, resourceId=root_id, httpMethod="GET", type="MOCK"
    )
    assert (code, status) == ("BadRequestException", 400)
    got = apigw.get_method(restApiId=api_id, resourceId=root_id, httpMethod="GET")
    assert got["methodIntegration"]["uri"] == uri(function_arn) and got["methodIntegration"]["timeoutInMillis"] == 1500
    [root] = apigw.get_resources(restApiId=api_id)["items"]
    assert root["resourceMethods"] == {"GET": {}}
    [embedded] = apigw.get_resources(restApiId=api_id, embed=["methods"])["items"]
    assert embedded["resourceMethods"]["GET"]["methodIntegration"]["type"] == "AWS_PROXY"

    deployment = apigw.create_deployment(restApiId=api_id, description="first")
    assert deployment["ResponseMetadata"]["HTTPStatusCode"] == 201 and deployment["description"] == "first"
    summary = apigw.get_deployment(restApiId=api_id, deploymentId=deployment["id"], embed=["apisummary"])
    assert summary["apiSummary"] == {"/": {"GET": {"authorizationType": "NONE", "apiKeyRequired": False}}}
    assert [d["id"] for d in apigw.get_deployments(restApiId=api_id)["items"]] == [deployment["id"]]

    stage = apigw.create_stage(restApiId=api_id, stageName="dev", deploymentId=deployment["id"], variables={"a": "1"})
    assert stage["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert (stage["stageName"], stage["deploymentId"], stage["variables"]) == ("dev", deployment["id"], {"a": "1"})
    assert refused(apigw.create_stage, restApiId=api_id, stageName="dev", deploymentId=deployment["id"]) == (
        "ConflictException",
        "Stage already exists",
        409,
    )
    assert (
        refused(apigw.create_stage, restApiId=api_id, stageName="qa", deploymentId="nope00")[0] == "NotFoundException"
    )
    second = apigw.create_deployment(restApiId=api_id, stageName="prod")
    assert apigw.get_stage(restApiId=api_id, stageName="prod")["deploymentId"] == second["id"]
    assert [s["stageName"] for s in apigw.get_stages(restApiId=api_id)["item"]] == ["dev", "prod"]
    assert [s["stageName"] for s in apigw.get_stages(restApiId=api_id, deploymentId=second["id"])["item"]] == ["prod"]
    updated = apigw.update_stage(
        restApiId=api_id,
        stageName="dev",
        patchOperations=[
            {"op": "replace", "path": "/variables/a", "value": "2"},
            {"op": "replace", "path": "/variables/b", "value": "3"},
            {"op": "replace", "path": "/deploymentId", "value": second["id"]},
            {"op": "replace", "path": "/*/*/logging/loglevel", "value": "INFO"},
        ],
    )
    assert updated["variables"] == {"a": "2", "b": "3"} and updated["deploymentId"] == second["id"]
    assert updated["methodSettings"]["*/*"]["loggingLevel"] == "INFO"
    removed = apigw.update_stage(
        restApiId=api_id, stageName="dev", patchOperations=[{"op": "remove", "path": "/variables/a"}]
    )
    assert removed["variables"] == {"b": "3"}
    code, message, _ = refused(
        apigw.update_stage, restApiId=api_id, stageName="dev", patchOperations=[{"op": "replace", "path": "/nope"}]
    )
    assert (code, message) == ("BadRequestException", "Invalid patch path /nope")
    code, _, _ = refused(apigw.delete_deployment, restApiId=api_id, deploymentId=second["id"])
    assert code == "BadRequestException"  # stages point at it
    assert (
        apigw.delete_deployment(restApiId=api_id, deploymentId=deployment["id"])["ResponseMetadata"]["HTTPStatusCode"]
        == 202
    )

    assert apigw.delete_stage(restApiId=api_id, stageName="dev")["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert refused(apigw.get_stage, restApiId=api_id, stageName="dev") == (
        "NotFoundException",
        "Invalid Stage identifier specified",
        404,
    )
    assert (
        apigw.delete_integration(restApiId=api_id, resourceId=root_id, httpMethod="GET")["ResponseMetadata"][
            "HTTPStatusCode"
        ]
        == 204
    )
    assert (
        apigw.delete_method(restApiId=api_id, resourceId=root_id, httpMethod="GET")["ResponseMetadata"][
            "HTTPStatusCode"
        ]
        == 204
    )
    assert refused(apigw.get_method, restApiId=api_id, resourceId=root_id, httpMethod="GET") == (
        "NotFoundException",
        "Invalid Method identifier specified",
        404,
    )
    apigw.delete_rest_api(restApiId=api_id)


# serving


def test_event_fields(server: RunningServer, apigw: Any, function_arn: str) -> None:
    api = build(apigw, function_arn, binaryMediaTypes=["image/png"])
    reply = call(server, api, "GET", "/prod/", headers=[("User-Agent", "probe")])
    assert reply.status == 200
    event = reply.json()
    assert "version" not in event
    assert (event["resource"], event["path"], event["httpMethod"]) == ("/", "/", "GET")
    for absent in ("queryStringParameters", "multiValueQueryStringParameters", "pathParameters", "body"):
        assert event[absent] is None, absent
    assert event["isBase64Encoded"] is False and event["stageVariables"] == {"color": "blue"}
    assert event["headers"]["Host"] == host(server, api) and event["headers"]["User-Agent"] == "probe"
    assert event["multiValueHeaders"]["User-Agent"] == ["probe"]
    context = event["requestContext"]
    root = apigw.get_resource(restApiId=api["id"], resourceId=api["rootResourceId"])
    assert context["resourceId"] == root["id"] and context["resourcePath"] == "/"
    assert (context["path"], context["stage"], context["httpMethod"]) == ("/prod/", "prod", "GET")
    assert context["apiId"] == api["id"] and context["accountId"] == "000000000000"
    assert context["domainName"] == f"{api['id']}.execute-api.localhost" and context["domainPrefix"] == api["id"]
    assert context["requestId"] == reply.header("x-amzn-RequestId") and context["protocol"] == "HTTP/1.1"
    assert context["requestTimeEpoch"] > 1_700_000_000_000 and context["requestTime"].endswith(" +0000")
    identity = context["identity"]
    assert identity["sourceIp"] == "127.0.0.1" and identity["userAgent"] == "probe" and identity["user"] is None
    assert reply.header("x-amz-apigw-id")

    event = call(
        server,
        api,
        "POST",
        "/prod/items/7?q=a&q=b&one=1",
        body=b'{"title": "x"}',
        headers=[("Content-Type", "application/json"), ("X-Rep", "1"), ("X-Rep", "2")],
    ).json()
    assert (event["resource"], event["path"], event["pathParameters"]) == ("/items/{id}", "/items/7", {"id": "7"})
    assert event["body"] == '{"title": "x"}' and event["isBase64Encoded"] is False
    assert event["queryStringParameters"] == {"q": "b", "one": "1"}
    assert event["multiValueQueryStringParameters"] == {"q": ["a", "b"], "one": ["1"]}
    assert event["headers"]["X-Rep"] == "2" and event["multiValueHeaders"]["X-Rep"] == ["1", "2"]
    assert event["requestContext"]["path"] == "/prod/items/7"
    assert event["requestContext"]["resourcePath"] == "/items/{id}" and event["requestContext"]["httpMethod"] == "POST"

    text = call(server, api, "PUT", "/prod/items/7", body=b"plain words", headers=[("Content-Type", "text/plain")])
    assert text.json()["body"] == "plain words" and text.json()["isBase64Encoded"] is False
    binary = call(server, api, "PUT", "/prod/items/7", body=b"\x00\x01\xff", headers=[("Content-Type", "image/png")])
    event = binary.json()
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\x00\x01\xff"

    greedy = call(server, api, "DELETE", "/prod/files/a/b%20c.txt").json()
    assert greedy["resource"] == "/files/{proxy+}" and greedy["pathParameters"] == {"proxy": "a/b c.txt"}
    path_style = http_call(server.port, "GET", f"/_aws/execute-api/{api['id']}/prod/items/9?x=1")
    assert path_style.status == 200
    event = path_style.json()
    assert event["pathParameters"] == {"id": "9"} and event["requestContext"]["path"] == "/prod/items/9"
    assert event["queryStringParameters"] == {"x": "1"}


def test_resource_and_method_selection(server: RunningServer, apigw: Any, function_arn: str) -> None:
    api = build(apigw, function_arn)

    def resource_of(method: str, path: str) -> tuple[str, Any]:
        reply = call(server, api, method, path)
        assert reply.status == 200, (method, path, reply.body)
        event = reply.json()
        return event["resource"], event["pathParameters"]

    assert resource_of("GET", "/prod/items/special") == ("/items/special", None)
    assert resource_of("POST", "/prod/items/special") == ("/items/{id}", {"id": "special"})  # it has GET only
    assert resource_of("GET", "/prod/items/42/") == ("/items/{id}", {"id": "42"})
    assert resource_of("PATCH", "/prod/items") == ("/items", None)
    assert resource_of("GET", "/prod") == ("/", None)
    for path in ("/prod/nowhere", "/prod/files", "/prod/items/1/more", "/staging/items/1"):
        assert_missing_token(call(server, api, "GET", path))
    no_stage = call(server, api, "GET", "/")
    assert no_stage.status == 403 and no_stage.json() == {"message": "Forbidden"}
    assert call(server, {"id": "nosuchapi1"}, "GET", "/prod/").status == 404


def test_response_mapping_and_errors(server: RunningServer, apigw: Any, function_arn: str) -> None:
    api = build(apigw, function_arn, binaryMediaTypes=["image/*"])
    mapped = call(server, api, "GET", "/prod/items/binary", headers=[("Accept", "image/png, */*")])
    assert mapped.status == 201 and mapped.body == b"\x00\xff"
    assert mapped.all("x-multi") == ["a", "b"] and mapped.header("x-one") == "1"
    assert mapped.header("content-type") == "application/json"  # API Gateway's default
    as_text = call(server, api, "GET", "/prod/items/binary", headers=[("Accept", "application/json")])
    assert as_text.status == 201 and as_text.body == base64.b64encode(b"\x00\xff")  # Accept is not binary
    plain = call(server, api, "GET", "/prod/items/plain")
    assert plain.status == 200 and plain.body == b"hi" and plain.header("content-type") == "application/json"
    for path in ("/prod/items/fail", "/prod/items/malformed", "/prod/items/object-body"):
        reply = call(server, api, "GET", path)
        assert reply.status == 502 and reply.json() == {"message": "Internal server error"}, path
    head = call(server, api, "HEAD", "/prod/items/plain")
    assert head.status == 200 and head.body == b""
    too_large = call(server, api, "POST", "/prod/items/1", body=b"x" * 10_485_761)
    assert too_large.status == 413 and too_large.json() == {"message": "Request Entity Too Large"}


def test_function_that_cannot_be_invoked(server: RunningServer, lam: Any, apigw: Any, name: str) -> None:
    arn = create(lam, name + "-gone", make_zip({"app.py": APP}))["FunctionArn"]
    api = build(apigw, arn)
    assert call(server, api, "GET", "/prod/items/1").status == 200
    lam.delete_function(FunctionName=arn)
    reply = call(server, api, "GET", "/prod/items/1")
    assert reply.status == 500 and reply.json() == {"message": "Internal server error"}


def test_changes_are_live_once_deployed(server: RunningServer, apigw: Any, function_arn: str) -> None:
    api = build(apigw, function_arn)
    api_id = api["id"]
    first = apigw.get_stage(restApiId=api_id, stageName="prod")["deploymentId"]
    apigw.create_stage(restApiId=api_id, stageName="old", deploymentId=first)
    new = apigw.create_resource(restApiId=api_id, parentId=api["rootResourceId"], pathPart="new")["id"]
    proxy_method(apigw, api_id, new, function_arn)
    assert_missing_token(call(server, api, "GET", "/prod/new"))
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    assert call(server, api, "GET", "/prod/new").json()["resource"] == "/new"
    assert_missing_token(call(server, api, "GET", "/old/new"))  # still the first deployment
    apigw.update_stage(
        restApiId=api_id,
        stageName="prod",
        patchOperations=[{"op": "replace", "path": "/variables/color", "value": "red"}],
    )  # stage settings apply at once
    assert call(server, api, "GET", "/prod/new").json()["stageVariables"] == {"color": "red"}
    apigw.delete_stage(restApiId=api_id, stageName="old")
    assert_missing_token(call(server, api, "GET", "/old/items/1"))


def test_stage_variables_in_the_integration_uri(server: RunningServer, apigw: Any, function_arn: str) -> None:
    name = function_arn.rsplit(":", 1)[1]
    api = apigw.create_rest_api(name="by-variable")
    api_id = api["id"]
    apigw.put_method(restApiId=api_id, resourceId=api["rootResourceId"], httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(
        restApiId=api_id,
        resourceId=api["rootResourceId"],
        httpMethod="GET",
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        uri=uri("arn:aws:lambda:us-east-1:000000000000:function:${stageVariables.fn}"),
    )
    apigw.create_deployment(restApiId=api_id, stageName="good", variables={"fn": name})
    apigw.create_deployment(restApiId=api_id, stageName="bad", variables={"fn": "nothing-here"})
    assert call(server, api, "GET", "/good/").json()["stageVariables"] == {"fn": name}
    assert call(server, api, "GET", "/bad/").status == 500


def test_aws_iam_methods_need_a_signature(server: RunningServer, apigw: Any, function_arn: str) -> None:
    api = apigw.create_rest_api(name="iam")
    proxy_method(apigw, api["id"], api["rootResourceId"], function_arn, auth="AWS_IAM")
    apigw.create_deployment(restApiId=api["id"], stageName="prod")
    assert_missing_token(call(server, api, "GET", "/prod/"))
    signature = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/execute-api/aws4_request, Signature=0"
    signed = call(server, api, "GET", "/prod/", headers=[("Authorization", signature)])
    assert signed.status == 200 and signed.json()["requestContext"]["identity"]["accessKey"] == "AKIDEXAMPLE"


def test_disabled_execute_api_endpoint(server: RunningServer, apigw: Any, function_arn: str) -> None:
    api = build(apigw, function_arn, disableExecuteApiEndpoint=True)
    reply = call(server, api, "GET", "/prod/items/1")
    assert reply.status == 403 and reply.json() == {"message": "Forbidden"}


def test_integration_timeout(server: RunningServer, lam: Any, apigw: Any, function_arn: str) -> None:
    api = apigw.create_rest_api(name="slow")
    slow = apigw.create_resource(restApiId=api["id"], parentId=api["rootResourceId"], pathPart="slow")["id"]
    proxy_method(apigw, api["id"], slow, function_arn, timeoutInMillis=1000)
    apigw.create_deployment(restApiId=api["id"], stageName="prod")
    reply = call(server, api, "GET", "/prod/slow")
    assert reply.status == 504 and reply.json() == {"message": "Endpoint request timed out"}
    request_id = reply.header("x-amzn-RequestId")
    logs = server.client(service="logs")
    name = function_arn.rsplit(":", 1)[1]
    deadline = time.monotonic() + 30
    report: list[dict[str, Any]] = []
    while not report and time.monotonic() < deadline:  # the function runs on after the gateway gave up
        try:
            report = logs.filter_log_events(
                logGroupName=f"/aws/lambda/{name}", filterPattern=f'"REPORT RequestId: {request_id}"'
            )["events"]
        except logs.exceptions.ResourceNotFoundException:  # the group appears with the first flushed lines
            pass
        time.sleep(0.5)
    assert report and "Status: timeout" not in report[0]["message"]
    assert lam.invoke(FunctionName=function_arn, Payload=b'{"path": "/x"}')["StatusCode"] == 200


def test_deleted_api_and_restart(own_server: RunningServer, name: str) -> None:
    lam = own_server.client()
    apigw = own_server.client(service="apigateway")
    arn = create(lam, name, make_zip({"app.py": APP}))["FunctionArn"]
    kept, gone = build(apigw, arn), build(apigw, arn)
    assert call(own_server, gone, "GET", "/prod/items/1").status == 200
    apigw.delete_rest_api(restApiId=gone["id"])
    reply = call(own_server, gone, "GET", "/prod/items/1")
    assert reply.status == 404 and reply.json() == {"message": "Not Found"}
    own_server.stop()
    restarted = start_server(own_server.data_dir, port=own_server.port)
    try:
        reply = call(restarted, kept, "GET", "/prod/items/5")
        assert reply.status == 200 and reply.json()["pathParameters"] == {"id": "5"}
        assert reply.json()["stageVariables"] == {"color": "blue"}
        assert call(restarted, gone, "GET", "/prod/items/1").status == 404
        restarted_apigw = restarted.client(service="apigateway")
        assert restarted_apigw.get_stage(restApiId=kept["id"], stageName="prod")["variables"] == {"color": "blue"}
    finally:
        restarted.stop()
