"""EventBridge Scheduler's management rules: schedules and schedule groups, checked and stored in AWS's shapes.

Requests are checked against botocore's model of the `scheduler` service (lengths, patterns, enums, ranges, required
members; the message in AWS's framework wording under `Message`), then against Scheduler's own rules: the expression
and time zone (`Invalid Schedule Expression <expression>.`), the flexible time window, StartDate and EndDate, and the
target, which Firebox limits to its own Lambda functions (anything else is refused with a sentence saying so).

A schedule is stored as the document GetSchedule returns (defaults filled in: State ENABLED, time zone UTC,
ActionAfterCompletion NONE, RetryPolicy 86400 s / 185 attempts) plus the ClientToken it was created with, so a
retried CreateSchedule with the same token answers the same ARN instead of ConflictException. UpdateSchedule replaces
the whole definition, as on AWS. Every write tells the listeners (the schedule runner) which schedule changed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor
from datetime import datetime
from functools import cache, lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from botocore.loaders import create_loader
from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape

from firebox.errors import (
    SchedulerConflictException,
    SchedulerNotFoundException,
    SchedulerValidationException,
    ValidationException,
)
from firebox.store.base import ScheduleStore

DEFAULT_GROUP = "default"
DEFAULT_RETRY_POLICY = {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}
PAGE_SIZE = 100
START_GRACE = 300.0
"""StartDate may be at most five minutes in the past."""
_UNSUPPORTED_TARGET_MEMBERS = (
    "EcsParameters",
    "EventBridgeParameters",
    "EventBridgePutEventsV2Parameters",
    "EventBridgePutRawEventsParameters",
    "KinesisParameters",
    "SageMakerPipelineParameters",
    "SqsParameters",
)
_LAMBDA_ARN = re.compile(r"arn:aws[a-z-]*:lambda:([a-z0-9-]+):(\d{12}):function:([a-zA-Z0-9-_]+)(:[a-zA-Z0-9-_$]+)?")
_PRIVATE = ("ClientToken",)
"""Members the stored document has that GetSchedule does not answer."""

Parser = Callable[[str, str], Any]
"""`firebox.expressions.schedule.parse`: raises ValueError (InvalidSchedule) for what AWS refuses."""
Listener = Callable[[str, str], None]
Violation = tuple[Any, str, str]


class ScheduleService:
    def __init__(
        self,
        store: ScheduleStore,
        executor: Executor,
        region: str,
        account_id: str,
        parse: Parser,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self._executor = executor
        self.region = region
        self.account_id = account_id
        self._parse = parse
        self._clock = clock
        self._listeners: list[Listener] = []

    def on_change(self, listener: Listener) -> None:
        """`listener(group, name)` after a schedule is written or deleted (a group's deletion: once per schedule)."""
        self._listeners.append(listener)

    def _changed(self, group: str, name: str) -> None:
        for listener in self._listeners:
            listener(group, name)

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def schedule_arn(self, group: str, name: str) -> str:
        return f"arn:aws:scheduler:{self.region}:{self.account_id}:schedule/{group}/{name}"

    def group_arn(self, group: str) -> str:
        return f"arn:aws:scheduler:{self.region}:{self.account_id}:schedule-group/{group}"

    # schedules

    async def create_schedule(self, name: str, body: Mapping[str, Any]) -> str:
        check("CreateSchedule", {**body, "Name": name})
        now = self._clock()
        doc = self._definition(name, body, now, now)
        group = doc["GroupName"]
        inserted = await self._run(self.store.insert_schedule, doc)
        if inserted is None:
            raise _no_group(group)
        if not inserted:
            found = await self._run(self.store.get_schedule, group, name)
            token = body.get("ClientToken")
            if found is not None and token and found[0].get("ClientToken") == token:
                return str(found[0]["Arn"])
            raise SchedulerConflictException(f"Schedule {name} already exists.")
        self._changed(group, name)
        return str(doc["Arn"])

    async def update_schedule(self, name: str, body: Mapping[str, Any]) -> str:
        check("UpdateSchedule", {**body, "Name": name})
        group = body.get("GroupName") or DEFAULT_GROUP
        current = await self._stored(group, name)
        doc = self._definition(name, body, current["CreationDate"], self._clock())
        doc["ClientToken"] = current.get("ClientToken")
        if not await self._run(self.store.replace_schedule, doc):
            raise _no_schedule(name)
        self._changed(group, name)
        return str(doc["Arn"])

    async def get_schedule(self, name: str, group: str | None) -> dict[str, Any]:
        check("GetSchedule", {"Name": name, "GroupName": group})
        return document(await self._stored(group or DEFAULT_GROUP, name))

    async def delete_schedule(self, name: str, group: str | None) -> None:
        check("DeleteSchedule", {"Name": name, "GroupName": group})
        group = group or DEFAULT_GROUP
        if not await self._run(self.store.delete_schedule, group, name):
            if await self._run(self.store.get_schedule_group, group) is None:
                raise _no_group(group)
            raise _no_schedule(name)
        self._changed(group, name)

    async def list_schedules(
        self, group: str | None, prefix: str | None, state: str | None, token: str | None, limit: int | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        check(
            "ListSchedules",
            {"GroupName": group, "NamePrefix": prefix, "State": state, "NextToken": token, "MaxResults": limit},
        )
        if group is not None and await self._run(self.store.get_schedule_group, group) is None:
            raise _no_group(group)
        after = _decode_token(token)
        size = limit or PAGE_SIZE
        docs = await self._run(
            self.store.list_schedules, group, prefix or "", state, tuple(after) if after else None, size + 1
        )
        more = len(docs) > size
        docs = docs[:size]
        summaries = [
            {
                "Arn": doc["Arn"],
                "Name": doc["Name"],
                "GroupName": doc["GroupName"],
                "State": doc["State"],
                "CreationDate": doc["CreationDate"],
                "LastModificationDate": doc["LastModificationDate"],
                "Target": {"Arn": doc["Target"]["Arn"]},
            }
            for doc in docs
        ]
        return summaries, _encode_token([docs[-1]["GroupName"], docs[-1]["Name"]]) if more else None

    async def _stored(self, group: str, name: str) -> dict[str, Any]:
        found = await self._run(self.store.get_schedule, group, name)
        if found is None:
            if await self._run(self.store.get_schedule_group, group) is None:
                raise _no_group(group)
            raise _no_schedule(name)
        doc: dict[str, Any] = found[0]
        return doc

    def _definition(self, name: str, body: Mapping[str, Any], created: float, now: float) -> dict[str, Any]:
        """The stored document of a schedule as `body` defines it, after Scheduler's own rules."""
        group = body.get("GroupName") or DEFAULT_GROUP
        expression = body["ScheduleExpression"]
        zone = body.get("ScheduleExpressionTimezone") or "UTC"
        _check_zone(zone)
        try:
            self._parse(expression, zone)
        except ValueError:
            raise SchedulerValidationException(f"Invalid Schedule Expression {expression}.") from None
        window = dict(body["FlexibleTimeWindow"])
        if window["Mode"] == "FLEXIBLE" and window.get("MaximumWindowInMinutes") is None:
            raise SchedulerValidationException("MaximumWindowInMinutes must be set when the Mode is FLEXIBLE.")
        doc: dict[str, Any] = {
            "Arn": self.schedule_arn(group, name),
            "Name": name,
            "GroupName": group,
            "ScheduleExpression": expression,
            "ScheduleExpressionTimezone": zone,
            "State": body.get("State") or "ENABLED",
            "FlexibleTimeWindow": window,
            "Target": self._target(body["Target"]),
            "ActionAfterCompletion": body.get("ActionAfterCompletion") or "NONE",
            "CreationDate": created,
            "LastModificationDate": now,
            "ClientToken": body.get("ClientToken"),
        }
        start = _timestamp(body.get("StartDate"), "startDate")
        end = _timestamp(body.get("EndDate"), "endDate")
        if start is not None and start < now - START_GRACE:
            raise SchedulerValidationException("The StartDate you specify cannot be earlier than 5 minutes ago.")
        if end is not None and end < now:
            raise SchedulerValidationException("The EndDate you specify cannot be earlier than the current time.")
        if start is not None and end is not None and end <= start:
            raise SchedulerValidationException("The EndDate you specify must be later than the StartDate.")
        for member, value in (("StartDate", start), ("EndDate", end)):
            if value is not None:
                doc[member] = value
        for member in ("Description", "KmsKeyArn"):
            if body.get(member) is not None:
                doc[member] = body[member]
        return doc

    def _target(self, target: Mapping[str, Any]) -> dict[str, Any]:
        unsupported = [member for member in _UNSUPPORTED_TARGET_MEMBERS if target.get(member) is not None]
        if unsupported:
            raise SchedulerValidationException(
                f"Firebox's Scheduler invokes Lambda functions only; {', '.join(unsupported)} cannot be used."
            )
        match = _LAMBDA_ARN.fullmatch(target["Arn"])
        if match is None or match[1] != self.region or match[2] != self.account_id:
            raise SchedulerValidationException(
                f"Firebox's Scheduler invokes Lambda functions only: the target Arn must be "
                f"arn:aws:lambda:{self.region}:{self.account_id}:function:<name>, not {target['Arn']}."
            )
        doc = {key: value for key, value in target.items() if value is not None}
        policy = {key: value for key, value in doc.get("RetryPolicy", {}).items() if value is not None}
        doc["RetryPolicy"] = {**DEFAULT_RETRY_POLICY, **policy}
        return doc

    # schedule groups

    async def create_group(self, name: str, body: Mapping[str, Any]) -> str:
        check("CreateScheduleGroup", {**body, "Name": name})
        tags = _tag_dict(body.get("Tags") or [])
        if not await self._run(self.store.create_schedule_group, name, tags, self._clock()):
            raise SchedulerConflictException(f"Schedule group {name} already exists.")
        return self.group_arn(name)

    async def get_group(self, name: str) -> dict[str, Any]:
        check("GetScheduleGroup", {"Name": name})
        group = await self._run(self.store.get_schedule_group, name)
        if group is None:
            raise _no_group(name)
        return self._group_document(group)

    async def delete_group(self, name: str) -> None:
        check("DeleteScheduleGroup", {"Name": name})
        if name == DEFAULT_GROUP:
            raise SchedulerValidationException("The default schedule group cannot be deleted.")
        deleted = await self._run(self.store.delete_schedule_group, name)
        if deleted is None:
            raise _no_group(name)
        for schedule in deleted:
            self._changed(name, schedule)

    async def list_groups(
        self, prefix: str | None, token: str | None, limit: int | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        check("ListScheduleGroups", {"NamePrefix": prefix, "NextToken": token, "MaxResults": limit})
        after = _decode_token(token)
        size = limit or PAGE_SIZE
        groups = await self._run(self.store.list_schedule_groups, prefix or "", after[0] if after else None, size + 1)
        more = len(groups) > size
        groups = groups[:size]
        documents = [self._group_document(group) for group in groups]
        return documents, _encode_token([groups[-1]["Name"]]) if more else None

    def _group_document(self, group: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "Arn": self.group_arn(group["Name"]),
            "Name": group["Name"],
            "State": "ACTIVE",
            "CreationDate": group["CreationDate"],
            "LastModificationDate": group["LastModificationDate"],
        }

    # tags (schedule groups only, as on AWS)

    async def list_tags(self, arn: str) -> list[dict[str, str]]:
        check("ListTagsForResource", {"ResourceArn": arn})
        group = await self._run(self.store.get_schedule_group, self._group_of(arn))
        if group is None:
            raise _no_group(self._group_of(arn))
        return [{"Key": key, "Value": value} for key, value in group["Tags"].items()]

    async def tag(self, arn: str, tags: Iterable[Mapping[str, str]]) -> None:
        tag_list = list(tags)
        check("TagResource", {"ResourceArn": arn, "Tags": tag_list})
        if not await self._run(self.store.tag_schedule_group, self._group_of(arn), _tag_dict(tag_list), ()):
            raise _no_group(self._group_of(arn))

    async def untag(self, arn: str, keys: list[str]) -> None:
        check("UntagResource", {"ResourceArn": arn, "TagKeys": keys or None})
        if not await self._run(self.store.tag_schedule_group, self._group_of(arn), {}, keys):
            raise _no_group(self._group_of(arn))

    def _group_of(self, arn: str) -> str:
        prefix = f"arn:aws:scheduler:{self.region}:{self.account_id}:schedule-group/"
        if not arn.startswith(prefix):
            raise _no_group(arn.rpartition("/")[2])
        return arn[len(prefix) :]


def document(stored: Mapping[str, Any]) -> dict[str, Any]:
    """The GetSchedule answer for a stored schedule."""
    return {key: value for key, value in stored.items() if key not in _PRIVATE}


def _no_schedule(name: str) -> SchedulerNotFoundException:
    return SchedulerNotFoundException(f"Schedule {name} does not exist.")


def _no_group(name: str) -> SchedulerNotFoundException:
    return SchedulerNotFoundException(f"Schedule group {name} does not exist.")


def _check_zone(zone: str) -> None:
    if zone == "UTC":
        return
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise SchedulerValidationException(f"Invalid ScheduleExpressionTimezone {zone}.") from None


def _timestamp(value: Any, field: str) -> float | None:
    """A timestamp member: epoch seconds (what the SDKs send) or an ISO 8601 text."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise SchedulerValidationException.of([(value, field, "Member must be a timestamp")])


def _tag_dict(tags: Iterable[Mapping[str, str]]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tags}


def _encode_token(position: list[str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


def _decode_token(token: str | None) -> list[str] | None:
    if not token:
        return None
    try:
        position = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        position = None
    if not isinstance(position, list) or not all(isinstance(part, str) for part in position):
        raise SchedulerValidationException("The NextToken is not valid.")
    return position


# requests checked against botocore's model of the service


@lru_cache(maxsize=1)
def _model() -> ServiceModel:
    return ServiceModel(create_loader().load_service_model("scheduler", "service-2"), "scheduler")


def check(operation: str, params: Mapping[str, Any]) -> None:
    """Check an operation's members (body, path and query alike, by member name; None means absent) against the
    model: every violation in one ValidationException, as AWS words them. Unknown members are ignored."""
    shape = _model().operation_model(operation).input_shape
    assert isinstance(shape, StructureShape)
    violations: list[Violation] = []
    _members(shape, params, "", violations)
    if violations:
        raise SchedulerValidationException.of(violations)


def _field(path: str, member: str) -> str:
    name = member[:1].lower() + member[1:]
    return f"{path}.{name}" if path else name


def _members(shape: StructureShape, value: Mapping[str, Any], path: str, out: list[Violation]) -> None:
    for key in shape.required_members:
        if value.get(key) is None:
            out.append((None, _field(path, key), "Member must not be null"))
    for key, item in value.items():
        member = shape.members.get(key)
        if member is not None and item is not None:
            _value(member, item, _field(path, key), out)


def _value(shape: Shape, value: Any, path: str, out: list[Violation]) -> None:
    kind = shape.type_name
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            raise _wrong_type(value, path, "an object")
        _members(shape, value, path, out)
    elif isinstance(shape, ListShape):
        if not isinstance(value, list):
            raise _wrong_type(value, path, "a list")
        _limits(shape, value, len(value), path, "length", out)
        for index, item in enumerate(value, start=1):
            if item is None:
                out.append((None, f"{path}.{index}.member", "Member must not be null"))
            else:
                _value(shape.member, item, f"{path}.{index}.member", out)
    elif isinstance(shape, MapShape):
        if not isinstance(value, dict):
            raise _wrong_type(value, path, "an object")
    elif kind == "string":
        if not isinstance(value, str):
            raise _wrong_type(value, path, "a string")
        _limits(shape, value, len(value), path, "length", out)
        pattern = shape.metadata.get("pattern")
        if pattern and not _regex(pattern).fullmatch(value):
            out.append((value, path, f"Member must satisfy regular expression pattern: {pattern}"))
        enum = shape.metadata.get("enum")
        if enum and value not in enum:
            out.append((value, path, f"Member must satisfy enum value set: [{', '.join(enum)}]"))
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            raise _wrong_type(value, path, "an integer")
        _limits(shape, value, value, path, "value", out)
    elif kind == "boolean" and not isinstance(value, bool):
        raise _wrong_type(value, path, "true or false")


def _limits(shape: Shape, value: Any, size: int, path: str, noun: str, out: list[Violation]) -> None:
    limits = shape.metadata
    if "max" in limits and size > limits["max"]:
        out.append((value, path, f"Member must have {noun} less than or equal to {limits['max']}"))
    if "min" in limits and size < limits["min"]:
        out.append((value, path, f"Member must have {noun} greater than or equal to {limits['min']}"))


def _wrong_type(value: Any, path: str, expected: str) -> ValidationException:
    return SchedulerValidationException.of([(value, path, f"Member must be {expected}")])


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.DOTALL)
