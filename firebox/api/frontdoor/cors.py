"""CORS as function URLs and HTTP APIs answer it from their configuration: preflight requests are answered
without invoking the function, and the function's responses get the allow headers (its own `access-control-*`
headers are replaced by the configured ones)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from firebox.api.frontdoor.events import HttpRequest, HttpResponse


@dataclass(frozen=True, slots=True)
class Cors:
    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False

    @classmethod
    def of(cls, doc: Mapping[str, Any] | None) -> Cors | None:
        """From a function URL's `Cors` (AllowOrigins, ...) or an HTTP API's `CorsConfiguration` (allowOrigins,
        ...); None when there is none."""
        if not doc:
            return None
        value = {key[:1].lower() + key[1:]: item for key, item in doc.items()}
        return cls(
            tuple(value.get("allowOrigins") or ()),
            tuple(m.upper() for m in value.get("allowMethods") or ()),
            tuple(value.get("allowHeaders") or ()),
            tuple(value.get("exposeHeaders") or ()),
            value.get("maxAge"),
            bool(value.get("allowCredentials")),
        )

    def _allowed_origin(self, origin: str) -> str | None:
        if "*" in self.allow_origins:
            return origin if self.allow_credentials else "*"
        lowered = origin.lower()
        return origin if any(lowered == o.lower() for o in self.allow_origins) else None

    def preflight(self, request: HttpRequest, status: int = 200) -> HttpResponse | None:
        """The answer to a preflight request (`status`: 200 for function URLs, 204 for HTTP APIs), or None if
        `request` is not one. A disallowed origin or method gets the answer without allow headers."""
        origin = request.header("origin")
        wanted = request.header("access-control-request-method")
        if request.method != "OPTIONS" or origin is None or wanted is None:
            return None
        headers: list[tuple[bytes, bytes]] = []
        allowed = self._allowed_origin(origin)
        method_ok = "*" in self.allow_methods or wanted.upper() in self.allow_methods
        if allowed is not None and method_ok:
            headers.append((b"access-control-allow-origin", allowed.encode("latin-1")))
            headers.append((b"access-control-allow-methods", ",".join(self.allow_methods).encode("latin-1")))
            if self.allow_headers:
                headers.append((b"access-control-allow-headers", ",".join(self.allow_headers).encode("latin-1")))
            if self.max_age is not None:
                headers.append((b"access-control-max-age", str(self.max_age).encode()))
            if self.allow_credentials:
                headers.append((b"access-control-allow-credentials", b"true"))
        headers.append((b"vary", b"Origin"))
        return HttpResponse(status, headers, b"")

    def decorate(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        """`response` with the configured CORS headers for the request's origin."""
        origin = request.header("origin")
        headers = [(k, v) for k, v in response.headers if not k.startswith(b"access-control-")]
        allowed = self._allowed_origin(origin) if origin is not None else None
        if allowed is not None:
            headers.append((b"access-control-allow-origin", allowed.encode("latin-1")))
            if self.expose_headers:
                headers.append((b"access-control-expose-headers", ",".join(self.expose_headers).encode("latin-1")))
            if self.allow_credentials:
                headers.append((b"access-control-allow-credentials", b"true"))
            headers.append((b"vary", b"Origin"))
        return HttpResponse(response.status, headers, response.body)
