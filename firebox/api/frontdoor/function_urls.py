"""Function URLs: `http://<url-id>.lambda-url.<region>.<domain>:<port>/...` and `/_aws/lambda-url/<url-id>/...`.

A request → the URL's configuration (cached by id, forgotten when the control plane changes the function or its
URLs) → AWS_IAM: the authentication hook must name a principal (403 otherwise) → a CORS preflight is answered from
the configuration → the body (6 MB at most, 413) becomes a payload 2.0 event → the router invokes `$LATEST` or the
alias (source `url`) → the result is mapped back (statusCode/headers/cookies/body, or an inferred 200 JSON
response); a function error is a 502. An unknown URL id is a 403 `AccessDeniedException`, as on AWS.

InvokeMode RESPONSE_STREAM is accepted; until a runtime streams, such a URL answers with the whole response at once.
"""

from __future__ import annotations

import json
from typing import Protocol

from starlette.types import Receive, Scope, Send

from firebox.api.errors import error_response
from firebox.api.frontdoor.cors import Cors
from firebox.api.frontdoor.events import (
    HttpRequest,
    HttpResponse,
    MalformedResponse,
    encode_event,
    v2_event,
    v2_response,
)
from firebox.api.frontdoor.transport import BodyTooLarge, read_request, send_response
from firebox.control.urls import FunctionUrlService
from firebox.dataplane.router import SYNC_PAYLOAD_LIMIT, Router
from firebox.errors import FireboxError, RequestEntityTooLargeException
from firebox.models.invocation import FunctionRef, InvocationSource, InvokeRequest, Principal
from firebox.models.urls import AUTH_IAM, FunctionUrlConfig
from firebox.observability.tracing import continue_trace


class Authenticator(Protocol):
    """Who signed a request: the hook AWS_IAM URLs (and, later, every API) authenticate through."""

    def principal(self, request: HttpRequest) -> Principal | None:
        """The caller, or None for a request that is not signed (or not validly)."""
        ...


class SignaturePresence:
    """Until requests are verified (the security issue's SigV4), a request counts as signed when it carries a
    SigV4 Authorization header or presigned query; the principal is then unknown (empty)."""

    def principal(self, request: HttpRequest) -> Principal | None:
        authorization = request.header("authorization") or ""
        if authorization.startswith("AWS4-HMAC-SHA256 ") or "X-Amz-Signature=" in request.raw_query:
            return Principal(arn="", account="")
        return None


def _plain(status: int, text: str, error_type: str | None = None) -> HttpResponse:
    headers = [(b"content-type", b"application/json")]
    if error_type:
        headers.append((b"x-amzn-errortype", error_type.encode()))
    return HttpResponse(status, headers, text.encode())


FORBIDDEN = _plain(403, json.dumps({"Message": "Forbidden"}), "AccessDeniedException")
UNKNOWN_URL = _plain(403, json.dumps({"Message": None}), "AccessDeniedException")
FUNCTION_ERROR = _plain(502, "Internal Server Error")


class UrlDirectory:
    """The URL configurations by id, with the function each invokes, read from the store once and kept until the
    function or its URLs change."""

    def __init__(self, service: FunctionUrlService, router: Router) -> None:
        self._service = service
        self._router = router
        self._configs: dict[str, tuple[FunctionUrlConfig, FunctionRef]] = {}

    def forget(self, function_name: str) -> None:
        for url_id in [i for i, (c, _) in self._configs.items() if c.function_name == function_name]:
            del self._configs[url_id]

    async def get(self, url_id: str) -> tuple[FunctionUrlConfig, FunctionRef] | None:
        entry = self._configs.get(url_id)
        if entry is None:
            config = await self._service.by_id(url_id)  # unknown ids are not cached: they cost a read each
            if config is None:
                return None
            entry = self._configs[url_id] = (config, self._router.resolve(config.function_name, config.qualifier))
        return entry


class FunctionUrlEndpoint:
    def __init__(
        self,
        directory: UrlDirectory,
        router: Router,
        authenticator: Authenticator,
        account_id: str,
        domain: str,
    ) -> None:
        self.directory = directory
        self.router = router
        self.authenticator = authenticator
        self.account_id = account_id
        self.domain = domain
        """`lambda-url.<region>.<http_domain>`: the requestContext's domainName after the URL id."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send, url_id: str, raw_path: str) -> None:
        entry = await self.directory.get(url_id)
        if entry is None:
            await send_response(send, UNKNOWN_URL)
            return
        config, function = entry
        try:
            request = await read_request(scope, receive, raw_path or "/", SYNC_PAYLOAD_LIMIT)
        except BodyTooLarge as exc:
            await error_response(_too_large(exc.size))(scope, receive, send)
            return
        try:
            response = await self._respond(config, function, request)
        except FireboxError as error:
            await error_response(error)(scope, receive, send)
            return
        await send_response(send, response, head=request.method == "HEAD")

    async def _respond(self, config: FunctionUrlConfig, function: FunctionRef, request: HttpRequest) -> HttpResponse:
        principal = None
        if config.auth_type == AUTH_IAM:
            principal = self.authenticator.principal(request)
            if principal is None:
                return FORBIDDEN
        cors = Cors.of(config.cors)
        if cors is not None:
            preflight = cors.preflight(request)
            if preflight is not None:
                return preflight
        authorizer = None
        if principal is not None:
            authorizer = {
                "iam": {
                    "accessKey": None,
                    "accountId": principal.account or None,
                    "callerId": None,
                    "cognitoIdentity": None,
                    "principalOrgId": None,
                    "userArn": principal.arn or None,
                    "userId": None,
                }
            }
        event = v2_event(
            request,
            route_key="$default",
            account_id=principal.account or self.account_id if principal is not None else "anonymous",
            api_id=config.url_id,
            domain_name=f"{config.url_id}.{self.domain}",
            stage="$default",
            authorizer=authorizer,
        )
        payload = encode_event(event)
        if len(payload) > SYNC_PAYLOAD_LIMIT:
            raise _too_large(len(payload))
        result = await self.router.invoke(
            InvokeRequest(
                function=function,
                payload=payload,
                request_id=request.request_id,
                source=InvocationSource.URL,
                principal=principal,
                trace_id=continue_trace(request.header("x-amzn-trace-id") or ""),
            )
        )
        if result.function_error:
            return FUNCTION_ERROR
        try:
            response = v2_response(result.payload)
        except MalformedResponse:
            return FUNCTION_ERROR
        return response if cors is None else cors.decorate(request, response)


def _too_large(size: int) -> RequestEntityTooLargeException:
    return RequestEntityTooLargeException(
        f"{size} byte payload is too large for the RequestResponse invocation type (limit {SYNC_PAYLOAD_LIMIT} bytes)"
    )
