"""Invocations: what an edge or a trigger hands the data plane's router, and what comes back."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class InvocationType(StrEnum):
    REQUEST_RESPONSE = "RequestResponse"
    EVENT = "Event"
    DRY_RUN = "DryRun"


class Outcome(StrEnum):
    """How an invocation ended, as the data plane saw it."""

    SUCCESS = "success"
    FUNCTION_ERROR = "function_error"  # the handler raised, or a runtime error such as Runtime.ImportModuleError
    TIMEOUT = "timeout"
    CRASH = "crash"  # the runtime process exited (Runtime.ExitError)
    KILLED = "killed"  # SIGKILL from outside, not for memory: Runtime.ExitError to the caller, a platform failure
    # to the async retry accounting (the event runs again without using up a retry attempt)
    OUT_OF_MEMORY = "out_of_memory"


class InvocationSource(StrEnum):
    """Who asked for an invocation: the edge or trigger it entered the data plane through."""

    API = "api"  # Invoke on the Lambda API
    URL = "url"  # a function URL
    APIGW = "apigw"  # an API Gateway route or method
    ESM = "esm"  # an event source mapping's poller
    SCHEDULE = "schedule"  # an EventBridge rule or schedule
    DESTINATION = "destination"  # an asynchronous invocation's destination record


@dataclass(frozen=True, slots=True)
class FunctionRef:
    """A function as resolved once at the edge: its name, the qualifier the caller named, and the ARN it was
    invoked by (qualified when a qualifier was named), which the handler sees as `invoked_function_arn`."""

    name: str
    qualifier: str | None
    arn: str


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, once requests are authenticated: the IAM identity's ARN and its account."""

    arn: str
    account: str


@dataclass(frozen=True, slots=True)
class InvokeRequest:
    function: FunctionRef
    payload: bytes
    request_id: str
    invocation_type: InvocationType = InvocationType.REQUEST_RESPONSE
    source: InvocationSource = InvocationSource.API
    principal: Principal | None = None
    """The authenticated caller; None until the API authenticates requests."""
    client_context: dict[str, Any] | None = None
    trace_id: str | None = None
    """The X-Ray trace header the caller sent (`Root=1-...;Parent=...;Sampled=...`), or None to start a trace."""
    enqueued_at: float | None = None
    """Epoch seconds when an Event invocation was accepted into the queue."""


@dataclass(frozen=True, slots=True)
class InvocationResult:
    request_id: str
    payload: bytes
    outcome: Outcome
    executed_version: str
    log: str
    """This invocation's log text, START through REPORT."""
    duration_ms: float
    billed_duration_ms: int
    memory_size_mb: int
    max_memory_used_mb: int
    init_duration_ms: float | None = None
    trace_id: str = ""

    @property
    def function_error(self) -> str | None:
        """The X-Amz-Function-Error header: AWS sends only `Unhandled` today."""
        return None if self.outcome is Outcome.SUCCESS else "Unhandled"
