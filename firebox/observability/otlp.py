"""Optional export of invocation spans over OTLP/HTTP (JSON encoding) to the collector named by `otlp_endpoint`.

Each invocation becomes a span `invoke <function>` with children for the phases that took time: `queue` (an Event
invocation waiting in the durable queue) and `init` (a cold start). Their trace id is the X-Ray trace's Root with
its version and dashes removed (`1-5759e988-bd862e3fe1be46a994272793` → `5759e988bd862e3fe1be46a994272793`, the
mapping AWS's own OpenTelemetry tooling uses), so spans join the caller's trace; the invoke span's id is the
invocation's segment id (`Parent` in `_X_AMZN_TRACE_ID`).

The telemetry sink only appends to a bounded deque; a background task POSTs batches to `<endpoint>/v1/traces`
every `FLUSH_INTERVAL`. A collector that is down or slow costs spans (counted in `dropped`), never invocations.

The OTLP JSON body is small and stable (opentelemetry-proto's `ExportTraceServiceRequest`), so it is written here
rather than pulling in the OpenTelemetry SDK, whose span model wants spans started and ended live.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import deque
from concurrent.futures import Executor
from typing import Any

from firebox import __version__
from firebox.models.telemetry import InvocationRecord
from firebox.observability import background
from firebox.observability.tracing import fields
from firebox.outbound import post_json

log = logging.getLogger("firebox.observability")
FLUSH_INTERVAL = 1.0
MAX_QUEUED = 10_000
BATCH = 512
TIMEOUT = 5.0
_KIND_SERVER = 2
_KIND_INTERNAL = 1
_STATUS_ERROR = 2


class SpanExporter:
    def __init__(self, endpoint: str, executor: Executor, region: str) -> None:
        self.url = endpoint.rstrip("/") + "/v1/traces"
        self._executor = executor
        self._region = region
        self._records: deque[InvocationRecord] = deque(maxlen=MAX_QUEUED)
        self._task: asyncio.Task[None] | None = None
        self.exported = 0
        self.dropped = 0

    def invocation(self, record: InvocationRecord) -> None:
        if len(self._records) == MAX_QUEUED:
            self.dropped += 1
        self._records.append(record)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(
            background.every(FLUSH_INTERVAL, self.flush, "exporting spans")
        )

    async def flush(self) -> None:
        while self._records:
            batch = [self._records.popleft() for _ in range(min(BATCH, len(self._records)))]
            body = json.dumps(self.request(batch), separators=(",", ":")).encode()
            error = await asyncio.get_running_loop().run_in_executor(self._executor, post_json, self.url, body, TIMEOUT)
            if error is None:
                self.exported += len(batch)
                continue
            self.dropped += len(batch)
            log.warning("exporting %d spans to %s failed: %s", len(batch), self.url, error)
            return

    async def close(self) -> None:
        if self._task is not None:
            await background.stop([self._task])
        await self.flush()

    def request(self, records: list[InvocationRecord]) -> dict[str, Any]:
        """An OTLP ExportTraceServiceRequest for `records`, grouped by function (one resource each)."""
        by_function: dict[str, list[dict[str, Any]]] = {}
        for record in records:
            by_function.setdefault(record.function, []).extend(_spans(record))
        return {
            "resourceSpans": [
                {
                    "resource": {
                        "attributes": [
                            _attr("service.name", function),
                            _attr("faas.name", function),
                            _attr("cloud.provider", "firebox"),
                            _attr("cloud.region", self._region),
                        ]
                    },
                    "scopeSpans": [{"scope": {"name": "firebox", "version": __version__}, "spans": spans}],
                }
                for function, spans in by_function.items()
            ]
        }


def otel_trace_id(xray_root: str) -> str:
    """`1-5759e988-bd862e3fe1be46a994272793` → `5759e988bd862e3fe1be46a994272793`."""
    return xray_root[2:].replace("-", "")


def _spans(record: InvocationRecord) -> list[dict[str, Any]]:
    parts = fields(record.trace_id)
    trace = otel_trace_id(parts.get("Root", ""))
    invoke_id = parts.get("Parent") or f"{random.getrandbits(64):016x}"
    end = int(record.timestamp * 1e9)
    run_ns = int(record.duration_ms * 1e6)
    init_ns = int((record.init_duration_ms or 0.0) * 1e6)
    queue_ns = int((record.queue_wait_ms or 0.0) * 1e6)
    start = end - run_ns - init_ns
    invoke: dict[str, Any] = {
        "traceId": trace,
        "spanId": invoke_id,
        "name": f"invoke {record.function}",
        "kind": _KIND_SERVER,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(end),
        "attributes": [
            _attr("faas.invocation_id", record.request_id),
            _attr("faas.coldstart", record.init_duration_ms is not None),
            _attr("faas.trigger", "pubsub" if record.asynchronous else "http"),
            _attr("faas.max_memory", record.memory_size_mb * 1024 * 1024),
            _attr("firebox.executed_version", record.executed_version),
            _attr("firebox.outcome", record.outcome.value),
            _attr("firebox.billed_duration_ms", record.billed_duration_ms),
        ],
    }
    if record.error:
        invoke["status"] = {"code": _STATUS_ERROR, "message": record.outcome.value}
    spans = [invoke]
    if init_ns:
        spans.append(_child(trace, invoke_id, "init", start, start + init_ns))
    if queue_ns:
        spans.append(_child(trace, invoke_id, "queue", start - queue_ns, start))
    return spans


def _child(trace: str, parent: str, name: str, start: int, end: int) -> dict[str, Any]:
    return {
        "traceId": trace,
        "spanId": f"{random.getrandbits(64):016x}",
        "parentSpanId": parent,
        "name": name,
        "kind": _KIND_INTERNAL,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(end),
    }


def _attr(key: str, value: str | int | bool) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": value}}
