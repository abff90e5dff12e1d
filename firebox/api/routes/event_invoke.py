"""Event invoke configurations: Put/Get/Update/Delete/ListFunctionEventInvokeConfig(s)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from firebox.api.http import empty_response, json_body, json_response
from firebox.api.operations import rest
from firebox.api.services import services_of

PATH = "/2019-09-25/functions/{name}/event-invoke-config"


async def put_config(request: Request) -> Response:
    merge = request.method == "POST"
    body = await json_body(request, "UpdateFunctionEventInvokeConfig" if merge else "PutFunctionEventInvokeConfig")
    service = services_of(request).event_invoke
    name, qualifier = await service.put(
        request.path_params["name"], request.query_params.get("Qualifier"), body, merge=merge
    )
    _, _, config = await service.get(name, qualifier)
    return json_response(service.document(name, qualifier, config))


async def get_config(request: Request) -> Response:
    service = services_of(request).event_invoke
    name, qualifier, config = await service.get(request.path_params["name"], request.query_params.get("Qualifier"))
    return json_response(service.document(name, qualifier, config))


async def delete_config(request: Request) -> Response:
    await services_of(request).event_invoke.delete(request.path_params["name"], request.query_params.get("Qualifier"))
    return empty_response(204)


async def list_configs(request: Request) -> Response:
    service = services_of(request).event_invoke
    name, configs = await service.list(request.path_params["name"])
    return json_response(
        {"FunctionEventInvokeConfigs": [service.document(name, qualifier, c) for qualifier, c in configs]}
    )


operations = [
    rest("lambda", "PutFunctionEventInvokeConfig", "PUT", PATH, put_config),
    rest("lambda", "UpdateFunctionEventInvokeConfig", "POST", PATH, put_config),
    rest("lambda", "GetFunctionEventInvokeConfig", "GET", PATH, get_config),
    rest("lambda", "DeleteFunctionEventInvokeConfig", "DELETE", PATH, delete_config),
    rest("lambda", "ListFunctionEventInvokeConfigs", "GET", PATH + "/list", list_configs),
]
