"""Layers: PublishLayerVersion, GetLayerVersion, GetLayerVersionByArn, ListLayers, ListLayerVersions,
DeleteLayerVersion."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from firebox.api.http import (
    CODE_BODY_LIMIT,
    decode_marker,
    decode_zip,
    empty_response,
    encode_marker,
    int_param,
    json_body,
    json_response,
)
from firebox.api.operations import rest
from firebox.api.services import services_of
from firebox.clock import aws_timestamp
from firebox.control.layers import LayerService
from firebox.errors import InvalidParameterValueException, ValidationException
from firebox.models.arn import FUNCTION_NAME
from firebox.models.function import LayerVersion

PREFIX = "/2018-10-31/layers"
PAGE_MAX = 50


def _layers(request: Request) -> LayerService:
    return services_of(request).layers


def _document(layers: LayerService, layer: LayerVersion, request: Request, *, content: bool = True) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    if content:
        doc["Content"] = {
            "Location": f"{request.base_url}firebox/code/{layer.code.sha256}.zip",
            "CodeSha256": layer.code.sha256_base64,
            "CodeSize": layer.code.size,
        }
        doc["LayerArn"] = layers.arn(layer.layer_name)
    doc["LayerVersionArn"] = layers.arn(layer.layer_name, layer.version)
    doc["Description"] = layer.description
    doc["CreatedDate"] = aws_timestamp(layer.created_at)
    doc["Version"] = layer.version
    if layer.compatible_runtimes:
        doc["CompatibleRuntimes"] = list(layer.compatible_runtimes)
    if layer.license_info is not None:
        doc["LicenseInfo"] = layer.license_info
    if layer.compatible_architectures:
        doc["CompatibleArchitectures"] = list(layer.compatible_architectures)
    return doc


def _name(request: Request) -> str:
    name: str = request.path_params["layer"]
    if not FUNCTION_NAME.fullmatch(name) and len(name) <= 140:
        raise ValidationException.of(
            [(name, "layerName", "Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+")]
        )
    return name


def _version(request: Request) -> int:
    raw = request.path_params["version"]
    if not raw.lstrip("-").isdigit():
        raise ValidationException.of([(raw, "versionNumber", "Member must be a number")])
    return int(raw)


async def publish_layer_version(request: Request) -> Response:
    body = await json_body(request, "PublishLayerVersion", CODE_BODY_LIMIT)
    content = body["Content"]
    if content.get("ZipFile") is None:
        raise InvalidParameterValueException(
            "Firebox does not read layer content from S3: upload the zip archive inline as ZipFile."
        )
    layers = _layers(request)
    layer = await layers.publish(
        _name(request),
        decode_zip(content["ZipFile"]),
        body.get("Description", ""),
        body.get("LicenseInfo"),
        body.get("CompatibleRuntimes") or (),
        body.get("CompatibleArchitectures") or (),
    )
    return json_response(_document(layers, layer, request), status=201)


async def get_layer_version(request: Request) -> Response:
    layers = _layers(request)
    layer = await layers.get(_name(request), _version(request))
    return json_response(_document(layers, layer, request))


async def list_layer_versions(request: Request) -> Response:
    layers = _layers(request)
    limit = int_param(request, "MaxItems", 1, PAGE_MAX) or PAGE_MAX
    marker = decode_marker(request.query_params.get("Marker"))
    if marker is not None and not marker.isdigit():
        raise InvalidParameterValueException(f"Invalid marker: {request.query_params['Marker']}")
    found = await layers.list_versions(_name(request), int(marker) if marker else None, limit + 1)
    found = _compatible(request, found)
    doc: dict[str, Any] = {"LayerVersions": [_document(layers, v, request, content=False) for v in found[:limit]]}
    if len(found) > limit:
        doc["NextMarker"] = encode_marker(str(found[limit - 1].version))
    return json_response(doc)


async def get_layer_version_by_arn(request: Request) -> Response:
    layers = _layers(request)
    arn = request.query_params.get("Arn")
    if not arn:
        raise ValidationException.of([(None, "arn", "Member must not be null")])
    return json_response(_document(layers, await layers.get_by_arn(arn), request))


async def list_layers(request: Request) -> Response:
    layers = _layers(request)
    limit = int_param(request, "MaxItems", 1, PAGE_MAX) or PAGE_MAX
    found = _compatible(request, await layers.list_layers(decode_marker(request.query_params.get("Marker")), limit + 1))
    doc: dict[str, Any] = {
        "Layers": [
            {
                "LayerName": layer.layer_name,
                "LayerArn": layers.arn(layer.layer_name),
                "LatestMatchingVersion": _document(layers, layer, request, content=False),
            }
            for layer in found[:limit]
        ]
    }
    if len(found) > limit:
        doc["NextMarker"] = encode_marker(found[limit - 1].layer_name)
    return json_response(doc)


async def delete_layer_version(request: Request) -> Response:
    await _layers(request).delete(_name(request), _version(request))
    return empty_response(204)


def _compatible(request: Request, found: list[LayerVersion]) -> list[LayerVersion]:
    runtime = request.query_params.get("CompatibleRuntime")
    architecture = request.query_params.get("CompatibleArchitecture")
    return [
        layer
        for layer in found
        if (runtime is None or runtime in layer.compatible_runtimes)
        and (architecture is None or architecture in layer.compatible_architectures)
    ]


operations = [
    rest("lambda", "ListLayers", "GET", PREFIX, list_layers),
    rest("lambda", "GetLayerVersionByArn", "GET", PREFIX + "?find=LayerVersion", get_layer_version_by_arn),
    rest("lambda", "PublishLayerVersion", "POST", PREFIX + "/{layer}/versions", publish_layer_version),
    rest("lambda", "ListLayerVersions", "GET", PREFIX + "/{layer}/versions", list_layer_versions),
    rest("lambda", "GetLayerVersion", "GET", PREFIX + "/{layer}/versions/{version}", get_layer_version),
    rest("lambda", "DeleteLayerVersion", "DELETE", PREFIX + "/{layer}/versions/{version}", delete_layer_version),
]
