"""The schedule runner: every enabled EventBridge Scheduler schedule is a timer, and each tick invokes its Lambda
target asynchronously through the router.

At start the runner reads every schedule from the store and hands the enabled ones to the timer engine with the last
tick each fired, so a restart resumes them (a tick missed while the server was down fires once, if it is no older
than the target's MaximumEventAgeInSeconds). The control plane calls `changed(group, name)` after every write and
the runner reads that schedule again (in order, per schedule).

A schedule's timer:
- ticks of its expression in its time zone (`eventsources/schedule.py`); a rate counts from StartDate, or from the
  schedule's last change when it has none (AWS: "starts invoking immediately"); StartDate and EndDate bound it;
- FLEXIBLE time windows move each tick by a pseudo-random offset within MaximumWindowInMinutes, the same offset
  for the same schedule and tick on every run (so the engine's `last_fired` still says what is done).

A tick: the target's Input (context attributes such as `<aws.scheduler.scheduled-time>` filled in; `{}` without
one) → `Router.submit` (an Event invocation, source SCHEDULE; durable once it returns) → the tick stored as the
schedule's last fired. If the router refuses it:
- for a reason that will not pass (the function or qualifier does not exist, the payload is not JSON or too large)
  the dead-letter message goes at once to the target's DeadLetterConfig queue;
- otherwise (the function not yet active, a queue failure) it is tried again with a back-off doubling from 1 s to
  5 min (scaled by `async_retry_scale`) until MaximumRetryAttempts or MaximumEventAgeInSeconds runs out, then
  dead-lettered with EXHAUSTED_RETRY_CONDITION. These retries live in memory: a restart drops them.
Dead-letter messages are written to the `deliveries` outbox and sent by the async deliverer (retried until SQS takes
them), with Scheduler's attributes: ERROR_CODE, ERROR_MESSAGE, EXECUTION_ID, EXHAUSTED_RETRY_CONDITION,
IS_PAYLOAD_TRUNCATED, RETRY_ATTEMPTS, SCHEDULED_TIME, SCHEDULE_ARN, TARGET_ARN; the body is the payload.

A schedule with ActionAfterCompletion DELETE deletes itself once no tick is left (an at() schedule after it fired, a
recurring one past its EndDate), unless it was changed meanwhile.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from firebox.dataplane.router import Router
from firebox.errors import (
    FireboxError,
    InvalidParameterValueException,
    RequestEntityTooLargeException,
    ResourceNotFoundException,
    ValidationException,
)
from firebox.eventsources.timers import Timer, Timers
from firebox.expressions.schedule import RateSchedule, Schedule, parse
from firebox.models.asynchronous import Delivery
from firebox.models.invocation import InvocationSource, InvocationType, InvokeRequest
from firebox.store.base import AsyncStore, ScheduleStore

log = logging.getLogger("firebox.eventsources")

RETRY_FIRST = 1.0
RETRY_MAX = 300.0
MAX_JITTER_STEPS = 100_000
_FINAL = (
    ResourceNotFoundException,
    InvalidParameterValueException,
    ValidationException,
    RequestEntityTooLargeException,
)
"""Refusals a retry will not change."""


def schedule_key(group: str, name: str) -> str:
    return f"schedule:{group}/{name}"


@dataclass(frozen=True, slots=True)
class Failure:
    code: str
    message: str
    final: bool
    """True when trying again cannot help (no such function, a payload the router refuses)."""


@dataclass(frozen=True, slots=True)
class FlexibleSchedule(Schedule):
    """`base` with each tick moved later by a pseudo-random offset below `window` (seeded by `seed` and the tick)."""

    base: Schedule | None = None
    window: timedelta = timedelta(0)
    seed: str = ""

    def _offset(self, tick: datetime) -> timedelta:
        digest = hashlib.sha256(f"{self.seed}|{tick.timestamp()}".encode()).digest()
        fraction = int.from_bytes(digest[:8], "big") / 2**64
        return timedelta(microseconds=int(self.window / timedelta(microseconds=1) * fraction))

    def next_after(self, after: datetime) -> datetime | None:
        assert self.base is not None
        best: datetime | None = None
        tick = self.base.next_after(after - self.window)
        for _ in range(MAX_JITTER_STEPS):
            if tick is None or (best is not None and tick >= best):
                break
            moved = tick + self._offset(tick)
            if moved > after and (best is None or moved < best):
                best = moved
            tick = self.base.next_after(tick)
        return best


class ScheduleRunner:
    def __init__(
        self,
        store: ScheduleStore,
        deliveries: AsyncStore,
        executor: Executor,
        router: Router,
        retry_scale: float,
        wake_deliverer: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._deliveries = deliveries
        self._executor = executor
        self._router = router
        self._retry_scale = retry_scale
        self._wake_deliverer = wake_deliverer
        self._clock = clock
        self.timers = Timers(self._fire)
        self._docs: dict[str, dict[str, Any]] = {}
        """The definition of every enabled schedule, by timer key."""
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._pending: set[asyncio.Task[None]] = set()
        self._closed = False
        self.fired = 0
        self.dead_lettered = 0

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def start(self) -> None:
        """Load every stored schedule (the enabled ones become timers)."""
        for doc, last_fired in await self._run(self._store.all_schedules):
            await self._apply(doc["GroupName"], doc["Name"], (doc, last_fired))

    async def run_forever(self) -> None:
        await self.timers.run_forever()

    def changed(self, group: str, name: str) -> None:
        """A schedule was written or deleted: bring its timer in line (soon, in order with other changes to it)."""
        if not self._closed:
            self._spawn(self._reload(group, name), f"reload schedule {group}/{name}")

    async def close(self) -> None:
        self._closed = True
        for task in list(self._pending):
            task.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)

    def _spawn(self, work: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _reload(self, group: str, name: str) -> None:
        async with self._locks[schedule_key(group, name)]:
            await self._apply(group, name, await self._run(self._store.get_schedule, group, name))

    async def _apply(self, group: str, name: str, found: tuple[dict[str, Any], float | None] | None) -> None:
        key = schedule_key(group, name)
        if found is None or found[0]["State"] != "ENABLED":
            self.timers.remove(key)
            self._docs.pop(key, None)
            return
        doc, last_fired = found
        try:
            timer = _timer(key, doc, last_fired)
        except ValueError:
            log.exception("schedule %s cannot be evaluated", doc["Arn"])
            return
        self._docs[key] = doc
        self.timers.set(timer)
        if self.timers.next_tick(key) is None:
            await self._complete(key, doc)

    async def _complete(self, key: str, doc: Mapping[str, Any]) -> None:
        """No tick is left: a schedule with ActionAfterCompletion DELETE goes (unless it was changed meanwhile)."""
        if doc.get("ActionAfterCompletion") != "DELETE":
            return
        group, name = doc["GroupName"], doc["Name"]
        if await self._run(self._store.delete_schedule, group, name, doc["LastModificationDate"]):
            log.info("schedule %s completed and was deleted", doc["Arn"])
            if self._docs.get(key) is doc:
                self.timers.remove(key)
                self._docs.pop(key, None)

    async def _fire(self, timer: Timer, tick: float) -> None:
        doc = self._docs.get(timer.key)
        if doc is None:
            return
        execution_id = str(uuid.uuid4())
        failure = await self._submit(doc, tick, execution_id, 1)
        if failure is not None and failure.final:
            await self._dead_letter(doc, tick, execution_id, failure, 0, None)
        await self._run(self._store.set_schedule_fired, doc["GroupName"], doc["Name"], tick)
        self.fired += 1
        if failure is not None and not failure.final:
            self._spawn(self._retry(timer.key, doc, tick, execution_id, failure), f"retry {doc['Arn']}")
        following = timer.schedule.next_after(datetime.fromtimestamp(tick, UTC))
        if following is None or (timer.end is not None and following.timestamp() > timer.end):
            await self._complete(timer.key, doc)

    async def _submit(self, doc: Mapping[str, Any], tick: float, execution_id: str, attempt: int) -> Failure | None:
        """Queue one invocation of the schedule's target; None once it is durable, else why not."""
        target = doc["Target"]
        payload = _payload(doc, tick, execution_id, attempt)
        try:
            orjson.loads(payload)
        except orjson.JSONDecodeError:
            return Failure("InvalidRequestContentException", "Could not parse request body into json", True)
        try:
            ref = self._router.resolve(target["Arn"])
            request = InvokeRequest(
                ref,
                payload,
                str(uuid.uuid4()),
                invocation_type=InvocationType.EVENT,
                source=InvocationSource.SCHEDULE,
            )
            if len(payload) > self._router.payload_limit(InvocationType.EVENT):
                raise self._router.payload_too_large(len(payload), InvocationType.EVENT)
            await self._router.submit(request)
        except FireboxError as exc:
            return Failure(exc.code, exc.message, isinstance(exc, _FINAL))
        except Exception as exc:  # the queue's commit failed: nothing was accepted, try again
            log.warning("schedule %s: the invocation could not be queued: %r", doc["Arn"], exc)
            return Failure("InternalServerException", str(exc) or type(exc).__name__, False)
        return None

    async def _retry(self, key: str, doc: dict[str, Any], tick: float, execution_id: str, failure: Failure) -> None:
        policy = doc["Target"]["RetryPolicy"]
        attempts = 0
        condition: str | None = None
        while True:
            if attempts >= policy["MaximumRetryAttempts"]:
                condition = "MaximumRetryAttempts"
                break
            delay = min(RETRY_MAX, RETRY_FIRST * 2.0**attempts) * self._retry_scale
            if self._clock() + delay - tick > policy["MaximumEventAgeInSeconds"]:
                condition = "MaximumEventAgeInSeconds"
                break
            await asyncio.sleep(delay)
            if self._docs.get(key) is not doc:
                log.info("schedule %s changed: the retries of its tick of %s stop", doc["Arn"], _iso(tick))
                return
            attempts += 1
            next_failure = await self._submit(doc, tick, execution_id, attempts + 1)
            if next_failure is None:
                return
            failure = next_failure
            if failure.final:
                break
        await self._dead_letter(doc, tick, execution_id, failure, attempts, condition)

    async def _dead_letter(
        self,
        doc: Mapping[str, Any],
        tick: float,
        execution_id: str,
        failure: Failure,
        retries: int,
        condition: str | None,
    ) -> None:
        target = doc["Target"]
        log.warning(
            "schedule %s: its tick of %s could not invoke %s: %s: %s",
            doc["Arn"],
            _iso(tick),
            target["Arn"],
            failure.code,
            failure.message,
        )
        queue = target.get("DeadLetterConfig", {}).get("Arn")
        if not queue:
            return
        attributes = {
            "ERROR_CODE": failure.code,
            "ERROR_MESSAGE": failure.message,
            "EXECUTION_ID": execution_id,
            "IS_PAYLOAD_TRUNCATED": "false",
            "RETRY_ATTEMPTS": str(retries),
            "SCHEDULED_TIME": _iso(tick),
            "SCHEDULE_ARN": doc["Arn"],
            "TARGET_ARN": target["Arn"],
        }
        if condition is not None:
            attributes["EXHAUSTED_RETRY_CONDITION"] = condition
        body = _payload(doc, tick, execution_id, retries + 1)
        await self._run(self._deliveries.add_delivery, Delivery(queue, body, self._clock(), attributes=attributes))
        self.dead_lettered += 1
        self._wake_deliverer()


def _timer(key: str, doc: Mapping[str, Any], last_fired: float | None) -> Timer:
    schedule = parse(doc["ScheduleExpression"], doc["ScheduleExpressionTimezone"])
    start = doc.get("StartDate")
    if isinstance(schedule, RateSchedule):
        anchor = start if start is not None else doc["LastModificationDate"]
        schedule = schedule.anchored(datetime.fromtimestamp(anchor, UTC))
    window = doc["FlexibleTimeWindow"]
    if window["Mode"] == "FLEXIBLE":
        schedule = FlexibleSchedule(
            schedule.expression,
            schedule.timezone,
            base=schedule,
            window=timedelta(minutes=window["MaximumWindowInMinutes"]),
            seed=doc["Arn"],
        )
    return Timer(
        key,
        schedule,
        last_fired,
        window=float(doc["Target"]["RetryPolicy"]["MaximumEventAgeInSeconds"]),
        start=start if start is not None else doc["LastModificationDate"],
        end=doc.get("EndDate"),
    )


def _payload(doc: Mapping[str, Any], tick: float, execution_id: str, attempt: int) -> bytes:
    """The target's Input with Scheduler's context attributes filled in, or `{}` without one."""
    text = doc["Target"].get("Input")
    if text is None:
        return b"{}"
    for attribute, value in (
        ("<aws.scheduler.schedule-arn>", doc["Arn"]),
        ("<aws.scheduler.scheduled-time>", _iso(tick)),
        ("<aws.scheduler.execution-id>", execution_id),
        ("<aws.scheduler.attempt-number>", str(attempt)),
    ):
        text = text.replace(attribute, value)
    return str(text).encode()


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
