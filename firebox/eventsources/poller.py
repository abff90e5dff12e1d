"""What every poller is and gets: the interface between the mapping manager and one source type's poller.

A poller reads one mapping's source (a queue, a stream's shards, a broker queue), invokes the mapping's function
through the router with batches in the source's event shape, and then deletes, acknowledges or checkpoints what
was processed. The manager (`manager.py`) starts one per enabled mapping with the mapping as it is now, and cancels
it when the mapping is disabled, updated or deleted (an update starts a new poller with the new settings).

Rules every poller keeps:
- at least once: nothing is deleted, acknowledged or checkpointed before the invocation that processed it
  succeeded (or was dropped by the mapping's own rules: filtered out, out of retries, too old); cancellation may
  come at any `await`, and what was not yet settled is read again by the next poller;
- it never raises out of `run` for trouble at the source or the function: it records the trouble with
  `context.report(...)`, waits (`context.pause`) and goes on. Only cancellation ends it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import orjson

from firebox.aws_endpoints import AwsClients
from firebox.dataplane.router import Router
from firebox.errors import FireboxError, ResourceConflictException, ResourceNotFoundException, TooManyRequestsException
from firebox.models.invocation import InvocationResult, InvocationSource, InvokeRequest, Outcome
from firebox.models.mappings import EventSourceMapping
from firebox.store.base import MappingStore

log = logging.getLogger("firebox.eventsources")

OK = "OK"
NO_RECORDS = "No records processed"
PROBLEM_FUNCTION = "PROBLEM: Function call failed"


class Poller(Protocol):
    async def run(self) -> None:
        """Poll, invoke and settle until cancelled."""
        ...


class MappingCounter(Protocol):
    def __call__(self, mapping: EventSourceMapping, metric: str, value: float) -> None:
        """Add `value` to one of the mapping's figures (PolledEventCount, InvokedEventCount, FailedInvokeEventCount,
        FilteredOutEventCount, DeletedEventCount, DroppedEventCount, OnFailureDestinationDeliveredEventCount;
        IteratorAge and OffsetLag are maxima in milliseconds)."""
        ...


class BatchOutcome(StrEnum):
    SUCCESS = "success"
    """The function returned; `failed_items` may still name the records it reported as failed."""
    FUNCTION_ERROR = "function_error"
    """The handler raised, timed out or crashed, or its partial batch response was malformed: the whole batch
    failed."""
    NOT_INVOKED = "not_invoked"
    """Throttled, or the function is missing or not active: nothing ran; try the same batch again later."""


@dataclass(frozen=True, slots=True)
class BatchResult:
    outcome: BatchOutcome
    failed_items: tuple[str, ...] = ()
    """With ReportBatchItemFailures and SUCCESS: the itemIdentifiers the function reported, in its order."""
    result: InvocationResult | None = None
    error: str = ""
    """What went wrong, for NOT_INVOKED and FUNCTION_ERROR (a short text for logs and LastProcessingResult)."""


@dataclass(frozen=True, slots=True)
class PollerContext:
    router: Router
    clients: AwsClients
    """boto3 clients for the source services at their configured endpoints (`clients.call(...)` off the loop)."""
    store: MappingStore
    executor: Executor
    """Where blocking store calls run (`await context.run(store.put_checkpoint, checkpoint)`)."""
    region: str
    account_id: str
    interval_scale: float
    """`poll_interval_scale`: multiplies every pause (between empty polls, after errors, retry back-offs)."""
    count: MappingCounter
    report: Callable[[EventSourceMapping, str], None]
    """Record the mapping's LastProcessingResult (`OK`, `No records processed`, `PROBLEM: ...`); cheap to call
    after every batch (the manager writes it only when it changes)."""
    brokers: Mapping[str, str]
    """The `brokers` setting: an Amazon MQ broker ARN → the AMQP URL Firebox reaches it at (credentials may be in
    the URL; a mapping's SourceAccessConfigurations BASIC_AUTH take precedence)."""

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def pause(self, seconds: float) -> None:
        await asyncio.sleep(seconds * self.interval_scale)

    async def invoke(self, mapping: EventSourceMapping, event: Mapping[str, Any]) -> BatchResult:
        """Invoke the mapping's function (RequestResponse, source ESM) with one batch's event, and read its partial
        batch response when the mapping has ReportBatchItemFailures."""
        try:
            ref = self.router.resolve(mapping.function_name, mapping.qualifier)
            request = InvokeRequest(ref, orjson.dumps(event), str(uuid.uuid4()), source=InvocationSource.ESM)
            result = await self.router.invoke(request)
        except (TooManyRequestsException, ResourceNotFoundException, ResourceConflictException) as exc:
            return BatchResult(BatchOutcome.NOT_INVOKED, error=f"{exc.code}: {exc.message}")
        except FireboxError as exc:  # anything else the router refuses is not the batch's fault either
            return BatchResult(BatchOutcome.NOT_INVOKED, error=f"{exc.code}: {exc.message}")
        if result.outcome is not Outcome.SUCCESS:
            return BatchResult(BatchOutcome.FUNCTION_ERROR, result=result, error=_error_text(result))
        if not mapping.reports_item_failures:
            return BatchResult(BatchOutcome.SUCCESS, result=result)
        failed = item_failures(result.payload)
        if failed is None:
            return BatchResult(BatchOutcome.FUNCTION_ERROR, result=result, error="malformed batchItemFailures")
        return BatchResult(BatchOutcome.SUCCESS, failed, result)


def item_failures(payload: bytes) -> tuple[str, ...] | None:
    """The itemIdentifiers of a partial batch response, as Lambda reads one: an empty or null response, an object
    without `batchItemFailures` or with an empty/null list all mean "no failures"; anything unreadable, or an
    entry whose itemIdentifier is missing, null or empty, fails the whole batch (None)."""
    if not payload.strip():
        return ()
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if doc is None:
        return ()
    if not isinstance(doc, dict):
        return None
    entries = doc.get("batchItemFailures")
    if entries is None:
        return ()
    if not isinstance(entries, list):
        return None
    failed: list[str] = []
    for entry in entries:
        identifier = entry.get("itemIdentifier") if isinstance(entry, dict) else None
        if identifier is None or identifier == "":
            return None
        failed.append(str(identifier))
    return tuple(failed)


def _error_text(result: InvocationResult) -> str:
    try:
        doc = orjson.loads(result.payload)
    except orjson.JSONDecodeError:
        return result.outcome.value
    if isinstance(doc, dict):
        return f"{doc.get('errorType', 'Error')}: {doc.get('errorMessage', '')}"
    return result.outcome.value


def now_ms() -> int:
    return int(time.time() * 1000)
