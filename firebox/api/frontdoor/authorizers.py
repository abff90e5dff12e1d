"""Lambda REQUEST authorizers for HTTP APIs: identity sources, the authorizer's event, its simple or IAM-policy
answer, and results cached by identity for `authorizerResultTtlInSeconds`.

A missing identity source is a 401 without calling the authorizer; a denial is a 403; an authorizer that fails or
answers something unreadable is a 500, as API Gateway answers.
"""

from __future__ import annotations

import fnmatch
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from firebox.api.frontdoor.events import HttpRequest

Invoke = Callable[[str, dict[str, Any]], Awaitable[bytes | None]]
"""Invoke the authorizer function (its URI) with an event: its payload, or None on a function error."""


@dataclass(frozen=True, slots=True)
class Decision:
    status: int
    """200 when allowed; 401, 403 or 500 otherwise."""
    context: dict[str, Any]
    principal_id: str | None = None


UNAUTHORIZED = Decision(401, {})
FORBIDDEN = Decision(403, {})
FAILED = Decision(500, {})


def identity_values(sources: list[str], request: HttpRequest, stage_variables: dict[str, str]) -> list[str] | None:
    """The values of the authorizer's identity sources, or None if one is missing or empty."""
    headers = request.joined_headers()
    query: dict[str, str] = {}
    for key, item in request.query_pairs():
        query[key] = f"{query[key]},{item}" if key in query else item
    values = []
    for source in sources:
        value: str | None = None
        if source.startswith("$request.header."):
            value = headers.get(source.removeprefix("$request.header.").lower())
        elif source.startswith("$request.querystring."):
            value = query.get(source.removeprefix("$request.querystring."))
        elif source.startswith("$stageVariables."):
            value = stage_variables.get(source.removeprefix("$stageVariables."))
        elif source == "$context.requestId":
            value = request.request_id
        if not value:
            return None
        values.append(value)
    return values


class AuthorizerCache:
    def __init__(self) -> None:
        self._entries: dict[tuple[str, str, tuple[str, ...]], tuple[float, Decision]] = {}

    def get(self, api_id: str, authorizer_id: str, identity: list[str]) -> Decision | None:
        entry = self._entries.get((api_id, authorizer_id, tuple(identity)))
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            del self._entries[(api_id, authorizer_id, tuple(identity))]
            return None
        return entry[1]

    def put(self, api_id: str, authorizer_id: str, identity: list[str], ttl: int, decision: Decision) -> None:
        if ttl > 0 and decision.status in (200, 403):
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[(api_id, authorizer_id, tuple(identity))] = (time.monotonic() + ttl, decision)

    def forget(self, api_id: str) -> None:
        for key in [k for k in self._entries if k[0] == api_id]:
            del self._entries[key]


def decide(payload: bytes | None, simple: bool, route_arn: str) -> Decision:
    """The authorizer's answer: `{"isAuthorized": bool, "context": {...}}` (simple responses) or an IAM policy
    `{"principalId", "policyDocument": {"Statement": [...]}, "context"}` allowing `execute-api:Invoke` on the route."""
    if payload is None:
        return FAILED
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        return FAILED
    if not isinstance(doc, dict):
        return FAILED
    context = doc.get("context") or {}
    if not isinstance(context, dict):
        return FAILED
    if simple:
        allowed = doc.get("isAuthorized")
        if not isinstance(allowed, bool):
            return FAILED
        return Decision(200, context) if allowed else FORBIDDEN
    policy = doc.get("policyDocument")
    if not isinstance(policy, dict) or "principalId" not in doc:
        return FAILED
    statements = policy.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        return FAILED
    allowed = False
    for statement in statements:
        if not isinstance(statement, dict) or not _applies(statement, route_arn):
            continue
        if statement.get("Effect") == "Deny":
            return FORBIDDEN
        if statement.get("Effect") == "Allow":
            allowed = True
    return Decision(200, context, str(doc["principalId"])) if allowed else FORBIDDEN


def _applies(statement: dict[str, Any], route_arn: str) -> bool:
    actions = statement.get("Action", [])
    resources = statement.get("Resource", [])
    actions = [actions] if isinstance(actions, str) else actions
    resources = [resources] if isinstance(resources, str) else resources
    if not isinstance(actions, list) or not isinstance(resources, list):
        return False
    action_ok = any(isinstance(a, str) and fnmatch.fnmatchcase("execute-api:Invoke", a) for a in actions)
    return action_ok and any(isinstance(r, str) and fnmatch.fnmatchcase(route_arn, r) for r in resources)
