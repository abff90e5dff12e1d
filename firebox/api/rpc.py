"""The RPC-style AWS protocols, for the CloudWatch Logs and CloudWatch (metrics) APIs on the same endpoint.

Lambda's API is REST (a path per operation); CloudWatch Logs and CloudWatch are RPC: every call is a `POST` whose
operation is named by a header or the path, with the parameters in the body. Three wire forms reach us:

- AWS JSON 1.1 (Logs) and 1.0 (CloudWatch): `POST /`, `X-Amz-Target: <prefix>.<Operation>`, a JSON body; epoch
  seconds (numbers) for timestamps.
- Smithy RPC v2 CBOR (CloudWatch in some botocore releases): `POST /service/<service>/operation/<Operation>`, header
  `smithy-protocol: rpc-v2-cbor`, a CBOR body; timestamps as CBOR tag 1.

An operation is an `async (services, params) -> result` function in a route module's `OPERATIONS` table; it sees
plain dicts whatever the wire form (timestamps as `datetime` or numbers: `timestamp_ms` reads both) and returns a
plain dict with `datetime` values where the model says timestamp. Errors are `FireboxError`s, shaped in
`firebox.api.errors`.
"""

from __future__ import annotations

import base64
import datetime
import json
import zlib
from collections.abc import Mapping
from typing import Any

import cbor2
from starlette.requests import Request
from starlette.responses import Response

from firebox.api.errors import rpc_error_response
from firebox.api.http import read_body
from firebox.api.operations import Registry, route, rpc
from firebox.api.routes import cloudwatch, cloudwatch_logs, events
from firebox.api.services import services_of
from firebox.errors import FireboxError, InvalidParameterException

RPC_BODY_LIMIT = 6_291_456
JSON = "json"
CBOR = "cbor"


CLOUDWATCH = "GraniteServiceVersion20100801"
operations = [
    *(rpc("logs", "Logs_20140328", name, handler) for name, handler in cloudwatch_logs.OPERATIONS.items()),
    *(
        rpc("cloudwatch", "GraniteServiceVersion20100801", name, handler)
        for name, handler in cloudwatch.OPERATIONS.items()
    ),
    *(rpc("events", "AWSEvents", name, handler) for name, handler in events.OPERATIONS.items()),
]
"""The RPC operations, by JSON target prefix (which is also the CBOR service name)."""


def timestamp_ms(value: Any, member: str) -> int:
    """Epoch milliseconds from a timestamp member as the wire gave it (CBOR datetime, JSON epoch seconds)."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        return int(value.timestamp() * 1000)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value * 1000)
    if isinstance(value, str):
        try:
            return timestamp_ms(float(value), member)
        except ValueError:
            try:
                return timestamp_ms(datetime.datetime.fromisoformat(value.replace("Z", "+00:00")), member)
            except ValueError:
                pass
    raise InvalidParameterException(f"{member} must be a timestamp, not {value!r}")


def epoch(ms: int | float) -> datetime.datetime:
    """A timestamp member of a response, from epoch milliseconds."""
    return datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"cannot encode {type(value).__name__}")


def encode(result: Mapping[str, Any], protocol: str) -> bytes:
    if protocol == CBOR:
        return cbor2.dumps(result, datetime_as_timestamp=True, timezone=datetime.UTC)
    return json.dumps(result, default=_json_default, separators=(",", ":")).encode()


def _decode(raw: bytes, protocol: str) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        doc = cbor2.loads(raw) if protocol == CBOR else json.loads(raw)
    except (ValueError, cbor2.CBORDecodeError, UnicodeDecodeError) as exc:
        raise InvalidParameterException(f"The request body could not be read: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidParameterException("The request body must be an object")
    return doc


def _gunzip(raw: bytes) -> bytes:
    """A gzip body (botocore compresses large PutMetricData requests), bounded like a plain one."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        body = inflater.decompress(raw, RPC_BODY_LIMIT + 1)
    except zlib.error as exc:
        raise InvalidParameterException(f"The request body could not be decompressed: {exc}") from None
    if len(body) > RPC_BODY_LIMIT or inflater.unconsumed_tail:
        raise InvalidParameterException(f"The decompressed request body is larger than {RPC_BODY_LIMIT} bytes")
    return body


class RpcEndpoints:
    """`POST /` (AWS JSON, the operation in `X-Amz-Target`) and `POST /service/<service>/operation/<operation>`
    (RPC v2 CBOR): the RPC operation is found in the registry, then called like any other."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.operations = [
            route("RpcJson", "POST", "/", self.json_rpc),
            route("RpcCbor", "POST", "/service/{service}/operation/{operation}", self.cbor_rpc),
        ]

    async def json_rpc(self, request: Request) -> Response:
        target = request.headers.get("x-amz-target", "")
        service, _, operation = target.rpartition(".")
        return await self._call(request, service, operation, JSON)

    async def cbor_rpc(self, request: Request) -> Response:
        return await self._call(request, request.path_params["service"], request.path_params["operation"], CBOR)

    async def _call(self, request: Request, target: str, name: str, protocol: str) -> Response:
        services = services_of(request)
        try:
            operation = self.registry.rpc(target, name)
            self.registry.called(operation, request.scope)
            raw = await read_body(request, name, RPC_BODY_LIMIT)
            if request.headers.get("content-encoding", "").lower() == "gzip":
                raw = _gunzip(raw)
            params = _decode(raw, protocol)
            result = await operation.handler(services, params)
        except FireboxError as error:
            return rpc_error_response(error, protocol, request.headers.get("x-amzn-query-mode") == "true")
        if protocol == CBOR:
            return Response(
                encode(result, CBOR), media_type="application/cbor", headers={"smithy-protocol": "rpc-v2-cbor"}
            )
        content_type = request.headers.get("content-type", "application/x-amz-json-1.1")
        return Response(encode(result, JSON), media_type=content_type)
