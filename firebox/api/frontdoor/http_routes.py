"""Route selection as HTTP APIs do it: the most specific route wins.

A route key is `METHOD /path` (or `$default`, which takes whatever nothing else matches). Paths are compared
segment by segment: a literal segment beats a `{variable}`, which beats a greedy `{variable+}` (one segment or
more, always last); a route for the exact method beats an `ANY` route of the same path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

LITERAL, VARIABLE, GREEDY = 2, 1, 0


@dataclass(frozen=True, slots=True)
class Route:
    key: str
    method: str
    segments: tuple[tuple[int, str], ...]
    """(kind, literal text or variable name) per path segment."""
    doc: dict[str, Any]

    @classmethod
    def of(cls, doc: dict[str, Any]) -> Route:
        key = doc["routeKey"]
        if key == "$default":
            return cls(key, "*", (), doc)
        method, _, path = key.partition(" ")
        segments = []
        for part in (p for p in path.split("/") if p):
            if part.startswith("{") and part.endswith("+}"):
                segments.append((GREEDY, part[1:-2]))
            elif part.startswith("{") and part.endswith("}"):
                segments.append((VARIABLE, part[1:-1]))
            else:
                segments.append((LITERAL, part))
        return cls(key, method, tuple(segments), doc)

    @property
    def path(self) -> str:
        """The route's path template (`/items/{id}`), or `$default`."""
        return self.key.partition(" ")[2] or self.key

    def bind(self, parts: list[str]) -> dict[str, str] | None:
        """The path parameters if the request's path segments (still percent-encoded) match, else None."""
        params: dict[str, str] = {}
        for index, (kind, text) in enumerate(self.segments):
            if kind == GREEDY:
                rest = parts[index:]
                if not rest:
                    return None
                params[text] = unquote("/".join(rest))
                return params
            if index >= len(parts):
                return None
            if kind == LITERAL:
                if parts[index] != text and unquote(parts[index]) != text:
                    return None
            else:
                params[text] = unquote(parts[index])
        return params if len(parts) == len(self.segments) else None

    def rank(self) -> tuple[tuple[int, ...], bool]:
        return tuple(kind for kind, _ in self.segments), self.method != "ANY"


class RouteTable:
    def __init__(self, docs: list[dict[str, Any]]) -> None:
        routes = [Route.of(doc) for doc in docs]
        self.default = next((r for r in routes if r.key == "$default"), None)
        self.routes = sorted((r for r in routes if r.key != "$default"), key=Route.rank, reverse=True)

    def select(self, method: str, raw_path: str) -> tuple[Route, dict[str, str]] | None:
        parts = [p for p in raw_path.split("/") if p]
        for route in self.routes:  # most specific first
            if route.method != method and route.method != "ANY":
                continue
            params = route.bind(parts)
            if params is not None:
                return route, params
        return (self.default, {}) if self.default is not None else None
