"""Log events, as CloudWatch Logs keeps them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple


class LogEvent(NamedTuple):
    """One emitted block of lines (or one PutLogEvents message). A named tuple: one is made per invocation on the
    hot path, and a tuple is the cheapest immutable record to make."""

    log_group: str
    log_stream: str
    timestamp: int
    """Epoch milliseconds."""
    message: str


@dataclass(frozen=True, slots=True)
class LogGroup:
    """A CloudWatch Logs log group: `/aws/lambda/<function>` once the function has logged, or one made by a client."""

    name: str
    created: int
    """Epoch milliseconds, as every time below."""
    retention_days: int | None
    stored_bytes: int


@dataclass(frozen=True, slots=True)
class LogStream:
    """A stream of a log group: one per execution environment for a function's logs."""

    log_group: str
    name: str
    created: int
    first_event: int | None
    last_event: int | None
    last_ingestion: int | None
    stored_bytes: int


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One event as read back: a line of a stored block (or a whole PutLogEvents message), with its position."""

    log_stream: str
    timestamp: int
    message: str
    ingestion_time: int
    block_id: int
    line: int
    """Index of the line within its block; 0 for a whole message."""

    @property
    def position(self) -> tuple[int, int]:
        return (self.block_id, self.line)

    @property
    def event_id(self) -> str:
        """A decimal identifier unique in the store and ordered as the events were written."""
        return f"{self.block_id:020d}{self.line:08d}"


Position = tuple[int, int]
"""(block id, line index) of a stored event: orders events as they were written; pagination tokens carry it."""


@dataclass(frozen=True, slots=True)
class EventRange:
    """Which events of a group a read covers; times are epoch ms, `start` inclusive and `end` exclusive."""

    log_group: str
    streams: Sequence[str] | None = None
    stream_prefix: str | None = None
    start: int | None = None
    end: int | None = None
