"""The workers that run queued Event invocations, with Lambda's retries, event age and destinations.

Each event is leased (held for `LEASE_SECONDS`, longer than any function's timeout), run through the same data
plane as a synchronous invocation with the same request id on every attempt, and only then finished or put back.
A server that dies mid-invocation leaves its leases behind; the next one gives them back at start, so the event
runs again (at least once).

Outcomes, as Lambda's:
- success: the event is done; the OnSuccess destination gets the invocation record;
- function error: retried after 60 s and then 120 s (`retry_scale` shortens these for tests) up to
  MaximumRetryAttempts, then the failure path with `RetriesExhausted`;
- throttled, a platform error, or the environment killed under the invocation (SIGKILL from outside, not for
  memory): put back with backoff (1 s, growing to 5 min), not counted as an attempt;
- older than MaximumEventAgeInSeconds, or a retry that would be: the failure path with `EventAgeExceeded`;
- reserved concurrency 0: the failure path at once with `ZeroReservedConcurrency`, no attempt.
The failure path is the OnFailure destination. A destination function gets the record as an Event invocation; a
webhook URL (a Firebox extension) gets it POSTed by the `Deliverer`. Either way the record is committed before the
source event is finished: at least once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from concurrent.futures import Executor
from typing import Any

from firebox.asyncinvoke.destinations import Deliverer, is_outbound
from firebox.asyncinvoke.queue import AsyncQueue
from firebox.dataplane.router import Router
from firebox.errors import (
    InvalidParameterValueException,
    ResourceConflictException,
    ResourceNotFoundException,
    TooManyRequestsException,
    ValidationException,
    ZeroReservedConcurrency,
)
from firebox.models.asynchronous import AsyncEvent, Delivery, EventInvokeConfig
from firebox.models.function import LATEST
from firebox.models.invocation import (
    FunctionRef,
    InvocationResult,
    InvocationSource,
    InvocationType,
    InvokeRequest,
    Outcome,
)
from firebox.observability.telemetry import Telemetry
from firebox.observability.tracing import continue_trace
from firebox.store.base import AsyncStore

log = logging.getLogger("firebox.asyncinvoke")
LEASE_SECONDS = 960.0
RETRY_DELAY_SECONDS = 60.0
MAX_BACKOFF_SECONDS = 300.0
IDLE_POLL_SECONDS = 1.0


class AsyncWorkers:
    def __init__(
        self,
        store: AsyncStore,
        executor: Executor,
        router: Router,
        queue: AsyncQueue,
        deliverer: Deliverer,
        concurrency: int,
        retry_scale: float,
        telemetry: Telemetry,
    ) -> None:
        self._telemetry = telemetry
        self._deliverer = deliverer
        self._store = store
        self._executor = executor
        self._router = router
        self.concurrency = concurrency
        self.retry_scale = retry_scale
        self._running: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        queue.on_enqueued(self._wake.set)

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def run_forever(self) -> None:
        released = await self._run(self._store.release_leases)
        if released:
            log.info("%d async event(s) left running by the previous server will run again", released)
        while True:
            free = self.concurrency - len(self._running)
            events: list[AsyncEvent] = []
            if free > 0:
                now = time.time()
                events = await self._run(self._store.lease_events, now, now + LEASE_SECONDS, free)
            for event in events:
                task = asyncio.get_running_loop().create_task(self._handle(event))
                self._running.add(task)
                task.add_done_callback(self._done)
            if events and len(events) == free:
                continue
            due = await self._run(self._store.next_event_due) if free > len(events) else None
            wait = IDLE_POLL_SECONDS if due is None else min(IDLE_POLL_SECONDS, max(0.0, due - time.time()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._wake.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("handling an async event failed", exc_info=task.exception())

    async def close(self) -> None:
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)

    async def _handle(self, event: AsyncEvent) -> None:
        assert event.id is not None
        qualifier = event.qualifier or LATEST
        config = await self._run(self._store.get_event_invoke_config, event.function_name, qualifier)
        config = config or EventInvokeConfig()
        now = time.time()
        if now - event.enqueued_at > config.event_age:
            await self._fail(event, config, "EventAgeExceeded", event.attempts, None)
            return
        request = InvokeRequest(
            function=FunctionRef(event.function_name, event.qualifier, event.invoked_arn),
            payload=event.payload,
            request_id=event.request_id,
            invocation_type=InvocationType.EVENT,
            source=_source(event.source),
            trace_id=continue_trace(event.trace_id),
            enqueued_at=event.enqueued_at,
        )
        self._telemetry.count("AsyncEventAge", event.function_name, (now - event.enqueued_at) * 1000, now)
        try:
            result = await self._router.invoke(request)
        except ResourceNotFoundException:
            log.warning("dropping async event %s: %s no longer exists", event.request_id, event.invoked_arn)
            self._telemetry.count("AsyncEventsDropped", event.function_name, 1, now)
            await self._run(self._store.finish_event, event.id)
            return
        except ZeroReservedConcurrency:
            await self._fail(event, config, "ZeroReservedConcurrency", 0, None)
            return
        except (TooManyRequestsException, ResourceConflictException):  # throttled, or not invocable yet (Pending)
            await self._back_off(event, now)
            return
        except Exception:  # a platform failure: try again later, without using up a retry
            log.exception("async event %s failed to run", event.request_id)
            await self._back_off(event, now)
            return
        if result.outcome is Outcome.KILLED:  # the environment was killed under it: not the function's failure
            await self._back_off(event, now)
            return
        attempts = event.attempts + 1
        if result.outcome is Outcome.SUCCESS:
            await self._deliver(config.on_success, self._record(event, "Success", attempts, result), event, result)
            await self._run(self._store.finish_event, event.id)
            return
        if attempts > config.retries:
            await self._fail(event, config, "RetriesExhausted", attempts, result)
            return
        retry_at = time.time() + RETRY_DELAY_SECONDS * attempts * self.retry_scale
        if retry_at - event.enqueued_at > config.event_age:
            await self._fail(event, config, "EventAgeExceeded", attempts, result)
            return
        await self._run(self._store.requeue_event, event.id, retry_at, attempts)

    async def _back_off(self, event: AsyncEvent, now: float) -> None:
        assert event.id is not None
        delay = min(MAX_BACKOFF_SECONDS, max(1.0, now - event.enqueued_at)) * self.retry_scale
        await self._run(self._store.requeue_event, event.id, now + delay, event.attempts)

    async def _fail(
        self,
        event: AsyncEvent,
        config: EventInvokeConfig,
        condition: str,
        attempts: int,
        result: InvocationResult | None,
    ) -> None:
        """The failure path: the OnFailure destination and the dead-letter queue, whichever are configured."""
        assert event.id is not None
        dead_letter = await self._dead_letter_target(event, result)
        log.info("async event %s of %s failed: %s", event.request_id, event.invoked_arn, condition)
        self._telemetry.count("AsyncEventsDropped", event.function_name, 1, time.time())
        await self._deliver(config.on_failure, self._record(event, condition, attempts, result), event, result)
        if dead_letter:
            error = _json_or_none(result.payload) if result is not None else None
            message = error.get("errorMessage", "") if isinstance(error, dict) else condition
            attributes = {
                "RequestID": event.request_id,
                "ErrorCode": "#429" if condition == "ZeroReservedConcurrency" else "#200",
                "ErrorMessage": str(message)[:1024] or condition,
            }
            delivery = Delivery(
                dead_letter,
                event.payload,
                time.time(),
                attributes=attributes,
                source_function=event.function_name,
                trace_id=_trace_of(event, result),
            )
            await self._run(self._store.add_delivery, delivery)
            self._deliverer.wake()
        await self._run(self._store.finish_event, event.id)

    async def _dead_letter_target(self, event: AsyncEvent, result: InvocationResult | None) -> str | None:
        """The DeadLetterConfig of the version that ran (or that the event's qualifier names, if none ran)."""
        ref = FunctionRef(event.function_name, event.qualifier, event.invoked_arn)
        try:
            config = await self._router.configuration(ref, result.executed_version if result else None)
        except ResourceNotFoundException:
            return None
        return config.dead_letter_target

    def _record(
        self, event: AsyncEvent, condition: str, attempts: int, result: InvocationResult | None
    ) -> dict[str, Any]:
        """The invocation record Lambda sends to destinations."""
        record: dict[str, Any] = {
            "version": "1.0",
            "timestamp": _iso(time.time()),
            "requestContext": {
                "requestId": event.request_id,
                "functionArn": event.invoked_arn if event.qualifier else f"{event.invoked_arn}:{LATEST}",
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "requestPayload": _json_or_none(event.payload),
        }
        if result is not None:
            context: dict[str, Any] = {"statusCode": 200, "executedVersion": result.executed_version}
            if result.function_error:
                context["functionError"] = result.function_error
            record["responseContext"] = context
            record["responsePayload"] = _json_or_none(result.payload)
        return record

    async def _deliver(
        self, destination: str | None, record: dict[str, Any], event: AsyncEvent, result: InvocationResult | None
    ) -> None:
        if destination is None:
            return
        trace_id = _trace_of(event, result)
        if is_outbound(destination):
            delivery = Delivery(
                destination,
                json.dumps(record).encode(),
                time.time(),
                source_function=event.function_name,
                trace_id=trace_id,
            )
            await self._run(self._store.add_delivery, delivery)
            self._deliverer.wake()
            return
        try:
            target = self._router.resolve(destination)
            await self._router.submit(
                InvokeRequest(
                    function=target,
                    payload=json.dumps(record).encode(),
                    request_id=str(uuid.uuid4()),
                    invocation_type=InvocationType.EVENT,
                    source=InvocationSource.DESTINATION,
                    trace_id=trace_id,
                ),
                require_active=False,
            )
        except (ResourceNotFoundException, InvalidParameterValueException, ValidationException) as exc:
            log.error("destination %s cannot be delivered to (%s); the record is dropped", destination, exc.message)
            self._telemetry.count("DestinationDeliveryFailures", event.function_name, 1, time.time())


def _source(text: str) -> InvocationSource:
    try:
        return InvocationSource(text)
    except ValueError:  # written by a newer release: still an invocation, from somewhere
        return InvocationSource.API


def _trace_of(event: AsyncEvent, result: InvocationResult | None) -> str | None:
    """The trace a destination continues: the last attempt's segment, else the event's own trace."""
    return result.trace_id if result is not None and result.trace_id else event.trace_id


def _json_or_none(payload: bytes) -> Any:
    if not payload.strip():
        return None
    try:
        return json.loads(payload)
    except ValueError:
        return payload.decode("utf-8", "replace")


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch * 1000) % 1000:03d}Z"
