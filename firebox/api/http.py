"""Small helpers shared by the routes: bounded body reading, JSON responses, query parameters."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from firebox.api import wire
from firebox.errors import (
    BadRequestException,
    InvalidParameterValueException,
    InvalidRequestContentException,
    RequestEntityTooLargeException,
    ValidationException,
)

DEFAULT_BODY_LIMIT = 6_291_456
CODE_BODY_LIMIT = 70_167_211
MAX_ZIPPED_BYTES = 52_428_800


async def read_body(request: Request, operation: str, limit: int = DEFAULT_BODY_LIMIT) -> bytes:
    """The whole body, refused with 413 as soon as it is known to exceed `limit`."""
    too_large = RequestEntityTooLargeException(
        f"Request must be smaller than {limit} bytes for the {operation} operation"
    )
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def json_body(request: Request, operation: str, limit: int = DEFAULT_BODY_LIMIT) -> dict[str, Any]:
    """Read, parse and check a JSON request body against the operation's model."""
    return wire.check_body(operation, wire.parse_json(await read_body(request, operation, limit)))


def decode_zip(value: str) -> bytes:
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequestContentException(
            "Could not parse request body into json: ZipFile is not valid base64"
        ) from None
    if len(data) > MAX_ZIPPED_BYTES:
        raise RequestEntityTooLargeException(f"Zipped size must be smaller than {MAX_ZIPPED_BYTES} bytes")
    return data


def encode_marker(position: str) -> str:
    """An opaque pagination marker (NextMarker) for a position in a listing."""
    return base64.urlsafe_b64encode(position.encode()).decode()


def decode_marker(marker: str | None) -> str | None:
    if not marker:
        return None
    try:
        return base64.urlsafe_b64decode(marker.encode()).decode()
    except (binascii.Error, ValueError):
        raise InvalidParameterValueException(f"Invalid marker: {marker}") from None


def json_response(doc: Any, status: int = 200) -> Response:
    return Response(json.dumps(doc, separators=(",", ":")), status_code=status, media_type="application/json")


def empty_response(status: int = 204) -> Response:
    return Response(status_code=status)


def int_param(request: Request, name: str, low: int, high: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    field = name[:1].lower() + name[1:]
    try:
        value = int(raw)
    except ValueError:
        raise ValidationException.of([(raw, field, "Member must be an integer")]) from None
    if value < low:
        raise ValidationException.of([(value, field, f"Member must have value greater than or equal to {low}")])
    if value > high:
        raise ValidationException.of([(value, field, f"Member must have value less than or equal to {high}")])
    return value


async def gateway_body(request: Request, operation: str) -> dict[str, Any]:
    """An API Gateway request body: a JSON object (empty: `{}`), else BadRequestException as API Gateway says."""
    raw = await read_body(request, operation)
    if not raw.strip():
        return {}
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise BadRequestException("Invalid request body: not JSON") from None
    if not isinstance(doc, dict):
        raise BadRequestException("Invalid request body: expected a JSON object")
    return doc
