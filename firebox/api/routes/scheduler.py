"""EventBridge Scheduler (`scheduler`, REST-JSON): schedules, schedule groups and the groups' tags, on the same
endpoint as everything else (`/schedules/...`, `/schedule-groups/...`, `/tags/...`).

Members arrive in the body, the path and the query string as botocore's model places them; the handlers gather them
under their member names and `control/schedules.py` checks and applies them."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from firebox.api.http import json_response, read_body
from firebox.api.operations import rest
from firebox.api.services import services_of
from firebox.control.schedules import ScheduleService
from firebox.errors import SchedulerValidationException

SCHEDULES = "/schedules"
SCHEDULE = "/schedules/{Name}"
GROUPS = "/schedule-groups"
GROUP = "/schedule-groups/{Name}"
TAGS = "/tags/{ResourceArn+}"
"""A group's ARN holds a `/` (`...:schedule-group/name`), so the parameter takes the rest of the path."""


def _service(request: Request) -> ScheduleService:
    return services_of(request).schedules


async def _body(request: Request, operation: str) -> dict[str, Any]:
    raw = await read_body(request, operation)
    if not raw.strip():
        return {}
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise SchedulerValidationException("The request body is not valid JSON.") from None
    if not isinstance(doc, dict):
        raise SchedulerValidationException("The request body must be a JSON object.")
    return doc


def _max_results(request: Request) -> int | None:
    raw = request.query_params.get("MaxResults")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise SchedulerValidationException.of([(raw, "maxResults", "Member must be an integer")]) from None


async def create_schedule(request: Request) -> Response:
    body = await _body(request, "CreateSchedule")
    arn = await _service(request).create_schedule(request.path_params["Name"], body)
    return json_response({"ScheduleArn": arn})


async def get_schedule(request: Request) -> Response:
    doc = await _service(request).get_schedule(request.path_params["Name"], request.query_params.get("groupName"))
    return json_response(doc)


async def update_schedule(request: Request) -> Response:
    body = await _body(request, "UpdateSchedule")
    arn = await _service(request).update_schedule(request.path_params["Name"], body)
    return json_response({"ScheduleArn": arn})


async def delete_schedule(request: Request) -> Response:
    await _service(request).delete_schedule(request.path_params["Name"], request.query_params.get("groupName"))
    return json_response({})


async def list_schedules(request: Request) -> Response:
    query = request.query_params
    schedules, token = await _service(request).list_schedules(
        query.get("ScheduleGroup"),
        query.get("NamePrefix"),
        query.get("State"),
        query.get("NextToken"),
        _max_results(request),
    )
    doc: dict[str, Any] = {"Schedules": schedules}
    if token:
        doc["NextToken"] = token
    return json_response(doc)


async def create_group(request: Request) -> Response:
    body = await _body(request, "CreateScheduleGroup")
    arn = await _service(request).create_group(request.path_params["Name"], body)
    return json_response({"ScheduleGroupArn": arn})


async def get_group(request: Request) -> Response:
    return json_response(await _service(request).get_group(request.path_params["Name"]))


async def delete_group(request: Request) -> Response:
    await _service(request).delete_group(request.path_params["Name"])
    return json_response({})


async def list_groups(request: Request) -> Response:
    query = request.query_params
    groups, token = await _service(request).list_groups(
        query.get("NamePrefix"), query.get("NextToken"), _max_results(request)
    )
    doc: dict[str, Any] = {"ScheduleGroups": groups}
    if token:
        doc["NextToken"] = token
    return json_response(doc)


async def list_tags(request: Request) -> Response:
    return json_response({"Tags": await _service(request).list_tags(request.path_params["ResourceArn"])})


async def tag_resource(request: Request) -> Response:
    body = await _body(request, "TagResource")
    tags = body.get("Tags")
    if not isinstance(tags, list):
        raise SchedulerValidationException.of([(None, "tags", "Member must not be null")])
    await _service(request).tag(request.path_params["ResourceArn"], tags)
    return json_response({})


async def untag_resource(request: Request) -> Response:
    keys = request.query_params.getlist("TagKeys")
    await _service(request).untag(request.path_params["ResourceArn"], keys)
    return json_response({})


operations = [
    rest("scheduler", "CreateSchedule", "POST", SCHEDULE, create_schedule),
    rest("scheduler", "GetSchedule", "GET", SCHEDULE, get_schedule),
    rest("scheduler", "UpdateSchedule", "PUT", SCHEDULE, update_schedule),
    rest("scheduler", "DeleteSchedule", "DELETE", SCHEDULE, delete_schedule),
    rest("scheduler", "ListSchedules", "GET", SCHEDULES, list_schedules),
    rest("scheduler", "CreateScheduleGroup", "POST", GROUP, create_group),
    rest("scheduler", "GetScheduleGroup", "GET", GROUP, get_group),
    rest("scheduler", "DeleteScheduleGroup", "DELETE", GROUP, delete_group),
    rest("scheduler", "ListScheduleGroups", "GET", GROUPS, list_groups),
    rest("scheduler", "ListTagsForResource", "GET", TAGS, list_tags),
    rest("scheduler", "TagResource", "POST", TAGS, tag_resource),
    rest("scheduler", "UntagResource", "DELETE", TAGS, untag_resource),
]
