"""HTTP APIs: `http://<api-id>.execute-api.<domain>:<port>/[<stage>/]<path>` and
`/_aws/execute-api/<api-id>/<stage>/<path>` (`$default` as the stage segment).

A request → the API as last changed (cached per id, forgotten on every change) → the stage: a first path segment
naming a stage, else `$default` (404 without one) → a CORS preflight answered from the API's CorsConfiguration →
the body (10 MB at most, 413) → the most specific route (404 `{"message":"Not Found"}`) → its authorization: a
Lambda REQUEST authorizer (401 without identity, 403 when denied) or AWS_IAM (403 unsigned) → the integration's
event, payload 1.0 or 2.0 → the router (source `apigw`), waited on for the integration's TimeoutInMillis (503
`Service Unavailable` after it; the function runs on to its own timeout, as on AWS) → the response mapped as the
payload version says; a function error or an unreadable response is a 500 `{"message":"Internal Server Error"}`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from starlette.types import Receive, Scope, Send

from firebox.api.frontdoor.authentication import Authenticator
from firebox.api.frontdoor.authorizers import FAILED, UNAUTHORIZED, AuthorizerCache, Decision, decide, identity_values
from firebox.api.frontdoor.cors import Cors
from firebox.api.frontdoor.events import (
    HttpRequest,
    HttpResponse,
    MalformedResponse,
    encode_event,
    json_message,
    v1_event,
    v1_response,
    v2_event,
    v2_response,
)
from firebox.api.frontdoor.http_routes import Route, RouteTable
from firebox.api.frontdoor.transport import BodyTooLarge, read_request, send_response
from firebox.control.http_apis import DEFAULT_STAGE, DEFAULT_TIMEOUT_MS, HttpApiService, function_of_uri
from firebox.dataplane.router import Router
from firebox.errors import FireboxError
from firebox.models.invocation import FunctionRef, InvocationResult, InvocationSource, InvokeRequest
from firebox.observability.tracing import continue_trace

log = logging.getLogger("firebox.api")

BODY_LIMIT = 10_485_760
NOT_FOUND = json_message(404, "Not Found")
INTERNAL_ERROR = json_message(500, "Internal Server Error")
UNAUTHORIZED_RESPONSE = json_message(401, "Unauthorized")
FORBIDDEN_RESPONSE = json_message(403, "Forbidden")
TIMED_OUT = json_message(503, "Service Unavailable")
TOO_LARGE = json_message(413, "Request Entity Too Large")


@dataclass(frozen=True, slots=True)
class ServedApi:
    api: dict[str, Any]
    stages: dict[str, dict[str, Any]]
    routes: RouteTable
    integrations: dict[str, dict[str, Any]]
    authorizers: dict[str, dict[str, Any]]
    cors: Cors | None

    @classmethod
    def of(cls, snapshot: dict[str, Any]) -> ServedApi:
        return cls(
            snapshot["api"],
            {s["stageName"]: s for s in snapshot["stage"]},
            RouteTable(snapshot["route"]),
            {i["integrationId"]: i for i in snapshot["integration"]},
            {a["authorizerId"]: a for a in snapshot["authorizer"]},
            Cors.of(snapshot["api"].get("corsConfiguration")),
        )


class HttpApiEndpoint:
    def __init__(
        self, service: HttpApiService, router: Router, authenticator: Authenticator, account_id: str, region: str
    ) -> None:
        self.service = service
        self.router = router
        self.authenticator = authenticator
        self.account_id = account_id
        self.region = region
        self._apis: dict[str, ServedApi] = {}
        self._authorizations = AuthorizerCache()
        self._functions: dict[str, FunctionRef] = {}
        """Integration and authorizer URIs → the function each names."""

    def forget(self, api_id: str) -> None:
        self._apis.pop(api_id, None)
        self._authorizations.forget(api_id)

    async def __call__(self, scope: Scope, receive: Receive, send: Send, api_id: str, raw_path: str) -> None:
        served = self._apis.get(api_id)
        if served is None:
            snapshot = await self.service.snapshot(api_id)
            if snapshot is None:
                await send_response(send, NOT_FOUND)
                return
            served = self._apis[api_id] = ServedApi.of(snapshot)
        first, slash, below = raw_path.lstrip("/").partition("/")
        if first in served.stages:
            stage, path = served.stages[first], slash + below
        elif DEFAULT_STAGE in served.stages:
            stage, path = served.stages[DEFAULT_STAGE], raw_path
        else:
            await send_response(send, NOT_FOUND)
            return
        try:
            request = await read_request(scope, receive, path or "/", BODY_LIMIT)
        except BodyTooLarge:
            await send_response(send, TOO_LARGE)
            return
        response = await self._respond(api_id, served, stage, request)
        headers = [*response.headers, (b"apigw-requestid", request.request_id.encode())]
        await send_response(send, HttpResponse(response.status, headers, response.body), request.method == "HEAD")

    async def _respond(
        self, api_id: str, served: ServedApi, stage: dict[str, Any], request: HttpRequest
    ) -> HttpResponse:
        if served.cors is not None:
            preflight = served.cors.preflight(request, status=204)
            if preflight is not None:
                return preflight
        selected = served.routes.select(request.method, request.raw_path)
        if selected is None:
            return NOT_FOUND
        route, params = selected
        integration = served.integrations.get(str(route.doc.get("target", "")).removeprefix("integrations/"))
        if integration is None:
            return NOT_FOUND
        variables = stage.get("stageVariables") or {}
        common = {
            "account_id": self.account_id,
            "api_id": api_id,
            "domain_name": f"{api_id}.execute-api.{self.service.endpoints.domain}",
            "stage": stage["stageName"],
            "path_parameters": params,
            "stage_variables": variables,
        }
        authorizer: dict[str, Any] | None = None
        authorization = route.doc.get("authorizationType", "NONE")
        if authorization == "AWS_IAM":
            principal = self.authenticator.principal(request)
            if principal is None:
                return FORBIDDEN_RESPONSE
            authorizer = {"iam": {"accountId": principal.account or None, "userArn": principal.arn or None}}
        elif authorization == "CUSTOM":
            decision = await self._authorize(api_id, served, route, stage, request, common)
            if decision.status != 200:
                return {401: UNAUTHORIZED_RESPONSE, 403: FORBIDDEN_RESPONSE}.get(decision.status, INTERNAL_ERROR)
            authorizer = {"lambda": decision.context}
        version = integration.get("payloadFormatVersion", "2.0")
        if version == "1.0":
            if authorizer is not None and "lambda" in authorizer:
                authorizer = {**authorizer["lambda"], "principalId": None}
            event = v1_event(
                request,
                resource=route.path,
                resource_id=route.doc["routeId"],
                stage_path=request.raw_path
                if stage["stageName"] == DEFAULT_STAGE
                else f"/{stage['stageName']}" + request.raw_path,
                authorizer=authorizer,
                **common,
            )
        else:
            event = v2_event(request, route_key=route.key, authorizer=authorizer, **common)
        timeout = integration.get("timeoutInMillis", DEFAULT_TIMEOUT_MS) / 1000
        result = await self._invoke(integration["integrationUri"], event, request, timeout)
        if result is None:
            return TIMED_OUT
        if isinstance(result, HttpResponse):
            return result
        if result.function_error:
            return INTERNAL_ERROR
        try:
            response = v1_response(result.payload) if version == "1.0" else v2_response(result.payload)
        except MalformedResponse:
            return INTERNAL_ERROR
        return response if served.cors is None else served.cors.decorate(request, response)

    async def _invoke(
        self, uri: str, event: dict[str, Any], request: HttpRequest, wait_seconds: float
    ) -> InvocationResult | HttpResponse | None:
        """The function's result; an error response when it could not run; None when the gateway gave up."""
        ref = self._functions.get(uri)
        if ref is None:
            try:
                ref = self.router.resolve(function_of_uri(uri))
            except FireboxError:
                return INTERNAL_ERROR
            if len(self._functions) > 10_000:
                self._functions.clear()
            self._functions[uri] = ref
        invocation = InvokeRequest(
            function=ref,
            payload=encode_event(event),
            request_id=request.request_id,
            source=InvocationSource.APIGW,
            trace_id=continue_trace(request.header("x-amzn-trace-id") or ""),
        )
        try:
            return await self.router.invoke_within(invocation, wait_seconds)
        except FireboxError as error:
            log.info("integration %s could not be invoked: %s %s", uri, error.code, error.message)
            return INTERNAL_ERROR

    async def _authorize(
        self,
        api_id: str,
        served: ServedApi,
        route: Route,
        stage: dict[str, Any],
        request: HttpRequest,
        common: dict[str, Any],
    ) -> Decision:
        config = served.authorizers.get(route.doc.get("authorizerId", ""))
        if config is None:
            return FAILED
        sources = config.get("identitySource") or []
        identity = identity_values(sources, request, stage.get("stageVariables") or {})
        if identity is None:
            return UNAUTHORIZED
        ttl = config.get("authorizerResultTtlInSeconds", 0)
        cached = self._authorizations.get(api_id, config["authorizerId"], identity) if ttl else None
        if cached is not None:
            return cached
        route_arn = (
            f"arn:aws:execute-api:{self.region}:{self.account_id}:{api_id}/{stage['stageName']}/"
            f"{request.method}{request.raw_path}"
        )
        if config["authorizerPayloadFormatVersion"] == "2.0":
            event = v2_event(request, route_key=route.key, **common)
            event.update({"type": "REQUEST", "routeArn": route_arn, "identitySource": identity})
        else:
            event = v1_event(
                request, resource=route.path, resource_id=route.doc["routeId"], stage_path=request.raw_path, **common
            )
            event.update({"type": "REQUEST", "methodArn": route_arn, "identitySource": ",".join(identity)})
        result = await self._invoke(config["authorizerUri"], event, request, DEFAULT_TIMEOUT_MS / 1000)
        if not isinstance(result, InvocationResult) or result.function_error:
            return FAILED
        decision = decide(result.payload, bool(config.get("enableSimpleResponses")), route_arn)
        self._authorizations.put(api_id, config["authorizerId"], identity, ttl, decision)
        return decision
