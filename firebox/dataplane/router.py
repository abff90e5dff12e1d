"""The one way into the data plane: every invocation, whoever asks for it, enters here.

    resolve(text, qualifier)  a FunctionName as clients write it → a FunctionRef, once, at the edge
    invoke(request)           RequestResponse and DryRun: the configuration to run (an alias draws a version by its
                              weights) → invocable? (404, 409) → admitted under the concurrency limits (429) → run
    invoke_within(request, s) the same, waited on for at most s seconds (API Gateway's integration timeout)
    submit(request)           Event: checked the same way, then queued; returns once the event is durable
    configuration(ref)        the configuration an invocation of `ref` would run (the async failure path reads the
                              dead-letter queue from it)

Edges (the Invoke API, function URLs, API Gateway) and triggers (the async workers, destinations, pollers,
schedules) translate their protocol into an `InvokeRequest` and call only this. None of them builds async events,
counts telemetry or resolves aliases itself. The request carries its source and principal, so authorization and
per-source accounting have one place to hook in.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any, Protocol

from firebox.dataplane.catalog import FunctionCatalog
from firebox.dataplane.concurrency import ConcurrencyLimiter
from firebox.dataplane.invoker import DataPlaneSettings, Invoker
from firebox.errors import (
    RequestEntityTooLargeException,
    ResourceConflictException,
    ResourceNotFoundException,
    TooManyRequestsException,
)
from firebox.models.arn import function_arn
from firebox.models.asynchronous import AsyncEvent
from firebox.models.function import LATEST, FunctionConfig, State
from firebox.models.invocation import FunctionRef, InvocationResult, InvocationType, InvokeRequest, Outcome
from firebox.names import resolve_function
from firebox.observability.telemetry import Telemetry
from firebox.observability.tracing import new_trace_id

log = logging.getLogger("firebox.dataplane")

SYNC_PAYLOAD_LIMIT = 6_291_456
"""Largest RequestResponse (and DryRun) payload in bytes."""


class EventQueue(Protocol):
    """Where Event invocations go: the durable async queue (`firebox.asyncinvoke.queue.AsyncQueue`)."""

    async def enqueue(self, event: AsyncEvent) -> None:
        """Return once `event` is committed."""
        ...


class Router:
    def __init__(
        self,
        settings: DataPlaneSettings,
        catalog: FunctionCatalog,
        limiter: ConcurrencyLimiter,
        invoker: Invoker,
        telemetry: Telemetry,
        queue: EventQueue,
        async_payload_limit: int,
    ) -> None:
        self._settings = settings
        self._catalog = catalog
        self._limiter = limiter
        self._invoker = invoker
        self._telemetry = telemetry
        self._queue = queue
        self._limits = {
            InvocationType.REQUEST_RESPONSE: SYNC_PAYLOAD_LIMIT,
            InvocationType.DRY_RUN: SYNC_PAYLOAD_LIMIT,
            InvocationType.EVENT: async_payload_limit,
        }
        self._detached: set[asyncio.Task[InvocationResult]] = set()
        """Invocations their caller stopped waiting for (`invoke_within`): kept until they end."""

    def resolve(self, text: str, qualifier: str | None = None) -> FunctionRef:
        """The function a FunctionName (name, partial or full ARN, maybe qualified) and a `?Qualifier=` name here;
        raises Lambda's errors for a malformed name, another region or account, or conflicting qualifiers."""
        fid = resolve_function(text, qualifier, self._settings.region, self._settings.account_id)
        return FunctionRef(
            fid.name,
            fid.qualifier,
            function_arn(self._settings.region, self._settings.account_id, fid.name, fid.qualifier),
        )

    def payload_limit(self, invocation_type: InvocationType) -> int:
        return self._limits[invocation_type]

    def payload_too_large(self, size: int, invocation_type: InvocationType) -> RequestEntityTooLargeException:
        """The 413 for a payload of `size` bytes, as Lambda words it."""
        limit = self._limits[invocation_type]
        return RequestEntityTooLargeException(
            f"{size} byte payload is too large for the {invocation_type.value} invocation type (limit {limit} bytes)"
        )

    async def invoke(self, request: InvokeRequest) -> InvocationResult:
        """Run a RequestResponse invocation to its result (a function error is a result, not an exception), or
        check a DryRun one (an empty result). Raises 404 / 409 / 429 as Lambda does."""
        config = await self._invocable(request.function, random.random())
        if request.invocation_type is InvocationType.DRY_RUN:
            return InvocationResult(request.request_id, b"", Outcome.SUCCESS, config.version, "", 0.0, 0, 0, 0)
        return await self._run(config, request)

    async def invoke_within(self, request: InvokeRequest, seconds: float) -> InvocationResult | None:
        """`invoke`, waited on for at most `seconds`: None if the result is not there by then. The invocation
        runs on to its own end (API Gateway's integration timeout). A function whose own timeout comes first is
        simply awaited, with no task of its own."""
        config = await self._invocable(request.function, random.random())
        if config.timeout <= seconds:
            return await self._run(config, request)
        task = asyncio.ensure_future(self._run(config, request))
        done, _ = await asyncio.wait((task,), timeout=seconds)
        if done:
            return task.result()
        self._detached.add(task)
        task.add_done_callback(self._detached_done)
        return None

    def _detached_done(self, task: asyncio.Task[InvocationResult]) -> None:
        self._detached.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.info("an invocation nobody waited for any more failed: %r", task.exception())

    async def _run(self, config: FunctionConfig, request: InvokeRequest) -> InvocationResult:
        reserved, total_reserved = await self._catalog.reserved(config.name)
        try:
            unreserved = self._limiter.admit(config.name, reserved, total_reserved)
        except TooManyRequestsException:  # counted as a throttle of what the caller named
            self._telemetry.throttle(config.name, _resource(request.function), time.time())
            raise
        try:
            return await self._invoker.run(config, request)
        finally:
            self._limiter.release(config.name, unreserved)

    async def submit(self, request: InvokeRequest, require_active: bool = True) -> None:
        """Queue an Event invocation; returns once it is durable (only then may it be acknowledged).

        Raises 404 for an unknown function or qualifier and, with `require_active`, 409 for one that is not
        invocable yet. Destinations pass `require_active=False`: their record must not be refused because the
        destination function is still settling; the workers wait for it."""
        if require_active:
            await self._invocable(request.function, None)
        else:
            await self.configuration(request.function)
        now = time.time()
        await self._queue.enqueue(
            AsyncEvent(
                request_id=request.request_id,
                function_name=request.function.name,
                qualifier=request.function.qualifier,
                invoked_arn=request.function.arn,
                payload=request.payload,
                enqueued_at=now,
                not_before=now,
                trace_id=request.trace_id or new_trace_id(),
                source=request.source.value,
            )
        )
        self._telemetry.count("AsyncEventsReceived", request.function.name, 1, now)

    async def configuration(self, ref: FunctionRef, version: str | None = None) -> FunctionConfig:
        """The configuration of `version`, or the one `ref` names (an alias's primary version); 404 if none."""
        if version is None:
            config = await self._catalog.resolve(ref.name, ref.qualifier)
        else:
            config = await self._catalog.get(ref.name, version)
        if config is None:
            raise self._not_found(ref)
        return config

    async def _invocable(self, ref: FunctionRef, draw: float | None) -> FunctionConfig:
        config = await self._catalog.resolve(ref.name, ref.qualifier, draw)
        if config is None:
            raise self._not_found(ref)
        if config.state is not State.ACTIVE:
            raise ResourceConflictException(
                "The operation cannot be performed at this time. The function is currently in the following state: "
                + config.state.value
            )
        return config

    def statistics(self) -> dict[str, Any]:
        """The data plane's figures for `/metrics`: environments by state, running invocations, zygote forks,
        spare runtimes."""
        invoker = self._invoker
        return {
            "pool": invoker.pool.statistics(),
            "concurrency": self._limiter.statistics(),
            "zygote_forks": {runtime: zygote.forks for runtime, zygote in invoker.zygotes.items()},
            "spares": invoker.spares.counts(),
        }

    def _not_found(self, ref: FunctionRef) -> ResourceNotFoundException:
        arn = function_arn(self._settings.region, self._settings.account_id, ref.name)
        return ResourceNotFoundException(f"Function not found: {arn}:{ref.qualifier or LATEST}")


def _resource(ref: FunctionRef) -> str | None:
    """CloudWatch's `Resource` dimension: `function:qualifier` when the caller named one."""
    return f"{ref.name}:{ref.qualifier}" if ref.qualifier else None
