"""What the data plane tells observability about each invocation: one record, read by metrics and billing."""

from __future__ import annotations

from dataclasses import dataclass

from firebox.models.invocation import Outcome


@dataclass(frozen=True, slots=True)
class InvocationRecord:
    function: str
    resource: str | None
    """`function:qualifier` when the caller named a version or alias (CloudWatch's `Resource` dimension), else None."""
    executed_version: str
    """`$LATEST` or the version number that ran (CloudWatch's `ExecutedVersion` dimension for alias invocations)."""
    alias: bool
    """The caller named an alias (so ExecutedVersion is reported with Resource)."""
    outcome: Outcome
    timestamp: float
    """Epoch seconds when the invocation ended."""
    duration_ms: float
    billed_duration_ms: int
    memory_size_mb: int
    ephemeral_storage_mb: int
    max_memory_used_mb: int
    init_duration_ms: float | None
    """Set on the first invocation of an on-demand environment (a cold start)."""
    provisioned: bool
    """Served by a provisioned-concurrency environment."""
    asynchronous: bool
    trace_id: str
    cpu_time_ms: float | None = None
    """CPU time the runtime used during the invocation (user + system, with the children it reaped), as it measured
    it with `os.times()` around the handler."""
    tmp_bytes: int | None = None
    """Bytes in use in the environment's /tmp (sampled at most once a second per environment)."""
    request_id: str = ""
    queue_wait_ms: float | None = None
    """For an Event invocation: how long it waited in the durable queue (retry delays included)."""

    @property
    def error(self) -> bool:
        return self.outcome is not Outcome.SUCCESS
