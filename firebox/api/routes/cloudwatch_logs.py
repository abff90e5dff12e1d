"""The CloudWatch Logs API (`Logs_20140328`, AWS JSON 1.1) over Firebox's log store.

Operations: DescribeLogGroups, DescribeLogStreams, GetLogEvents, FilterLogEvents, CreateLogGroup, CreateLogStream,
PutLogEvents, PutRetentionPolicy, DeleteRetentionPolicy, DeleteLogGroup. Member names and result shapes are
CloudWatch Logs' own; times are epoch milliseconds (plain integers on this wire). Store work runs in the executor
through `LogWriter.run`, which first writes the lines still queued, so a read sees everything emitted before it.

Pagination tokens are opaque to clients: GetLogEvents' `f/<event id>` / `b/<event id>` point just after / before
an event (the forward token comes back unchanged at the end of a stream); FilterLogEvents' token is the event id
to resume after; DescribeLogStreams' is an offset and DescribeLogGroups' the last group name returned.
"""

from __future__ import annotations

import re
import time
from typing import Any

from firebox.api.routes.rpc_types import Operation
from firebox.api.services import Services
from firebox.errors import InvalidParameterException, LogsResourceNotFoundException, ResourceAlreadyExistsException
from firebox.models.logs import EventRange, LogGroup, LogStream, Position, StoredEvent
from firebox.observability.log_filter import compile_pattern

RETENTION_DAYS = frozenset(
    (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)
)
MAX_EVENTS = 10_000
MAX_DESCRIBE = 50
FILTER_SCAN_BLOCKS = 50_000
"""Blocks one FilterLogEvents call reads at most before it answers with what it found and a nextToken."""
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26
"""Bytes PutLogEvents counts per event on top of its message, as CloudWatch Logs does."""
MAX_FUTURE_MS = 2 * 3600 * 1000
MAX_AGE_MS = 14 * 86_400_000
MAX_SPAN_MS = 86_400_000
DAY_MS = 86_400_000
_GROUP_NAME = re.compile(r"[\.\-_/#A-Za-z0-9]{1,512}")
_END_OF_BLOCK = 99_999_999
_NO_GROUP = "The specified log group does not exist."
_NO_STREAM = "The specified log stream does not exist."


# members


def _missing(member: str) -> InvalidParameterException:
    return InvalidParameterException(
        f"1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
    )


def _string(params: dict[str, Any], member: str, required: bool = False) -> str | None:
    value = params.get(member)
    if value is None:
        if required:
            raise _missing(member)
        return None
    if not isinstance(value, str):
        raise InvalidParameterException(f"{member} must be a string")
    return value


def _required(params: dict[str, Any], member: str) -> str:
    value = _string(params, member, required=True)
    assert value is not None
    return value


def _integer(params: dict[str, Any], member: str, low: int | None = None, high: int | None = None) -> int | None:
    value = params.get(member)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameterException(f"{member} must be an integer")
    if (low is not None and value < low) or (high is not None and value > high):
        raise InvalidParameterException(
            f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: "
            f"Member must have value between {low} and {high}"
        )
    return value


def _boolean(params: dict[str, Any], member: str) -> bool:
    value = params.get(member, False)
    if not isinstance(value, bool):
        raise InvalidParameterException(f"{member} must be a boolean")
    return value


def _group_name(params: dict[str, Any]) -> str:
    """logGroupName, or logGroupIdentifier (a name or an ARN)."""
    name = _string(params, "logGroupName")
    identifier = _string(params, "logGroupIdentifier")
    if name is not None and identifier is not None:
        raise InvalidParameterException("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
    if identifier is not None:
        if identifier.startswith("arn:"):
            parts = identifier.split(":", 6)
            if len(parts) < 7 or parts[5] != "log-group":
                raise InvalidParameterException(f"Invalid logGroupIdentifier: {identifier}")
            identifier = parts[6].removesuffix(":*")
        name = identifier
    if not name:
        raise _missing("logGroupName")
    return name


def _new_group_name(params: dict[str, Any]) -> str:
    name = _required(params, "logGroupName")
    if not _GROUP_NAME.fullmatch(name):
        raise InvalidParameterException(
            f"1 validation error detected: Value '{name}' at 'logGroupName' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+"
        )
    return name


# shapes


def _arn(services: Services, group: str) -> str:
    settings = services.functions.settings
    return f"arn:aws:logs:{settings.region}:{settings.account_id}:log-group:{group}"


def _group_shape(services: Services, group: LogGroup) -> dict[str, Any]:
    arn = _arn(services, group.name)
    shape: dict[str, Any] = {
        "logGroupName": group.name,
        "creationTime": group.created,
        "metricFilterCount": 0,
        "arn": arn + ":*",
        "storedBytes": group.stored_bytes,
        "logGroupClass": "STANDARD",
        "logGroupArn": arn,
    }
    if group.retention_days is not None:
        shape["retentionInDays"] = group.retention_days
    return shape


def _stream_shape(services: Services, stream: LogStream) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "logStreamName": stream.name,
        "creationTime": stream.created,
        "arn": f"{_arn(services, stream.log_group)}:log-stream:{stream.name}",
        "storedBytes": stream.stored_bytes,
    }
    for member, value in (
        ("firstEventTimestamp", stream.first_event),
        ("lastEventTimestamp", stream.last_event),
        ("lastIngestionTime", stream.last_ingestion),
    ):
        if value is not None:
            shape[member] = value
    return shape


def _position_token(prefix: str, position: Position) -> str:
    return f"{prefix}{position[0]:020d}{position[1]:08d}"


def _parse_position(text: str) -> Position:
    if len(text) != 28 or not text.isdigit():
        raise InvalidParameterException("The specified nextToken is invalid.")
    return int(text[:20]), int(text[20:])


async def _existing_group(services: Services, name: str) -> LogGroup:
    group = await services.logs.run(services.logs.store.log_group, name)
    if group is None:
        raise LogsResourceNotFoundException(_NO_GROUP)
    return group


# groups and streams


async def describe_log_groups(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    prefix = _string(params, "logGroupNamePrefix") or ""
    limit = _integer(params, "limit", 1, MAX_DESCRIBE) or MAX_DESCRIBE
    after = _string(params, "nextToken")
    groups = await services.logs.run(services.logs.store.log_groups, prefix, after, limit + 1)
    result: dict[str, Any] = {"logGroups": [_group_shape(services, g) for g in groups[:limit]]}
    if len(groups) > limit:
        result["nextToken"] = groups[limit - 1].name
    return result


async def describe_log_streams(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    group = _group_name(params)
    prefix = _string(params, "logStreamNamePrefix") or ""
    order_by = _string(params, "orderBy") or "LogStreamName"
    if order_by not in ("LogStreamName", "LastEventTime"):
        raise InvalidParameterException(
            f"1 validation error detected: Value '{order_by}' at 'orderBy' failed to satisfy constraint: "
            "Member must satisfy enum value set: [LogStreamName, LastEventTime]"
        )
    if prefix and order_by == "LastEventTime":
        raise InvalidParameterException("Cannot order by LastEventTime with a logStreamNamePrefix.")
    descending = _boolean(params, "descending")
    limit = _integer(params, "limit", 1, MAX_DESCRIBE) or MAX_DESCRIBE
    token = _string(params, "nextToken")
    if token is not None and not token.isdigit():
        raise InvalidParameterException("The specified nextToken is invalid.")
    offset = int(token or 0)
    await _existing_group(services, group)
    streams = await services.logs.run(
        services.logs.store.log_streams, group, prefix, order_by == "LastEventTime", descending, offset, limit + 1
    )
    result: dict[str, Any] = {"logStreams": [_stream_shape(services, s) for s in streams[:limit]]}
    if len(streams) > limit:
        result["nextToken"] = str(offset + limit)
    return result


async def create_log_group(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    name = _new_group_name(params)
    if not await services.logs.run(services.logs.store.create_log_group, name):
        raise ResourceAlreadyExistsException("The specified log group already exists")
    return {}


async def create_log_stream(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    group = _required(params, "logGroupName")
    stream = _required(params, "logStreamName")
    if not 1 <= len(stream) <= 512 or ":" in stream or "*" in stream:
        raise InvalidParameterException(
            f"1 validation error detected: Value '{stream}' at 'logStreamName' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [^:*]*"
        )
    outcome = await services.logs.run(services.logs.store.create_log_stream, group, stream)
    if outcome == "no group":
        raise LogsResourceNotFoundException(_NO_GROUP)
    if outcome == "exists":
        raise ResourceAlreadyExistsException("The specified log stream already exists")
    return {}


async def put_retention_policy(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    group = _required(params, "logGroupName")
    days = _integer(params, "retentionInDays")
    if days is None:
        raise _missing("retentionInDays")
    if days not in RETENTION_DAYS:
        raise InvalidParameterException(
            f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{', '.join(str(d) for d in sorted(RETENTION_DAYS))}]"
        )
    if not await services.logs.run(services.logs.store.set_log_retention, group, days):
        raise LogsResourceNotFoundException(_NO_GROUP)
    return {}


async def delete_retention_policy(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    group = _required(params, "logGroupName")
    if not await services.logs.run(services.logs.store.set_log_retention, group, None):
        raise LogsResourceNotFoundException(_NO_GROUP)
    return {}


async def delete_log_group(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    group = _required(params, "logGroupName")
    if not await services.logs.run(services.logs.store.delete_log_group, group):
        raise LogsResourceNotFoundException(_NO_GROUP)
    return {}


# events


def _time_range(params: dict[str, Any], group: str, **more: Any) -> EventRange:
    start = _integer(params, "startTime", 0)
    end = _integer(params, "endTime", 0)
    return EventRange(group, start=start, end=end, **more)


def _output_event(event: StoredEvent) -> dict[str, Any]:
    return {"timestamp": event.timestamp, "message": event.message, "ingestionTime": event.ingestion_time}


async def get_log_events(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    group = _group_name(params)
    stream = _required(params, "logStreamName")
    limit = _integer(params, "limit", 1, MAX_EVENTS) or MAX_EVENTS
    from_head = _boolean(params, "startFromHead")
    token = _string(params, "nextToken")
    where = _time_range(params, group, streams=[stream])
    store = services.logs.store
    await _existing_group(services, group)
    if not await services.logs.run(store.log_stream_exists, group, stream):
        raise LogsResourceNotFoundException(_NO_STREAM)
    forward = from_head
    anchor: Position | None = None
    if token is not None:
        if token[:2] not in ("f/", "b/"):
            raise InvalidParameterException("The specified nextToken is invalid.")
        forward, anchor = token.startswith("f/"), _parse_position(token[2:])
    if forward:
        events = await services.logs.run(store.read_forward, where, anchor, limit)
    else:
        events = await services.logs.run(store.read_backward, where, anchor, limit)
    if events:
        forward_token = _position_token("f/", events[-1].position)
        backward_token = _position_token("b/", events[0].position)
    elif forward:  # at the end: the forward token comes back as it was
        start = anchor or (0, 0)
        forward_token = _position_token("f/", start)
        backward_token = _position_token("b/", (start[0], start[1] + 1))
    else:  # at the beginning
        start = anchor or (0, 0)
        backward_token = _position_token("b/", start)
        just_before = (start[0], start[1] - 1) if start[1] > 0 else (max(0, start[0] - 1), _END_OF_BLOCK)
        forward_token = _position_token("f/", just_before if anchor else (0, 0))
    return {
        "events": [_output_event(e) for e in events],
        "nextForwardToken": forward_token,
        "nextBackwardToken": backward_token,
    }


async def filter_log_events(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    group = _group_name(params)
    names = params.get("logStreamNames")
    if names is not None and (
        not isinstance(names, list) or not all(isinstance(n, str) for n in names) or not 1 <= len(names) <= 100
    ):
        raise InvalidParameterException("logStreamNames must be a list of 1 to 100 stream names")
    prefix = _string(params, "logStreamNamePrefix")
    if names is not None and prefix is not None:
        raise InvalidParameterException("logStreamNames and logStreamNamePrefix are mutually exclusive")
    matches = compile_pattern(_string(params, "filterPattern"))
    limit = _integer(params, "limit", 1, MAX_EVENTS) or MAX_EVENTS
    token = _string(params, "nextToken")
    after = _parse_position(token) if token is not None else None
    where = _time_range(params, group, streams=names, stream_prefix=prefix)
    await _existing_group(services, group)
    events, resume = await services.logs.run(
        services.logs.store.filter_events, where, after, matches, limit, FILTER_SCAN_BLOCKS
    )
    result: dict[str, Any] = {
        "events": [{"logStreamName": e.log_stream, **_output_event(e), "eventId": e.event_id} for e in events],
    }
    if resume is not None:
        result["nextToken"] = _position_token("", resume)
    return result


def _check_events(raw: Any) -> list[tuple[int, str]]:
    if not isinstance(raw, list) or not raw:
        raise InvalidParameterException("logEvents must be a list of 1 to 10000 events")
    if len(raw) > MAX_EVENTS:
        raise InvalidParameterException(f"The number of log events in a batch must not exceed {MAX_EVENTS}.")
    events: list[tuple[int, str]] = []
    size = 0
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise InvalidParameterException(f"logEvents.{index + 1} must be an object")
        timestamp, message = item.get("timestamp"), item.get("message")
        if isinstance(timestamp, bool) or not isinstance(timestamp, int):
            raise _missing(f"logEvents.{index + 1}.member.timestamp")
        if not isinstance(message, str) or not message:
            raise InvalidParameterException(f"logEvents.{index + 1}.member.message must be a non-empty string")
        size += len(message.encode()) + EVENT_OVERHEAD
        events.append((timestamp, message))
    if size > MAX_BATCH_BYTES:
        raise InvalidParameterException(f"Upload too large: {size} bytes exceeds {MAX_BATCH_BYTES} bytes")
    if any(a[0] > b[0] for a, b in zip(events, events[1:], strict=False)):
        raise InvalidParameterException("Log events in a single PutLogEvents request must be in chronological order.")
    if events[-1][0] - events[0][0] > MAX_SPAN_MS:
        raise InvalidParameterException(
            "The batch of log events in a single PutLogEvents request cannot span more than 24 hours."
        )
    return events


async def put_log_events(services: Services, params: dict[str, Any]) -> dict[str, Any]:
    group = _required(params, "logGroupName")
    stream = _required(params, "logStreamName")
    events = _check_events(params.get("logEvents"))
    found = await _existing_group(services, group)
    now = int(time.time() * 1000)
    rejected: dict[str, int] = {}
    # events are in time order, so the rejected ones are a prefix (too old, expired) and a suffix (too new)
    too_old = [i for i, (ts, _) in enumerate(events) if ts < now - MAX_AGE_MS]
    if too_old:
        rejected["tooOldLogEventEndIndex"] = too_old[-1] + 1
    if found.retention_days is not None:
        expired = [i for i, (ts, _) in enumerate(events) if ts < now - found.retention_days * DAY_MS]
        if expired:
            rejected["expiredLogEventEndIndex"] = expired[-1] + 1
    too_new = [i for i, (ts, _) in enumerate(events) if ts > now + MAX_FUTURE_MS]
    if too_new:
        rejected["tooNewLogEventStartIndex"] = too_new[0]
    first = max(rejected.get("tooOldLogEventEndIndex", 0), rejected.get("expiredLogEventEndIndex", 0))
    accepted = events[first : rejected.get("tooNewLogEventStartIndex", len(events))]
    outcome = await services.logs.put(group, stream, accepted)
    if outcome == "no group":
        raise LogsResourceNotFoundException(_NO_GROUP)
    if outcome == "no stream":
        raise LogsResourceNotFoundException(_NO_STREAM)
    result: dict[str, Any] = {"nextSequenceToken": f"{now:056d}"}
    if rejected:
        result["rejectedLogEventsInfo"] = rejected
    return result


OPERATIONS: dict[str, Operation] = {
    "DescribeLogGroups": describe_log_groups,
    "DescribeLogStreams": describe_log_streams,
    "GetLogEvents": get_log_events,
    "FilterLogEvents": filter_log_events,
    "CreateLogGroup": create_log_group,
    "CreateLogStream": create_log_stream,
    "PutLogEvents": put_log_events,
    "PutRetentionPolicy": put_retention_policy,
    "DeleteRetentionPolicy": delete_retention_policy,
    "DeleteLogGroup": delete_log_group,
}
