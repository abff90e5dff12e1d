"""HTTP requests as Lambda events (payload formats 1.0 and 2.0), and function results as HTTP responses.

The shapes are API Gateway's and function URLs' own: 2.0 lower-cases header names and joins repeated headers and
query values with commas, takes cookies out of the headers, and base64-encodes bodies whose content type is not
text; 1.0 keeps single and multi-valued maps side by side and sets absent maps to null. The server's HTTP parser
lower-cases header names, so 1.0 events carry them in canonical form (`Content-Type`).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

import orjson

_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")
_TEXT_SUFFIXES = ("+json", "+xml")


@dataclass(slots=True)
class HttpRequest:
    """What the front doors need of a request, taken from the ASGI scope once."""

    method: str
    raw_path: str
    """The path as sent, percent-encoding kept, below the door's own prefix (path-style) or the stage."""
    raw_query: str
    headers: list[tuple[str, str]]
    """(lower-cased name, value) in the order received."""
    body: bytes
    source_ip: str
    protocol: str
    request_id: str
    epoch_ms: int = field(default_factory=lambda: int(time.time() * 1000))

    @property
    def path(self) -> str:
        return unquote(self.raw_path)

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def joined_headers(self) -> dict[str, str]:
        joined: dict[str, str] = {}
        for key, value in self.headers:
            joined[key] = f"{joined[key]},{value}" if key in joined else value
        return joined

    def query_pairs(self) -> list[tuple[str, str]]:
        return parse_qsl(self.raw_query, keep_blank_values=True)

    def cookies(self) -> list[str]:
        return [c.strip() for key, value in self.headers if key == "cookie" for c in value.split(";") if c.strip()]


_last_time: tuple[int, str] = (-1, "")


def request_time(epoch_ms: int) -> str:
    """`12/Mar/2020:19:03:58 +0000`, API Gateway's requestContext time (formatted once per second)."""
    global _last_time
    second = epoch_ms // 1000
    if _last_time[0] != second:
        _last_time = (second, time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(second)))
    return _last_time[1]


def encode_event(event: dict[str, Any]) -> bytes:
    """An event as the payload of an invocation."""
    return orjson.dumps(event)


def encoded_body(request: HttpRequest) -> tuple[str | None, bool]:
    """The body as an event carries it: text as is, anything else base64; None when there is none."""
    if not request.body:
        return None, False
    content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
    if content_type.startswith(_TEXT_TYPES) or content_type.endswith(_TEXT_SUFFIXES):
        try:
            return request.body.decode(), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(request.body).decode(), True


def media_type_matches(media_type: str, patterns: Sequence[str]) -> bool:
    """Whether a media type (`image/png`, parameters ignored) is one of `patterns`, which may use `*` for the type
    or subtype (`image/*`, `*/*`), as a REST API's binaryMediaTypes do."""
    kind, _, subtype = media_type.split(";")[0].strip().lower().partition("/")
    for pattern in patterns:
        want_kind, _, want_subtype = pattern.strip().lower().partition("/")
        if want_kind in ("*", kind) and want_subtype in ("*", subtype):
            return True
    return False


def rest_body(request: HttpRequest, binary_media_types: Sequence[str]) -> tuple[str | None, bool]:
    """The body as a REST API passes it: base64 when its Content-Type is one of the API's binaryMediaTypes, else
    as UTF-8 text (bytes that are not UTF-8 replaced, as API Gateway does); None when there is none."""
    if not request.body:
        return None, False
    if media_type_matches(request.header("content-type") or "", binary_media_types):
        return base64.b64encode(request.body).decode(), True
    return request.body.decode("utf-8", errors="replace"), False


def v2_event(
    request: HttpRequest,
    *,
    route_key: str,
    account_id: str,
    api_id: str,
    domain_name: str,
    stage: str,
    path_parameters: dict[str, str] | None = None,
    stage_variables: dict[str, str] | None = None,
    authorizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    headers = request.joined_headers()
    headers.pop("cookie", None)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
    }
    cookies = request.cookies()
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    query: dict[str, str] = {}
    for key, value in request.query_pairs():
        query[key] = f"{query[key]},{value}" if key in query else value
    if query:
        event["queryStringParameters"] = query
    context: dict[str, Any] = {
        "accountId": account_id,
        "apiId": api_id,
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    context.update(
        {
            "domainName": domain_name,
            "domainPrefix": domain_name.partition(".")[0],
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": request.protocol,
                "sourceIp": request.source_ip,
                "userAgent": request.header("user-agent") or "",
            },
            "requestId": request.request_id,
            "routeKey": route_key,
            "stage": stage,
            "time": request_time(request.epoch_ms),
            "timeEpoch": request.epoch_ms,
        }
    )
    event["requestContext"] = context
    if path_parameters:
        event["pathParameters"] = path_parameters
    if stage_variables:
        event["stageVariables"] = stage_variables
    body, is_base64 = encoded_body(request)
    if body is not None:
        event["body"] = body
    event["isBase64Encoded"] = is_base64
    return event


def canonical_header(name: str) -> str:
    """`x-forwarded-for` → `X-Forwarded-For`: how clients write header names (the parser lower-cased them)."""
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


def v1_event(
    request: HttpRequest,
    *,
    resource: str,
    account_id: str,
    api_id: str,
    resource_id: str,
    domain_name: str,
    stage: str,
    stage_path: str,
    path_parameters: dict[str, str] | None = None,
    stage_variables: dict[str, str] | None = None,
    authorizer: dict[str, Any] | None = None,
    binary_media_types: Sequence[str] | None = None,
) -> dict[str, Any]:
    """A payload 1.0 event. HTTP APIs leave `binary_media_types` None: the event carries `version` 1.0 and a body
    that is not text is base64. REST APIs pass their binaryMediaTypes (maybe none): no `version` member, and the
    body is base64 only for a Content-Type among them (`rest_body`)."""
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for key, value in request.headers:
        name = canonical_header(key)
        headers[name] = value  # the last value, as API Gateway keeps it
        multi_headers.setdefault(name, []).append(value)
    query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for key, value in request.query_pairs():
        query[key] = value
        multi_query.setdefault(key, []).append(value)
    if binary_media_types is None:
        body, is_base64 = encoded_body(request)
    else:
        body, is_base64 = rest_body(request, binary_media_types)
    identity: dict[str, str | None] = {
        key: None
        for key in (
            "cognitoIdentityPoolId",
            "accountId",
            "cognitoIdentityId",
            "caller",
            "accessKey",
            "cognitoAuthenticationType",
            "cognitoAuthenticationProvider",
            "userArn",
            "user",
            "principalOrgId",
        )
    }
    identity["sourceIp"] = request.source_ip
    identity["userAgent"] = request.header("user-agent")
    context: dict[str, Any] = {
        "accountId": account_id,
        "apiId": api_id,
        "resourceId": resource_id,
        "resourcePath": resource,
        "httpMethod": request.method,
        "path": stage_path,
        "stage": stage,
        "protocol": request.protocol,
        "requestId": request.request_id,
        "extendedRequestId": request.request_id,
        "requestTime": request_time(request.epoch_ms),
        "requestTimeEpoch": request.epoch_ms,
        "domainName": domain_name,
        "domainPrefix": domain_name.partition(".")[0],
        "identity": identity,
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    event: dict[str, Any] = {} if binary_media_types is not None else {"version": "1.0"}
    event.update(
        {
            "resource": resource,
            "path": request.path,
            "httpMethod": request.method,
            "headers": headers or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": path_parameters or None,
            "stageVariables": stage_variables or None,
            "requestContext": context,
            "body": body,
            "isBase64Encoded": is_base64,
        }
    )
    return event


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


class MalformedResponse(Exception):
    """The function's result is not a response its integration can map."""


def json_message(status: int, message: str) -> HttpResponse:
    """API Gateway's own error responses: `{"message":"Not Found"}`."""
    body = json.dumps({"message": message}).encode()
    return HttpResponse(status, [(b"content-type", b"application/json")], body)


def _decoded(payload: bytes) -> Any:
    try:
        return orjson.loads(payload) if payload.strip() else None
    except orjson.JSONDecodeError:
        raise MalformedResponse("the function returned something that is not JSON") from None


def v2_response(payload: bytes) -> HttpResponse:
    """A 2.0 result: `{statusCode, headers, cookies, body, isBase64Encoded}`; any other JSON is a 200
    `application/json` response with the JSON as its body."""
    doc = _decoded(payload)
    if not isinstance(doc, dict) or "statusCode" not in doc:
        return HttpResponse(200, [(b"content-type", b"application/json")], payload)
    headers = _headers(doc.get("headers"))
    headers += [(b"set-cookie", _text(c)) for c in _list(doc.get("cookies"))]
    return HttpResponse(_status(doc["statusCode"]), headers, _body(doc))


def v1_response(payload: bytes, *, decode_base64: bool = True, string_body: bool = False) -> HttpResponse:
    """A 1.0 result must be `{statusCode, headers?, multiValueHeaders?, body?, isBase64Encoded?}`.

    REST APIs pass `string_body` (a body that is not a string is malformed there) and `decode_base64` False when
    the client's first Accept type is not one of the API's binaryMediaTypes: the base64 text is then sent as is."""
    doc = _decoded(payload)
    if not isinstance(doc, dict) or "statusCode" not in doc:
        raise MalformedResponse("a proxy response needs a statusCode")
    if string_body and not isinstance(doc.get("body", ""), str | None):
        raise MalformedResponse("a proxy response's body must be a string")
    headers = _headers(doc.get("headers"))
    multi = doc.get("multiValueHeaders")
    if multi is not None:
        if not isinstance(multi, dict):
            raise MalformedResponse("multiValueHeaders must be an object")
        single = {name for name, _ in headers}
        for name, values in multi.items():
            key = name.lower().encode("latin-1")
            if key in single:
                headers = [(k, v) for k, v in headers if k != key]
                single.discard(key)
            headers += [(key, _text(v)) for v in _list(values)]
    return HttpResponse(_status(doc["statusCode"]), headers, _body(doc, decode_base64))


def _status(value: Any) -> int:
    try:
        status = int(value)
    except (TypeError, ValueError):
        raise MalformedResponse("statusCode must be an integer") from None
    if not 100 <= status <= 599:
        raise MalformedResponse("statusCode must be an HTTP status")
    return status


def _text(value: Any) -> bytes:
    text = value if isinstance(value, str) else json.dumps(value) if isinstance(value, bool) else str(value)
    if "\r" in text or "\n" in text:
        raise MalformedResponse("header values cannot hold line breaks")
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode()


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedResponse("expected a list")
    return value


def _headers(value: Any) -> list[tuple[bytes, bytes]]:
    if value is None:
        return []
    if not isinstance(value, dict):
        raise MalformedResponse("headers must be an object")
    headers = []
    for name, item in value.items():
        if not isinstance(name, str) or not name or any(c in name for c in " \t\r\n:"):
            raise MalformedResponse("invalid header name")
        headers.append((name.lower().encode("latin-1"), _text(item)))
    return headers


def _body(doc: dict[str, Any], decode_base64: bool = True) -> bytes:
    body = doc.get("body")
    if body is None:
        return b""
    text = body if isinstance(body, str) else json.dumps(body)
    if doc.get("isBase64Encoded") is True and decode_base64:
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedResponse("the body is not valid base64") from None
    return text.encode()
