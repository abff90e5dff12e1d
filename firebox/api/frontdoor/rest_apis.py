"""REST APIs: `http://<rest-api-id>.execute-api.<domain>:<port>/<stage>/<path>` and
`/_aws/execute-api/<rest-api-id>/<stage>/<path>`.

A request → the API's stages and the deployment each points at (read once per API, compiled into resource trees,
forgotten on every change) → the stage, the first path segment (none: 403 `Forbidden`) → the most specific
resource with a method for the request (`rest_routes`) → AWS_IAM: the authentication hook → the body (10 MB at
most, 413) → a payload 1.0 event (resource template, path parameters, stage variables, the API's binaryMediaTypes
deciding base64) → the integration's function (`${stageVariables.x}` filled in) through the router (source
`apigw`), waited on for the integration's timeoutInMillis → the proxy response mapped back.

As API Gateway answers: an unknown stage, a path no resource has a method for, or an unsigned AWS_IAM request is
a 403 `{"message":"Missing Authentication Token"}` (`x-amzn-ErrorType: MissingAuthenticationTokenException`); a
function error or a malformed response a 502 `{"message": "Internal server error"}`; a function that cannot be
invoked (gone, throttled) a 500; the integration timeout a 504 `{"message": "Endpoint request timed out"}` while
the invocation runs on to its own timeout (`Router.invoke_within`). What is served is what was deployed: changes
to resources and methods are live once a deployment is made for the stage.
"""

from __future__ import annotations

import base64
import logging
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from starlette.types import Receive, Scope, Send

from firebox.api.frontdoor.authentication import Authenticator
from firebox.api.frontdoor.events import (
    HttpRequest,
    HttpResponse,
    MalformedResponse,
    encode_event,
    json_message,
    media_type_matches,
    v1_event,
    v1_response,
)
from firebox.api.frontdoor.rest_routes import Match, ResourceTree
from firebox.api.frontdoor.transport import BodyTooLarge, read_request, send_response
from firebox.control.rest_api_documents import DEFAULT_TIMEOUT_MS, function_of_uri, with_stage_variables
from firebox.control.rest_apis import RestApiService
from firebox.dataplane.router import SYNC_PAYLOAD_LIMIT, Router
from firebox.errors import FireboxError
from firebox.models.invocation import FunctionRef, InvocationSource, InvokeRequest, Principal
from firebox.observability.tracing import continue_trace

log = logging.getLogger("firebox.api")

BODY_LIMIT = 10_485_760
"""API Gateway's largest request payload."""


def _gateway_response(status: int, message: str, error_type: str | None = None) -> HttpResponse:
    response = json_message(status, message)
    if error_type is None:
        return response
    return HttpResponse(status, [*response.headers, (b"x-amzn-errortype", error_type.encode())], response.body)


NOT_FOUND = _gateway_response(404, "Not Found")
MISSING_TOKEN = _gateway_response(403, "Missing Authentication Token", "MissingAuthenticationTokenException")
FORBIDDEN = _gateway_response(403, "Forbidden", "ForbiddenException")
BAD_GATEWAY = _gateway_response(502, "Internal server error", "InternalServerErrorException")
INTERNAL_ERROR = _gateway_response(500, "Internal server error", "InternalServerErrorException")
TIMED_OUT = _gateway_response(504, "Endpoint request timed out")
TOO_LARGE = _gateway_response(413, "Request Entity Too Large")


@dataclass(frozen=True, slots=True)
class ServedStage:
    name: str
    variables: dict[str, str]
    resources: ResourceTree
    """The stage's deployment, compiled (stages on one deployment share it)."""


@dataclass(frozen=True, slots=True)
class ServedRestApi:
    binary_media_types: tuple[str, ...]
    disabled: bool
    """disableExecuteApiEndpoint: the execute-api endpoint answers 403 Forbidden."""
    stages: dict[str, ServedStage]

    @classmethod
    def of(cls, served: dict[str, Any]) -> ServedRestApi:
        trees = {deployment: ResourceTree(resources) for deployment, resources in served["snapshots"].items()}
        stages = {
            s["stageName"]: ServedStage(s["stageName"], s.get("variables") or {}, trees[s["deploymentId"]])
            for s in served["stages"]
        }
        api = served["api"]
        return cls(tuple(api.get("binaryMediaTypes") or ()), bool(api.get("disableExecuteApiEndpoint")), stages)


class RestApiEndpoint:
    def __init__(self, service: RestApiService, router: Router, authenticator: Authenticator, account_id: str) -> None:
        self.service = service
        self.router = router
        self.authenticator = authenticator
        self.account_id = account_id
        self._apis: dict[str, ServedRestApi] = {}
        self._functions: dict[str, FunctionRef] = {}
        """Integration URIs (stage variables filled in) → the function each names."""

    def forget(self, api_id: str) -> None:
        self._apis.pop(api_id, None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send, api_id: str, raw_path: str) -> None:
        api = self._apis.get(api_id)
        if api is None:
            served = await self.service.served(api_id)
            if served is None:
                await send_response(send, NOT_FOUND)
                return
            api = self._apis[api_id] = ServedRestApi.of(served)
        response, head = await self._serve(scope, receive, api_id, api, raw_path)
        apigw_id = base64.b64encode(secrets.token_bytes(11))
        headers = [*response.headers, (b"x-amz-apigw-id", apigw_id)]
        await send_response(send, HttpResponse(response.status, headers, response.body), head)

    async def _serve(
        self, scope: Scope, receive: Receive, api_id: str, api: ServedRestApi, raw_path: str
    ) -> tuple[HttpResponse, bool]:
        head = scope["method"] == "HEAD"
        stage_name, _, below = raw_path.lstrip("/").partition("/")
        if api.disabled or not stage_name:
            return FORBIDDEN, head
        stage = api.stages.get(unquote(stage_name))
        if stage is None:
            return MISSING_TOKEN, head
        path = "/" + below
        match = stage.resources.match(scope["method"], path)
        if match is None:
            return MISSING_TOKEN, head
        try:
            request = await read_request(scope, receive, path, BODY_LIMIT)
        except BodyTooLarge:
            return TOO_LARGE, head
        return await self._respond(api_id, api, stage, match, request), head

    async def _respond(
        self, api_id: str, api: ServedRestApi, stage: ServedStage, match: Match, request: HttpRequest
    ) -> HttpResponse:
        method = match.method
        integration = method.get("methodIntegration")
        if integration is None:  # a deployment needs every method integrated; kept for old snapshots
            return INTERNAL_ERROR
        principal = None
        if method.get("authorizationType") == "AWS_IAM":
            principal = self.authenticator.principal(request)
            if principal is None:
                return MISSING_TOKEN
        event = v1_event(
            request,
            resource=match.resource["path"],
            account_id=self.account_id,
            api_id=api_id,
            resource_id=match.resource["id"],
            domain_name=f"{api_id}.execute-api.{self.service.endpoints.domain}",
            stage=stage.name,
            stage_path=f"/{stage.name}{request.raw_path}",
            path_parameters=match.parameters,
            stage_variables=stage.variables,
            binary_media_types=api.binary_media_types,
        )
        if method.get("operationName"):
            event["requestContext"]["operationName"] = method["operationName"]
        if principal is not None:
            event["requestContext"]["identity"].update(_identity(principal, request))
        payload = encode_event(event)
        if len(payload) > SYNC_PAYLOAD_LIMIT:
            return TOO_LARGE
        function = self._function(with_stage_variables(integration["uri"], stage.variables))
        if function is None:
            return INTERNAL_ERROR
        timeout = integration.get("timeoutInMillis", DEFAULT_TIMEOUT_MS) / 1000
        try:
            result = await self.router.invoke_within(
                InvokeRequest(
                    function=function,
                    payload=payload,
                    request_id=request.request_id,
                    source=InvocationSource.APIGW,
                    principal=principal,
                    trace_id=continue_trace(request.header("x-amzn-trace-id")),
                ),
                timeout,
            )
        except FireboxError as error:  # the function is gone, not active, throttled...
            log.info("REST API %s: %s could not be invoked: %s %s", api_id, function.arn, error.code, error.message)
            return INTERNAL_ERROR
        if result is None:
            return TIMED_OUT
        if result.function_error:
            return BAD_GATEWAY
        accept = (request.header("accept") or "").split(",")[0]
        try:
            response = v1_response(
                result.payload,
                decode_base64=media_type_matches(accept, api.binary_media_types),
                string_body=True,
            )
        except MalformedResponse as malformed:
            log.info("REST API %s: malformed Lambda proxy response from %s: %s", api_id, function.arn, malformed)
            return BAD_GATEWAY
        if not any(name == b"content-type" for name, _ in response.headers):
            headers = [(b"content-type", b"application/json"), *response.headers]
            response = HttpResponse(response.status, headers, response.body)
        return response

    def _function(self, uri: str) -> FunctionRef | None:
        ref = self._functions.get(uri)
        if ref is None:
            name = function_of_uri(uri)
            if name is None:
                return None
            try:
                ref = self.router.resolve(name)
            except FireboxError as error:
                log.info("REST API integration %s names no function here: %s", uri, error.message)
                return None
            if len(self._functions) > 10_000:
                self._functions.clear()
            self._functions[uri] = ref
        return ref


def _identity(principal: Principal, request: HttpRequest) -> dict[str, str | None]:
    """requestContext.identity of a signed request: the caller as the authentication hook knows it, and the
    access key its signature names."""
    authorization = request.header("authorization") or ""
    credential = authorization.partition("Credential=")[2].partition("/")[0] or None
    return {
        "accessKey": credential,
        "accountId": principal.account or None,
        "caller": None,
        "user": None,
        "userArn": principal.arn or None,
    }
