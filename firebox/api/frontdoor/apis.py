"""API Gateway APIs on `http://<api-id>.execute-api.<domain>:<port>/...` and `/_aws/execute-api/<api-id>/...`:
which kind of API an id names (an HTTP API or a REST API), kept once looked up, and the door serving that kind.

An unknown id is a 404 `{"message":"Not Found"}`, as API Gateway answers for a host it does not serve.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.types import Receive, Scope, Send

from firebox.api.frontdoor.doors import Door
from firebox.api.frontdoor.events import json_message
from firebox.api.frontdoor.transport import send_response

HTTP = "HTTP"
REST = "REST"
NOT_FOUND = json_message(404, "Not Found")


class ApiDoor:
    def __init__(self, kind_of: Callable[[str], Awaitable[str | None]], doors: dict[str, Door]) -> None:
        self._kind_of = kind_of
        self._doors = doors
        """HTTP and REST → the door serving that kind of API."""
        self._kinds: dict[str, str] = {}

    def forget(self, api_id: str) -> None:
        self._kinds.pop(api_id, None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send, api_id: str, raw_path: str) -> None:
        kind = self._kinds.get(api_id)
        if kind is None:
            kind = await self._kind_of(api_id)
            if kind is not None:
                self._kinds[api_id] = kind
        door = self._doors.get(kind) if kind is not None else None
        if door is None:
            await send_response(send, NOT_FOUND)
            return
        await door(scope, receive, send, api_id, raw_path)
