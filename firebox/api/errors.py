"""The one place that turns errors into AWS-shaped responses.

`FireboxError` subclasses carry their wire identity; anything else is our own bug and becomes a
`ServiceException` with no detail for the client (the traceback goes to the server log).
"""

from __future__ import annotations

import json
import logging

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


def unexpected_error_response(exc: BaseException, request_id: str) -> Response:
    log.error("unexpected error in request %s", request_id, exc_info=exc)
    return error_response(ServiceException(f"An internal error occurred. Request id: {request_id}"))
