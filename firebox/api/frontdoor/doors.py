"""Which front door a request is for: by its Host header (`<id>.lambda-url.<region>.<domain>`,
`<id>.execute-api.<domain>`) or path-style (`/_aws/lambda-url/<id>/...`, `/_aws/execute-api/<id>/...`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.types import Receive, Scope, Send

from firebox.api.frontdoor.transport import raw_path_of
from firebox.names import PublicEndpoints

Door = Callable[[Scope, Receive, Send, str, str], Awaitable[None]]
"""`door(scope, receive, send, id, raw_path)`: raw_path is the request's path below the URL or API."""

PATH_STYLE = "/_aws/"
_PREFIXES = {"lambda-url": "url", "execute-api": "api"}


class FrontDoors:
    def __init__(self, endpoints: PublicEndpoints, doors: dict[str, Door]) -> None:
        self.endpoints = endpoints
        self.doors = doors
        """"url" and "api" → the door serving them."""

    def target(self, scope: Scope) -> tuple[Door, str, str] | None:
        """The door, the URL or API id and the path below it, for a request that is for a front door. On the
        Invoke hot path this is a prefix test and a scan of the headers for Host."""
        if scope["path"].startswith(PATH_STYLE):
            kind, _, rest = raw_path_of(scope)[len(PATH_STYLE) :].partition("/")
            door = self.doors.get(_PREFIXES.get(kind, ""))
            if door is None:
                return None
            ident, slash, below = rest.partition("/")
            return (door, ident, slash + below) if ident else None
        for name, value in scope["headers"]:
            if name == b"host":
                if b".lambda-url." not in value and b".execute-api." not in value:
                    return None
                found = self.endpoints.host_target(value.decode("latin-1"))
                if found is None or found[0] not in self.doors:
                    return None
                return self.doors[found[0]], found[1], raw_path_of(scope)
        return None
