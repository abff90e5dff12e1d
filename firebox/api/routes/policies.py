"""Resource policies: AddPermission, GetPolicy, RemovePermission."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from firebox.api.http import empty_response, json_body, json_response
from firebox.api.operations import rest
from firebox.api.services import services_of

PREFIX = "/2015-03-31/functions/{name}/policy"


async def add_permission(request: Request) -> Response:
    body = await json_body(request, "AddPermission")
    statement = await services_of(request).policies.add_permission(
        request.path_params["name"], request.query_params.get("Qualifier"), body
    )
    return json_response({"Statement": json.dumps(statement)}, status=201)


async def get_policy(request: Request) -> Response:
    policy, revision_id = await services_of(request).policies.get_policy(
        request.path_params["name"], request.query_params.get("Qualifier")
    )
    return json_response({"Policy": json.dumps(policy), "RevisionId": revision_id})


async def remove_permission(request: Request) -> Response:
    await services_of(request).policies.remove_permission(
        request.path_params["name"],
        request.query_params.get("Qualifier"),
        request.path_params["sid"],
        request.query_params.get("RevisionId"),
    )
    return empty_response(204)


operations = [
    rest("lambda", "AddPermission", "POST", PREFIX, add_permission),
    rest("lambda", "GetPolicy", "GET", PREFIX, get_policy),
    rest("lambda", "RemovePermission", "DELETE", PREFIX + "/{sid}", remove_permission),
]
