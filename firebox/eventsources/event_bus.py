"""EventBridge's event buses at work: events matched against rules, delivered to the rules' targets, retried, and
dead-lettered; scheduled rules fired on their schedule.

    PutEvents entry ─► checked (Source, DetailType, Detail a JSON object; sizes) ─► the envelope EventBridge sends
      {"version": "0", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
    ─► every ENABLED rule of the bus whose EventPattern matches ─► each of its targets: the event, its Input,
       InputPath or InputTransformer (`event_input.py`) ─► Router.submit (an Event invocation, durable when it returns)
    PutEvents answers only once every delivery is durable: queued for the function, or written for a retry.

A delivery the router refuses is retried when it may succeed later (the function is still Pending: 409; throttled:
429) under the target's RetryPolicy (185 attempts and 24 hours by default, exponential backoff with jitter, scaled by
`retry_scale`), from the `event_retries` table so a restart loses none. A function that does not exist is not
retried, as on AWS. What cannot be delivered goes to the target's DeadLetterConfig queue (SQS, through the async
outbox: the Deliverer sends it) with EventBridge's attributes RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE,
RETRY_ATTEMPTS and EXHAUSTED_RETRY_CONDITION, or is dropped and logged when there is none.

Scheduled rules (`rate(...)`, `cron(...)`, default bus) each have a timer (`timers.py`, key `rule:<bus>/<name>`):
at a tick the rule's targets get {"detail-type": "Scheduled Event", "source": "aws.events", "resources": [rule ARN],
"detail": {}} with the tick as its time, and the tick is stored as the rule's last firing.

Rules and targets are read from the store once per bus and kept, compiled, until the control plane reports a
change (`changed`). This object is also the control plane's `Evaluation` (patterns, schedules, JSON paths and
templates are checked by the engines that run them) and the async invocations' publisher for EventBridge
destinations (`publish`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Collection, Coroutine, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

from firebox.dataplane.router import Router
from firebox.errors import (
    FireboxError,
    InvalidEventPatternException,
    RequestEntityTooLargeException,
    ResourceConflictException,
    ResourceNotFoundException,
    TooManyRequestsException,
    ValidationException,
)
from firebox.eventsources.event_input import PREDEFINED, parse_path, placeholders, render_input
from firebox.eventsources.timers import Timer, Timers
from firebox.expressions import patterns, schedule
from firebox.models.asynchronous import Delivery
from firebox.models.invocation import InvocationSource, InvocationType, InvokeRequest
from firebox.store.base import AsyncStore, EventRetry, EventStore

P = ParamSpec("P")
T = TypeVar("T")
log = logging.getLogger("firebox.eventsources")

DEFAULT_BUS = "default"
MAX_REQUEST_BYTES = 262_144
"""PutEvents' limit on the entries of one request, counted as EventBridge counts them."""
DEFAULT_RETRY_ATTEMPTS = 185
DEFAULT_EVENT_AGE = 86_400
MAX_BACKOFF_SECONDS = 300.0
LEASE_SECONDS = 60.0
RETRY_BATCH = 32
IDLE_POLL_SECONDS = 1.0
SCHEDULED_EVENT = "Scheduled Event"
_ALL_RULES = 10_000


@dataclass(frozen=True, slots=True)
class _Rule:
    bus: str
    name: str
    arn: str
    enabled: bool
    pattern: patterns.EventPattern | None
    schedule: str | None
    targets: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class _Failure:
    code: str
    """EventBridge's DLQ ERROR_CODE (NO_RESOURCE, THROTTLING, ...)."""
    message: str
    retriable: bool


class EventBridge:
    def __init__(
        self,
        store: EventStore,
        outbox: AsyncStore,
        executor: Executor,
        router: Router,
        region: str,
        account_id: str,
        retry_scale: float = 1.0,
        on_dead_letter: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._outbox = outbox
        self._executor = executor
        self._router = router
        self.region = region
        self.account_id = account_id
        self.retry_scale = retry_scale
        self._on_dead_letter = on_dead_letter
        self._rules: dict[str, list[_Rule]] = {}
        self._generations: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._scheduled: dict[str, str] = {}
        """The expression each timer was set with, by timer key."""
        self._wake = asyncio.Event()
        self.timers = Timers(self._fire)

    async def _run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, lambda: fn(*args, **kwargs))

    # the control plane's Evaluation

    def check_pattern(self, pattern: str) -> None:
        patterns.compile_pattern(pattern)

    def check_schedule(self, expression: str) -> None:
        if not expression.startswith(("rate(", "cron(")):
            raise schedule.InvalidSchedule(f"{expression!r}: rules take rate(...) or cron(...) expressions")
        schedule.parse(expression)

    def check_input_path(self, path: str) -> None:
        parse_path(path)

    def unknown_placeholders(self, template: str, variables: Collection[str]) -> list[str]:
        return [name for name in placeholders(template) if name not in variables and name not in PREDEFINED]

    # the API

    def test_event_pattern(self, pattern: str, event: str) -> bool:
        try:
            return patterns.test_event_pattern(pattern, event)
        except patterns.InvalidEventPattern as exc:
            raise InvalidEventPatternException(str(exc)) from None
        except ValueError as exc:
            raise ValidationException(str(exc)) from None

    async def put_events(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        """PutEvents' answer, given once every delivery of every accepted entry is durable."""
        if sum(_entry_size(entry) for entry in entries) > MAX_REQUEST_BYTES:
            raise ValidationException("Total size of the entries in the request is over the limit.")
        now = time.time()
        results: list[dict[str, Any]] = []
        routed = []
        for entry in entries:
            problem = _entry_problem(entry)
            if problem is not None:
                results.append({"ErrorCode": problem[0], "ErrorMessage": problem[1]})
                continue
            event = self._envelope(
                entry["Source"],
                entry["DetailType"],
                json.loads(entry["Detail"]),
                list(entry.get("Resources") or []),
                _event_time(entry.get("Time"), now),
            )
            results.append({"EventId": event["id"]})
            routed.append(self._route(bus_name_of(entry.get("EventBusName")), event, now, entry.get("TraceHeader")))
        await asyncio.gather(*routed)
        return {"FailedEntryCount": sum("ErrorCode" in result for result in results), "Entries": results}

    async def publish(
        self, bus_arn: str, source: str, detail_type: str, detail: Mapping[str, Any], resources: list[str]
    ) -> None:
        """Put one event on the bus `bus_arn` names (an EventBridge destination); returns once its deliveries are
        durable. A bus that does not exist takes the event and drops it, as on AWS."""
        now = time.time()
        event = self._envelope(source, detail_type, dict(detail), resources, _iso(now))
        await self._route(bus_name_of(bus_arn), event, now, None)

    def _envelope(
        self, source: str, detail_type: str, detail: dict[str, Any], resources: list[str], when: str
    ) -> dict[str, Any]:
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": source,
            "account": self.account_id,
            "time": when,
            "region": self.region,
            "resources": resources,
            "detail": detail,
        }

    # matching and delivery

    async def _route(self, bus: str, event: dict[str, Any], ingested: float, trace: str | None) -> None:
        deliveries: list[Coroutine[Any, Any, None]] = []
        for rule in await self._rules_of(bus):
            if rule.enabled and rule.pattern is not None and rule.pattern.matches(event):
                deliveries.extend(self._deliver(rule, target, event, ingested, trace) for target in rule.targets)
        if deliveries:
            await asyncio.gather(*deliveries)
        else:
            log.debug("event %s on bus %s matched no rule", event["id"], bus)

    async def _deliver(
        self, rule: _Rule, target: dict[str, Any], event: dict[str, Any], ingested: float, trace: str | None
    ) -> None:
        payload = render_input(target, event, rule.arn, rule.name, _iso(ingested))
        failure = await self._submit(target, payload, trace)
        if failure is None:
            return
        retry = EventRetry(None, rule.arn, target, event, payload, 0, ingested, 0.0, failure.message)
        if failure.retriable and _max_attempts(target) > 0:
            log.info("event %s for %s will be tried again: %s", event["id"], target["Arn"], failure.message)
            await self._run(self._store.add_event_retry, retry._replace(not_before=self._backoff(0)))
            self._wake.set()
        else:
            await self._dead_letter(retry, failure, "MaximumRetryAttempts" if failure.retriable else None)

    async def _submit(self, target: Mapping[str, Any], payload: bytes, trace: str | None) -> _Failure | None:
        try:
            await self._router.submit(
                InvokeRequest(
                    self._router.resolve(target["Arn"]),
                    payload,
                    str(uuid.uuid4()),
                    invocation_type=InvocationType.EVENT,
                    source=InvocationSource.SCHEDULE,
                    trace_id=trace,
                )
            )
        except ResourceNotFoundException as exc:
            return _Failure("NO_RESOURCE", exc.message, retriable=False)
        except ResourceConflictException as exc:
            return _Failure("RESOURCE_MODIFICATION_COLLISION", exc.message, retriable=True)
        except TooManyRequestsException as exc:
            return _Failure("THROTTLING", exc.message, retriable=True)
        except RequestEntityTooLargeException as exc:
            return _Failure("INVALID_PARAMETER", exc.message, retriable=False)
        except FireboxError as exc:  # the target's ARN names no function Firebox can invoke
            return _Failure("INVALID_PARAMETER", exc.message, retriable=False)
        return None

    def _backoff(self, attempts: int) -> float:
        delay = min(MAX_BACKOFF_SECONDS, 2.0**attempts) * random.uniform(0.5, 1.0)
        return time.time() + delay * self.retry_scale

    async def _dead_letter(self, retry: EventRetry, failure: _Failure, exhausted: str | None) -> None:
        queue = (retry.target.get("DeadLetterConfig") or {}).get("Arn")
        if not queue:
            log.warning(
                "event %s for %s dropped (%s: %s); the target has no dead-letter queue",
                retry.event.get("id"),
                retry.target["Arn"],
                failure.code,
                failure.message,
            )
            return
        attributes = {
            "RULE_ARN": retry.rule_arn,
            "TARGET_ARN": retry.target["Arn"],
            "ERROR_CODE": failure.code,
            "ERROR_MESSAGE": failure.message or failure.code,
            "RETRY_ATTEMPTS": str(retry.attempts),
        }
        if exhausted is not None:
            attributes["EXHAUSTED_RETRY_CONDITION"] = exhausted
        body = json.dumps(retry.event, separators=(",", ":")).encode()
        await self._run(self._outbox.add_delivery, Delivery(queue, body, time.time(), attributes=attributes))
        self._on_dead_letter()

    async def _retry_forever(self) -> None:
        released = await self._run(self._store.release_event_retry_leases)
        if released:
            log.info("%d EventBridge deliveries left running by the previous server will be tried again", released)
        while True:
            now = time.time()
            due = await self._run(self._store.lease_event_retries, now, now + LEASE_SECONDS, RETRY_BATCH)
            await asyncio.gather(*(self._retry(retry) for retry in due))
            if len(due) == RETRY_BATCH:
                continue
            next_due = await self._run(self._store.next_event_retry_due)
            wait = IDLE_POLL_SECONDS if next_due is None else min(IDLE_POLL_SECONDS, max(0.0, next_due - time.time()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()

    async def _retry(self, retry: EventRetry) -> None:
        assert retry.id is not None
        try:
            failure = await self._submit(retry.target, retry.payload, None)
            attempts = retry.attempts + 1
            tried = retry._replace(attempts=attempts)
            next_at = self._backoff(attempts)
            if failure is None:
                pass
            elif not failure.retriable:
                await self._dead_letter(tried, failure, None)
            elif attempts >= _max_attempts(retry.target):
                await self._dead_letter(tried, failure, "MaximumRetryAttempts")
            elif next_at - retry.first_at > _max_age(retry.target):
                await self._dead_letter(tried, failure, "MaximumEventAgeInSeconds")
            else:
                await self._run(self._store.retry_event_later, retry.id, next_at, attempts, failure.message)
                return
        except Exception:  # a platform failure: the lease runs out and the delivery is tried again
            log.exception("retrying EventBridge delivery %s failed", retry.id)
            return
        await self._run(self._store.finish_event_retry, retry.id)

    # rules, cached per bus

    def changed(self, bus: str, rule: str | None) -> None:
        """The control plane committed a change to `rule` of `bus` (None: the whole bus)."""
        self._generations[bus] = self._generations.get(bus, 0) + 1
        self._rules.pop(bus, None)
        if rule is not None and bus == DEFAULT_BUS:
            self._spawn(self._refresh_timer(bus, rule))

    async def _rules_of(self, bus: str) -> list[_Rule]:
        cached = self._rules.get(bus)
        if cached is not None:
            return cached
        generation = self._generations.get(bus, 0)
        docs = await self._run(self._store.list_event_rules, bus, "", None, _ALL_RULES)
        targets = await self._run(self._store.event_targets_of_bus, bus)
        rules = [rule for doc in docs if (rule := _compiled(bus, doc, targets.get(doc["Name"], []))) is not None]
        if self._generations.get(bus, 0) == generation:
            self._rules[bus] = rules
        return rules

    # scheduled rules

    async def run_forever(self) -> None:
        """Set the timers of the scheduled rules, then fire them and retry deliveries until cancelled."""
        for bus, doc in await self._run(self._store.all_event_rules):
            if doc.get("ScheduleExpression"):
                await self._refresh_timer(bus, doc["Name"])
        await asyncio.gather(self.timers.run_forever(), self._retry_forever())

    async def _refresh_timer(self, bus: str, name: str) -> None:
        key = f"rule:{bus}/{name}"
        doc = await self._run(self._store.get_event_rule, bus, name)
        expression = doc.get("ScheduleExpression") if doc is not None and doc.get("State") != "DISABLED" else None
        if doc is None or expression is None:
            self._scheduled.pop(key, None)
            self.timers.remove(key)
            return
        if self._scheduled.get(key) == expression and key in self.timers:
            return  # a change to its targets or description: the timer runs on as it was
        try:
            parsed = schedule.parse(expression)
        except schedule.InvalidSchedule:
            log.error("rule %s has a schedule that no longer parses: %s", doc["Arn"], expression)
            self.timers.remove(key)
            return
        last_fired = await self._run(self._store.get_event_timer, key)
        self._scheduled[key] = expression
        self.timers.set(Timer(key, parsed, last_fired))

    async def _fire(self, timer: Timer, tick: float) -> None:
        bus, _, name = timer.key.removeprefix("rule:").partition("/")
        rule = next((r for r in await self._rules_of(bus) if r.name == name), None)
        if rule is not None and rule.enabled and rule.schedule:
            event = self._envelope("aws.events", SCHEDULED_EVENT, {}, [rule.arn], _iso(tick))
            await asyncio.gather(*(self._deliver(rule, target, event, tick, None) for target in rule.targets))
        await self._run(self._store.set_event_timer, timer.key, tick)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("updating a scheduled rule's timer failed", exc_info=task.exception())

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def bus_name_of(value: str | None) -> str:
    """A bus name from an EventBusName member or a bus ARN; the default bus if none."""
    if not value:
        return DEFAULT_BUS
    return value.split(":event-bus/", 1)[1] if value.startswith("arn:") and ":event-bus/" in value else value


def _compiled(bus: str, doc: Mapping[str, Any], targets: list[dict[str, Any]]) -> _Rule | None:
    pattern = None
    if doc.get("EventPattern"):
        try:
            pattern = patterns.compile_pattern(doc["EventPattern"])
        except patterns.InvalidEventPattern:
            log.error("rule %s has a pattern that no longer compiles; it matches nothing", doc["Arn"])
            return None
    return _Rule(
        bus,
        doc["Name"],
        doc["Arn"],
        doc.get("State", "ENABLED") != "DISABLED",
        pattern,
        doc.get("ScheduleExpression"),
        tuple(targets),
    )


def _max_attempts(target: Mapping[str, Any]) -> int:
    value = (target.get("RetryPolicy") or {}).get("MaximumRetryAttempts")
    return DEFAULT_RETRY_ATTEMPTS if value is None else int(value)


def _max_age(target: Mapping[str, Any]) -> int:
    value = (target.get("RetryPolicy") or {}).get("MaximumEventAgeInSeconds")
    return DEFAULT_EVENT_AGE if value is None else int(value)


def _entry_problem(entry: Mapping[str, Any]) -> tuple[str, str] | None:
    """(ErrorCode, ErrorMessage) for an entry PutEvents refuses, as EventBridge reports it; None if it is taken."""
    for member in ("Source", "DetailType", "Detail"):
        if not entry.get(member):
            return "InvalidArgument", f"Parameter {member} is not valid. Reason: {member} is a required argument."
    if str(entry["Source"]).startswith("aws."):
        return "NotAuthorizedForSourceException", "Not authorized for the source."
    try:
        detail = json.loads(entry["Detail"])
    except (TypeError, ValueError):
        detail = None
    if not isinstance(detail, dict):
        return "MalformedDetail", "Detail is malformed."
    return None


def _entry_size(entry: Mapping[str, Any]) -> int:
    """An entry's size as EventBridge calculates it: 14 bytes for a Time, then the UTF-8 bytes of Source,
    DetailType, Detail and every Resource."""
    size = 14 if entry.get("Time") is not None else 0
    for member in ("Source", "DetailType", "Detail"):
        size += len(str(entry.get(member) or "").encode())
    size += sum(len(str(resource).encode()) for resource in entry.get("Resources") or [])
    return size


def _event_time(value: Any, now: float) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _iso(float(value))
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return _iso(float(value))
        with contextlib.suppress(ValueError):
            return _iso(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    if isinstance(value, datetime):
        return _iso(value.timestamp())
    return _iso(now)


def _iso(epoch: float) -> str:
    """`2026-12-04T21:29:54Z`, as EventBridge writes an event's time."""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
