"""The durable timer engine: every EventBridge Scheduler schedule and every scheduled EventBridge rule is a `Timer`,
and one `Timers` fires them all.

    set(timer)      add or replace a timer (by key); its next tick is the first one after `last_fired`
    remove(key)     forget it (a fire in flight finishes, nothing more)
    run_forever()   one task: a heap of next ticks, asleep until the earliest (or a set/remove, or a second)

The owner keeps the durable state. `fire(timer, tick)` is awaited for each due tick; it makes the tick's effect
durable and stores `tick` as the owner's `last_fired` before it returns, so after a restart the owner hands back
timers whose `last_fired` says exactly which ticks are done (at least once: a crash between the effect and the
store fires that tick again). A fire that raises is logged and the same tick is tried again after a back-off
doubling from 1 s to 1 min; the engine's own copy of `last_fired` only moves on success.

Which tick is due, at any moment `now`:
- the first tick after `last_fired`; with no `last_fired`, the first at or after `start` (StartDate), else at or
  after the moment the timer was set; never one before `start` or after `end`;
- ticks older than `window` (seconds before `now`) are skipped, and of the ticks already due only the latest fires:
  a server that was down, or a clock that jumped forward, gives at most one catch-up fire per timer, never a storm;
- the loop sleeps at most `max_sleep` on the event loop's monotonic clock and then reads the wall clock again, so a
  wall-clock jump forward fires what it passed (within `window`) and a jump back fires nothing twice.

Each timer has at most one fire in flight; fires of different timers run concurrently, at most `concurrency` at once,
so a thousand timers due in the same minute each fire within moments of their tick.
"""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from firebox.expressions.schedule import Schedule

log = logging.getLogger("firebox.eventsources")

EPSILON = 1e-6
"""A microsecond: `next_after(t - EPSILON)` is the first tick at or after `t`."""
RETRY_FIRST = 1.0
RETRY_MAX = 60.0
MAX_CATCH_UP_STEPS = 100_000


@dataclass(frozen=True, slots=True)
class Timer:
    key: str
    """Unique: `schedule:<group>/<name>`, `rule:<bus>/<name>`."""
    schedule: Schedule
    last_fired: float | None
    """Epoch seconds of the last tick fired (durably), None if never."""
    window: float = 300.0
    """A tick missed while the server was down still fires (once) if it is at most this many seconds old."""
    start: float | None = None
    end: float | None = None
    """StartDate / EndDate bounds (epoch seconds)."""


Fire = Callable[[Timer, float], Awaitable[None]]


@dataclass(slots=True)
class _Entry:
    timer: Timer
    since: float
    """When it was set: where a timer with neither `last_fired` nor `start` counts its ticks from."""
    token: int = -1
    """The heap item that stands for it (older items are stale)."""
    running: bool = False
    failures: int = 0
    retry_at: float = 0.0


class Timers:
    def __init__(
        self,
        fire: Fire,
        *,
        concurrency: int = 256,
        max_sleep: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._fire = fire
        self._clock = clock
        self._max_sleep = max_sleep
        self._limit = asyncio.Semaphore(concurrency)
        self._entries: dict[str, _Entry] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._tokens = itertools.count()
        self._wake = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()

    def set(self, timer: Timer) -> None:
        """Add `timer`, or replace the one with its key (a fire in flight for that key is not repeated)."""
        old = self._entries.get(timer.key)
        entry = _Entry(timer, self._clock())
        if old is not None:
            entry.running = old.running
            known = old.timer.last_fired
            if known is not None and (timer.last_fired is None or known > timer.last_fired):
                entry.timer = dataclasses.replace(timer, last_fired=known)
        self._entries[timer.key] = entry
        self._plan(entry)

    def remove(self, key: str) -> None:
        if self._entries.pop(key, None) is not None:
            self._wake.set()

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def next_tick(self, key: str) -> float | None:
        """When the timer `key` fires next (epoch seconds), None if it is unknown or has no tick left."""
        entry = self._entries.get(key)
        return None if entry is None else self._due(entry, self._clock())

    async def run_forever(self) -> None:
        try:
            while True:
                self._wake.clear()
                now = self._clock()
                self._launch_due(now)
                delay = self._max_sleep
                if self._heap:
                    delay = max(0.0, min(delay, self._heap[0][0] - now))
                try:
                    await asyncio.wait_for(self._wake.wait(), delay)
                except TimeoutError:
                    pass
        finally:
            for task in list(self._running):
                task.cancel()
            await asyncio.gather(*self._running, return_exceptions=True)

    def _launch_due(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            _, token, key = heapq.heappop(self._heap)
            entry = self._entries.get(key)
            if entry is None or entry.token != token or entry.running:
                continue
            if entry.retry_at > now:
                self._push(entry, entry.retry_at)
                continue
            tick = self._due(entry, now)
            if tick is None:
                continue
            if tick > now:  # the wall clock went back since this was planned
                self._push(entry, tick)
                continue
            entry.running = True
            task = asyncio.get_running_loop().create_task(self._fire_one(entry.timer, tick), name=f"fire {key}")
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _fire_one(self, timer: Timer, tick: float) -> None:
        try:
            async with self._limit:
                await self._fire(timer, tick)
            succeeded = True
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("timer %s: firing its tick of %s failed; it is tried again", timer.key, _iso(tick))
            succeeded = False
        entry = self._entries.get(timer.key)
        if entry is None:
            return
        entry.running = False
        if succeeded:
            last = entry.timer.last_fired
            if last is None or tick > last:
                entry.timer = dataclasses.replace(entry.timer, last_fired=tick)
            entry.failures = 0
            entry.retry_at = 0.0
        else:
            entry.failures += 1
            entry.retry_at = self._clock() + min(RETRY_MAX, RETRY_FIRST * 2.0 ** (entry.failures - 1))
        self._plan(entry)

    def _plan(self, entry: _Entry) -> None:
        if entry.running:
            return
        tick = self._due(entry, self._clock())
        if tick is not None:
            self._push(entry, max(tick, entry.retry_at))

    def _push(self, entry: _Entry, when: float) -> None:
        entry.token = next(self._tokens)
        heapq.heappush(self._heap, (when, entry.token, entry.timer.key))
        self._wake.set()

    def _due(self, entry: _Entry, now: float) -> float | None:
        """The tick the timer fires next, by the rules in the module's docstring; None when none is left."""
        timer = entry.timer
        schedule = timer.schedule
        if timer.last_fired is not None:
            tick = _after(schedule, timer.last_fired)
        else:
            tick = _after(schedule, (timer.start if timer.start is not None else entry.since) - EPSILON)
        if tick is not None and timer.start is not None and tick < timer.start:
            tick = _after(schedule, timer.start - EPSILON)
        if tick is not None and tick < now - timer.window:
            tick = _after(schedule, now - timer.window - EPSILON)
        for _ in range(MAX_CATCH_UP_STEPS):
            if tick is None or tick > now:
                break
            following = _after(schedule, tick)
            if following is None or following > now or following <= tick:
                break
            tick = following
        if tick is None or (timer.end is not None and tick > timer.end):
            return None
        return tick


def _after(schedule: Schedule, moment: float) -> float | None:
    following = schedule.next_after(datetime.fromtimestamp(moment, UTC))
    return None if following is None else following.timestamp()


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat()
