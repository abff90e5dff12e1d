"""The ASGI application: the request-id middleware, the Invoke fast path, the router and error handling.

Outermost first:

1. `RequestIdMiddleware`: gives every request an id, sends it back as `x-amzn-RequestId` on every response
   (errors included), and turns anything unexpected into a `ServiceException` response.
2. `Dispatch`: requests for a function URL or an API Gateway API (by Host, or path-style under `/_aws/`) go to
   their front door (`firebox.api.frontdoor`); Invoke requests straight to `routes.invoke.InvokeEndpoint` (the hot
   path: no path tree, no per-request objects); everything else to the operation registry
   (`firebox.api.operations`).
3. The registry: the operation a method and path name → its handler (one module per resource family in
   `firebox.api.routes`); `FireboxError` → AWS's error response; unknown paths and methods →
   `UnknownOperationException`.
"""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from firebox.api import rpc
from firebox.api.errors import unexpected_error_response
from firebox.api.frontdoor.doors import FrontDoors
from firebox.api.operations import Registry, rest
from firebox.api.routes import (
    account,
    apigateway,
    apigatewayv2,
    billing,
    concurrency,
    event_invoke,
    functions,
    invoke,
    layers,
    mappings,
    policies,
    prometheus,
    provisioned,
    scheduler,
    system,
    tags,
    urls,
    versions,
)
from firebox.api.services import Services


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
    def __init__(
        self, invoke: invoke.InvokeEndpoint, registry: Registry, services: Services, doors: FrontDoors
    ) -> None:
        self.invoke = invoke
        self.registry = registry
        self.services = services
        self.doors = doors
        self.invoke_operation = registry.find("lambda", "Invoke")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        scope["services"] = self.services
        door = self.doors.target(scope)
        if door is not None:
            serve, ident, raw_path = door
            await serve(scope, receive, send, ident, raw_path)
            return
        function = invoke.matches(scope)
        if function is not None:
            self.registry.called(self.invoke_operation, scope)
            await self.invoke(scope, receive, send, function)
            return
        await self.registry(scope, receive, send)


def build_registry() -> Registry:
    """Every operation the server answers, Firebox's own endpoints included."""
    registry = Registry(
        [
            rest("lambda", "Invoke", "POST", invoke.PATH, _fast_path_only),
            *functions.operations,
            *versions.operations,
            *layers.operations,
            *policies.operations,
            *concurrency.operations,
            *event_invoke.operations,
            *provisioned.operations,
            *urls.operations,
            *mappings.operations,
            *apigatewayv2.operations,
            *apigateway.operations,
            *tags.operations,
            *account.operations,
            *system.operations,
            *billing.operations,
            *prometheus.operations,
            *scheduler.operations,
            *rpc.operations,
        ]
    )
    for operation in rpc.RpcEndpoints(registry).operations:
        registry.add(operation)
    return registry


async def _fast_path_only(_request: Request) -> Response:
    raise AssertionError("Invoke is dispatched by Dispatch before the registry is asked")


def build_app(services: Services, doors: FrontDoors) -> ASGIApp:
    registry = build_registry()
    return RequestIdMiddleware(Dispatch(invoke.InvokeEndpoint(services), registry, services, doors))
