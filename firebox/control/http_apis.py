"""API Gateway HTTP APIs (the `apigatewayv2` API): APIs, routes, integrations, stages and Lambda authorizers.

Each is kept as the JSON document the API returns (lower-camel-case members, as API Gateway writes them), in the
gateway store (kind `HTTP`; parts `route`, `integration`, `stage`, `authorizer`). Quick create (`Target`) makes
the AWS_PROXY integration, the route (`$default` unless `RouteKey` says otherwise) and the auto-deploying
`$default` stage in one call, as API Gateway does.

What is served is the API's current configuration on every stage (stages deploy automatically; explicit
deployments are not kept). Listeners registered with `on_change` hear the API's id after every committed change.
Only what Lambda integrations need is accepted: protocol HTTP, integration type AWS_PROXY, authorizers of type
REQUEST; anything else is a BadRequestException naming it.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from firebox.control.functions import FunctionService
from firebox.control.rest_api_documents import string
from firebox.errors import BadRequestException, ConflictException, NotFoundException
from firebox.names import PublicEndpoints

KIND = "HTTP"
DEFAULT_STAGE = "$default"
DEFAULT_TIMEOUT_MS = 30000
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_METHODS = {"ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
_ROUTE_PATH = re.compile(r"/|(/(\{[A-Za-z0-9._-]+\+?\}|[^/{}]+))+")
_STAGE_NAME = re.compile(r"\$default|[A-Za-z0-9_-]{1,128}")
_INVOCATION_URI = re.compile(r"arn:aws[a-zA-Z-]*:apigateway:[^:]+:lambda:path/2015-03-31/functions/(.+)/invocations")

API_FIELDS = {
    "name",
    "protocolType",
    "description",
    "corsConfiguration",
    "routeSelectionExpression",
    "apiKeySelectionExpression",
    "disableExecuteApiEndpoint",
    "disableSchemaValidation",
    "version",
    "tags",
    "target",
    "routeKey",
    "credentialsArn",
    "ipAddressType",
}
PART_FIELDS = {
    "route": {
        "routeKey",
        "target",
        "authorizationType",
        "authorizerId",
        "apiKeyRequired",
        "operationName",
        "authorizationScopes",
        "requestParameters",
        "requestModels",
        "modelSelectionExpression",
        "routeResponseSelectionExpression",
    },
    "integration": {
        "integrationType",
        "integrationUri",
        "integrationMethod",
        "payloadFormatVersion",
        "timeoutInMillis",
        "connectionType",
        "description",
        "credentialsArn",
        "requestParameters",
        "responseParameters",
        "integrationSubtype",
        "passthroughBehavior",
        "contentHandlingStrategy",
        "tlsConfig",
        "connectionId",
        "requestTemplates",
        "templateSelectionExpression",
    },
    "stage": {
        "stageName",
        "autoDeploy",
        "stageVariables",
        "description",
        "deploymentId",
        "defaultRouteSettings",
        "routeSettings",
        "accessLogSettings",
        "tags",
        "clientCertificateId",
    },
    "authorizer": {
        "name",
        "authorizerType",
        "authorizerUri",
        "authorizerPayloadFormatVersion",
        "authorizerResultTtlInSeconds",
        "enableSimpleResponses",
        "identitySource",
        "identityValidationExpression",
        "authorizerCredentialsArn",
        "jwtConfiguration",
    },
}
ID_FIELD = {"route": "routeId", "integration": "integrationId", "stage": "stageName", "authorizer": "authorizerId"}
NOUN = {"route": "Route", "integration": "Integration", "stage": "Stage", "authorizer": "Authorizer"}


def iso_date(epoch: float) -> str:
    """`2024-05-01T12:34:56Z`, as API Gateway writes createdDate."""
    return datetime.fromtimestamp(int(epoch), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id(length: int = 10) -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def function_of_uri(uri: str) -> str:
    """The function an integration or authorizer URI names: a Lambda function ARN, or API Gateway's invocation
    URI around one (`arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<arn>/invocations`)."""
    match = _INVOCATION_URI.fullmatch(uri)
    return match.group(1) if match else uri


class HttpApiService:
    def __init__(self, functions: FunctionService, endpoints: PublicEndpoints) -> None:
        self.functions = functions
        self.store = functions.store
        self.endpoints = endpoints
        self._listeners: list[Callable[[str], None]] = []

    def on_change(self, listener: Callable[[str], None]) -> None:
        self._listeners.append(listener)

    def _changed(self, api_id: str) -> None:
        for listener in self._listeners:
            listener(api_id)

    # APIs

    async def create_api(self, body: dict[str, Any]) -> dict[str, Any]:
        _known(body, API_FIELDS)
        name = string(body, "name", required=True)
        if body.get("protocolType") != "HTTP":
            raise BadRequestException(
                "Only the HTTP protocol type is supported here." if body.get("protocolType") else "Invalid input"
            )
        now = time.time()
        api_id = new_id()
        api: dict[str, Any] = {
            "apiEndpoint": self.endpoints.api_endpoint(api_id),
            "apiId": api_id,
            "apiKeySelectionExpression": body.get("apiKeySelectionExpression", "$request.header.x-api-key"),
            "createdDate": iso_date(now),
            "disableExecuteApiEndpoint": bool(body.get("disableExecuteApiEndpoint", False)),
            "name": name,
            "protocolType": "HTTP",
            "routeSelectionExpression": body.get("routeSelectionExpression", "${request.method} ${request.path}"),
            "tags": _map(body, "tags"),
        }
        for key in ("description", "version"):
            if body.get(key) is not None:
                api[key] = string(body, key)
        if body.get("corsConfiguration") is not None:
            api["corsConfiguration"] = _cors(body["corsConfiguration"])
        parts: list[tuple[str, str, dict[str, Any]]] = []
        target = body.get("target")
        if target is not None:
            integration = self._integration({"integrationType": "AWS_PROXY", "integrationUri": string(body, "target")})
            route_key = body.get("routeKey") or "$default"
            integration_id = integration["integrationId"]
            route = self._route(
                {"routeKey": route_key, "target": f"integrations/{integration_id}"}, {integration_id: integration}, {}
            )
            stage = self._stage({"stageName": DEFAULT_STAGE, "autoDeploy": True}, now)
            parts = [
                ("integration", integration["integrationId"], integration),
                ("route", route["routeId"], route),
                ("stage", DEFAULT_STAGE, stage),
            ]
        elif body.get("routeKey") is not None:
            raise BadRequestException("RouteKey can only be specified with Target.")
        await self.functions.run(self._store_new_api, api, parts, now)
        return api

    def _store_new_api(self, api: dict[str, Any], parts: list[tuple[str, str, dict[str, Any]]], now: float) -> None:
        self.store.put_gateway_api(api["apiId"], KIND, api, now)
        for kind, part_id, doc in parts:
            self.store.put_gateway_part(api["apiId"], kind, part_id, doc)

    async def get_api(self, api_id: str) -> dict[str, Any]:
        return await self.functions.run(self._api, api_id)

    def _api(self, api_id: str) -> dict[str, Any]:
        found = self.store.get_gateway_api(api_id)
        if found is None or found[0] != KIND:
            raise NotFoundException(f"Invalid API identifier specified {self.functions.settings.account_id}:{api_id}")
        return found[1]

    async def list_apis(self) -> list[dict[str, Any]]:
        return await self.functions.run(self.store.list_gateway_apis, KIND)

    async def update_api(self, api_id: str, body: dict[str, Any]) -> dict[str, Any]:
        _known(body, API_FIELDS - {"protocolType", "tags"})
        api = await self.functions.run(self._update_api, api_id, body)
        self._changed(api_id)
        return api

    def _update_api(self, api_id: str, body: dict[str, Any]) -> dict[str, Any]:
        api = dict(self._api(api_id))
        for key in ("name", "description", "version", "routeSelectionExpression", "apiKeySelectionExpression"):
            if body.get(key) is not None:
                api[key] = string(body, key)
        if "disableExecuteApiEndpoint" in body:
            api["disableExecuteApiEndpoint"] = bool(body["disableExecuteApiEndpoint"])
        if body.get("corsConfiguration") is not None:
            api["corsConfiguration"] = _cors(body["corsConfiguration"])
        self.store.put_gateway_api(api_id, KIND, api, 0.0)
        return api

    async def delete_api(self, api_id: str) -> None:
        await self.functions.run(self._delete_api, api_id)
        self._changed(api_id)

    def _delete_api(self, api_id: str) -> None:
        self._api(api_id)
        self.store.delete_gateway_api(api_id)

    async def delete_cors(self, api_id: str) -> None:
        def remove() -> None:
            api = dict(self._api(api_id))
            api.pop("corsConfiguration", None)
            self.store.put_gateway_api(api_id, KIND, api, 0.0)

        await self.functions.run(remove)
        self._changed(api_id)

    async def snapshot(self, api_id: str) -> dict[str, Any] | None:
        """Everything needed to serve the API: its document and its parts by kind; None if it is gone."""

        def read() -> dict[str, Any] | None:
            found = self.store.get_gateway_api(api_id)
            if found is None or found[0] != KIND:
                return None
            return {"api": found[1], **{kind: self.store.list_gateway_parts(api_id, kind) for kind in PART_FIELDS}}

        return await self.functions.run(read)

    # parts: routes, integrations, stages, authorizers

    async def create_part(self, api_id: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        _known(body, PART_FIELDS[kind])
        doc = await self.functions.run(self._create_part, api_id, kind, body)
        self._changed(api_id)
        return doc

    def _create_part(self, api_id: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        self._api(api_id)
        if kind == "route":
            doc = self._route(body, self._parts(api_id, "integration"), self._parts(api_id, "authorizer"))
            if any(r["routeKey"] == doc["routeKey"] for r in self.store.list_gateway_parts(api_id, "route")):
                raise ConflictException(f"Route with key {doc['routeKey']} already exists for this API")
        elif kind == "integration":
            doc = self._integration(body)
        elif kind == "stage":
            doc = self._stage(body, time.time())
            if self.store.get_gateway_part(api_id, "stage", doc["stageName"]) is not None:
                raise ConflictException(f"Stage {doc['stageName']} already exists")
        else:
            doc = self._authorizer(body)
        self.store.put_gateway_part(api_id, kind, doc[ID_FIELD[kind]], doc)
        return doc

    def _parts(self, api_id: str, kind: str) -> dict[str, dict[str, Any]]:
        return {doc[ID_FIELD[kind]]: doc for doc in self.store.list_gateway_parts(api_id, kind)}

    async def get_part(self, api_id: str, kind: str, part_id: str) -> dict[str, Any]:
        return await self.functions.run(self._part, api_id, kind, part_id)

    def _part(self, api_id: str, kind: str, part_id: str) -> dict[str, Any]:
        self._api(api_id)
        doc = self.store.get_gateway_part(api_id, kind, part_id)
        if doc is None:
            raise NotFoundException(f"Invalid {NOUN[kind]} identifier specified {part_id}")
        return doc

    async def list_parts(self, api_id: str, kind: str) -> list[dict[str, Any]]:
        def read() -> list[dict[str, Any]]:
            self._api(api_id)
            return self.store.list_gateway_parts(api_id, kind)

        return await self.functions.run(read)

    async def update_part(self, api_id: str, kind: str, part_id: str, body: dict[str, Any]) -> dict[str, Any]:
        _known(body, PART_FIELDS[kind])
        doc = await self.functions.run(self._update_part, api_id, kind, part_id, body)
        self._changed(api_id)
        return doc

    def _update_part(self, api_id: str, kind: str, part_id: str, body: dict[str, Any]) -> dict[str, Any]:
        current = self._part(api_id, kind, part_id)
        merged = {**current, **{k: v for k, v in body.items() if v is not None}}
        if kind == "route":
            doc = self._route(merged, self._parts(api_id, "integration"), self._parts(api_id, "authorizer"))
            if any(
                r["routeKey"] == doc["routeKey"] and r["routeId"] != part_id
                for r in self.store.list_gateway_parts(api_id, "route")
            ):
                raise ConflictException(f"Route with key {doc['routeKey']} already exists for this API")
        elif kind == "integration":
            doc = self._integration(merged)
        elif kind == "stage":
            if body.get("stageName") not in (None, part_id):
                raise BadRequestException("The stage name cannot be changed.")
            doc = self._stage(merged, time.time(), created=current["createdDate"])
        else:
            doc = self._authorizer(merged)
        doc[ID_FIELD[kind]] = part_id
        self.store.put_gateway_part(api_id, kind, part_id, doc)
        return doc

    async def delete_part(self, api_id: str, kind: str, part_id: str) -> None:
        def delete() -> None:
            self._part(api_id, kind, part_id)
            if kind == "integration":
                for route in self.store.list_gateway_parts(api_id, "route"):
                    if route.get("target") == f"integrations/{part_id}":
                        raise ConflictException(
                            f"Integration {part_id} is in use by route {route['routeId']}; delete the route first."
                        )
            if kind == "authorizer":
                for route in self.store.list_gateway_parts(api_id, "route"):
                    if route.get("authorizerId") == part_id:
                        raise ConflictException(f"Authorizer {part_id} is in use by route {route['routeId']}.")
            self.store.delete_gateway_part(api_id, kind, part_id)

        await self.functions.run(delete)
        self._changed(api_id)

    # the documents

    def _route(
        self,
        body: dict[str, Any],
        integrations: dict[str, dict[str, Any]],
        authorizers: dict[str, dict[str, Any]],
    ) -> dict[str, Any]:
        key = string(body, "routeKey", required=True)
        check_route_key(key)
        doc: dict[str, Any] = {
            "apiKeyRequired": bool(body.get("apiKeyRequired", False)),
            "authorizationType": body.get("authorizationType") or "NONE",
            "routeId": body.get("routeId") or new_id(7),
            "routeKey": key,
        }
        if doc["authorizationType"] not in ("NONE", "CUSTOM", "AWS_IAM"):
            raise BadRequestException(
                f"Unsupported authorization type {doc['authorizationType']}: use NONE, CUSTOM or AWS_IAM."
            )
        target = body.get("target")
        if target is not None:
            if not isinstance(target, str) or not target.startswith("integrations/"):
                raise BadRequestException(f"Invalid target: {target}. Use integrations/<integration id>.")
            integration_id = target.removeprefix("integrations/")
            if integration_id not in integrations:
                raise NotFoundException(f"Invalid Integration identifier specified {integration_id}")
            doc["target"] = target
        if doc["authorizationType"] == "CUSTOM":
            authorizer_id = body.get("authorizerId")
            if not authorizer_id:
                raise BadRequestException("An authorizerId is required when authorizationType is CUSTOM.")
            if authorizer_id not in authorizers:
                raise NotFoundException(f"Invalid Authorizer identifier specified {authorizer_id}")
            doc["authorizerId"] = authorizer_id
        if body.get("operationName") is not None:
            doc["operationName"] = string(body, "operationName")
        return doc

    def _integration(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("integrationType") != "AWS_PROXY":
            raise BadRequestException(
                f"Unsupported integration type {body.get('integrationType')}: use AWS_PROXY with a Lambda function."
            )
        uri = string(body, "integrationUri", required=True)
        self.functions.resolve(function_of_uri(uri))  # a malformed or foreign function name is refused now
        version = body.get("payloadFormatVersion") or "2.0"
        if version not in ("1.0", "2.0"):
            raise BadRequestException("PayloadFormatVersion must be 1.0 or 2.0.")
        timeout = body.get("timeoutInMillis", DEFAULT_TIMEOUT_MS)
        if not isinstance(timeout, int) or isinstance(timeout, bool) or not 50 <= timeout <= DEFAULT_TIMEOUT_MS:
            raise BadRequestException("TimeoutInMillis must be between 50 and 30000.")
        doc: dict[str, Any] = {
            "connectionType": "INTERNET",
            "integrationId": body.get("integrationId") or new_id(7),
            "integrationMethod": body.get("integrationMethod") or "POST",
            "integrationType": "AWS_PROXY",
            "integrationUri": uri,
            "payloadFormatVersion": version,
            "timeoutInMillis": timeout,
        }
        if body.get("description") is not None:
            doc["description"] = string(body, "description")
        return doc

    def _stage(self, body: dict[str, Any], now: float, created: str | None = None) -> dict[str, Any]:
        name = string(body, "stageName", required=True)
        if not _STAGE_NAME.fullmatch(name):
            raise BadRequestException(f"Stage name only allows a-zA-Z0-9_- or is $default, not {name}")
        doc: dict[str, Any] = {
            "autoDeploy": bool(body.get("autoDeploy", False)),
            "createdDate": created or iso_date(now),
            "defaultRouteSettings": body.get("defaultRouteSettings") or {},
            "lastUpdatedDate": iso_date(now),
            "routeSettings": body.get("routeSettings") or {},
            "stageName": name,
            "stageVariables": _map(body, "stageVariables"),
            "tags": _map(body, "tags"),
        }
        if body.get("description") is not None:
            doc["description"] = string(body, "description")
        return doc

    def _authorizer(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("authorizerType") != "REQUEST":
            raise BadRequestException(
                f"Unsupported authorizer type {body.get('authorizerType')}: use REQUEST with a Lambda function."
            )
        name = string(body, "name", required=True)
        uri = string(body, "authorizerUri", required=True)
        self.functions.resolve(function_of_uri(uri))
        version = body.get("authorizerPayloadFormatVersion")
        if version not in ("1.0", "2.0"):
            raise BadRequestException("AuthorizerPayloadFormatVersion is required: 1.0 or 2.0.")
        simple = bool(body.get("enableSimpleResponses", False))
        if simple and version != "2.0":
            raise BadRequestException("Simple responses are only supported with payload format version 2.0.")
        sources = body.get("identitySource") or []
        if not isinstance(sources, list) or not all(isinstance(s, str) and s.startswith("$") for s in sources):
            raise BadRequestException("identitySource must be a list of $request / $context / $stageVariables paths.")
        ttl = body.get("authorizerResultTtlInSeconds", 0)
        if not isinstance(ttl, int) or not 0 <= ttl <= 3600:
            raise BadRequestException("AuthorizerResultTtlInSeconds must be between 0 and 3600.")
        if ttl and not sources:
            raise BadRequestException("Identity sources are required when caching is enabled.")
        return {
            "authorizerId": body.get("authorizerId") or new_id(6),
            "authorizerPayloadFormatVersion": version,
            "authorizerResultTtlInSeconds": ttl,
            "authorizerType": "REQUEST",
            "authorizerUri": uri,
            "enableSimpleResponses": simple,
            "identitySource": sources,
            "name": name,
        }


def check_route_key(key: str) -> None:
    """`$default`, or `METHOD /path` with `{param}` segments and at most a final `{greedy+}`."""
    if key == "$default":
        return
    method, _, path = key.partition(" ")
    if method not in _METHODS or not _ROUTE_PATH.fullmatch(path):
        raise BadRequestException(f"Invalid route key: {key}. Use $default or METHOD /path, e.g. GET /items/{{id}}.")
    greedy = [i for i, part in enumerate(path.split("/")) if part.endswith("+}")]
    if greedy and greedy != [len(path.split("/")) - 1]:
        raise BadRequestException(f"Invalid route key: {key}. A greedy path variable must be the last segment.")


def _known(body: dict[str, Any], fields: set[str]) -> None:
    for key in body:
        if key not in fields:
            raise BadRequestException(f"Invalid request input: unknown field {key}")


def _map(body: dict[str, Any], key: str) -> dict[str, str]:
    value = body.get(key) or {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise BadRequestException(f"Invalid request input: {key} must map strings to strings")
    return value


def _cors(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequestException("Invalid request input: corsConfiguration must be an object")
    allowed = {"allowCredentials", "allowHeaders", "allowMethods", "allowOrigins", "exposeHeaders", "maxAge"}
    _known(value, allowed)
    for key in ("allowHeaders", "allowMethods", "allowOrigins", "exposeHeaders"):
        items = value.get(key)
        if items is not None and (not isinstance(items, list) or not all(isinstance(i, str) for i in items)):
            raise BadRequestException(f"Invalid request input: corsConfiguration.{key} must be a list of strings")
    max_age = value.get("maxAge")
    if max_age is not None and (not isinstance(max_age, int) or not -1 <= max_age <= 86400):
        raise BadRequestException("Invalid request input: corsConfiguration.maxAge must be between -1 and 86400")
    return {k: v for k, v in value.items() if v is not None}
