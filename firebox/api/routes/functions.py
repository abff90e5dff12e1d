"""Functions: CreateFunction, GetFunction, GetFunctionConfiguration, ListFunctions, UpdateFunctionCode,
UpdateFunctionConfiguration, DeleteFunction."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from firebox.api import shapes
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
from firebox.control.functions import FunctionService
from firebox.errors import InvalidParameterValueException, ValidationException
from firebox.models.function import LATEST, FunctionConfig
from firebox.models.requests import CreateFunction, UpdateFunctionCode, UpdateFunctionConfiguration

PREFIX = "/2015-03-31/functions"
LIST_PAGE_MAX = 50
"""Lambda returns at most 50 functions per ListFunctions page, whatever MaxItems asks for."""


def _service(request: Request) -> FunctionService:
    return services_of(request).functions


def _configuration(service: FunctionService, config: FunctionConfig) -> dict[str, Any]:
    """The document a create or update answers with: the unqualified FunctionArn, as Lambda sends it."""
    return shapes.function_configuration(config, service.arn(config.name))


def _zip_from(body: dict[str, Any]) -> bytes:
    """The archive of a Code structure or an UpdateFunctionCode body."""
    if body.get("ZipFile") is not None:
        return decode_zip(body["ZipFile"])
    if body.get("ImageUri"):
        raise InvalidParameterValueException(
            "Firebox runs Zip packages only: PackageType Image is not supported. Upload a zip archive as ZipFile."
        )
    if body.get("S3Bucket") or body.get("S3Key"):
        raise InvalidParameterValueException(
            "Firebox does not read code from S3: upload the zip archive inline as ZipFile "
            "(aws lambda ... --zip-file fileb://function.zip)."
        )
    raise InvalidParameterValueException("Please provide a source for function code.")


async def create_function(request: Request) -> Response:
    body = await json_body(request, "CreateFunction", CODE_BODY_LIMIT)
    service = _service(request)
    command = CreateFunction(
        name=body["FunctionName"],
        zip_file=_zip_from(body["Code"]),
        changes=shapes.config_changes(body),
        tags=body.get("Tags") or {},
    )
    config = await service.create(command)
    return json_response(_configuration(service, config), status=201)


async def get_function(request: Request) -> Response:
    service = _service(request)
    function, config, arn = await service.get_version(
        request.path_params["name"], request.query_params.get("Qualifier")
    )
    doc: dict[str, Any] = {
        "Configuration": shapes.function_configuration(config, arn),
        "Code": {
            "RepositoryType": "S3",
            "Location": f"{request.base_url}firebox/code/{config.code.sha256}.zip",
        },
    }
    if function.tags:
        doc["Tags"] = dict(function.tags)
    if function.reserved_concurrency is not None:
        doc["Concurrency"] = {"ReservedConcurrentExecutions": function.reserved_concurrency}
    return json_response(doc)


async def get_function_configuration(request: Request) -> Response:
    _, config, arn = await _service(request).get_version(
        request.path_params["name"], request.query_params.get("Qualifier")
    )
    return json_response(shapes.function_configuration(config, arn))


async def list_functions(request: Request) -> Response:
    service = _service(request)
    version = request.query_params.get("FunctionVersion")
    if version is not None and version != "ALL":
        raise ValidationException.of([(version, "functionVersion", "Member must satisfy enum value set: [ALL]")])
    limit = min(int_param(request, "MaxItems", 1, 10000) or LIST_PAGE_MAX, LIST_PAGE_MAX)
    marker = decode_marker(request.query_params.get("Marker"))
    if version == "ALL":
        after = _version_position(marker)
        configs = await service.list_all_versions(after, limit + 1)
    else:
        configs = await service.list(marker, limit + 1)
    doc: dict[str, Any] = {"Functions": [_listed(service, c, version == "ALL") for c in configs[:limit]]}
    if len(configs) > limit:
        last = configs[limit - 1]
        doc["NextMarker"] = encode_marker(f"{last.name}:{last.version}" if version == "ALL" else last.name)
    return json_response(doc)


def _listed(service: FunctionService, config: FunctionConfig, all_versions: bool) -> dict[str, Any]:
    qualifier = config.version if all_versions else None
    return shapes.function_configuration(config, service.arn(config.name, qualifier), listing=True)


def _version_position(marker: str | None) -> tuple[str, int] | None:
    if marker is None:
        return None
    name, _, version = marker.rpartition(":")
    return name, 0 if version == LATEST else int(version) if version.isdigit() else -1


async def update_function_configuration(request: Request) -> Response:
    body = await json_body(request, "UpdateFunctionConfiguration")
    service = _service(request)
    command = UpdateFunctionConfiguration(
        function=request.path_params["name"],
        changes=shapes.config_changes(body),
        revision_id=body.get("RevisionId"),
    )
    config = await service.update_configuration(command)
    return json_response(_configuration(service, config))


async def update_function_code(request: Request) -> Response:
    body = await json_body(request, "UpdateFunctionCode", CODE_BODY_LIMIT)
    service = _service(request)
    architectures = body.get("Architectures")
    command = UpdateFunctionCode(
        function=request.path_params["name"],
        zip_file=_zip_from(body),
        architectures=tuple(architectures) if architectures is not None else None,
        dry_run=bool(body.get("DryRun")),
        revision_id=body.get("RevisionId"),
        publish=bool(body.get("Publish")),
    )
    config = await service.update_code(command)
    return json_response(_configuration(service, config))


async def delete_function(request: Request) -> Response:
    await _service(request).delete(request.path_params["name"], request.query_params.get("Qualifier"))
    return empty_response(204)


operations = [
    rest("lambda", "CreateFunction", "POST", PREFIX, create_function),
    rest("lambda", "ListFunctions", "GET", PREFIX, list_functions),
    rest("lambda", "GetFunction", "GET", PREFIX + "/{name}", get_function),
    rest("lambda", "DeleteFunction", "DELETE", PREFIX + "/{name}", delete_function),
    rest("lambda", "GetFunctionConfiguration", "GET", PREFIX + "/{name}/configuration", get_function_configuration),
    rest(
        "lambda", "UpdateFunctionConfiguration", "PUT", PREFIX + "/{name}/configuration", update_function_configuration
    ),
    rest("lambda", "UpdateFunctionCode", "PUT", PREFIX + "/{name}/code", update_function_code),
]
