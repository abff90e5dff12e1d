"""The ASGI application: the request-id middleware, the Invoke fast path, the router and error handling.

Outermost first:

1. `RequestIdMiddleware`: gives every request an id, sends it back as `x-amzn-RequestId` on every response
   (errors included), and turns anything unexpected into a `ServiceException` response.
2. `Dispatch`: Invoke requests go straight to `routes.invoke.InvokeEndpoint` (the hot path: no router, no
   per-request objects); everything else to the Starlette application.
3. Starlette's exception middleware: `FireboxError` → AWS error response; unknown paths and methods →
   `UnknownOperationException`.
4. The router: one module per resource family in `firebox.api.routes`.
"""

from __future__ import annotations

import uuid

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from firebox.api import rpc
from firebox.api.errors import error_response, unexpected_error_response
from firebox.api.routes import (
    account,
    billing,
    concurrency,
    event_invoke,
    functions,
    invoke,
    layers,
    policies,
    prometheus,
    provisioned,
    system,
    tags,
    versions,
)
from firebox.api.services import Services
from firebox.errors import FireboxError, UnknownOperationException


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id
        header = (b"x-amzn-requestid", request_id.encode())
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if started:
                raise
            await unexpected_error_response(exc, request_id)(scope, receive, send_with_id)


class Dispatch:
    def __init__(self, invoke: invoke.InvokeEndpoint, routes: ASGIApp) -> None:
        self.invoke = invoke
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            function = invoke.matches(scope)
            if function is not None:
                await self.invoke(scope, receive, send, function)
                return
        await self.routes(scope, receive, send)


async def _firebox_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FireboxError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(UnknownOperationException(f"No Lambda operation matches {request.method} {request.url.path}"))


def build_app(services: Services) -> ASGIApp:
    routes = Starlette(
        routes=[
            *functions.routes,
            *versions.routes,
            *layers.routes,
            *policies.routes,
            *concurrency.routes,
            *event_invoke.routes,
            *provisioned.routes,
            *tags.routes,
            *account.routes,
            *system.routes,
            *billing.routes,
            *prometheus.routes,
            *rpc.routes,
        ],
        exception_handlers={FireboxError: _firebox_error, HTTPException: _http_error},
    )
    routes.state.services = services
    return RequestIdMiddleware(Dispatch(invoke.InvokeEndpoint(services), routes))
