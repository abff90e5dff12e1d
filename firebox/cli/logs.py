"""`firebox logs NAME`: a function's log events, read through the CloudWatch Logs API with boto3's `logs` client.

It runs FilterLogEvents on `/aws/lambda/NAME` from `--since` ago (default 10m, as `aws logs tail`), paginating, and
prints each event's message on its own line, as the function printed it. `--follow` then polls every
`POLL_INTERVAL` seconds for what came since, de-duplicating by eventId (each poll looks `OVERLAP_MS` back, as
events from several environments can reach the store slightly out of timestamp order), until interrupted; Ctrl-C
ends it with exit status 0.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from firebox.cli.client import connect

POLL_INTERVAL = 0.5
OVERLAP_MS = 10_000
DEFAULT_SINCE = "10m"
_UNITS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_SINCE = re.compile(r"(\d+)([smhd])")


class LogsCommandError(Exception):
    """A `firebox logs` failure worth one line on stderr (exit status 1)."""


def parse_since(text: str) -> int:
    """Milliseconds in a duration such as 30s, 10m, 2h or 1d."""
    match = _SINCE.fullmatch(text.strip())
    if match is None:
        raise LogsCommandError(f"--since takes a number and a unit (s, m, h or d), such as 10m, not {text!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]


def _events(client: Any, group: str, start: int, pattern: str | None) -> list[dict[str, Any]]:
    """Every event of `group` from `start` (epoch ms) that matches `pattern`, following nextToken to the end."""
    params: dict[str, Any] = {"logGroupName": group, "startTime": start}
    if pattern:
        params["filterPattern"] = pattern
    events: list[dict[str, Any]] = []
    while True:
        page = client.filter_log_events(**params)
        events += page.get("events", [])
        token = page.get("nextToken")
        if not token:
            return events
        params["nextToken"] = token


def run(
    endpoint_url: str,
    name: str,
    since: str | None,
    pattern: str | None,
    follow: bool,
    write: Callable[[str], None] | None = None,
) -> int:
    """The command; returns its exit status."""
    out = write or _print
    client = connect(endpoint_url, "logs", read_timeout=60)
    group = f"/aws/lambda/{name}"
    start = int(time.time() * 1000) - parse_since(since or DEFAULT_SINCE)
    seen: dict[str, int] = {}  # eventId -> timestamp, for the events inside the overlap window
    try:
        while True:
            try:
                events = _events(client, group, start, pattern)
            except ClientError as exc:
                error = exc.response.get("Error", {})
                if error.get("Code") != "ResourceNotFoundException":
                    raise LogsCommandError(f"{error.get('Code')}: {error.get('Message')}") from None
                if not follow:
                    raise LogsCommandError(f"{group} does not exist: {name} has not logged anything yet") from None
                events = []
            for event in events:
                if event["eventId"] not in seen:
                    seen[event["eventId"]] = event["timestamp"]
                    out(event["message"])
            if not follow:
                return 0
            newest = max(seen.values(), default=start)
            start = max(start, newest - OVERLAP_MS)
            seen = {event_id: ts for event_id, ts in seen.items() if ts >= start}
            time.sleep(POLL_INTERVAL)
    except KeyboardInterrupt:
        return 0
    except BotoCoreError as exc:
        raise LogsCommandError(str(exc)) from None


def _print(line: str) -> None:
    try:
        print(line, flush=True)
    except BrokenPipeError:  # `firebox logs fn | head`: the reader has gone, which is not an error
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keep the interpreter from complaining at exit
        raise KeyboardInterrupt from None
