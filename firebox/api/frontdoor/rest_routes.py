"""Resource selection as REST APIs do it: the most specific resource that has a method for the request.

A deployment's resources form a tree of path parts. A request's path is matched part by part from the root: a
literal part beats a `{param}`, which beats a greedy `{param+}` (one part or more: the rest of the path). A resource
only matches if it has the request's method or `ANY`; otherwise matching goes on to the next most specific
resource, as API Gateway does (measured: `POST /users/me` is served by `/users/{id}` when `/users/me` has only
`GET`). A matched resource's exact method beats its `ANY`. Nothing matching is API Gateway's 403
`Missing Authentication Token`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

ANY = "ANY"


@dataclass(slots=True)
class Node:
    """A resource (its document as deployed) and its children by kind."""

    doc: dict[str, Any] | None
    """None for a part of the path no resource was created for (the tree is built from paths)."""
    literals: dict[str, Node] = field(default_factory=dict)
    variable: tuple[str, Node] | None = None
    greedy: tuple[str, Node] | None = None

    def method(self, http_method: str) -> dict[str, Any] | None:
        methods = (self.doc or {}).get("resourceMethods") or {}
        found: dict[str, Any] | None = methods.get(http_method) or methods.get(ANY)
        return found


@dataclass(frozen=True, slots=True)
class Match:
    resource: dict[str, Any]
    """The resource's document: `id`, `path` (the template, `/items/{id}`), `resourceMethods`."""
    method: dict[str, Any]
    """The method's document, with its `methodIntegration`."""
    parameters: dict[str, str]
    """Path parameters, percent-decoded; a greedy one holds the rest of the path (`a/b.txt`)."""


class ResourceTree:
    def __init__(self, resources: list[dict[str, Any]]) -> None:
        self.root = Node(None)
        for doc in sorted(resources, key=lambda r: r["path"].count("/")):
            node = self.root
            for part in (p for p in doc["path"].split("/") if p):
                node = _child(node, part)
            node.doc = doc

    def match(self, http_method: str, raw_path: str) -> Match | None:
        """The resource and method serving `http_method raw_path` (the path below the stage, percent-encoding
        kept), or None."""
        parts = [p for p in raw_path.split("/") if p]
        return _match(self.root, parts, 0, {}, http_method)


def _child(node: Node, part: str) -> Node:
    if part.startswith("{") and part.endswith("+}"):
        if node.greedy is None:
            node.greedy = (part[1:-2], Node(None))
        return node.greedy[1]
    if part.startswith("{") and part.endswith("}"):
        if node.variable is None:
            node.variable = (part[1:-1], Node(None))
        return node.variable[1]
    return node.literals.setdefault(part, Node(None))


def _match(node: Node, parts: list[str], index: int, params: dict[str, str], http_method: str) -> Match | None:
    if index == len(parts):
        method = node.method(http_method)
        return Match(node.doc, method, params) if node.doc is not None and method is not None else None
    part = unquote(parts[index])
    literal = node.literals.get(part)
    if literal is not None:
        found = _match(literal, parts, index + 1, params, http_method)
        if found is not None:
            return found
    if node.variable is not None:
        name, child = node.variable
        found = _match(child, parts, index + 1, {**params, name: part}, http_method)
        if found is not None:
            return found
    if node.greedy is not None:
        name, child = node.greedy
        method = child.method(http_method)
        if child.doc is not None and method is not None:
            return Match(child.doc, method, {**params, name: unquote("/".join(parts[index:]))})
    return None
