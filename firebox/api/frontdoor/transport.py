"""ASGI in and out for the front doors: a bounded request read into an `HttpRequest`, an `HttpResponse` sent."""

from __future__ import annotations

from starlette.types import Receive, Scope, Send

from firebox.api.frontdoor.events import HttpRequest, HttpResponse


class BodyTooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


async def read_request(scope: Scope, receive: Receive, raw_path: str, limit: int) -> HttpRequest:
    """The request with its whole body; `BodyTooLarge` (after reading to the end) past `limit` bytes."""
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
    if size > limit:
        raise BodyTooLarge(size)
    client = scope.get("client")
    source_ip = client[0] if client else "127.0.0.1"
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
    present = {k for k, _ in headers}
    server = scope.get("server")
    for name, value in (
        ("x-forwarded-for", source_ip),
        ("x-forwarded-port", str(server[1]) if server else "80"),
        ("x-forwarded-proto", scope.get("scheme", "http")),
    ):
        if name not in present:
            headers.append((name, value))
    return HttpRequest(
        method=scope["method"],
        raw_path=raw_path,
        raw_query=scope["query_string"].decode("latin-1"),
        headers=headers,
        body=b"".join(chunks),
        source_ip=source_ip,
        protocol=f"HTTP/{scope.get('http_version', '1.1')}",
        request_id=scope["state"]["request_id"],
    )


def raw_path_of(scope: Scope) -> str:
    """The request path as sent (percent-encoding kept)."""
    raw: bytes | None = scope.get("raw_path")
    return raw.decode("latin-1").partition("?")[0] if raw else scope["path"]


async def send_response(send: Send, response: HttpResponse, head: bool = False) -> None:
    headers = [*response.headers, (b"content-length", str(len(response.body)).encode())]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else response.body})
