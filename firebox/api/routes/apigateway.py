"""API Gateway REST APIs (`apigateway`): REST APIs, resources, methods, integrations, deployments and stages.

Bodies and answers are the JSON documents of `firebox.control.rest_apis` (lower-camel-case members). Lists are
`{"item": [...], "position": ...}`: botocore's model names the list member `items` and sends it on the wire as
`item`. `limit` and `position` page them; `embed=methods` (resources) and `embed=apisummary` (a deployment) add
what AWS adds.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from firebox.api.http import empty_response, gateway_body, json_response
from firebox.api.operations import rest
from firebox.api.services import services_of
from firebox.control.rest_apis import RestApiService
from firebox.errors import BadRequestException

APIS = "/restapis"
API = APIS + "/{api}"
RESOURCE = API + "/resources/{resource}"
METHOD = RESOURCE + "/methods/{method}"
DEPLOYMENT = API + "/deployments/{deployment}"
STAGE = API + "/stages/{stage}"


async def _patch(request: Request, operation: str) -> list[dict[str, Any]]:
    operations = (await gateway_body(request, operation)).get("patchOperations") or []
    if not isinstance(operations, list) or not all(isinstance(o, dict) for o in operations):
        raise BadRequestException("Invalid request input: patchOperations must be a list of objects")
    return operations


def _service(request: Request) -> RestApiService:
    return services_of(request).rest_apis


def _paging(request: Request) -> tuple[str | None, int | None]:
    raw = request.query_params.get("limit")
    if raw is None:
        return request.query_params.get("position"), None
    try:
        limit = int(raw)
    except ValueError:
        raise BadRequestException(f"Invalid limit: {raw}. The limit must be an integer.") from None
    return request.query_params.get("position"), limit


def _embeds(request: Request, what: str) -> bool:
    return what in {v for value in request.query_params.getlist("embed") for v in value.split(",")}


def _method(request: Request) -> tuple[str, str, str]:
    params = request.path_params
    return params["api"], params["resource"], params["method"]


# APIs


async def create_rest_api(request: Request) -> Response:
    return json_response(await _service(request).create_api(await gateway_body(request, "CreateRestApi")), status=201)


async def get_rest_apis(request: Request) -> Response:
    return json_response(await _service(request).list_apis(*_paging(request)))


async def get_rest_api(request: Request) -> Response:
    return json_response(await _service(request).get_api(request.path_params["api"]))


async def update_rest_api(request: Request) -> Response:
    operations = await _patch(request, "UpdateRestApi")
    return json_response(await _service(request).update_api(request.path_params["api"], operations))


async def delete_rest_api(request: Request) -> Response:
    await _service(request).delete_api(request.path_params["api"])
    return empty_response(202)


# resources


async def get_resources(request: Request) -> Response:
    service = _service(request)
    return json_response(
        await service.get_resources(request.path_params["api"], _embeds(request, "methods"), *_paging(request))
    )


async def get_resource(request: Request) -> Response:
    params = request.path_params
    embed = _embeds(request, "methods")
    return json_response(await _service(request).get_resource(params["api"], params["resource"], embed))


async def create_resource(request: Request) -> Response:
    body = await gateway_body(request, "CreateResource")
    params = request.path_params
    return json_response(await _service(request).create_resource(params["api"], params["resource"], body), 201)


async def delete_resource(request: Request) -> Response:
    await _service(request).delete_resource(request.path_params["api"], request.path_params["resource"])
    return empty_response(202)


# methods and integrations


async def put_method(request: Request) -> Response:
    body = await gateway_body(request, "PutMethod")
    return json_response(await _service(request).put_method(*_method(request), body), status=201)


async def get_method(request: Request) -> Response:
    return json_response(await _service(request).get_method(*_method(request)))


async def delete_method(request: Request) -> Response:
    await _service(request).delete_method(*_method(request))
    return empty_response(204)


async def put_integration(request: Request) -> Response:
    body = await gateway_body(request, "PutIntegration")
    return json_response(await _service(request).put_integration(*_method(request), body), status=201)


async def get_integration(request: Request) -> Response:
    return json_response(await _service(request).get_integration(*_method(request)))


async def delete_integration(request: Request) -> Response:
    await _service(request).delete_integration(*_method(request))
    return empty_response(204)


# deployments


async def create_deployment(request: Request) -> Response:
    body = await gateway_body(request, "CreateDeployment")
    return json_response(await _service(request).create_deployment(request.path_params["api"], body), status=201)


async def get_deployments(request: Request) -> Response:
    return json_response(await _service(request).get_deployments(request.path_params["api"], *_paging(request)))


async def get_deployment(request: Request) -> Response:
    params = request.path_params
    embed = _embeds(request, "apisummary")
    return json_response(await _service(request).get_deployment(params["api"], params["deployment"], embed))


async def delete_deployment(request: Request) -> Response:
    await _service(request).delete_deployment(request.path_params["api"], request.path_params["deployment"])
    return empty_response(202)


# stages


async def create_stage(request: Request) -> Response:
    body = await gateway_body(request, "CreateStage")
    return json_response(await _service(request).create_stage(request.path_params["api"], body), status=201)


async def get_stages(request: Request) -> Response:
    deployment = request.query_params.get("deploymentId")
    return json_response({"item": await _service(request).get_stages(request.path_params["api"], deployment)})


async def get_stage(request: Request) -> Response:
    return json_response(await _service(request).get_stage(request.path_params["api"], request.path_params["stage"]))


async def update_stage(request: Request) -> Response:
    operations = await _patch(request, "UpdateStage")
    params = request.path_params
    return json_response(await _service(request).update_stage(params["api"], params["stage"], operations))


async def delete_stage(request: Request) -> Response:
    await _service(request).delete_stage(request.path_params["api"], request.path_params["stage"])
    return empty_response(202)


operations = [
    rest("apigateway", "CreateRestApi", "POST", APIS, create_rest_api),
    rest("apigateway", "GetRestApis", "GET", APIS, get_rest_apis),
    rest("apigateway", "GetRestApi", "GET", API, get_rest_api),
    rest("apigateway", "UpdateRestApi", "PATCH", API, update_rest_api),
    rest("apigateway", "DeleteRestApi", "DELETE", API, delete_rest_api),
    rest("apigateway", "GetResources", "GET", API + "/resources", get_resources),
    rest("apigateway", "GetResource", "GET", RESOURCE, get_resource),
    rest("apigateway", "CreateResource", "POST", RESOURCE, create_resource),
    rest("apigateway", "DeleteResource", "DELETE", RESOURCE, delete_resource),
    rest("apigateway", "PutMethod", "PUT", METHOD, put_method),
    rest("apigateway", "GetMethod", "GET", METHOD, get_method),
    rest("apigateway", "DeleteMethod", "DELETE", METHOD, delete_method),
    rest("apigateway", "PutIntegration", "PUT", METHOD + "/integration", put_integration),
    rest("apigateway", "GetIntegration", "GET", METHOD + "/integration", get_integration),
    rest("apigateway", "DeleteIntegration", "DELETE", METHOD + "/integration", delete_integration),
    rest("apigateway", "CreateDeployment", "POST", API + "/deployments", create_deployment),
    rest("apigateway", "GetDeployments", "GET", API + "/deployments", get_deployments),
    rest("apigateway", "GetDeployment", "GET", DEPLOYMENT, get_deployment),
    rest("apigateway", "DeleteDeployment", "DELETE", DEPLOYMENT, delete_deployment),
    rest("apigateway", "CreateStage", "POST", API + "/stages", create_stage),
    rest("apigateway", "GetStages", "GET", API + "/stages", get_stages),
    rest("apigateway", "GetStage", "GET", STAGE, get_stage),
    rest("apigateway", "UpdateStage", "PATCH", STAGE, update_stage),
    rest("apigateway", "DeleteStage", "DELETE", STAGE, delete_stage),
]
