"""The timer engine: due ticks fire once each, missed ticks catch up at most once within their window, failures are
retried, and wall-clock jumps neither lose nor repeat ticks. Real schedules close to now; no asserted durations."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import pytest

from firebox.eventsources.timers import Timer, Timers
from firebox.expressions.schedule import parse

Fired = list[tuple[str, float]]


def _rate(minutes: int, first_tick: float) -> Any:
    """A rate schedule whose ticks fall at `first_tick + k·period` (k may be negative)."""
    period = minutes * 60
    anchor = first_tick - 1000 * period
    unit = "minute" if minutes == 1 else "minutes"
    return parse(f"rate({minutes} {unit})").anchored(datetime.fromtimestamp(anchor, UTC))


def _at(moment: float) -> Any:
    whole = datetime.fromtimestamp(moment, UTC).replace(microsecond=0)
    return parse(f"at({whole.strftime('%Y-%m-%dT%H:%M:%S')})")


def _recorder(fired: Fired, *, delay: float = 0.0) -> Callable[[Timer, float], Coroutine[Any, Any, None]]:
    async def fire(timer: Timer, tick: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        fired.append((timer.key, tick))

    return fire


async def _until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        await asyncio.sleep(0.01)


def _run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


async def _with_engine(timers: Timers, body: Callable[[], Awaitable[None]]) -> None:
    task = asyncio.create_task(timers.run_forever())
    try:
        await body()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_a_due_tick_fires_once() -> None:
    async def scenario() -> None:
        fired: Fired = []
        timers = Timers(_recorder(fired))
        tick = time.time() + 0.3
        timers.set(Timer("rule:default/r", _rate(1, tick), None))

        async def body() -> None:
            await _until(lambda: len(fired) == 1)
            await asyncio.sleep(0.2)
            assert fired == [("rule:default/r", pytest.approx(tick))]
            assert timers.next_tick("rule:default/r") == pytest.approx(tick + 60)

        await _with_engine(timers, body)

    _run(scenario)


def test_an_at_schedule_fires_once_and_is_done() -> None:
    async def scenario() -> None:
        fired: Fired = []
        timers = Timers(_recorder(fired))
        moment = float(int(time.time()) + 1)
        timers.set(Timer("schedule:default/once", _at(moment), None))

        async def body() -> None:
            await _until(lambda: len(fired) == 1)
            assert fired == [("schedule:default/once", moment)]
            assert timers.next_tick("schedule:default/once") is None

        await _with_engine(timers, body)

    _run(scenario)


def test_after_a_restart_missed_ticks_fire_once_within_their_window() -> None:
    async def scenario() -> None:
        fired: Fired = []
        timers = Timers(_recorder(fired))
        now = time.time()
        # ticks at now-150, now-90, now-30 were missed; the last one fired was now-210
        schedule = _rate(1, now + 30)
        timers.set(Timer("a", schedule, last_fired=now - 210, window=300))
        timers.set(Timer("b", schedule, last_fired=now - 210, window=60))
        timers.set(Timer("c", schedule, last_fired=now - 210, window=10))

        async def body() -> None:
            await _until(lambda: len(fired) == 2)
            await asyncio.sleep(0.2)
            assert sorted(fired) == [("a", pytest.approx(now - 30)), ("b", pytest.approx(now - 30))]
            for key in "abc":
                assert timers.next_tick(key) == pytest.approx(now + 30)

        await _with_engine(timers, body)

    _run(scenario)


def test_a_timer_never_fired_counts_from_when_it_was_set_or_its_start() -> None:
    async def scenario() -> None:
        fired: Fired = []
        timers = Timers(_recorder(fired))
        now = time.time()
        timers.set(Timer("fresh", _rate(1, now - 1), None))  # a tick a second ago: before the timer existed
        timers.set(Timer("started", _rate(1, now - 1), None, start=now - 5))  # after its StartDate: catches up
        timers.set(Timer("later", _rate(1, now + 0.2), None, start=now + 3600))

        async def body() -> None:
            await _until(lambda: len(fired) == 1)
            await asyncio.sleep(0.4)
            assert fired == [("started", pytest.approx(now - 1))]
            assert timers.next_tick("fresh") == pytest.approx(now + 59)
            assert timers.next_tick("later") == pytest.approx(now + 0.2 + 60 * 60)

        await _with_engine(timers, body)

    _run(scenario)


def test_the_end_bound_stops_a_timer() -> None:
    now = time.time()
    timers = Timers(_recorder([]))
    timers.set(Timer("ended", _rate(1, now + 30), None, end=now + 10))
    timers.set(Timer("open", _rate(1, now + 30), None, end=now + 40))
    assert timers.next_tick("ended") is None
    assert timers.next_tick("open") == pytest.approx(now + 30)


def test_a_failed_fire_is_tried_again_for_the_same_tick() -> None:
    async def scenario() -> None:
        attempts: list[float] = []

        async def flaky(timer: Timer, tick: float) -> None:
            attempts.append(tick)
            if len(attempts) == 1:
                raise OSError("the store is away")

        timers = Timers(flaky)
        tick = time.time() + 0.1
        timers.set(Timer("flaky", _rate(1, tick), None))

        async def body() -> None:
            await _until(lambda: len(attempts) == 2)
            assert attempts == [pytest.approx(tick), pytest.approx(tick)]
            await _until(lambda: timers.next_tick("flaky") == pytest.approx(tick + 60))

        await _with_engine(timers, body)

    _run(scenario)


def test_remove_and_replace() -> None:
    async def scenario() -> None:
        fired: Fired = []
        timers = Timers(_recorder(fired))
        now = time.time()
        timers.set(Timer("gone", _rate(1, now + 0.3), None))
        timers.set(Timer("moved", _rate(1, now + 0.3), None))
        timers.remove("gone")
        timers.set(Timer("moved", _rate(1, now + 0.5), None))
        timers.remove("never-there")

        async def body() -> None:
            await _until(lambda: len(fired) == 1)
            await asyncio.sleep(0.3)
            assert fired == [("moved", pytest.approx(now + 0.5))]
            assert "gone" not in timers and "moved" in timers

        await _with_engine(timers, body)

    _run(scenario)


def test_a_thousand_timers_due_together_each_fire_once_with_bounded_concurrency() -> None:
    async def scenario() -> None:
        fired: Fired = []
        active = 0
        most = 0

        async def fire(timer: Timer, tick: float) -> None:
            nonlocal active, most
            active += 1
            most = max(most, active)
            await asyncio.sleep(0.005)
            active -= 1
            fired.append((timer.key, tick))

        timers = Timers(fire, concurrency=50)
        moment = float(int(time.time()) + 1)
        for index in range(1000):
            timers.set(Timer(f"schedule:default/s{index}", _at(moment), None))

        async def body() -> None:
            await _until(lambda: len(fired) == 1000)
            assert {key for key, _ in fired} == {f"schedule:default/s{index}" for index in range(1000)}
            assert {tick for _, tick in fired} == {moment}
            assert 1 < most <= 50

        await _with_engine(timers, body)

    _run(scenario)


class _Clock:
    """The wall clock, plus a jump the test sets."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def test_wall_clock_jumps_neither_lose_nor_repeat_ticks() -> None:
    async def scenario() -> None:
        fired: Fired = []
        clock = _Clock()
        timers = Timers(_recorder(fired), clock=clock, max_sleep=0.05)
        now = time.time()
        timers.set(Timer("hourly", _rate(60, now + 1800), None, window=300))

        async def body() -> None:
            await asyncio.sleep(0.1)
            assert fired == []
            clock.offset = 1801.0  # forward, past the tick: it still fires, once
            await _until(lambda: len(fired) == 1)
            assert fired == [("hourly", pytest.approx(now + 1800))]
            clock.offset = -7200.0  # back, to before the tick: nothing fires again
            await asyncio.sleep(0.3)
            assert len(fired) == 1
            clock.offset = 1801.0 + 3600  # forward over the next tick too
            await _until(lambda: len(fired) == 2)
            assert fired[1] == ("hourly", pytest.approx(now + 1800 + 3600))

        await _with_engine(timers, body)

    _run(scenario)


def test_one_fire_in_flight_per_timer() -> None:
    async def scenario() -> None:
        release = asyncio.Event()
        started: list[float] = []
        clock = _Clock()

        async def slow(timer: Timer, tick: float) -> None:
            started.append(tick)
            await release.wait()

        timers = Timers(slow, clock=clock, max_sleep=0.05)
        now = time.time()
        timers.set(Timer("slow", _rate(1, now + 0.1), None, window=600))

        async def body() -> None:
            await _until(lambda: len(started) == 1)
            clock.offset = 300.0  # five more ticks pass while the first is still firing
            await asyncio.sleep(0.3)
            assert len(started) == 1
            release.set()
            await _until(lambda: len(started) == 2)
            await asyncio.sleep(0.2)
            assert started == [pytest.approx(now + 0.1), pytest.approx(now + 0.1 + 300)]

        await _with_engine(timers, body)

    _run(scenario)
