"""Asynchronous invocations waiting in the durable queue, and how each qualifier wants them handled."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_MAXIMUM_RETRY_ATTEMPTS = 2
DEFAULT_MAXIMUM_EVENT_AGE = 21600


@dataclass(frozen=True, slots=True)
class AsyncEvent:
    request_id: str
    function_name: str
    qualifier: str | None
    invoked_arn: str
    payload: bytes
    enqueued_at: float
    not_before: float
    attempts: int = 0
    id: int | None = None
    """Assigned by the store."""
    trace_id: str | None = None
    """The X-Ray trace the event belongs to (from the caller, or started when it was accepted)."""
    source: str = "api"
    """The `InvocationSource` it was submitted through (api, destination, schedule, ...)."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """An invocation record (or a dead-letter message) on its way to a destination that can fail: a webhook or an
    SQS queue."""

    destination: str
    body: bytes
    not_before: float
    attempts: int = 0
    id: int | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    """SQS message attributes; numbers are strings starting with "#" (ErrorCode). Only dead-letter messages have
    them."""
    source_function: str | None = None
    """The function whose outcome this is."""
    trace_id: str | None = None
    """Sent along: `X-Amzn-Trace-Id` to webhooks, the `AWSTraceHeader` system attribute to SQS."""

    @property
    def dead_letter(self) -> bool:
        return bool(self.attributes)


@dataclass(frozen=True, slots=True)
class EventInvokeConfig:
    maximum_retry_attempts: int | None = None
    maximum_event_age: int | None = None
    on_success: str | None = None
    on_failure: str | None = None
    last_modified: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def retries(self) -> int:
        return DEFAULT_MAXIMUM_RETRY_ATTEMPTS if self.maximum_retry_attempts is None else self.maximum_retry_attempts

    @property
    def event_age(self) -> int:
        return DEFAULT_MAXIMUM_EVENT_AGE if self.maximum_event_age is None else self.maximum_event_age
