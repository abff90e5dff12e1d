"""The operation registry: every route of every hosted AWS API, by its AWS name.

An `Operation` is a service (botocore's name for it: `lambda`, `logs`, `cloudwatch`, `apigateway`, ...), an
operation name (`GetFunction`), how requests for it arrive and its handler. REST operations name their method and
path as botocore's model of the service has them (a test holds them to the installed model, so they match what
every SDK sends); RPC operations (CloudWatch Logs, CloudWatch) are named by the request's target header or CBOR path and
found with `rpc`; Firebox's own endpoints (`/health`, `/metrics`, ...) are `route`s of the `firebox` service.

One `Registry` holds them all. Authentication, authorization, per-operation metrics and request logging each hook in
at one place (`on_call`: called with the operation and the ASGI scope before every handler, Invoke's fast path
included), and tests can list what is covered. REST paths are matched segment by segment in a tree (no list of
regular expressions to try in turn); a path that is known with another method, or not at all, is
`UnknownOperationException`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from firebox.api.errors import error_response
from firebox.errors import FireboxError, UnknownOperationException

log = logging.getLogger("firebox.api")

Handler = Callable[[Request], Awaitable[Response]]
CallHook = Callable[["Operation", Scope], None]

IAM_PREFIXES = {
    "lambda": "lambda",
    "logs": "logs",
    "cloudwatch": "cloudwatch",
    "apigateway": "apigateway",
    "apigatewayv2": "apigateway",
    "events": "events",
    "scheduler": "scheduler",
    "firebox": "firebox",
}
"""The IAM action prefix of each service's operations (both API Gateway APIs authorize as `apigateway:`)."""


@dataclass(frozen=True, slots=True)
class Operation:
    service: str
    name: str
    method: str
    path: str
    """A path template with `{Param}` segments (`{Param+}`: the rest of the path), matched against the request's
    decoded path; for RPC operations, the path their requests are posted to."""
    handler: Any
    """REST and routes: `async (Request) -> Response`; RPC: `async (Services, params) -> result`."""
    query: tuple[str, str] | None = None
    """A query parameter that tells apart operations sharing a method and path (`find=LayerVersion`)."""
    target: str | None = None
    """RPC only: the `X-Amz-Target` prefix (`Logs_20140328`), which is also the CBOR service name."""

    @property
    def action(self) -> str:
        """The IAM action a caller needs for it: `lambda:GetFunction`."""
        return f"{IAM_PREFIXES[self.service]}:{self.name}"


def rest(service: str, name: str, method: str, uri: str, handler: Handler) -> Operation:
    """A REST operation: its method and request URI as in botocore's model of `service` (path parameters may be
    named differently; `tests/unit/test_operations.py` checks the rest against the installed model)."""
    path, _, query = uri.partition("?")
    discriminator = None
    if query:
        key, _, value = query.partition("=")
        discriminator = (key, value)
    return Operation(service, name, method, path, handler, discriminator)


def route(name: str, method: str, path: str, handler: Handler) -> Operation:
    """One of Firebox's own endpoints (not an AWS API)."""
    return Operation("firebox", name, method, path, handler)


def rpc(service: str, target: str, name: str, handler: Any) -> Operation:
    """An RPC operation, found by its target (`Logs_20140328.PutLogEvents`) rather than by its path."""
    return Operation(service, name, "POST", "/", handler, target=target)


@dataclass
class _Node:
    literal: dict[str, _Node] = field(default_factory=dict)
    param: tuple[str, _Node] | None = None
    greedy: tuple[str, _Node] | None = None
    methods: dict[str, list[Operation]] = field(default_factory=dict)


class Registry:
    def __init__(self, operations: Iterable[Operation]) -> None:
        self.operations: list[Operation] = []
        self._root = _Node()
        self._rpc: dict[tuple[str, str], Operation] = {}
        self._hooks: list[CallHook] = []
        for operation in operations:
            self.add(operation)

    def add(self, operation: Operation) -> None:
        self.operations.append(operation)
        if operation.target is not None:
            self._rpc[(operation.target, operation.name)] = operation
            return
        node = self._root
        for segment in _segments(operation.path):
            if segment.startswith("{") and segment.endswith("+}"):
                name = segment[1:-2]
                if node.greedy is None:
                    node.greedy = (name, _Node())
                node = node.greedy[1]
            elif segment.startswith("{") and segment.endswith("}"):
                name = segment[1:-1]
                if node.param is None:
                    node.param = (name, _Node())
                elif node.param[0] != name:
                    raise ValueError(f"{operation.path}: {{{name}}} where another path has {{{node.param[0]}}}")
                node = node.param[1]
            else:
                node = node.literal.setdefault(segment, _Node())
        candidates = node.methods.setdefault(operation.method, [])
        candidates.append(operation)
        candidates.sort(key=lambda op: op.query is None)  # operations told apart by a query parameter first

    def find(self, service: str, name: str) -> Operation:
        for operation in self.operations:
            if operation.service == service and operation.name == name:
                return operation
        raise KeyError(f"{service}:{name}")

    def on_call(self, hook: CallHook) -> None:
        """Call `hook(operation, scope)` before the handler of every operation (authorization, metrics, logs)."""
        self._hooks.append(hook)

    def called(self, operation: Operation, scope: Scope) -> None:
        scope["operation"] = operation
        for hook in self._hooks:
            hook(operation, scope)

    def rpc(self, target: str, name: str) -> Operation:
        operation = self._rpc.get((target, name))
        if operation is None:
            raise UnknownOperationException(f"Unknown operation {target}.{name}")
        return operation

    def match(self, method: str, path: str, query_string: bytes) -> tuple[Operation, dict[str, str]]:
        """The operation a request is for and its path parameters (percent-decoded)."""
        params: dict[str, str] = {}
        node = self._walk(self._root, _segments(path), 0, params)
        if node is None or method not in node.methods:
            raise UnknownOperationException(f"No operation matches {method} {path}")
        candidates = node.methods[method]
        if len(candidates) > 1 or candidates[0].query is not None:
            query = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
            for operation in candidates:
                if operation.query is None or query.get(operation.query[0]) == operation.query[1]:
                    return operation, params
            raise UnknownOperationException(f"No operation matches {method} {path}")
        return candidates[0], params

    def _walk(self, node: _Node, segments: list[str], index: int, params: dict[str, str]) -> _Node | None:
        if index == len(segments):
            return node
        segment = segments[index]
        child = node.literal.get(segment)
        if child is not None:
            found = self._walk(child, segments, index + 1, params)
            if found is not None and found.methods:
                return found
        if node.param is not None and segment:
            name, child = node.param
            found = self._walk(child, segments, index + 1, params)
            if found is not None and found.methods:
                params[name] = segment
                return found
        if node.greedy is not None:
            name, child = node.greedy
            params[name] = "/".join(segments[index:])
            return child
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Dispatch a REST request to its operation's handler; errors become AWS's responses."""
        started = time.perf_counter()
        try:
            operation, params = self.match(scope["method"], scope["path"], scope.get("query_string", b""))
            scope["path_params"] = params
            self.called(operation, scope)
            response = await operation.handler(Request(scope, receive))
        except FireboxError as error:
            response = error_response(error)
        await response(scope, receive, send)
        if log.isEnabledFor(logging.DEBUG):
            called: Operation | None = scope.get("operation")
            log.debug(
                "%s %s → %s %d in %.2f ms",
                scope["method"],
                scope["path"],
                called.action if called is not None else "unknown operation",
                response.status_code,
                (time.perf_counter() - started) * 1000,
            )


def _segments(path: str) -> list[str]:
    """A path's segments, a trailing slash ignored (`/2015-03-31/functions/` is `/2015-03-31/functions`)."""
    parts = path.split("/")[1:]
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    return parts
