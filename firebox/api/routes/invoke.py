"""Invoke: `POST /2015-03-31/functions/{FunctionName}/invocations`.

Order of checks, as Lambda's: resolve the function and qualifier (404) → its state (409) → payload size (413) →
payload is JSON (400) → run. The request id in `x-amzn-RequestId` is the one the function sees.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from firebox.api.services import services_of
from firebox.errors import (
    InvalidParameterValueException,
    InvalidRequestContentException,
    RequestEntityTooLargeException,
    ValidationException,
)
from firebox.models.invocation import InvocationType, InvokeRequest

SYNC_PAYLOAD_LIMIT = 6_291_456
LOG_TAIL_BYTES = 4096
CLIENT_CONTEXT_LIMIT = 3583
_TYPES = [t.value for t in (InvocationType.EVENT, InvocationType.REQUEST_RESPONSE, InvocationType.DRY_RUN)]


def _invocation_type(request: Request) -> InvocationType:
    raw = request.headers.get("x-amz-invocation-type", InvocationType.REQUEST_RESPONSE.value)
    if raw not in _TYPES:
        raise ValidationException.of(
            [(raw, "invocationType", f"Member must satisfy enum value set: [{', '.join(_TYPES)}]")]
        )
    return InvocationType(raw)


def _log_tail(request: Request) -> bool:
    raw = request.headers.get("x-amz-log-type", "None")
    if raw not in ("None", "Tail"):
        raise ValidationException.of([(raw, "logType", "Member must satisfy enum value set: [None, Tail]")])
    return raw == "Tail"


def _client_context(request: Request) -> dict[str, Any] | None:
    raw = request.headers.get("x-amz-client-context")
    if not raw:
        return None
    if len(raw) > CLIENT_CONTEXT_LIMIT:
        raise ValidationException.of(
            [(raw, "clientContext", f"Member must have length less than or equal to {CLIENT_CONTEXT_LIMIT}")]
        )
    try:
        doc = json.loads(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError):
        raise InvalidRequestContentException("Client context must be a base64-encoded JSON object.") from None
    if not isinstance(doc, dict):
        raise InvalidRequestContentException("Client context must be a base64-encoded JSON object.")
    return doc


async def _payload(request: Request, invocation_type: InvocationType) -> bytes:
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= SYNC_PAYLOAD_LIMIT:
            chunks.append(chunk)
    if size > SYNC_PAYLOAD_LIMIT:  # read to the end to report the size, as Lambda does; never executed
        raise RequestEntityTooLargeException(
            f"{size} byte payload is too large for the {invocation_type.value} invocation type "
            f"(limit {SYNC_PAYLOAD_LIMIT} bytes)"
        )
    payload = b"".join(chunks)
    if payload.strip():
        try:
            json.loads(payload)
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidRequestContentException(
                f"Could not parse request body into json: Could not parse payload into json: {exc}"
            ) from None
    return payload


async def invoke(request: Request) -> Response:
    services = services_of(request)
    invocation_type = _invocation_type(request)
    tail = _log_tail(request)
    client_context = _client_context(request)
    function = request.path_params["name"]
    fid = services.functions.resolve(function, request.query_params.get("Qualifier"))
    config = await services.invoker.prepare(fid.name, fid.qualifier)
    if invocation_type is InvocationType.DRY_RUN:
        return Response(status_code=204)
    if invocation_type is InvocationType.EVENT:
        raise InvalidParameterValueException(
            "Asynchronous invocation (InvocationType Event) is not supported by this Firebox version yet."
        )
    payload = await _payload(request, invocation_type)
    result = await services.invoker.run(
        config,
        InvokeRequest(
            function=function,
            qualifier=fid.qualifier,
            payload=payload,
            request_id=request.scope["state"]["request_id"],
            invocation_type=invocation_type,
            client_context=client_context,
        ),
    )
    headers = {"X-Amz-Executed-Version": result.executed_version}
    if result.function_error:
        headers["X-Amz-Function-Error"] = result.function_error
    if tail:
        headers["X-Amz-Log-Result"] = base64.b64encode(result.log.encode()[-LOG_TAIL_BYTES:]).decode()
    return Response(result.payload, status_code=200, media_type="application/json", headers=headers)


routes = [Route("/2015-03-31/functions/{name}/invocations", invoke, methods=["POST"])]
