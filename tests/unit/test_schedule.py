"""Schedule expressions: what AWS accepts and refuses, known next-fire times (time zones and daylight saving time
included), and property tests against pyawscron (a dev-only oracle for UTC cron evaluation)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyawscron import AWSCron

from firebox.expressions.schedule import InvalidSchedule, parse

NEW_YORK = ZoneInfo("America/New_York")


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _ticks(expression: str, start: str, count: int, timezone: str = "UTC") -> list[str]:
    schedule = parse(expression, timezone)
    zone = UTC if timezone == "UTC" else ZoneInfo(timezone)
    moment: datetime | None = _utc(start)
    out = []
    for _ in range(count):
        assert moment is not None
        moment = schedule.next_after(moment)
        if moment is None:
            break
        out.append(moment.astimezone(zone).isoformat())
    return out


# AWS's own verdicts (recorded against AWS by LocalStack's snapshot tests) and the documented examples.
VALID = [
    "cron(0-15/1 8-8 ? * 2,3,4,5,6,7 *)",
    "cron(30-30 13-13 ? * 2,4,6 *)",
    "cron(1-31/30 1-1 ? * 1,7 *)",
    "cron(0 18 ? * MON-FRI *)",
    "cron(*/15 * * * ? *)",
    "cron(0-59/10 0-23/2 ? * * *)",
    "cron(0 10 * * ? *)",
    "cron(15 12 * * ? *)",
    "cron(0 8 1 * ? *)",
    "cron(0/5 8-17 ? * MON-FRI *)",
    "cron(0 9 ? * 2#1 *)",
    "cron(0 0 L * ? *)",
    "cron(0 0 LW * ? *)",
    "cron(0 0 15W * ? *)",
    "cron(0 0 ? * 6L *)",
    "cron(0 0 ? * FRIL *)",
    "cron(0 0 ? * L *)",
    "cron(0 0 L-2 * ? *)",
    "cron(0 0 1 JAN,jul ? 2030-2040)",
    "cron(0 22-2 ? * FRI-MON *)",
    "at(2022-12-31T23:59:59)",
    "rate(1 minute)",
    "rate(5 minutes)",
    "rate(1 hour)",
    "rate(12 hours)",
    "rate(1 day)",
    "rate(7 days)",
]
INVALID = [
    "cron(0 1 * * * *)",
    "cron(7 20 * * NOT *)",
    "cron(INVALID)",
    "cron(0 dummy ? * MON-FRI *)",
    "cron(71 8 1 * ? *)",
    "cron()",
    "rate(10 seconds)",
    "rate(10 years)",
    "rate()",
    "rate(10)",
    "rate(10 minutess)",
    "rate(foo minutes)",
    "rate(-10 minutes)",
    "rate( 10 minutes )",
    " rate(10 minutes)",
    "at(2021-12-31T23:59:59Z)",
    "at(2021-12-31)",
    "rate(1 minutes)",
    "rate(5 minute)",
    "rate(0 minutes)",
    "cron(0 0 ? * ? *)",
    "cron(0 0 1 * ? 1969)",
    "cron(0 0 1 * ? 2200)",
    "cron(0 0 1 * ? 2030-2020)",
    "cron(0 24 * * ? *)",
    "cron(0 0 32 * ? *)",
    "cron(0 0 0 * ? *)",
    "cron(0 0 1 13 ? *)",
    "cron(0 0 ? * 8 *)",
    "cron(0 0 ? * 0 *)",
    "cron(0 0 ? * 2#6 *)",
    "cron(0/0 * * * ? *)",
    "cron(0  0 * * ? *)",
    "cron(0 0 * * ?)",
    "cron(0 0 * * ? * *)",
    "cron(0 0 L,15 * ? *)",
    "at(2024-02-30T00:00:00)",
    "at(2024-01-01T24:00:00)",
    "every(5 minutes)",
    "",
]


@pytest.mark.parametrize("expression", VALID)
def test_aws_accepts(expression: str) -> None:
    assert parse(expression).expression == expression


@pytest.mark.parametrize("expression", INVALID)
def test_aws_refuses(expression: str) -> None:
    with pytest.raises(InvalidSchedule) as caught:
        parse(expression)
    assert str(caught.value)


def test_reasons_are_precise() -> None:
    with pytest.raises(InvalidSchedule, match="minutes: 71 is out of range 0-59"):
        parse("cron(71 8 1 * ? *)")
    with pytest.raises(InvalidSchedule, match="exactly one of day-of-month and day-of-week must be"):
        parse("cron(0 1 * * * *)")
    with pytest.raises(InvalidSchedule, match="with the value 1 the unit is written 'minute'"):
        parse("rate(1 minutes)")
    with pytest.raises(InvalidSchedule, match="is not a time zone"):
        parse("rate(1 minute)", "Mars/Olympus_Mons")


@pytest.mark.parametrize(
    ("expression", "start", "expected"),
    [
        ("cron(0 10 * * ? *)", "2024-05-01T10:00:00+00:00", ["2024-05-02T10:00:00+00:00", "2024-05-03T10:00:00+00:00"]),
        ("cron(0 10 * * ? *)", "2024-05-01T09:59:59+00:00", ["2024-05-01T10:00:00+00:00"]),
        (
            "cron(0 18 ? * MON-FRI *)",
            "2024-05-03T18:00:00+00:00",  # a Friday
            ["2024-05-06T18:00:00+00:00", "2024-05-07T18:00:00+00:00"],
        ),
        (
            "cron(0/15 * * * ? *)",
            "2024-05-01T10:07:00+00:00",
            ["2024-05-01T10:15:00+00:00", "2024-05-01T10:30:00+00:00"],
        ),
        (
            "cron(0 9 ? * 2#1 *)",
            "2024-05-01T00:00:00+00:00",
            ["2024-05-06T09:00:00+00:00", "2024-06-03T09:00:00+00:00"],
        ),
        ("cron(0 0 L * ? *)", "2024-02-01T00:00:00+00:00", ["2024-02-29T00:00:00+00:00", "2024-03-31T00:00:00+00:00"]),
        (
            "cron(0 0 L-2 * ? *)",
            "2023-02-01T00:00:00+00:00",
            ["2023-02-26T00:00:00+00:00", "2023-03-29T00:00:00+00:00"],
        ),
        ("cron(0 0 LW * ? *)", "2024-03-01T00:00:00+00:00", ["2024-03-29T00:00:00+00:00", "2024-04-30T00:00:00+00:00"]),
        # 1W: June 1st 2024 is a Saturday, the nearest weekday in the month is Monday the 3rd
        ("cron(0 0 1W * ? *)", "2024-05-02T00:00:00+00:00", ["2024-06-03T00:00:00+00:00", "2024-07-01T00:00:00+00:00"]),
        # 15W: June 15th 2024 is a Saturday (Friday 14th), September 15th a Sunday (Monday 16th)
        (
            "cron(0 0 15W 6,9 ? 2024)",
            "2024-01-01T00:00:00+00:00",
            ["2024-06-14T00:00:00+00:00", "2024-09-16T00:00:00+00:00"],
        ),
        (
            "cron(0 0 31W * ? 2024)",
            "2024-08-01T00:00:00+00:00",
            ["2024-08-30T00:00:00+00:00", "2024-10-31T00:00:00+00:00"],
        ),
        ("cron(0 0 ? * 6L *)", "2024-05-01T00:00:00+00:00", ["2024-05-31T00:00:00+00:00", "2024-06-28T00:00:00+00:00"]),
        ("cron(0 0 ? * L *)", "2024-05-01T00:00:00+00:00", ["2024-05-04T00:00:00+00:00", "2024-05-11T00:00:00+00:00"]),
        (
            "cron(0 0 ? * 2#5 *)",
            "2024-01-01T00:00:00+00:00",
            ["2024-01-29T00:00:00+00:00", "2024-04-29T00:00:00+00:00"],
        ),
        ("cron(0 0 29 2 ? *)", "2024-03-01T00:00:00+00:00", ["2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00"]),
        (
            "cron(30 23 ? * SAT-SUN *)",
            "2024-05-01T00:00:00+00:00",
            ["2024-05-04T23:30:00+00:00", "2024-05-05T23:30:00+00:00"],
        ),
        (
            "cron(0 23-1 1 * ? *)",
            "2024-05-01T00:00:00+00:00",
            ["2024-05-01T01:00:00+00:00", "2024-05-01T23:00:00+00:00"],
        ),
        ("cron(0 0 1 1 ? 2199)", "2199-01-01T00:00:00+00:00", []),
        ("cron(0 0 31 2 ? *)", "2024-01-01T00:00:00+00:00", []),
        ("at(2030-01-02T03:04:05)", "2024-01-01T00:00:00+00:00", ["2030-01-02T03:04:05+00:00"]),
        ("at(2030-01-02T03:04:05)", "2030-01-02T03:04:05+00:00", []),
        ("rate(5 minutes)", "2024-01-01T00:00:30+00:00", ["2024-01-01T00:05:30+00:00", "2024-01-01T00:10:30+00:00"]),
        ("rate(1 day)", "2024-01-01T00:00:00+00:00", ["2024-01-02T00:00:00+00:00"]),
    ],
)
def test_known_next_fire_times(expression: str, start: str, expected: list[str]) -> None:
    assert _ticks(expression, start, len(expected) or 1) == expected


def test_spring_forward_skips_the_time_that_does_not_exist() -> None:
    # 2024-03-10 in New York: 02:00 EST jumps to 03:00 EDT
    assert _ticks("cron(30 2 * * ? *)", "2024-03-09T03:00:00-05:00", 2, "America/New_York") == [
        "2024-03-11T02:30:00-04:00",
        "2024-03-12T02:30:00-04:00",
    ]
    assert _ticks("cron(0/30 * 10 3 ? 2024)", "2024-03-10T01:15:00-05:00", 3, "America/New_York") == [
        "2024-03-10T01:30:00-05:00",
        "2024-03-10T03:00:00-04:00",
        "2024-03-10T03:30:00-04:00",
    ]


def test_fall_back_fires_a_repeated_time_once() -> None:
    # 2024-11-03 in New York: 02:00 EDT goes back to 01:00 EST; 01:30 happens twice
    assert _ticks("cron(30 1 * * ? *)", "2024-11-02T12:00:00-04:00", 2, "America/New_York") == [
        "2024-11-03T01:30:00-04:00",
        "2024-11-04T01:30:00-05:00",
    ]
    every_half_hour = _ticks("cron(0/30 * 3 11 ? 2024)", "2024-11-03T00:45:00-04:00", 4, "America/New_York")
    assert every_half_hour == [
        "2024-11-03T01:00:00-04:00",
        "2024-11-03T01:30:00-04:00",
        "2024-11-03T02:00:00-05:00",
        "2024-11-03T02:30:00-05:00",
    ]
    # asked from inside the second pass of the repeated hour: nothing fires again until 02:00
    second_pass = datetime(2024, 11, 3, 1, 10, tzinfo=NEW_YORK, fold=1)
    following = parse("cron(0/30 * 3 11 ? 2024)", "America/New_York").next_after(second_pass)
    assert following is not None and following.astimezone(NEW_YORK).isoformat() == "2024-11-03T02:00:00-05:00"


def test_rates_count_elapsed_time_across_daylight_saving_time() -> None:
    assert _ticks("rate(1 day)", "2024-03-09T12:00:00-05:00", 2, "America/New_York") == [
        "2024-03-10T13:00:00-04:00",
        "2024-03-11T13:00:00-04:00",
    ]


def test_time_zones_and_at() -> None:
    assert _ticks("cron(0 9 * * ? *)", "2024-05-31T12:00:00+00:00", 1, "Asia/Tokyo") == ["2024-06-01T09:00:00+09:00"]
    assert _ticks("at(2024-06-01T09:00:00)", "2024-01-01T00:00:00+00:00", 1, "Europe/Helsinki") == [
        "2024-06-01T09:00:00+03:00"
    ]
    # an at() time the clocks skip is read with the offset before the change: 02:30 EST is 03:30 EDT
    assert _ticks("at(2024-03-10T02:30:00)", "2024-01-01T00:00:00+00:00", 1, "America/New_York") == [
        "2024-03-10T03:30:00-04:00"
    ]


def test_anchored_rates_tick_from_their_start() -> None:
    start = _utc("2024-01-01T00:00:10+00:00")
    schedule = parse("rate(10 minutes)").anchored(start)
    assert schedule.next_after(start - timedelta(seconds=1)) == start
    assert schedule.next_after(start) == start + timedelta(minutes=10)
    assert schedule.next_after(start + timedelta(minutes=25)) == start + timedelta(minutes=30)
    assert parse("cron(0 10 * * ? *)").anchored(start) == parse("cron(0 10 * * ? *)")


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse("rate(1 minute)").next_after(datetime(2024, 1, 1))


# property tests: our evaluator against pyawscron, over the expressions both understand (UTC only)


def _range_item(low: int, high: int) -> st.SearchStrategy[str]:
    number = st.integers(low, high)
    return st.one_of(
        number.map(str),
        st.tuples(number, number).map(lambda pair: f"{min(pair)}-{max(pair)}"),
        st.tuples(number, st.integers(1, high - low + 1)).map(lambda pair: f"{pair[0]}/{pair[1]}"),
        st.integers(1, high - low + 1).map(lambda step: f"*/{step}"),
    )


def _plain_field(low: int, high: int) -> st.SearchStrategy[str]:
    return st.one_of(
        st.just("*"),
        _range_item(low, high),
        st.lists(st.integers(low, high), min_size=1, max_size=4, unique=True).map(lambda v: ",".join(map(str, v))),
    )


_DOM = st.one_of(
    _plain_field(1, 31),
    st.just("L"),
    st.integers(0, 5).map(lambda n: f"L-{n}"),
    st.integers(1, 31).map(lambda n: f"{n}W"),
)
_DOW = st.one_of(
    _plain_field(1, 7),
    st.sampled_from(["MON-FRI", "SAT,SUN", "TUE"]),
    st.integers(1, 7).map(lambda n: f"{n}L"),
    st.tuples(st.integers(1, 7), st.integers(1, 5)).map(lambda pair: f"{pair[0]}#{pair[1]}"),
)
_YEARS = st.one_of(st.just("*"), st.integers(2020, 2060).map(lambda y: f"{y}-{y + 40}"))


@st.composite
def _cron(draw: st.DrawFn) -> str:
    days_by_month = draw(st.booleans())
    dom = draw(_DOM) if days_by_month else "?"
    dow = "?" if days_by_month else draw(_DOW)
    fields = [draw(_plain_field(0, 59)), draw(_plain_field(0, 23)), dom, draw(_plain_field(1, 12)), dow]
    return f"cron({' '.join(fields)} {draw(_YEARS)})"


_STARTS = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2060, 1, 1)).map(
    lambda moment: moment.replace(tzinfo=UTC)
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expression=_cron(), start=_STARTS)
def test_cron_agrees_with_pyawscron(expression: str, start: datetime) -> None:
    schedule = parse(expression)
    oracle = AWSCron(expression[len("cron(") : -1])
    ours: datetime | None = start
    theirs: datetime | None = start
    for _ in range(4):
        assert ours is not None and theirs is not None
        ours = schedule.next_after(ours)
        try:
            theirs = oracle.occurrence(theirs).next()
        except Exception:  # pyawscron gives up after ten month jumps on sparse expressions
            return
        assert ours == theirs, f"{expression} after {start}"
        if ours is None:
            return


@settings(max_examples=200, deadline=None)
@given(
    expression=_cron(),
    start=_STARTS,
    zone=st.sampled_from(["America/New_York", "Europe/London", "Australia/Lord_Howe"]),
)
def test_ticks_in_a_time_zone_rise_and_match_the_fields(expression: str, start: datetime, zone: str) -> None:
    schedule = parse(expression, zone)
    utc_schedule = parse(expression)
    moment: datetime | None = start
    for _ in range(5):
        assert moment is not None
        following = schedule.next_after(moment)
        if following is None:
            return
        assert following > moment and following.second == 0 and following.microsecond == 0
        local = following.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
        # the same wall-clock minute is a tick of the expression read in UTC
        as_utc = local.replace(tzinfo=UTC)
        assert utc_schedule.next_after(as_utc - timedelta(minutes=1)) == as_utc
        moment = following


@given(value=st.integers(1, 10_000), unit=st.sampled_from(["minute", "hour", "day"]), start=_STARTS)
def test_rates_step_by_their_period(value: int, unit: str, start: datetime) -> None:
    expression = f"rate({value} {unit}{'' if value == 1 else 's'})"
    following = parse(expression).next_after(start)
    seconds = {"minute": 60, "hour": 3600, "day": 86400}[unit]
    assert following == start + timedelta(seconds=value * seconds)
