"""Reserved concurrency: PutFunctionConcurrency, GetFunctionConcurrency, DeleteFunctionConcurrency."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from firebox.api.http import empty_response, json_body, json_response
from firebox.api.operations import rest
from firebox.api.services import services_of
from firebox.errors import ValidationException


async def put_function_concurrency(request: Request) -> Response:
    body = await json_body(request, "PutFunctionConcurrency")
    reserved = body.get("ReservedConcurrentExecutions")
    if reserved is None:
        raise ValidationException.of([(None, "reservedConcurrentExecutions", "Member must not be null")])
    await services_of(request).concurrency.put(request.path_params["name"], reserved)
    return json_response({"ReservedConcurrentExecutions": reserved})


async def get_function_concurrency(request: Request) -> Response:
    reserved = await services_of(request).concurrency.get(request.path_params["name"])
    return json_response({} if reserved is None else {"ReservedConcurrentExecutions": reserved})


async def delete_function_concurrency(request: Request) -> Response:
    await services_of(request).concurrency.put(request.path_params["name"], None)
    return empty_response(204)


operations = [
    rest(
        "lambda", "PutFunctionConcurrency", "PUT", "/2017-10-31/functions/{name}/concurrency", put_function_concurrency
    ),
    rest(
        "lambda", "GetFunctionConcurrency", "GET", "/2019-09-30/functions/{name}/concurrency", get_function_concurrency
    ),
    rest(
        "lambda",
        "DeleteFunctionConcurrency",
        "DELETE",
        "/2017-10-31/functions/{name}/concurrency",
        delete_function_concurrency,
    ),
]
