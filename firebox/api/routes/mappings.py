"""Event source mappings: Create/Get/Update/Delete/ListEventSourceMappings."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from firebox.api.http import decode_marker, encode_marker, int_param, json_body, json_response
from firebox.api.operations import rest, route
from firebox.api.services import services_of

PATH = "/2015-03-31/event-source-mappings"


async def create_mapping(request: Request) -> Response:
    body = await json_body(request, "CreateEventSourceMapping")
    service = services_of(request).mappings
    return json_response(service.document(await service.create(body)), status=202)


async def get_mapping(request: Request) -> Response:
    service = services_of(request).mappings
    return json_response(service.document(await service.get(request.path_params["uuid"])))


async def update_mapping(request: Request) -> Response:
    body = await json_body(request, "UpdateEventSourceMapping")
    service = services_of(request).mappings
    return json_response(service.document(await service.update(request.path_params["uuid"], body)), status=202)


async def delete_mapping(request: Request) -> Response:
    service = services_of(request).mappings
    return json_response(service.document(await service.delete(request.path_params["uuid"])), status=202)


async def list_mappings(request: Request) -> Response:
    service = services_of(request).mappings
    limit = int_param(request, "MaxItems", 1, 10000)
    after = decode_marker(request.query_params.get("Marker"))
    mappings, more = await service.list(
        request.query_params.get("FunctionName"), request.query_params.get("EventSourceArn"), after, limit
    )
    doc: dict[str, Any] = {"EventSourceMappings": [service.document(mapping) for mapping in mappings]}
    if more:
        doc["NextMarker"] = encode_marker(mappings[-1].uuid)
    return json_response(doc)


async def figures(request: Request) -> Response:
    """Firebox's own view (Lambda's API has none): each mapping's figures since start, for `firebox mappings`."""
    return json_response({"Mappings": services_of(request).mapping_manager.figures()})


operations = [
    route("GetMappingFigures", "GET", "/firebox/mappings", figures),
    rest("lambda", "CreateEventSourceMapping", "POST", PATH, create_mapping),
    rest("lambda", "ListEventSourceMappings", "GET", PATH, list_mappings),
    rest("lambda", "GetEventSourceMapping", "GET", PATH + "/{uuid}", get_mapping),
    rest("lambda", "UpdateEventSourceMapping", "PUT", PATH + "/{uuid}", update_mapping),
    rest("lambda", "DeleteEventSourceMapping", "DELETE", PATH + "/{uuid}", delete_mapping),
]
