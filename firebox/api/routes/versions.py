"""Versions and aliases: PublishVersion, ListVersionsByFunction, CreateAlias, GetAlias, UpdateAlias, DeleteAlias,
ListAliases."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from firebox.api import shapes
from firebox.api.http import decode_marker, empty_response, encode_marker, int_param, json_body, json_response
from firebox.api.operations import rest
from firebox.api.services import services_of
from firebox.control.versions import VersionService
from firebox.models.function import LATEST, Alias

PREFIX = "/2015-03-31/functions/{name}"
DEFAULT_PAGE = 50


def _versions(request: Request) -> VersionService:
    return services_of(request).versions


async def publish_version(request: Request) -> Response:
    body = await json_body(request, "PublishVersion")
    versions = _versions(request)
    config = await versions.publish(
        request.path_params["name"], body.get("CodeSha256"), body.get("Description"), body.get("RevisionId")
    )
    arn = versions.functions.arn(config.name, config.version)
    return json_response(shapes.function_configuration(config, arn), status=201)


async def list_versions(request: Request) -> Response:
    versions = _versions(request)
    limit = int_param(request, "MaxItems", 1, 10000) or DEFAULT_PAGE
    marker = decode_marker(request.query_params.get("Marker"))
    after = -1 if marker is None else 0 if marker == LATEST else int(marker) if marker.isdigit() else -1
    configs = await versions.list_versions(request.path_params["name"], after, limit + 1)
    doc: dict[str, Any] = {
        "Versions": [
            shapes.function_configuration(c, versions.functions.arn(c.name, c.version), listing=True)
            for c in configs[:limit]
        ]
    }
    if len(configs) > limit:
        doc["NextMarker"] = encode_marker(configs[limit - 1].version)
    return json_response(doc)


def _weights(body: dict[str, Any]) -> dict[str, float] | None:
    routing = body.get("RoutingConfig")
    if routing is None:
        return None
    return dict(routing.get("AdditionalVersionWeights") or {})


def _alias_doc(versions: VersionService, alias: Alias) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "AliasArn": versions.alias_arn(alias),
        "Name": alias.name,
        "FunctionVersion": alias.function_version,
        "Description": alias.description,
    }
    if alias.additional_version is not None:
        doc["RoutingConfig"] = {"AdditionalVersionWeights": {alias.additional_version: alias.additional_weight}}
    doc["RevisionId"] = alias.revision_id
    return doc


async def create_alias(request: Request) -> Response:
    body = await json_body(request, "CreateAlias")
    versions = _versions(request)
    alias = await versions.create_alias(
        request.path_params["name"], body["Name"], body["FunctionVersion"], body.get("Description", ""), _weights(body)
    )
    return json_response(_alias_doc(versions, alias), status=201)


async def get_alias(request: Request) -> Response:
    versions = _versions(request)
    alias = await versions.get_alias(request.path_params["name"], request.path_params["alias"])
    return json_response(_alias_doc(versions, alias))


async def update_alias(request: Request) -> Response:
    body = await json_body(request, "UpdateAlias")
    versions = _versions(request)
    alias = await versions.update_alias(
        request.path_params["name"],
        request.path_params["alias"],
        body.get("FunctionVersion"),
        body.get("Description"),
        _weights(body),
        body.get("RevisionId"),
    )
    return json_response(_alias_doc(versions, alias))


async def delete_alias(request: Request) -> Response:
    await _versions(request).delete_alias(request.path_params["name"], request.path_params["alias"])
    return empty_response(204)


async def list_aliases(request: Request) -> Response:
    versions = _versions(request)
    limit = int_param(request, "MaxItems", 1, 10000) or DEFAULT_PAGE
    aliases = await versions.list_aliases(
        request.path_params["name"],
        request.query_params.get("FunctionVersion"),
        decode_marker(request.query_params.get("Marker")),
        limit + 1,
    )
    doc: dict[str, Any] = {"Aliases": [_alias_doc(versions, a) for a in aliases[:limit]]}
    if len(aliases) > limit:
        doc["NextMarker"] = encode_marker(aliases[limit - 1].name)
    return json_response(doc)


operations = [
    rest("lambda", "PublishVersion", "POST", PREFIX + "/versions", publish_version),
    rest("lambda", "ListVersionsByFunction", "GET", PREFIX + "/versions", list_versions),
    rest("lambda", "CreateAlias", "POST", PREFIX + "/aliases", create_alias),
    rest("lambda", "ListAliases", "GET", PREFIX + "/aliases", list_aliases),
    rest("lambda", "GetAlias", "GET", PREFIX + "/aliases/{alias}", get_alias),
    rest("lambda", "UpdateAlias", "PUT", PREFIX + "/aliases/{alias}", update_alias),
    rest("lambda", "DeleteAlias", "DELETE", PREFIX + "/aliases/{alias}", delete_alias),
]
