"""Function URL configurations: Create/Get/Update/Delete/ListFunctionUrlConfig(s)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from firebox.api.http import decode_marker, empty_response, encode_marker, int_param, json_body, json_response
from firebox.api.operations import rest
from firebox.api.services import services_of

PATH = "/2021-10-31/functions/{name}/url"


async def create_config(request: Request) -> Response:
    body = await json_body(request, "CreateFunctionUrlConfig")
    service = services_of(request).urls
    config = await service.create(request.path_params["name"], request.query_params.get("Qualifier"), body)
    return json_response(service.document(config, modified=False), status=201)


async def get_config(request: Request) -> Response:
    service = services_of(request).urls
    config = await service.get(request.path_params["name"], request.query_params.get("Qualifier"))
    return json_response(service.document(config))


async def update_config(request: Request) -> Response:
    body = await json_body(request, "UpdateFunctionUrlConfig")
    service = services_of(request).urls
    config = await service.update(request.path_params["name"], request.query_params.get("Qualifier"), body)
    return json_response(service.document(config))


async def delete_config(request: Request) -> Response:
    await services_of(request).urls.delete(request.path_params["name"], request.query_params.get("Qualifier"))
    return empty_response(204)


async def list_configs(request: Request) -> Response:
    service = services_of(request).urls
    limit = int_param(request, "MaxItems", 1, 50)
    after = decode_marker(request.query_params.get("Marker"))
    configs, more = await service.list(request.path_params["name"], after and after.removeprefix("q:"), limit)
    doc: dict[str, Any] = {"FunctionUrlConfigs": [service.document(config) for config in configs]}
    if more:
        doc["NextMarker"] = encode_marker("q:" + (configs[-1].qualifier or ""))
    return json_response(doc)


operations = [
    rest("lambda", "CreateFunctionUrlConfig", "POST", PATH, create_config),
    rest("lambda", "GetFunctionUrlConfig", "GET", PATH, get_config),
    rest("lambda", "UpdateFunctionUrlConfig", "PUT", PATH, update_config),
    rest("lambda", "DeleteFunctionUrlConfig", "DELETE", PATH, delete_config),
    rest("lambda", "ListFunctionUrlConfigs", "GET", "/2021-10-31/functions/{name}/urls", list_configs),
]
