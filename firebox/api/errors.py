"""The one place that turns errors into AWS-shaped responses.

`FireboxError` subclasses carry their wire identity; anything else is our own bug and becomes a
`ServiceException` with no detail for the client (the traceback goes to the server log).
"""

from __future__ import annotations

import json
import logging

import cbor2
from starlette.responses import Response

from firebox.errors import FireboxError, ServiceException

log = logging.getLogger("firebox.api")


def error_response(error: FireboxError) -> Response:
    return Response(
        json.dumps(error.body(), separators=(",", ":")),
        status_code=error.status,
        media_type="application/json",
        headers={"x-amzn-ErrorType": error.code},
    )


def rpc_error_response(error: FireboxError, protocol: str, query_mode: bool = False) -> Response:
    """An error in the RPC protocols (`firebox.api.rpc`): `__type` and `message` in a JSON or CBOR body."""
    body = {"__type": error.code, "message": error.message, **error.members}
    headers = {"x-amzn-ErrorType": error.code}
    if error.query_code is not None and query_mode:
        headers["x-amzn-query-error"] = f"{error.query_code};{'Sender' if error.status < 500 else 'Receiver'}"
    if protocol == "cbor":
        headers["smithy-protocol"] = "rpc-v2-cbor"
        return Response(cbor2.dumps(body), status_code=error.status, media_type="application/cbor", headers=headers)
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=error.status,
        media_type="application/x-amz-json-1.1",
        headers=headers,
    )


def unexpected_error_response(exc: BaseException, request_id: str) -> Response:
    log.error("unexpected error in request %s", request_id, exc_info=exc)
    return error_response(ServiceException(f"An internal error occurred. Request id: {request_id}"))
