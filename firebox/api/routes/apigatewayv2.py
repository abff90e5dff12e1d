"""API Gateway HTTP APIs (`apigatewayv2`): APIs, routes, integrations, stages and authorizers.

Bodies and answers are the JSON documents of `firebox.control.http_apis` (lower-camel-case members, as API
Gateway's REST-JSON protocol has them)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from firebox.api.http import empty_response, gateway_body, json_response
from firebox.api.operations import Operation, rest
from firebox.api.services import services_of

APIS = "/v2/apis"
API = "/v2/apis/{apiId}"
PLURAL = {"route": "routes", "integration": "integrations", "stage": "stages", "authorizer": "authorizers"}
OPERATION = {"route": "Route", "integration": "Integration", "stage": "Stage", "authorizer": "Authorizer"}


async def create_api(request: Request) -> Response:
    body = await gateway_body(request, "CreateApi")
    return json_response(await services_of(request).http_apis.create_api(body), status=201)


async def get_api(request: Request) -> Response:
    return json_response(await services_of(request).http_apis.get_api(request.path_params["apiId"]))


async def get_apis(request: Request) -> Response:
    return json_response({"items": await services_of(request).http_apis.list_apis()})


async def update_api(request: Request) -> Response:
    body = await gateway_body(request, "UpdateApi")
    return json_response(await services_of(request).http_apis.update_api(request.path_params["apiId"], body))


async def delete_api(request: Request) -> Response:
    await services_of(request).http_apis.delete_api(request.path_params["apiId"])
    return empty_response(204)


async def delete_cors(request: Request) -> Response:
    await services_of(request).http_apis.delete_cors(request.path_params["apiId"])
    return empty_response(204)


def _part_operations(kind: str) -> list[Operation]:
    noun = OPERATION[kind]
    collection = f"{API}/{PLURAL[kind]}"
    item = f"{collection}/{{partId}}"

    async def create(request: Request) -> Response:
        body = await gateway_body(request, f"Create{noun}")
        service = services_of(request).http_apis
        return json_response(await service.create_part(request.path_params["apiId"], kind, body), status=201)

    async def get(request: Request) -> Response:
        service = services_of(request).http_apis
        return json_response(await service.get_part(request.path_params["apiId"], kind, request.path_params["partId"]))

    async def list_all(request: Request) -> Response:
        service = services_of(request).http_apis
        return json_response({"items": await service.list_parts(request.path_params["apiId"], kind)})

    async def update(request: Request) -> Response:
        body = await gateway_body(request, f"Update{noun}")
        service = services_of(request).http_apis
        path = request.path_params
        return json_response(await service.update_part(path["apiId"], kind, path["partId"], body))

    async def delete(request: Request) -> Response:
        service = services_of(request).http_apis
        await service.delete_part(request.path_params["apiId"], kind, request.path_params["partId"])
        return empty_response(204)

    return [
        rest("apigatewayv2", f"Create{noun}", "POST", collection, create),
        rest("apigatewayv2", f"Get{noun}", "GET", item, get),
        rest("apigatewayv2", f"Get{noun}s", "GET", collection, list_all),
        rest("apigatewayv2", f"Update{noun}", "PATCH", item, update),
        rest("apigatewayv2", f"Delete{noun}", "DELETE", item, delete),
    ]


operations = [
    rest("apigatewayv2", "CreateApi", "POST", APIS, create_api),
    rest("apigatewayv2", "GetApis", "GET", APIS, get_apis),
    rest("apigatewayv2", "GetApi", "GET", API, get_api),
    rest("apigatewayv2", "UpdateApi", "PATCH", API, update_api),
    rest("apigatewayv2", "DeleteApi", "DELETE", API, delete_api),
    rest("apigatewayv2", "DeleteCorsConfiguration", "DELETE", f"{API}/cors", delete_cors),
    *(operation for kind in OPERATION for operation in _part_operations(kind)),
]
