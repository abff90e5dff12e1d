"""X-Ray trace ids: accepted from callers (`X-Amzn-Trace-Id`), started when absent, carried to handlers
(`_X_AMZN_TRACE_ID`), async invocations and destinations.

A trace header reads `Root=1-<8 hex epoch seconds>-<24 hex>;Parent=<16 hex>;Sampled=<0|1>`. Each invocation is a
segment of its own: it keeps the caller's Root and Sampled decision and gets a new Parent (its segment id), as
Lambda's function segment does.
"""

from __future__ import annotations

import random
import re
import time

_ROOT = re.compile(r"1-[0-9a-f]{8}-[0-9a-f]{24}")
_SEGMENT = re.compile(r"[0-9a-f]{16}")


def _segment_id() -> str:
    return f"{random.getrandbits(64):016x}"


def new_root() -> str:
    return f"1-{int(time.time()):08x}-{random.getrandbits(96):024x}"


def new_trace_id(sampled: bool = False) -> str:
    return f"Root={new_root()};Parent={_segment_id()};Sampled={int(sampled)}"


def fields(header: str) -> dict[str, str]:
    """The `Key=Value` fields of a trace header (keys as sent)."""
    out: dict[str, str] = {}
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key:
            out[key] = value
    return out


def continue_trace(header: str | None) -> str | None:
    """The trace id an invocation runs under when the caller sent `header`: the caller's Root and Sampled, a new
    Parent. None when there is no usable Root (the invocation then starts a trace of its own)."""
    if not header:
        return None
    parts = fields(header)
    root = parts.get("Root", "").lower()
    if not _ROOT.fullmatch(root):
        return None
    sampled = "1" if parts.get("Sampled") == "1" else "0"
    return f"Root={root};Parent={_segment_id()};Sampled={sampled}"


def root_of(trace_id: str) -> str:
    return fields(trace_id).get("Root", "")


def xray_line(trace_id: str) -> str:
    """The line Lambda logs after REPORT for functions with active tracing."""
    parts = fields(trace_id)
    return f"XRAY TraceId: {parts.get('Root', '')}\tSegmentId: {parts.get('Parent', '')}\tSampled: true\n"
