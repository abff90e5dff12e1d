"""EventBridge's management API (`AWSEvents`): event buses and rules (targets: `control/event_targets.py`).

Buses and rules are kept as the documents EventBridge returns (`Name`, `Arn`, `EventPattern`, `State`, ...) in the
event store. The `default` bus always exists and cannot be deleted; a bus with rules and a rule with targets are
not deleted (EventBridge's ValidationExceptions); deleting what does not exist succeeds, as on AWS. Scheduled rules
(`rate(...)`, `cron(...)`) live on the default bus only.

What needs the evaluation side (is this pattern valid, this schedule, this JSON path?) is asked of an `Evaluation`,
which `firebox/eventsources/event_bus.py` provides (the composition root wires it in), so the rules stay here and the
engines stay with what runs them. Listeners registered with `on_change` hear `(bus, rule)` after every committed
change (`rule` None when a whole bus went), on the event loop: the event bus forgets what it cached and sets or
clears the rule's schedule.

Member checks (`Members`) word their failures as AWS's validation framework does: `1 validation error detected:
Value 'a b' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ...`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Executor
from typing import Any, ParamSpec, Protocol, TypeVar

from firebox.clock import Clock
from firebox.errors import (
    EventsResourceNotFoundException,
    InvalidEventPatternException,
    LimitExceededException,
    ResourceAlreadyExistsException,
    ValidationException,
)
from firebox.store.base import EventStore

P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_BUS = "default"
MAX_BUSES = 100
MAX_RULES_PER_BUS = 300
MAX_LIST = 100
RULE_NAME = r"[\.\-_A-Za-z0-9]+"
BUS_NAME = r"[/\.\-_A-Za-z0-9]+"
BUS_NAME_OR_ARN = r"(arn:aws[\w-]*:events:[a-z]+-[a-z]+-[\w-]+:[0-9]{12}:event-bus\/)?[/\.\-_A-Za-z0-9]+"
STATES = ("ENABLED", "DISABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")
LIMIT_EXCEEDED = "The requested resource exceeds the maximum number allowed."
_RULE_FIELDS = ("EventPattern", "ScheduleExpression", "State", "Description", "RoleArn", "ManagedBy")


class Evaluation(Protocol):
    """The evaluation engines the control plane checks against; each raises ValueError (its text is EventBridge's
    message) for what it would not accept."""

    def check_pattern(self, pattern: str) -> None: ...

    def check_schedule(self, expression: str) -> None: ...

    def check_input_path(self, path: str) -> None: ...

    def unknown_placeholders(self, template: str, variables: Collection[str]) -> list[str]:
        """The `<name>` placeholders of an InputTemplate that neither `variables` nor the predefined ones fill."""
        ...


class Members:
    """Typed reads of a request's members, collecting constraint violations to raise as one ValidationException."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.params = params
        self.violations: list[tuple[Any, str, str]] = []

    def string(
        self,
        member: str,
        *,
        required: bool = False,
        low: int = 0,
        high: int | None = None,
        pattern: str | None = None,
        enum: tuple[str, ...] | None = None,
        source: Mapping[str, Any] | None = None,
        field: str | None = None,
    ) -> str | None:
        value = (self.params if source is None else source).get(member)
        where = field or member[:1].lower() + member[1:]
        if value is None:
            if required:
                self.violations.append((None, where, "Member must not be null"))
            return None
        if not isinstance(value, str):
            raise ValidationException(f"Value at '{where}' must be a string, not {type(value).__name__}.")
        if high is not None and len(value) > high:
            self.violations.append((value, where, f"Member must have length less than or equal to {high}"))
        if low and len(value) < low:
            self.violations.append((value, where, f"Member must have length greater than or equal to {low}"))
        if pattern is not None and value and not re.fullmatch(pattern, value):
            self.violations.append((value, where, f"Member must satisfy regular expression pattern: {pattern}"))
        if enum is not None and value not in enum:
            self.violations.append((value, where, f"Member must satisfy enum value set: [{', '.join(enum)}]"))
        return value

    def integer(
        self, member: str, low: int, high: int, source: Mapping[str, Any] | None = None, field: str | None = None
    ) -> int | None:
        value = (self.params if source is None else source).get(member)
        where = field or member[:1].lower() + member[1:]
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationException(f"Value at '{where}' must be an integer, not {type(value).__name__}.")
        if value > high:
            self.violations.append((value, where, f"Member must have value less than or equal to {high}"))
        if value < low:
            self.violations.append((value, where, f"Member must have value greater than or equal to {low}"))
        return value

    def items(self, member: str, low: int, high: int, required: bool = False) -> list[Any]:
        value = self.params.get(member)
        where = member[:1].lower() + member[1:]
        if value is None:
            if required:
                self.violations.append((None, where, "Member must not be null"))
            return []
        if not isinstance(value, list):
            raise ValidationException(f"Value at '{where}' must be a list.")
        if len(value) > high:
            self.violations.append((value, where, f"Member must have length less than or equal to {high}"))
        if len(value) < low:
            self.violations.append((value, where, f"Member must have length greater than or equal to {low}"))
        return value

    def check(self) -> None:
        if self.violations:
            raise ValidationException.of(self.violations)


def bus_name_of(value: str | None) -> str:
    """A bus name from an EventBusName member (a name or an event bus ARN); the default bus if none."""
    if not value:
        return DEFAULT_BUS
    return value.split(":event-bus/", 1)[1] if value.startswith("arn:") and ":event-bus/" in value else value


def no_rule(name: str, bus: str) -> EventsResourceNotFoundException:
    return EventsResourceNotFoundException(f"Rule {name} does not exist on EventBus {bus}.")


def no_bus(name: str) -> EventsResourceNotFoundException:
    return EventsResourceNotFoundException(f"Event bus {name} does not exist.")


class EventBridgeService:
    def __init__(
        self,
        store: EventStore,
        executor: Executor,
        region: str,
        account_id: str,
        clock: Clock,
        evaluation: Evaluation,
    ) -> None:
        self.store = store
        self.region = region
        self.account_id = account_id
        self.clock = clock
        self.evaluation = evaluation
        self._executor = executor
        self._listeners: list[Callable[[str, str | None], None]] = []

    def on_change(self, listener: Callable[[str, str | None], None]) -> None:
        """Call `listener(bus, rule)` on the event loop after every committed change (rule None: the whole bus)."""
        self._listeners.append(listener)

    def changed(self, bus: str, rule: str | None) -> None:
        for listener in self._listeners:
            listener(bus, rule)

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, lambda: fn(*args, **kwargs))

    # identifiers

    def bus_arn(self, bus: str) -> str:
        return f"arn:aws:events:{self.region}:{self.account_id}:event-bus/{bus}"

    def rule_arn(self, bus: str, name: str) -> str:
        path = name if bus == DEFAULT_BUS else f"{bus}/{name}"
        return f"arn:aws:events:{self.region}:{self.account_id}:rule/{path}"

    # event buses

    async def create_event_bus(self, params: Mapping[str, Any]) -> dict[str, Any]:
        members = Members(params)
        name = members.string("Name", required=True, low=1, high=256, pattern=BUS_NAME)
        description = members.string("Description", high=512)
        members.check()
        assert name is not None
        for unsupported in ("EventSourceName", "KmsKeyIdentifier", "LogConfig"):
            if params.get(unsupported) is not None:
                raise ValidationException(f"Firebox does not support {unsupported} on event buses.")
        if "/" in name:
            raise ValidationException("Event bus name must not contain '/'.")
        if name.startswith("aws."):
            raise ValidationException("Event bus name must not start with 'aws.'.")
        doc: dict[str, Any] = {}
        if description is not None:
            doc["Description"] = description
        for member in ("DeadLetterConfig", "Tags"):
            if params.get(member) is not None:
                doc[member] = params[member]
        if await self.run(self.store.count_event_buses) >= MAX_BUSES:
            raise LimitExceededException(LIMIT_EXCEEDED)
        if not await self.run(self.store.create_event_bus, name, doc, self.clock.now()):
            raise ResourceAlreadyExistsException(f"Event bus {name} already exists.")
        result: dict[str, Any] = {"EventBusArn": self.bus_arn(name)}
        for member in ("Description", "DeadLetterConfig"):
            if member in doc:
                result[member] = doc[member]
        return result

    async def describe_event_bus(self, params: Mapping[str, Any]) -> dict[str, Any]:
        members = Members(params)
        name = bus_name_of(members.string("Name", low=1, high=1600, pattern=BUS_NAME_OR_ARN))
        members.check()
        bus = await self.run(self.store.get_event_bus, name)
        if bus is None:
            raise no_bus(name)
        return self._bus_shape(bus)

    async def list_event_buses(self, params: Mapping[str, Any]) -> dict[str, Any]:
        members = Members(params)
        prefix = members.string("NamePrefix", low=1, high=256, pattern=BUS_NAME) or ""
        after = members.string("NextToken", low=1, high=2048)
        limit = members.integer("Limit", 1, MAX_LIST) or MAX_LIST
        members.check()
        buses = await self.run(self.store.list_event_buses, prefix, after, limit + 1)
        result: dict[str, Any] = {"EventBuses": [self._bus_shape(bus) for bus in buses[:limit]]}
        if len(buses) > limit:
            result["NextToken"] = buses[limit - 1]["Name"]
        return result

    async def delete_event_bus(self, params: Mapping[str, Any]) -> None:
        members = Members(params)
        name = members.string("Name", required=True, low=1, high=256, pattern=BUS_NAME)
        members.check()
        assert name is not None
        if name == DEFAULT_BUS:
            raise ValidationException("Cannot delete event bus default.")
        deleted = await self.run(self.store.delete_event_bus, name)
        if deleted is False:
            raise ValidationException("EventBus can't be deleted since it has rules.")
        if deleted:
            self.changed(name, None)

    def _bus_shape(self, bus: Mapping[str, Any]) -> dict[str, Any]:
        shape: dict[str, Any] = {"Name": bus["Name"], "Arn": self.bus_arn(bus["Name"])}
        for member in ("Description", "DeadLetterConfig"):
            if member in bus:
                shape[member] = bus[member]
        shape["CreationTime"] = bus["CreationTime"]
        shape["LastModifiedTime"] = bus["LastModifiedTime"]
        return shape

    # rules

    async def put_rule(self, params: Mapping[str, Any]) -> dict[str, Any]:
        members = Members(params)
        name = members.string("Name", required=True, low=1, high=64, pattern=RULE_NAME)
        schedule = members.string("ScheduleExpression", high=256)
        pattern = members.string("EventPattern", high=4096)
        state = members.string("State", enum=STATES) or "ENABLED"
        description = members.string("Description", high=512)
        role = members.string("RoleArn", low=1, high=1600)
        bus = bus_name_of(members.string("EventBusName", low=1, high=1600, pattern=BUS_NAME_OR_ARN))
        members.check()
        assert name is not None
        if not pattern and not schedule:
            raise ValidationException("Parameter(s) EventPattern or ScheduleExpression must be specified.")
        if schedule:
            if bus != DEFAULT_BUS:
                raise ValidationException("ScheduleExpression is supported only on the default event bus.")
            try:
                self.evaluation.check_schedule(schedule)
            except ValueError:
                raise ValidationException("Parameter ScheduleExpression is not valid.") from None
        if pattern:
            try:
                self.evaluation.check_pattern(pattern)
            except ValueError as exc:
                raise InvalidEventPatternException(str(exc)) from None
        doc: dict[str, Any] = {"Name": name, "Arn": self.rule_arn(bus, name)}
        for member, value in (
            ("EventPattern", pattern),
            ("ScheduleExpression", schedule),
            ("State", state),
            ("Description", description),
            ("RoleArn", role),
        ):
            if value:
                doc[member] = value
        doc["EventBusName"] = bus
        doc["CreatedBy"] = self.account_id
        if params.get("Tags"):
            doc["Tags"] = params["Tags"]
        stored = await self.run(self.store.put_event_rule, bus, name, doc, MAX_RULES_PER_BUS)
        if stored is None:
            raise no_bus(bus)
        if not stored:
            raise LimitExceededException(LIMIT_EXCEEDED)
        self.changed(bus, name)
        return {"RuleArn": doc["Arn"]}

    async def describe_rule(self, params: Mapping[str, Any]) -> dict[str, Any]:
        bus, name = self._rule_of(params)
        rule = await self._existing_rule(bus, name)
        return self.rule_shape(rule, with_creator=True)

    async def list_rules(self, params: Mapping[str, Any]) -> dict[str, Any]:
        members = Members(params)
        prefix = members.string("NamePrefix", low=1, high=64, pattern=RULE_NAME) or ""
        bus = bus_name_of(members.string("EventBusName", low=1, high=1600, pattern=BUS_NAME_OR_ARN))
        after = members.string("NextToken", low=1, high=2048)
        limit = members.integer("Limit", 1, MAX_LIST) or MAX_LIST
        members.check()
        if await self.run(self.store.get_event_bus, bus) is None:
            raise no_bus(bus)
        rules = await self.run(self.store.list_event_rules, bus, prefix, after, limit + 1)
        result: dict[str, Any] = {"Rules": [self.rule_shape(rule) for rule in rules[:limit]]}
        if len(rules) > limit:
            result["NextToken"] = rules[limit - 1]["Name"]
        return result

    async def enable_rule(self, params: Mapping[str, Any]) -> None:
        await self._set_state(params, "ENABLED")

    async def disable_rule(self, params: Mapping[str, Any]) -> None:
        await self._set_state(params, "DISABLED")

    async def _set_state(self, params: Mapping[str, Any], state: str) -> None:
        bus, name = self._rule_of(params)
        rule = await self._existing_rule(bus, name)
        if rule.get("State") != state:
            stored = await self.run(self.store.put_event_rule, bus, name, {**rule, "State": state}, MAX_RULES_PER_BUS)
            if not stored:
                raise no_rule(name, bus)
            self.changed(bus, name)

    async def delete_rule(self, params: Mapping[str, Any]) -> None:
        bus, name = self._rule_of(params)
        deleted = await self.run(self.store.delete_event_rule, bus, name)
        if deleted is False:
            raise ValidationException("Rule can't be deleted since it has targets.")
        if deleted:
            self.changed(bus, name)

    def _rule_of(self, params: Mapping[str, Any], member: str = "Name") -> tuple[str, str]:
        members = Members(params)
        name = members.string(member, required=True, low=1, high=64, pattern=RULE_NAME)
        bus = bus_name_of(members.string("EventBusName", low=1, high=1600, pattern=BUS_NAME_OR_ARN))
        members.check()
        assert name is not None
        return bus, name

    async def _existing_rule(self, bus: str, name: str) -> dict[str, Any]:
        rule = await self.run(self.store.get_event_rule, bus, name)
        if rule is None:
            if await self.run(self.store.get_event_bus, bus) is None:
                raise no_bus(bus)
            raise no_rule(name, bus)
        return rule

    def rule_shape(self, rule: Mapping[str, Any], with_creator: bool = False) -> dict[str, Any]:
        shape: dict[str, Any] = {"Name": rule["Name"], "Arn": rule["Arn"]}
        for member in _RULE_FIELDS:
            if member in rule:
                shape[member] = rule[member]
        shape["EventBusName"] = rule["EventBusName"]
        if with_creator:
            shape["CreatedBy"] = rule["CreatedBy"]
        return shape
