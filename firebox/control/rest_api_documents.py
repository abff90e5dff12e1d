"""The documents of API Gateway REST APIs (the `apigateway` API), as API Gateway returns them, and the rules that
check what a client sends for them.

Members are lower-camel-case as in botocore's model; timestamps are epoch seconds (the REST-JSON protocol's
default, which every SDK parses). The service (`control/rest_apis.py`) stores and finds them; this module only
builds, checks and patches them.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any

from firebox.errors import BadRequestException, ConflictException, FireboxError, NotFoundException

KIND = "REST"
RESOURCE, DEPLOYMENT, SNAPSHOT, STAGE = "resource", "deployment", "snapshot", "stage"
"""Part kinds: a resource document holds its methods (each with its integration); a deployment's snapshot is the
list of resource documents it serves."""

METHODS = ("GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS", "HEAD", "ANY")
AUTHORIZATION_TYPES = ("NONE", "AWS_IAM", "CUSTOM", "COGNITO_USER_POOLS")
DEFAULT_TIMEOUT_MS = 29000
MIN_TIMEOUT_MS = 50
DEFAULT_LIMIT, MAX_LIMIT = 25, 500
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_PATH_PART = re.compile(r"[A-Za-z0-9._-]+|\{[A-Za-z0-9._-]+\+?\}")
_STAGE_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")
_VARIABLE_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
_VARIABLE_VALUE = re.compile(r"[A-Za-z0-9\-._~:/?#&=,]{1,512}")
_INVOCATION_URI = re.compile(
    r"arn:aws[a-zA-Z-]*:apigateway:(?P<region>[a-z0-9-]+):lambda:path/2015-03-31/functions/(?P<function>.+)/invocations"
)
_STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}")
_ENDPOINT_TYPES = ("EDGE", "REGIONAL", "PRIVATE")
_METHOD_SETTINGS = {
    "metrics/enabled": ("metricsEnabled", "bool"),
    "logging/loglevel": ("loggingLevel", "str"),
    "logging/dataTrace": ("dataTraceEnabled", "bool"),
    "throttling/burstLimit": ("throttlingBurstLimit", "int"),
    "throttling/rateLimit": ("throttlingRateLimit", "float"),
    "caching/enabled": ("cachingEnabled", "bool"),
    "caching/ttlInSeconds": ("cacheTtlInSeconds", "int"),
    "caching/dataEncrypted": ("cacheDataEncrypted", "bool"),
    "caching/requireAuthorizationForCacheControl": ("requireAuthorizationForCacheControl", "bool"),
    "caching/unauthorizedCacheControlHeaderStrategy": ("unauthorizedCacheControlHeaderStrategy", "str"),
}
_DEFAULT_METHOD_SETTING: dict[str, Any] = {
    "metricsEnabled": False,
    "loggingLevel": "OFF",
    "dataTraceEnabled": False,
    "throttlingBurstLimit": 5000,
    "throttlingRateLimit": 10000.0,
    "cachingEnabled": False,
    "cacheTtlInSeconds": 300,
    "cacheDataEncrypted": False,
    "requireAuthorizationForCacheControl": True,
    "unauthorizedCacheControlHeaderStrategy": "SEND_WARNING_IN_RESPONSE_HEADER",
}

API_NOT_FOUND = "Invalid API identifier specified {account}:{api_id}"
RESOURCE_NOT_FOUND = "Invalid Resource identifier specified"
METHOD_NOT_FOUND = "Invalid Method identifier specified"
INTEGRATION_NOT_FOUND = "Invalid Integration identifier specified"
STAGE_NOT_FOUND = "Invalid Stage identifier specified"
DEPLOYMENT_NOT_FOUND = "Invalid Deployment identifier specified"


def new_id(length: int) -> str:
    """An identifier as API Gateway makes them: lower-case letters and digits."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def function_of_uri(uri: str) -> str | None:
    """The Lambda function (name or ARN, maybe qualified) a proxy integration's URI invokes, or None if the URI is
    not `arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function>/invocations`."""
    match = _INVOCATION_URI.fullmatch(uri)
    return match.group("function") if match else None


def with_stage_variables(text: str, variables: dict[str, str]) -> str:
    """`${stageVariables.name}` replaced by the stage's value (an unknown name by nothing, as API Gateway does)."""
    return _STAGE_VARIABLE.sub(lambda m: variables.get(m.group(1), ""), text)


# the API


def rest_api(api_id: str, root_id: str, body: dict[str, Any], now: int) -> dict[str, Any]:
    name = string(body, "name", required=True)
    if body.get("cloneFrom") is not None:
        raise BadRequestException("cloneFrom is not supported: create the API's resources and methods instead.")
    api: dict[str, Any] = {"id": api_id, "name": name, "createdDate": now}
    for key in ("description", "version", "policy"):
        if body.get(key) is not None:
            api[key] = string(body, key)
    types = strings(body, "binaryMediaTypes")
    if types:
        api["binaryMediaTypes"] = types
    if body.get("minimumCompressionSize") is not None:
        api["minimumCompressionSize"] = integer(body, "minimumCompressionSize", 0, 10485760)
    source = body.get("apiKeySource") or "HEADER"
    if source not in ("HEADER", "AUTHORIZER"):
        raise BadRequestException(f"Invalid apiKeySource: {source}. Use HEADER or AUTHORIZER.")
    api["apiKeySource"] = source
    api["endpointConfiguration"] = _endpoint_configuration(body.get("endpointConfiguration"))
    tags = string_map(body, "tags")
    if tags:
        api["tags"] = tags
    api["disableExecuteApiEndpoint"] = boolean(body, "disableExecuteApiEndpoint")
    api["rootResourceId"] = root_id
    return api


def _endpoint_configuration(value: Any) -> dict[str, Any]:
    if value is None:
        return {"types": ["EDGE"], "ipAddressType": "ipv4"}
    if not isinstance(value, dict):
        raise BadRequestException("Invalid request input: endpointConfiguration must be an object")
    types = strings(value, "types") or ["EDGE"]
    if len(types) != 1 or types[0] not in _ENDPOINT_TYPES:
        raise BadRequestException("endpointConfiguration.types must hold exactly one of EDGE, REGIONAL or PRIVATE.")
    default_ip = "dualstack" if types[0] == "PRIVATE" else "ipv4"
    ip = value.get("ipAddressType") or default_ip
    if ip not in ("ipv4", "dualstack"):
        raise BadRequestException(f"Invalid ipAddressType: {ip}. Use ipv4 or dualstack.")
    config: dict[str, Any] = {"types": types, "ipAddressType": ip}
    endpoints = strings(value, "vpcEndpointIds")
    if endpoints:
        config["vpcEndpointIds"] = endpoints
    return config


def patch_rest_api(api: dict[str, Any], operations: list[dict[str, Any]]) -> dict[str, Any]:
    """UpdateRestApi: `replace` of /name, /description, /version, /policy, /apiKeySource,
    /disableExecuteApiEndpoint and /minimumCompressionSize; `add`/`remove` of /binaryMediaTypes/<type>."""
    api = dict(api)
    for op, path, value in patch_operations(operations):
        if path.startswith("/binaryMediaTypes/"):
            media_type = unescape(path.removeprefix("/binaryMediaTypes/"))
            types = [t for t in api.get("binaryMediaTypes", []) if t != media_type]
            if op in ("add", "replace"):
                types.append(media_type)
            elif op != "remove":
                raise _bad_op(op, path)
            if types:
                api["binaryMediaTypes"] = types
            else:
                api.pop("binaryMediaTypes", None)
            continue
        if op != "replace":
            raise _bad_op(op, path)
        key = path.removeprefix("/")
        if key in ("name", "description", "version", "policy"):
            if key == "name" and not value:
                raise BadRequestException("The API's name cannot be empty.")
            api[key] = value or ""
        elif key == "apiKeySource":
            if value not in ("HEADER", "AUTHORIZER"):
                raise BadRequestException(f"Invalid apiKeySource: {value}. Use HEADER or AUTHORIZER.")
            api[key] = value
        elif key == "disableExecuteApiEndpoint":
            api[key] = _bool_text(value, path)
        elif key == "minimumCompressionSize":
            if value in (None, ""):
                api.pop(key, None)
            else:
                api[key] = integer({key: _int_text(value, path)}, key, 0, 10485760)
        else:
            raise BadRequestException(f"Invalid patch path {path}")
    return api


# resources, methods, integrations


def resource(resource_id: str, parent: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """A new child of `parent`; its siblings are checked by the caller."""
    part = string(body, "pathPart", required=True)
    if not _PATH_PART.fullmatch(part):
        raise BadRequestException(
            "Resource's path part only allow a-zA-Z0-9._- and curly braces at the beginning and the end and an "
            "optional plus sign before the closing brace."
        )
    if is_greedy(parent.get("pathPart", "")):
        raise BadRequestException(
            f"Cannot create a child of a resource with a greedy path variable: {parent['pathPart']}"
        )
    base = parent["path"].rstrip("/")
    return {"id": resource_id, "parentId": parent["id"], "pathPart": part, "path": f"{base}/{part}"}


def check_siblings(doc: dict[str, Any], siblings: list[dict[str, Any]]) -> None:
    for sibling in siblings:
        if sibling["pathPart"] == doc["pathPart"]:
            raise ConflictException(f"Another resource with the same parent already has this name: {doc['pathPart']}")
        if is_variable(sibling["pathPart"]) and is_variable(doc["pathPart"]):
            raise BadRequestException(
                f"A sibling ({sibling['pathPart']}) of this resource already has a variable path part -- only one "
                "is allowed"
            )


def is_variable(part: str) -> bool:
    return part.startswith("{") and part.endswith("}")


def is_greedy(part: str) -> bool:
    return part.startswith("{") and part.endswith("+}")


def method(http_method: str, body: dict[str, Any]) -> dict[str, Any]:
    authorization = string(body, "authorizationType", required=True)
    if authorization not in AUTHORIZATION_TYPES:
        raise BadRequestException(
            f"Invalid authorization type specified: {authorization}. Valid options are {', '.join(AUTHORIZATION_TYPES)}"
        )
    if authorization in ("CUSTOM", "COGNITO_USER_POOLS"):
        raise BadRequestException("Invalid authorizer ID specified")  # Firebox has no authorizers for REST APIs
    if body.get("authorizerId") is not None:
        raise BadRequestException("Invalid authorizer ID specified")
    if boolean(body, "apiKeyRequired"):
        raise BadRequestException("apiKeyRequired is not supported: Firebox has no API keys or usage plans.")
    doc: dict[str, Any] = {"httpMethod": http_method, "authorizationType": authorization, "apiKeyRequired": False}
    if body.get("operationName") is not None:
        doc["operationName"] = string(body, "operationName")
    if body.get("requestValidatorId") is not None:
        raise BadRequestException(f"Invalid Request Validator identifier specified {body['requestValidatorId']}")
    parameters = body.get("requestParameters")
    if parameters is not None:
        if not isinstance(parameters, dict) or not all(isinstance(v, bool) for v in parameters.values()):
            raise BadRequestException("Invalid request input: requestParameters must map names to booleans")
        doc["requestParameters"] = parameters
    models = string_map(body, "requestModels")
    if models:
        doc["requestModels"] = models
    scopes = strings(body, "authorizationScopes")
    if scopes:
        doc["authorizationScopes"] = scopes
    return doc


def check_method_name(http_method: str) -> None:
    if http_method not in METHODS:
        raise BadRequestException(f"Invalid HttpMethod specified. Valid options are {','.join(METHODS)}")


def integration(resource_id: str, body: dict[str, Any], resolve: Callable[[str], object]) -> dict[str, Any]:
    """A Lambda proxy integration from a PutIntegration body (whose `httpMethod` is the integration's HTTP method,
    botocore's `integrationHttpMethod`); `resolve` checks the function name (raising on a malformed one)."""
    kind = string(body, "type", required=True)
    if kind != "AWS_PROXY":
        raise BadRequestException(f"Unsupported integration type {kind}: use AWS_PROXY with a Lambda function.")
    http_method = body.get("httpMethod")  # integrationHttpMethod, as the wire names it
    if not http_method:
        raise BadRequestException("Enumeration value for HttpMethod must be non-empty")
    if http_method != "POST":
        raise BadRequestException("Lambda proxy integrations must use integrationHttpMethod POST.")
    uri = body.get("uri")
    if not isinstance(uri, str) or not uri:
        raise BadRequestException("Invalid integration URI specified")
    function = function_of_uri(uri)
    if function is None:
        raise BadRequestException("AWS ARN for integration must contain path or action")
    if "${" not in function:  # a stage variable is only known when a request arrives
        try:
            resolve(function)
        except FireboxError:  # Lambda's own errors for a malformed or foreign name
            raise BadRequestException("Invalid ARN specified in the request") from None
    timeout = body.get("timeoutInMillis")
    if timeout is None:
        timeout = DEFAULT_TIMEOUT_MS
    if not isinstance(timeout, int) or isinstance(timeout, bool) or not MIN_TIMEOUT_MS <= timeout <= DEFAULT_TIMEOUT_MS:
        raise BadRequestException(f"Timeout should be between {MIN_TIMEOUT_MS} ms and {DEFAULT_TIMEOUT_MS} ms")
    doc: dict[str, Any] = {"type": "AWS_PROXY", "httpMethod": "POST", "uri": uri}
    if body.get("credentials") is not None:
        doc["credentials"] = string(body, "credentials")
    for key in ("requestParameters", "requestTemplates"):
        values = string_map(body, key)
        if values:
            doc[key] = values
    behaviour = body.get("passthroughBehavior") or "WHEN_NO_MATCH"
    if behaviour not in ("WHEN_NO_MATCH", "WHEN_NO_TEMPLATES", "NEVER"):
        raise BadRequestException(f"Invalid passthroughBehavior: {behaviour}")
    doc["passthroughBehavior"] = behaviour
    if body.get("contentHandling") is not None:
        if body["contentHandling"] not in ("CONVERT_TO_BINARY", "CONVERT_TO_TEXT"):
            raise BadRequestException(f"Invalid contentHandling: {body['contentHandling']}")
        doc["contentHandling"] = body["contentHandling"]
    doc["timeoutInMillis"] = timeout
    doc["cacheNamespace"] = string(body, "cacheNamespace") or resource_id
    doc["cacheKeyParameters"] = strings(body, "cacheKeyParameters")
    return doc


def shown(resource_doc: dict[str, Any], embed_methods: bool) -> dict[str, Any]:
    """A resource as GetResource(s) return it: its methods' names only, unless `embed=methods` asks for them."""
    methods = resource_doc.get("resourceMethods") or {}
    doc = {k: v for k, v in resource_doc.items() if k != "resourceMethods"}
    if methods:
        doc["resourceMethods"] = methods if embed_methods else {name: {} for name in methods}
    return doc


def api_summary(resources: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """A deployment's `apiSummary`: path → method → {authorizationType, apiKeyRequired}."""
    return {
        r["path"]: {
            name: {"authorizationType": m["authorizationType"], "apiKeyRequired": m.get("apiKeyRequired", False)}
            for name, m in r["resourceMethods"].items()
        }
        for r in resources
        if r.get("resourceMethods")
    }


# stages


def stage(body: dict[str, Any], now: int) -> dict[str, Any]:
    name = string(body, "stageName", required=True)
    check_stage_name(name)
    doc: dict[str, Any] = {"deploymentId": string(body, "deploymentId", required=True), "stageName": name}
    if body.get("description") is not None:
        doc["description"] = string(body, "description")
    doc["cacheClusterEnabled"] = False
    if boolean(body, "cacheClusterEnabled"):
        raise BadRequestException("cacheClusterEnabled is not supported: Firebox has no API cache.")
    doc["cacheClusterStatus"] = "NOT_AVAILABLE"
    doc["methodSettings"] = {}
    variables = stage_variables(body.get("variables"))
    if variables:
        doc["variables"] = variables
    doc["tracingEnabled"] = boolean(body, "tracingEnabled")
    tags = string_map(body, "tags")
    if tags:
        doc["tags"] = tags
    doc["createdDate"] = now
    doc["lastUpdatedDate"] = now
    return doc


def check_stage_name(name: str) -> None:
    if not _STAGE_NAME.fullmatch(name):
        raise BadRequestException(
            "Stage names can only contain alphanumeric characters, hyphens, and underscores. Maximum length is 128 "
            "characters."
        )


def stage_variables(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequestException("Invalid request input: variables must map strings to strings")
    for name, text in value.items():
        _check_variable(name, text)
    return dict(value)


def _check_variable(name: Any, value: Any) -> None:
    if not isinstance(name, str) or not _VARIABLE_NAME.fullmatch(name):
        raise BadRequestException(
            f"Stage variable name {name} is invalid: use 1 to 64 alphanumeric characters or underscores."
        )
    if not isinstance(value, str) or not _VARIABLE_VALUE.fullmatch(value):
        raise BadRequestException(
            f"Stage variable value {value} is invalid: use 1 to 512 characters of A-Za-z0-9-._~:/?#&=,"
        )


def patch_stage(doc: dict[str, Any], operations: list[dict[str, Any]], deployments: set[str]) -> dict[str, Any]:
    """UpdateStage: `replace`/`add`/`remove` of /variables/<name>; `replace` of /deploymentId, /description,
    /tracingEnabled and method settings (/<resource path>/<method>/<setting>, `*/*` for all)."""
    doc = {**doc, "variables": dict(doc.get("variables", {})), "methodSettings": dict(doc.get("methodSettings", {}))}
    for op, path, value in patch_operations(operations):
        if path.startswith("/variables/"):
            name = unescape(path.removeprefix("/variables/"))
            if op == "remove":
                doc["variables"].pop(name, None)
            elif op in ("replace", "add"):
                _check_variable(name, value)
                doc["variables"][name] = value
            else:
                raise _bad_op(op, path)
            continue
        if path == "/deploymentId" and op == "replace":
            if value not in deployments:
                raise NotFoundException(DEPLOYMENT_NOT_FOUND)
            doc["deploymentId"] = value
        elif path == "/description" and op == "replace":
            doc["description"] = value or ""
        elif path == "/tracingEnabled" and op == "replace":
            doc["tracingEnabled"] = _bool_text(value, path)
        elif op == "replace" and _method_setting(doc["methodSettings"], path, value):
            pass
        else:
            raise BadRequestException(f"Invalid patch path {path}")
    if not doc["variables"]:
        del doc["variables"]
    return doc


def _method_setting(settings: dict[str, dict[str, Any]], path: str, value: str | None) -> bool:
    """Apply `/<resource path>/<method>/<group>/<name>` (the resource path with `~1` for `/`); False if the
    path names no method setting."""
    parts = path.removeprefix("/").split("/")
    if len(parts) != 4 or f"{parts[2]}/{parts[3]}" not in _METHOD_SETTINGS:
        return False
    key = f"{unescape(parts[0])}/{parts[1]}"
    name, kind = _METHOD_SETTINGS[f"{parts[2]}/{parts[3]}"]
    setting = dict(settings.get(key, _DEFAULT_METHOD_SETTING))
    if kind == "bool":
        setting[name] = _bool_text(value, path)
    elif kind == "int":
        setting[name] = _int_text(value, path)
    elif kind == "float":
        try:
            setting[name] = float(value or "")
        except ValueError:
            raise BadRequestException(f"Invalid value for {path}: {value}") from None
    else:
        setting[name] = value or ""
    settings[key] = setting
    return True


# patch operations and input checks


def patch_operations(operations: list[dict[str, Any]]) -> list[tuple[str, str, str | None]]:
    """(op, path, value) of each of a request's patchOperations."""
    found = []
    for operation in operations:
        op, path, value = operation.get("op"), operation.get("path"), operation.get("value")
        if op not in ("add", "remove", "replace", "move", "copy", "test"):
            raise BadRequestException(f"Invalid patch operation specified. Must be one of: [add, remove, replace] {op}")
        if not isinstance(path, str) or not path.startswith("/"):
            raise BadRequestException(f"Invalid patch path {path}")
        if value is not None and not isinstance(value, str):
            raise BadRequestException("Invalid request input: a patch operation's value must be a string")
        found.append((op, path, value))
    return found


def unescape(pointer: str) -> str:
    """A JSON-pointer segment: `~1` is `/`, `~0` is `~`."""
    return pointer.replace("~1", "/").replace("~0", "~")


def _bad_op(op: str, path: str) -> BadRequestException:
    return BadRequestException(f"Invalid patch operation specified. Cannot {op} {path}")


def _bool_text(value: str | None, path: str) -> bool:
    if value not in ("true", "false"):
        raise BadRequestException(f"Invalid value for {path}: {value}. Use true or false.")
    return value == "true"


def _int_text(value: str | None, path: str) -> int:
    try:
        return int(value or "")
    except ValueError:
        raise BadRequestException(f"Invalid value for {path}: {value}") from None


def string(body: dict[str, Any], key: str, required: bool = False) -> str:
    value = body.get(key)
    if value is None:
        if required:
            raise BadRequestException(f"Invalid request input: {key} is required")
        return ""
    if not isinstance(value, str) or (required and not value):
        raise BadRequestException(f"Invalid request input: {key} must be a non-empty string")
    return value


def strings(body: dict[str, Any], key: str) -> list[str]:
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadRequestException(f"Invalid request input: {key} must be a list of strings")
    return value


def string_map(body: dict[str, Any], key: str) -> dict[str, str]:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise BadRequestException(f"Invalid request input: {key} must map strings to strings")
    return value


def boolean(body: dict[str, Any], key: str) -> bool:
    value = body.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise BadRequestException(f"Invalid request input: {key} must be a boolean")
    return value


def integer(body: dict[str, Any], key: str, low: int, high: int) -> int:
    value = body.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise BadRequestException(f"Invalid request input: {key} must be an integer from {low} to {high}")
    return value


def page(items: list[dict[str, Any]], key: str, position: str | None, limit: int | None) -> dict[str, Any]:
    """`{"item": [...], "position"?: ...}`: up to `limit` items (default 25, at most 500) from the one whose `key`
    is `position`, and the position of the next page if there is one."""
    size = DEFAULT_LIMIT if limit is None else limit
    if not 1 <= size <= MAX_LIMIT:
        raise BadRequestException(f"Invalid limit: {size}. The limit must be between 1 and {MAX_LIMIT}.")
    start = 0
    if position:
        start = next((i for i, item in enumerate(items) if item[key] == position), -1)
        if start < 0:
            raise BadRequestException(f"Invalid position parameter: {position}")
    chosen = items[start : start + size]
    doc: dict[str, Any] = {"item": chosen}
    if start + size < len(items):
        doc["position"] = items[start + size][key]
    return doc
