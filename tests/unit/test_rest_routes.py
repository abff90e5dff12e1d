"""REST API resource selection: the most specific resource with a method for the request, literal before
`{param}` before `{proxy+}`, an exact method before ANY; and the REST API's binary media type rule."""

from __future__ import annotations

from typing import Any

import pytest

from firebox.api.frontdoor.events import HttpRequest, MalformedResponse, media_type_matches, v1_event, v1_response
from firebox.api.frontdoor.rest_routes import ResourceTree


def resource(path: str, *methods: str) -> dict[str, Any]:
    return {"id": path, "path": path, "resourceMethods": {m: {"httpMethod": m} for m in methods}}


TREE = ResourceTree(
    [
        resource("/", "GET"),
        resource("/users"),  # an intermediate resource with no methods
        resource("/users/me", "PATCH"),
        resource("/users/{id}", "GET", "DELETE"),
        resource("/users/{id}/posts/{post}", "ANY"),
        resource("/files/{proxy+}", "ANY"),
        resource("/files/readme", "GET"),
        resource("/mixed", "ANY", "POST"),
        resource("/{proxy+}", "GET"),
    ]
)


def served(method: str, path: str) -> tuple[str, str, dict[str, str]] | None:
    found = TREE.match(method, path)
    return None if found is None else (found.resource["path"], found.method["httpMethod"], found.parameters)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/", ("/", "GET", {})),
        ("GET", "", ("/", "GET", {})),
        ("PATCH", "/users/me", ("/users/me", "PATCH", {})),
        ("GET", "/users/me", ("/users/{id}", "GET", {"id": "me"})),  # the literal has no GET: its sibling serves
        ("DELETE", "/users/42/", ("/users/{id}", "DELETE", {"id": "42"})),
        ("PUT", "/users/a%20b/posts/7", ("/users/{id}/posts/{post}", "ANY", {"id": "a b", "post": "7"})),
        ("GET", "/files/readme", ("/files/readme", "GET", {})),
        ("POST", "/files/readme", ("/files/{proxy+}", "ANY", {"proxy": "readme"})),
        ("PUT", "/files/a/b%2Fc.txt", ("/files/{proxy+}", "ANY", {"proxy": "a/b/c.txt"})),
        ("POST", "/mixed", ("/mixed", "POST", {})),  # the exact method beats ANY
        ("DELETE", "/mixed", ("/mixed", "ANY", {})),
        ("GET", "/users", ("/{proxy+}", "GET", {"proxy": "users"})),  # no methods: not a match
        ("GET", "/nowhere/at/all", ("/{proxy+}", "GET", {"proxy": "nowhere/at/all"})),
        ("POST", "/users/me", None),  # nothing has POST there
        ("POST", "/", None),
        ("DELETE", "/files", None),  # a greedy part takes one segment or more
    ],
)
def test_most_specific_resource_with_the_method(
    method: str, path: str, expected: tuple[str, str, dict[str, str]] | None
) -> None:
    assert served(method, path) == expected


def test_an_empty_deployment_serves_nothing() -> None:
    assert ResourceTree([{"id": "r", "path": "/"}]).match("GET", "/") is None


def test_binary_media_types() -> None:
    assert media_type_matches("image/png", ["image/png"])
    assert media_type_matches("Image/PNG; q=1", ["image/*"])
    assert media_type_matches("", ["*/*"])
    assert not media_type_matches("text/plain", ["image/*"])
    assert not media_type_matches("*/*", ["image/png"])  # the Accept value is compared, not interpreted
    assert not media_type_matches("image/png", [])


def request(body: bytes, content_type: str) -> HttpRequest:
    return HttpRequest("POST", "/x", "", [("content-type", content_type)], body, "127.0.0.1", "HTTP/1.1", "id")


def test_rest_events_and_responses() -> None:
    common: dict[str, Any] = {
        "resource": "/x",
        "account_id": "000000000000",
        "api_id": "a",
        "resource_id": "r",
        "domain_name": "a.execute-api.localhost",
        "stage": "s",
        "stage_path": "/s/x",
    }
    rest = v1_event(request(b"\xff\x00", "image/png"), binary_media_types=["image/png"], **common)
    assert "version" not in rest and rest["isBase64Encoded"] is True and rest["body"] == "/wA="
    text = v1_event(request(b"caf\xc3\xa9 \xff", "image/png"), binary_media_types=[], **common)
    assert text["isBase64Encoded"] is False and text["body"] == "café \ufffd"
    http_api = v1_event(request(b"\xff", "image/png"), **common)
    assert http_api["version"] == "1.0" and http_api["isBase64Encoded"] is True
    payload = b'{"statusCode": 200, "body": "AAE=", "isBase64Encoded": true}'
    assert v1_response(payload).body == b"\x00\x01"
    assert v1_response(payload, decode_base64=False).body == b"AAE="
    assert v1_response(b'{"statusCode": 200, "body": {"a": 1}}').body == b'{"a": 1}'
    with pytest.raises(MalformedResponse, match="must be a string"):
        v1_response(b'{"statusCode": 200, "body": {"a": 1}}', string_body=True)
