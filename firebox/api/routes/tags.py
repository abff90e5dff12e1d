"""Tags: TagResource, UntagResource, ListTags (on unqualified function ARNs)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from firebox.api.http import empty_response, json_body, json_response
from firebox.api.operations import rest
from firebox.api.services import services_of
from firebox.control.functions import FunctionService
from firebox.errors import ValidationException

PREFIX = "/2017-03-31/tags"


def _service(request: Request) -> FunctionService:
    return services_of(request).functions


async def list_tags(request: Request) -> Response:
    tags = await _service(request).list_tags(request.path_params["arn"])
    return json_response({"Tags": dict(tags)})


async def tag_resource(request: Request) -> Response:
    body = await json_body(request, "TagResource")
    if body.get("Tags") is None:
        raise ValidationException.of([(None, "tags", "Member must not be null")])
    await _service(request).tag(request.path_params["arn"], body["Tags"])
    return empty_response(204)


async def untag_resource(request: Request) -> Response:
    keys = request.query_params.getlist("tagKeys")
    if not keys:
        raise ValidationException.of([(None, "tagKeys", "Member must not be null")])
    await _service(request).untag(request.path_params["arn"], keys)
    return empty_response(204)


operations = [
    rest("lambda", "ListTags", "GET", PREFIX + "/{arn}", list_tags),
    rest("lambda", "TagResource", "POST", PREFIX + "/{arn}", tag_resource),
    rest("lambda", "UntagResource", "DELETE", PREFIX + "/{arn}", untag_resource),
]
