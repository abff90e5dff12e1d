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
from dataclasses import dataclass

from starlette.types import Receive, Scope, Send

from firebox.api.errors import error_response
from firebox.api.frontdoor.authentication import Authenticator
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
from firebox.models.invocation import FunctionRef, InvocationSource, InvokeRequest
from firebox.models.urls import AUTH_IAM, FunctionUrlConfig
from firebox.observability.tracing import continue_trace


def _plain(status: int, text: str, error_type: str | None = None) -> HttpResponse:
    headers = [(b"content-type", b"application/json")]
    if error_type:
        headers.append((b"x-amzn-errortype", error_type.encode()))
    return HttpResponse(status, headers, text.encode())


FORBIDDEN = _plain(403, json.dumps({"Message": "Forbidden"}), "AccessDeniedException")
UNKNOWN_URL = _plain(403, json.dumps({"Message": None}), "AccessDeniedException")
FUNCTION_ERROR = _plain(502, "Internal Server Error")


@dataclass(frozen=True, slots=True)
class ServedUrl:
    config: FunctionUrlConfig
    function: FunctionRef
    cors: Cors | None


class UrlDirectory:
    """The URL configurations by id, with the function each invokes, read from the store once and kept until the
    function or its URLs change."""

    def __init__(self, service: FunctionUrlService, router: Router) -> None:
        self._service = service
        self._router = router
        self._urls: dict[str, ServedUrl] = {}

    def forget(self, function_name: str) -> None:
        for url_id in [i for i, url in self._urls.items() if url.config.function_name == function_name]:
            del self._urls[url_id]

    async def get(self, url_id: str) -> ServedUrl | None:
        url = self._urls.get(url_id)
        if url is None:
            config = await self._service.by_id(url_id)  # unknown ids are not cached: they cost a read each
            if config is None:
                return None
            function = self._router.resolve(config.function_name, config.qualifier)
            url = self._urls[url_id] = ServedUrl(config, function, Cors.of(config.cors))
        return url


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
        url = await self.directory.get(url_id)
        if url is None:
            await send_response(send, UNKNOWN_URL)
            return
        try:
            request = await read_request(scope, receive, raw_path or "/", SYNC_PAYLOAD_LIMIT)
        except BodyTooLarge as exc:
            await error_response(_too_large(exc.size))(scope, receive, send)
            return
        try:
            response = await self._respond(url, request)
        except FireboxError as error:
            await error_response(error)(scope, receive, send)
            return
        await send_response(send, response, head=request.method == "HEAD")

    async def _respond(self, url: ServedUrl, request: HttpRequest) -> HttpResponse:
        config, cors = url.config, url.cors
        principal = None
        account = "anonymous"
        if config.auth_type == AUTH_IAM:
            principal = self.authenticator.principal(request)
            if principal is None:
                return FORBIDDEN
            account = principal.account or self.account_id
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
            account_id=account,
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
                function=url.function,
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
