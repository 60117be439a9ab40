"""When the advisors of the customer-space cell can answer: weekly hours in Paris time,
minus public holidays.

`ADVISOR_OPENING_HOURS` is a list of clauses separated by `;`, each made of days and
time ranges: `mon-fri 09:00-18:00`, `mon-fri 09:00-12:30,13:30-18:00; sat 09:00-12:00`,
`mon-sun 00:00-24:00` (always open, holidays aside). `ADVISOR_HOLIDAYS` is a country
code known to the `holidays` package (`FR`, or `FR-57` for a subdivision), or `none`.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

from bot.french import PARIS, french_day, french_time

DEFAULT_HOURS = "mon-fri 09:00-18:00"
DEFAULT_HOLIDAYS = "FR"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# How far ahead to look for the next opening; a year covers any sensible schedule.
_HORIZON_DAYS = 400
_MINUTES_PER_DAY = 24 * 60
_CLAUSE = re.compile(r"^\s*(?P<days>[a-z,\-]+)\s+(?P<ranges>[0-9:,\-\s]+?)\s*$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")


class OpeningHoursError(ValueError):
    """The opening hours or the holiday setting cannot be read."""


# A range of minutes since local midnight: [start, end), end at most 24:00.
Range = tuple[int, int]


def _minutes(text: str, spec: str) -> int:
    match = _TIME.match(text.strip())
    if not match:
        raise OpeningHoursError(f"invalid time {text.strip()!r} in {spec!r} (expected HH:MM)")
    hours, minutes = int(match.group(1)), int(match.group(2))
    value = hours * 60 + minutes
    if minutes >= 60 or value > _MINUTES_PER_DAY:
        raise OpeningHoursError(f"invalid time {text.strip()!r} in {spec!r}")
    return value


def _days(text: str, spec: str) -> set[int]:
    chosen: set[int] = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise OpeningHoursError(
                f"invalid days {part!r} in {spec!r} (expected e.g. mon-fri or sat,sun)"
            )
        start, end = DAYS.index(first), DAYS.index(last or first)
        if end < start:
            raise OpeningHoursError(f"days {part!r} in {spec!r} go backwards")
        chosen.update(range(start, end + 1))
    return chosen


def parse_hours(spec: str) -> tuple[tuple[Range, ...], ...]:
    """The ranges of each weekday (Monday first) described by `spec`.

    Raises:
        OpeningHoursError: the text does not follow the format of the module docstring.
    """
    week: list[list[Range]] = [[] for _ in DAYS]
    for clause in spec.lower().split(";"):
        if not clause.strip():
            continue
        match = _CLAUSE.match(clause)
        if not match:
            raise OpeningHoursError(
                f"invalid opening hours {spec!r} (expected e.g. 'mon-fri 09:00-18:00')"
            )
        days = _days(match.group("days"), spec)
        for text in match.group("ranges").split(","):
            start_text, dash, end_text = text.partition("-")
            if not dash:
                raise OpeningHoursError(f"invalid time range {text.strip()!r} in {spec!r}")
            start, end = _minutes(start_text, spec), _minutes(end_text, spec)
            if end <= start:
                raise OpeningHoursError(
                    f"time range {text.strip()!r} in {spec!r} must end after it starts"
                )
            for day in days:
                week[day].append((start, end))
    for ranges in week:
        ranges.sort()
        for (_, end), (start, _) in itertools.pairwise(ranges):
            if start < end:
                raise OpeningHoursError(f"overlapping time ranges in {spec!r}")
    return tuple(tuple(ranges) for ranges in week)


def _holiday_calendar(setting: str) -> holidays.HolidayBase | None:
    if setting.strip().lower() in ("", "none", "aucun"):
        return None
    country, _, subdivision = setting.strip().upper().partition("-")
    try:
        return holidays.country_holidays(country, subdiv=subdivision or None)
    except NotImplementedError:
        raise OpeningHoursError(f"unknown holiday calendar {setting!r}") from None


@dataclass(frozen=True)
class OpeningHours:
    """Weekly opening ranges in Paris time, closed on the holidays of `holiday_setting`."""

    spec: str = DEFAULT_HOURS
    holiday_setting: str = DEFAULT_HOLIDAYS
    week: tuple[tuple[Range, ...], ...] = field(init=False, repr=False, compare=False)
    calendar: holidays.HolidayBase | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "week", parse_hours(self.spec))
        object.__setattr__(self, "calendar", _holiday_calendar(self.holiday_setting))

    def is_holiday(self, day: date) -> bool:
        return self.calendar is not None and day in self.calendar

    def is_open(self, now: datetime) -> bool:
        """Whether an advisor can answer at `now` (an aware datetime)."""
        local = now.astimezone(PARIS)
        if self.is_holiday(local.date()):
            return False
        minute = local.hour * 60 + local.minute + local.second / 60
        return any(start <= minute < end for start, end in self.week[local.weekday()])

    def next_opening(self, now: datetime) -> datetime | None:
        """`now` when open, else the next moment the advisors open, in Paris time; None
        when the schedule never opens within a year."""
        if self.is_open(now):
            return now.astimezone(PARIS)
        today = now.astimezone(PARIS).date()
        for offset in range(_HORIZON_DAYS):
            day = today + timedelta(days=offset)
            if self.is_holiday(day):
                continue
            for start, _ in self.week[day.weekday()]:
                opening = _local_moment(day, start)
                if opening > now:
                    return opening
        return None


def _local_moment(day: date, minutes: int) -> datetime:
    """The Paris moment `minutes` after midnight on `day` (24:00 is the next midnight).

    A wall-clock time skipped by the spring DST change (02:00 to 03:00) is moved to the
    same offset after the change, as the clocks of the cell would show it.
    """
    extra_day, minutes = divmod(minutes, _MINUTES_PER_DAY)
    wall = datetime.combine(day + timedelta(days=extra_day), time(minutes // 60, minutes % 60))
    moment = wall.replace(tzinfo=PARIS)
    # Round-trip through UTC: a nonexistent wall time comes back normalised.
    return moment.astimezone(ZoneInfo("UTC")).astimezone(PARIS)


def opening_text(moment: datetime, now: datetime) -> str:
    """How the assistant says when the advisors open: 'aujourd'hui à 14 h',
    'demain à 9 h 30', 'lundi 30 novembre à 9 h' ('… 2027 à 9 h' in another year)."""
    local, today = moment.astimezone(PARIS), now.astimezone(PARIS).date()
    at = f"à {french_time(local)}"
    if local.date() == today:
        return f"aujourd'hui {at}"
    if local.date() == today + timedelta(days=1):
        return f"demain {at}"
    year = f" {local.year}" if local.year != today.year else ""
    return f"{french_day(local)}{year} {at}"
