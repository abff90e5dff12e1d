"""Log events, as CloudWatch Logs keeps them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LogEvent:
    log_group: str
    log_stream: str
    timestamp: int
    """Epoch milliseconds."""
    message: str
