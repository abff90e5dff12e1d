"""Who signed a front-door request: the hook AWS_IAM function URLs and routes authenticate through.

Until requests are verified (the security issue's SigV4 verifier takes this place), `SignaturePresence` counts a
request as signed when it carries a SigV4 Authorization header or a presigned query, with an unknown principal.
"""

from __future__ import annotations

from typing import Protocol

from firebox.api.frontdoor.events import HttpRequest
from firebox.models.invocation import Principal


class Authenticator(Protocol):
    """Who signed a request: the hook AWS_IAM URLs (and, later, every API) authenticate through."""

    def principal(self, request: HttpRequest) -> Principal | None:
        """The caller, or None for a request that is not signed (or not validly)."""
        ...


class SignaturePresence:
    """A request with a SigV4 Authorization header or presigned query is signed (by an unknown principal)."""

    def principal(self, request: HttpRequest) -> Principal | None:
        authorization = request.header("authorization") or ""
        if authorization.startswith("AWS4-HMAC-SHA256 ") or "X-Amz-Signature=" in request.raw_query:
            return Principal(arn="", account="")
        return None
