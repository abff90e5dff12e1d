"""Invoke: `POST /2015-03-31/functions/{FunctionName}/invocations`.

This is the hot path, so it is a plain ASGI endpoint rather than a Starlette route: `firebox.api.app` sends every
request whose method and path match `matches()` here and everything else to the router. It still goes through the
request-id middleware, and its errors through `firebox.api.errors`, like every other operation.

The edge only translates: headers and body → an `InvokeRequest` for the router (`firebox.dataplane.router`), and the
result → Lambda's response. Order of checks: the headers (400) → the FunctionName (400/404) → payload size (413) and
JSON (400) → the router: the function and qualifier (404), its state (409), concurrency (429) → run. The request id in
`x-amzn-RequestId` is the one the function sees.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any
from urllib.parse import parse_qs, unquote

from starlette.types import Receive, Scope, Send

from firebox.api.errors import error_response
from firebox.api.services import Services
from firebox.dataplane.router import Router
from firebox.errors import FireboxError, InvalidRequestContentException, ValidationException
from firebox.models.invocation import InvocationSource, InvocationType, InvokeRequest
from firebox.observability.tracing import continue_trace

LOG_TAIL_BYTES = 4096
CLIENT_CONTEXT_LIMIT = 3583
PATH = "/2015-03-31/functions/{name}/invocations"
_PATH = re.compile(r"/2015-03-31/functions/([^/]+)/invocations")
_TYPES = {t.value: t for t in (InvocationType.EVENT, InvocationType.REQUEST_RESPONSE, InvocationType.DRY_RUN)}


def matches(scope: Scope) -> str | None:
    """The FunctionName of an Invoke request, or None if `scope` is not one."""
    if scope["method"] != "POST":
        return None
    match = _PATH.fullmatch(scope["path"])
    return unquote(match.group(1)) if match else None


class InvokeEndpoint:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send, function: str) -> None:
        try:
            status, headers, body = await self._invoke(scope, receive, function)
        except FireboxError as error:
            await error_response(error)(scope, receive, send)
            return
        headers.append((b"content-type", b"application/json"))
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _invoke(
        self, scope: Scope, receive: Receive, function: str
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        headers = dict(scope["headers"])
        router = self.services.router
        invocation_type = _invocation_type(headers)
        tail = _log_tail(headers)
        client_context = _client_context(headers)
        query = scope["query_string"]
        qualifier = parse_qs(query.decode()).get("Qualifier", [None])[0] if query else None
        ref = router.resolve(function, qualifier)
        payload = await _payload(receive, router, invocation_type)
        request = InvokeRequest(
            function=ref,
            payload=payload,
            request_id=scope["state"]["request_id"],
            invocation_type=invocation_type,
            source=InvocationSource.API,
            client_context=client_context,
            trace_id=continue_trace(headers.get(b"x-amzn-trace-id", b"").decode("latin-1")),
        )
        if invocation_type is InvocationType.EVENT:
            await router.submit(request)  # committed: only now is the event acknowledged
            return 202, [], b""
        result = await router.invoke(request)
        if invocation_type is InvocationType.DRY_RUN:
            return 204, [], b""
        response_headers = [(b"x-amz-executed-version", result.executed_version.encode())]
        if result.function_error:
            response_headers.append((b"x-amz-function-error", result.function_error.encode()))
        if tail:
            response_headers.append((b"x-amz-log-result", base64.b64encode(result.log.encode()[-LOG_TAIL_BYTES:])))
        return 200, response_headers, result.payload


def _invocation_type(headers: dict[bytes, bytes]) -> InvocationType:
    raw = headers.get(b"x-amz-invocation-type", b"RequestResponse").decode("latin-1")
    invocation_type = _TYPES.get(raw)
    if invocation_type is None:
        raise ValidationException.of(
            [(raw, "invocationType", f"Member must satisfy enum value set: [{', '.join(_TYPES)}]")]
        )
    return invocation_type


def _log_tail(headers: dict[bytes, bytes]) -> bool:
    raw = headers.get(b"x-amz-log-type", b"None").decode("latin-1")
    if raw not in ("None", "Tail"):
        raise ValidationException.of([(raw, "logType", "Member must satisfy enum value set: [None, Tail]")])
    return raw == "Tail"


def _client_context(headers: dict[bytes, bytes]) -> dict[str, Any] | None:
    raw = headers.get(b"x-amz-client-context")
    if not raw:
        return None
    if len(raw) > CLIENT_CONTEXT_LIMIT:
        raise ValidationException.of(
            [("…", "clientContext", f"Member must have length less than or equal to {CLIENT_CONTEXT_LIMIT}")]
        )
    try:
        doc = json.loads(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError):
        doc = None
    if not isinstance(doc, dict):
        raise InvalidRequestContentException("Client context must be a base64-encoded JSON object.")
    return doc


async def _payload(receive: Receive, router: Router, invocation_type: InvocationType) -> bytes:
    limit = router.payload_limit(invocation_type)
    chunks = []
    size = 0
    more = True
    while more:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        more = message.get("more_body", False)
    if size > limit:  # read to the end to report the size, as Lambda does; never executed
        raise router.payload_too_large(size, invocation_type)
    payload = b"".join(chunks)
    if payload.strip():
        try:
            json.loads(payload)
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidRequestContentException(
                f"Could not parse request body into json: Could not parse payload into json: {exc}"
            ) from None
    return payload
