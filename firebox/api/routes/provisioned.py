"""Provisioned concurrency: Put/Get/Delete/ListProvisionedConcurrencyConfig(s)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from firebox.api.http import empty_response, json_body, json_response
from firebox.api.operations import rest
from firebox.api.services import Services, services_of
from firebox.clock import aws_timestamp

PATH = "/2019-09-30/functions/{name}/provisioned-concurrency"


def _document(services: Services, name: str, qualifier: str, requested: int, modified: float) -> dict[str, Any]:
    allocated = services.provisioned.allocated(name, qualifier)
    return {
        "RequestedProvisionedConcurrentExecutions": requested,
        "AvailableProvisionedConcurrentExecutions": allocated,
        "AllocatedProvisionedConcurrentExecutions": allocated,
        "Status": "READY" if allocated >= requested else "IN_PROGRESS",
        "LastModified": aws_timestamp(modified),
    }


async def put_config(request: Request) -> Response:
    body = await json_body(request, "PutProvisionedConcurrencyConfig")
    services = services_of(request)
    requested = body["ProvisionedConcurrentExecutions"]
    name, qualifier, modified = await services.provisioned_configs.put(
        request.path_params["name"], request.query_params.get("Qualifier"), requested
    )
    services.provisioned.wake()
    return json_response(_document(services, name, qualifier, requested, modified), status=202)


async def list_configs(request: Request) -> Response:
    services = services_of(request)
    configs = await services.provisioned_configs.list(request.path_params["name"])
    return json_response(
        {
            "ProvisionedConcurrencyConfigs": [
                {"FunctionArn": services.functions.arn(n, q), **_document(services, n, q, r, m)}
                for n, q, r, m in configs
            ]
        }
    )


async def get_config(request: Request) -> Response:
    services = services_of(request)
    name, qualifier, requested, modified = await services.provisioned_configs.get(
        request.path_params["name"], request.query_params.get("Qualifier")
    )
    return json_response(_document(services, name, qualifier, requested, modified))


async def delete_config(request: Request) -> Response:
    services = services_of(request)
    await services.provisioned_configs.delete(request.path_params["name"], request.query_params.get("Qualifier"))
    services.provisioned.wake()
    return empty_response(204)


operations = [
    rest("lambda", "PutProvisionedConcurrencyConfig", "PUT", PATH, put_config),
    rest("lambda", "GetProvisionedConcurrencyConfig", "GET", PATH, get_config),
    rest("lambda", "ListProvisionedConcurrencyConfigs", "GET", PATH + "?List=ALL", list_configs),
    rest("lambda", "DeleteProvisionedConcurrencyConfig", "DELETE", PATH, delete_config),
]
