"""Schedule expressions as EventBridge and EventBridge Scheduler write them: parsed, checked and evaluated here.

    rate(value unit)      every `value` minutes, hours or days (`rate(1 minute)`, `rate(5 minutes)`: the unit is
                          singular for 1 and plural otherwise); days are 24 hours of elapsed time, whatever the clocks
    cron(m h dom mon dow y)  AWS's six fields: minutes 0-59, hours 0-23, day-of-month 1-31 (`L`, `L-n`, `LW`, `nW`),
                          month 1-12 or JAN-DEC, day-of-week 1-7 or SUN-SAT with 1 = Sunday (`L` = Saturday, `nL` the
                          month's last such day, `n#k` its k-th), year 1970-2199; `*`, `,`, `-`, `/` where AWS has
                          them, and exactly one of day-of-month and day-of-week is `?`
    at(yyyy-mm-ddThh:mm:ss)  once (Scheduler only)

Cron and at() are read in the schedule's time zone (IANA names, `ScheduleExpressionTimezone`). Daylight saving time
is handled as AWS documents for EventBridge Scheduler: a cron time that does not exist on a spring-forward day is
skipped, and a time repeated on a fall-back day fires once (its first occurrence). Rates count elapsed time and are
unaffected. An at() time that does not exist is read with the offset in force before the change (02:30 on a day that
jumps from 02:00 to 03:00 is 03:30), so a one-time schedule is never lost.

`parse` raises `InvalidSchedule` with a precise reason; the API layers wrap it in their own AWS message.
`Schedule.next_after(after)` is the first tick strictly after `after` (aware datetimes, UTC out), or None when no tick
is left. A parsed rate counts from whatever tick it is asked about; `anchored(start)` pins its ticks to
`start + k·period` (Scheduler's rate schedules start at StartDate, or at once).
"""

from __future__ import annotations

import calendar
import re
from abc import ABC, abstractmethod
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MIN_YEAR = 1970
MAX_YEAR = 2199
_MINUTE = timedelta(minutes=1)
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_MAX_RATE_SECONDS = 100 * 366 * 86400
_RATE = re.compile(r"rate\((\d+) ([a-z]+)\)")
_CRON = re.compile(r"cron\((.*)\)", re.DOTALL)
_AT = re.compile(r"at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)")
_MONTHS = {name.upper(): number for number, name in enumerate(calendar.month_abbr) if name}
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}


class InvalidSchedule(ValueError):
    """An expression or time zone that is not one AWS accepts; `str(exc)` says why."""


@dataclass(frozen=True, slots=True)
class Schedule(ABC):
    expression: str
    timezone: str = "UTC"

    @abstractmethod
    def next_after(self, after: datetime) -> datetime | None:
        """The first tick strictly after `after` (an aware datetime), in UTC; None when no tick is left."""

    def anchored(self, start: datetime) -> Schedule:
        """This schedule with its ticks pinned to `start`: only rates change (ticks at `start + k·period`)."""
        return self


def parse(expression: str, timezone: str = "UTC") -> Schedule:
    """The schedule an expression describes, read in `timezone` (an IANA name); `InvalidSchedule` if AWS would
    refuse either."""
    zone = _zone(timezone)
    if expression.startswith("rate("):
        return _rate(expression, timezone)
    if expression.startswith("cron("):
        return _cron(expression, timezone, zone)
    if expression.startswith("at("):
        return _at(expression, timezone, zone)
    raise InvalidSchedule(f"{expression!r} is not a rate(...), cron(...) or at(...) expression")


def _zone(name: str) -> tzinfo:
    if name == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidSchedule(f"{name!r} is not a time zone") from None


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("schedules are evaluated on aware datetimes")
    return moment.astimezone(UTC)


# rate(value unit)


@dataclass(frozen=True, slots=True)
class RateSchedule(Schedule):
    period: timedelta = _MINUTE
    anchor: datetime | None = None

    def next_after(self, after: datetime) -> datetime | None:
        after = _utc(after)
        if self.anchor is None:
            return after + self.period
        if after < self.anchor:
            return self.anchor
        return self.anchor + self.period * ((after - self.anchor) // self.period + 1)

    def anchored(self, start: datetime) -> Schedule:
        return RateSchedule(self.expression, self.timezone, self.period, _utc(start))


def _rate(expression: str, timezone: str) -> Schedule:
    match = _RATE.fullmatch(expression)
    if match is None:
        raise InvalidSchedule(f"{expression!r} is not rate(value unit) with one space between a number and a unit")
    value, unit = int(match[1]), match[2]
    if value < 1:
        raise InvalidSchedule(f"{expression!r}: the value must be a positive whole number")
    singular = unit.removesuffix("s")
    if singular not in _UNITS:
        raise InvalidSchedule(f"{expression!r}: the unit must be minute(s), hour(s) or day(s), not {unit!r}")
    if (value == 1) != (unit == singular):
        wanted = singular if value == 1 else singular + "s"
        raise InvalidSchedule(f"{expression!r}: with the value {value} the unit is written {wanted!r}")
    seconds = value * _UNITS[singular]
    if seconds > _MAX_RATE_SECONDS:
        raise InvalidSchedule(f"{expression!r}: the rate is longer than a hundred years")
    return RateSchedule(expression, timezone, timedelta(seconds=seconds))


# at(yyyy-mm-ddThh:mm:ss)


@dataclass(frozen=True, slots=True)
class AtSchedule(Schedule):
    moment: datetime = datetime.min.replace(tzinfo=UTC)

    def next_after(self, after: datetime) -> datetime | None:
        return self.moment if self.moment > _utc(after) else None


def _at(expression: str, timezone: str, zone: tzinfo) -> Schedule:
    match = _AT.fullmatch(expression)
    if match is None:
        raise InvalidSchedule(f"{expression!r} is not at(yyyy-mm-ddThh:mm:ss)")
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        local = datetime(year, month, day, hour, minute, second)
    except ValueError as exc:
        raise InvalidSchedule(f"{expression!r} is not a date and time: {exc}") from None
    return AtSchedule(expression, timezone, local.replace(tzinfo=zone).astimezone(UTC))


# cron(minutes hours day-of-month month day-of-week year)


@dataclass(frozen=True, slots=True)
class DaySpec:
    """Which days of a month a cron expression's day fields pick."""

    kind: str
    """`dom` (days of month in `values`), `dow` (days of week, 1 = Sunday, in `values`), `last` (the last day minus
    `n`), `last-weekday`, `nearest-weekday` (to day `n`), `last-of` (the last day-of-week `n`), `nth` (the `k`-th
    day-of-week `n`)."""
    values: frozenset[int] = frozenset()
    n: int = 0
    k: int = 0


@dataclass(frozen=True, slots=True)
class CronSchedule(Schedule):
    minutes: tuple[int, ...] = ()
    hours: tuple[int, ...] = ()
    months: tuple[int, ...] = ()
    years: tuple[int, ...] = ()
    days: DaySpec = field(default_factory=lambda: DaySpec("dom"))
    zone: tzinfo = UTC

    def next_after(self, after: datetime) -> datetime | None:
        after = _utc(after)
        local = after.astimezone(self.zone).replace(tzinfo=None, second=0, microsecond=0) + _MINUTE
        while True:
            candidate = self._first_at_or_after(local)
            if candidate is None:
                return None
            moment = _resolve(candidate, self.zone)
            if moment is not None and moment > after:
                return moment
            local = candidate + _MINUTE  # a skipped local time, or the second pass of a repeated hour

    def _first_at_or_after(self, t: datetime) -> datetime | None:
        """The first local wall-clock minute at or after `t` that the fields pick."""
        while True:
            year = _first(self.years, t.year)
            if year is None:
                return None
            if year != t.year:
                t = datetime(year, 1, 1)
            month = _first(self.months, t.month)
            if month is None:
                if t.year >= MAX_YEAR:
                    return None
                t = datetime(t.year + 1, 1, 1)
                continue
            if month != t.month:
                t = datetime(t.year, month, 1)
            day = _first(_month_days(self.days, t.year, t.month), t.day)
            if day is None:
                t = _next_month(t)
                continue
            if day != t.day:
                t = datetime(t.year, t.month, day)
            hour = _first(self.hours, t.hour)
            if hour is None:
                t = datetime(t.year, t.month, t.day) + timedelta(days=1)
                continue
            if hour != t.hour:
                t = t.replace(hour=hour, minute=0)
            minute = _first(self.minutes, t.minute)
            if minute is None:
                t = t.replace(minute=0) + timedelta(hours=1)
                continue
            return t.replace(minute=minute)


def _first(values: tuple[int, ...], at_least: int) -> int | None:
    index = bisect_left(values, at_least)
    return values[index] if index < len(values) else None


def _next_month(t: datetime) -> datetime:
    return datetime(t.year + 1, 1, 1) if t.month == 12 else datetime(t.year, t.month + 1, 1)


def _resolve(local: datetime, zone: tzinfo) -> datetime | None:
    """The instant a local wall-clock time names: its first occurrence when the clocks go back, None when they
    skip it."""
    moment = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if zone is not UTC and moment.astimezone(zone).replace(tzinfo=None) != local:
        return None
    return moment


def _aws_weekday(year: int, month: int, day: int) -> int:
    """1 = Sunday ... 7 = Saturday."""
    return (calendar.weekday(year, month, day) + 1) % 7 + 1


@lru_cache(maxsize=4096)
def _month_days(spec: DaySpec, year: int, month: int) -> tuple[int, ...]:
    length = calendar.monthrange(year, month)[1]
    if spec.kind == "dom":
        return tuple(day for day in range(1, length + 1) if day in spec.values)
    if spec.kind == "dow":
        return tuple(day for day in range(1, length + 1) if _aws_weekday(year, month, day) in spec.values)
    if spec.kind == "last":
        return (length - spec.n,) if length - spec.n >= 1 else ()
    if spec.kind == "last-weekday":
        day = length
        while _aws_weekday(year, month, day) in (1, 7):
            day -= 1
        return (day,)
    if spec.kind == "nearest-weekday":
        if spec.n > length:
            return ()
        for offset in (0, 1, -1, 2, -2):
            day = spec.n + offset
            if 1 <= day <= length and _aws_weekday(year, month, day) not in (1, 7):
                return (day,)
        return ()  # pragma: no cover - some day within two of any day is a weekday
    matching = [day for day in range(1, length + 1) if _aws_weekday(year, month, day) == spec.n]
    if spec.kind == "last-of":
        return (matching[-1],)
    return (matching[spec.k - 1],) if spec.k <= len(matching) else ()


def _cron(expression: str, timezone: str, zone: tzinfo) -> Schedule:
    match = _CRON.fullmatch(expression)
    if match is None:
        raise InvalidSchedule(f"{expression!r} is not cron(fields)")
    fields = match[1].split(" ")
    if len(fields) != 6 or "" in fields:
        raise InvalidSchedule(f"{expression!r} must have six fields separated by single spaces")
    minute, hour, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise InvalidSchedule(f"{expression!r}: exactly one of day-of-month and day-of-week must be ?")
    days = _day_of_week(dow) if dom == "?" else _day_of_month(dom)
    return CronSchedule(
        expression,
        timezone,
        minutes=_values(minute, "minutes", 0, 59),
        hours=_values(hour, "hours", 0, 23),
        months=_values(month, "month", 1, 12, _MONTHS),
        years=_values(year, "year", MIN_YEAR, MAX_YEAR, cyclic=False),
        days=days,
        zone=zone,
    )


def _number(text: str, field_name: str, low: int, high: int, names: dict[str, int] | None = None) -> int:
    if names is not None and text.upper() in names:
        return names[text.upper()]
    if not text.isdigit() or not text.isascii():
        raise InvalidSchedule(f"{field_name}: {text!r} is not a number" + (" or a name" if names else ""))
    value = int(text)
    if not low <= value <= high:
        raise InvalidSchedule(f"{field_name}: {value} is out of range {low}-{high}")
    return value


def _values(
    text: str, field_name: str, low: int, high: int, names: dict[str, int] | None = None, cyclic: bool = True
) -> tuple[int, ...]:
    """A field of `*`, `,` lists, `a-b` ranges (wrapping round in cyclic fields: FRI-MON) and `/` steps."""
    chosen: set[int] = set()
    for item in text.split(","):
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or not step_text.isascii() or int(step_text) < 1:
                raise InvalidSchedule(f"{field_name}: the step in {item!r} must be a positive number")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _number(first, field_name, low, high, names), _number(last, field_name, low, high, names)
        else:
            start = _number(base, field_name, low, high, names)
            end = high if slash else start
        if start <= end:
            chosen.update(range(start, end + 1, step))
        elif not cyclic:
            raise InvalidSchedule(f"{field_name}: the range {base!r} runs backwards")
        else:
            span = list(range(start, high + 1)) + list(range(low, end + 1))
            chosen.update(span[::step])
    return tuple(sorted(chosen))


def _day_of_month(text: str) -> DaySpec:
    if text == "L":
        return DaySpec("last")
    if text == "LW":
        return DaySpec("last-weekday")
    if text.startswith("L-"):
        return DaySpec("last", n=_number(text[2:], "day-of-month", 0, 30))
    if text.endswith("W"):
        return DaySpec("nearest-weekday", n=_number(text[:-1], "day-of-month", 1, 31))
    if "L" in text.upper() or "W" in text.upper() or "#" in text:
        raise InvalidSchedule(f"day-of-month: {text!r} is not L, L-n, LW, nW or a list of days")
    return DaySpec("dom", frozenset(_values(text, "day-of-month", 1, 31)))


def _day_of_week(text: str) -> DaySpec:
    if text == "L":
        return DaySpec("dow", frozenset({7}))
    if "#" in text:
        day, _, nth = text.partition("#")
        return DaySpec("nth", n=_number(day, "day-of-week", 1, 7, _DAYS), k=_number(nth, "day-of-week", 1, 5))
    if len(text) > 1 and text.endswith("L"):
        return DaySpec("last-of", n=_number(text[:-1], "day-of-week", 1, 7, _DAYS))
    return DaySpec("dow", frozenset(_values(text, "day-of-week", 1, 7, _DAYS)))
