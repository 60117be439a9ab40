"""Opening hours of the advisors: weekly ranges in Paris time, French public holidays,
the next opening and how the assistant says it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import yaml

from bot.french import PARIS, french_duration
from bot.opening_hours import OpeningHours, OpeningHoursError, opening_text
from bot.settings import ROOT, Settings

OFFICE = OpeningHours()  # mon-fri 09:00-18:00, French public holidays
ALWAYS = OpeningHours("mon-sun 00:00-24:00", "none")


def paris(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=PARIS)  # type: ignore[misc]


def next_text(hours: OpeningHours, now: datetime) -> str:
    opening = hours.next_opening(now)
    assert opening is not None
    return opening_text(opening, now)


@pytest.mark.parametrize(
    ("now", "is_open"),
    [
        (paris(2026, 12, 1, 9, 0), True),  # a Tuesday, at opening
        (paris(2026, 12, 1, 17, 59, 59), True),
        (paris(2026, 12, 1, 18, 0), False),  # closing time is closed
        (paris(2026, 12, 1, 8, 59), False),
        (paris(2026, 11, 28, 10, 0), False),  # a Saturday
        (paris(2026, 11, 29, 10, 0), False),  # a Sunday
    ],
)
def test_office_hours(now: datetime, is_open: bool) -> None:
    assert OFFICE.is_open(now) is is_open


def test_the_time_zone_is_paris_whatever_the_callers() -> None:
    # 08:30 UTC is 09:30 in Paris in winter.
    assert OFFICE.is_open(datetime(2026, 12, 1, 8, 30, tzinfo=timezone.utc))
    assert not OFFICE.is_open(datetime(2026, 12, 1, 7, 30, tzinfo=timezone.utc))


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (paris(2026, 11, 28, 10, 0), "lundi 30 novembre à 9 h"),  # weekend
        (paris(2026, 12, 1, 18, 30), "demain à 9 h"),  # evening
        (paris(2026, 12, 1, 7, 45), "aujourd'hui à 9 h"),  # early morning
        (paris(2026, 5, 1, 10, 0), "lundi 4 mai à 9 h"),  # 1 May, a Friday
        (paris(2026, 12, 24, 18, 30), "lundi 28 décembre à 9 h"),  # Christmas on Friday
        (paris(2026, 4, 6, 10, 0), "demain à 9 h"),  # Easter Monday
        (paris(2026, 4, 3, 18, 30), "mardi 7 avril à 9 h"),  # the weekend before it
        (paris(2026, 5, 29, 18, 30), "lundi 1er juin à 9 h"),
        (paris(2026, 12, 31, 18, 30), "lundi 4 janvier 2027 à 9 h"),  # 1 January too
    ],
)
def test_next_opening_in_french(now: datetime, expected: str) -> None:
    assert not OFFICE.is_open(now)
    assert next_text(OFFICE, now) == expected


def test_public_holidays_are_closed_unless_disabled() -> None:
    for holiday in (paris(2026, 5, 1, 10), paris(2026, 12, 25, 10), paris(2026, 4, 6, 10)):
        assert not OFFICE.is_open(holiday)
        assert OpeningHours(holiday_setting="none").is_open(holiday)


def test_split_days_and_minutes() -> None:
    hours = OpeningHours("mon-fri 09:00-12:30,13:30-18:00; sat 09:30-12:00", "none")
    assert hours.is_open(paris(2026, 12, 1, 12, 29))
    assert not hours.is_open(paris(2026, 12, 1, 12, 45))
    assert next_text(hours, paris(2026, 12, 1, 12, 45)) == "aujourd'hui à 13 h 30"
    assert next_text(hours, paris(2026, 12, 4, 18, 0)) == "demain à 9 h 30"  # Friday evening
    assert next_text(hours, paris(2026, 12, 5, 12, 0)) == "lundi 7 décembre à 9 h"


def test_the_next_opening_keeps_its_wall_clock_time_across_dst_changes() -> None:
    # Spring: clocks go from 02:00 to 03:00 on Sunday 29 March 2026.
    spring = OFFICE.next_opening(paris(2026, 3, 27, 18, 30))
    assert spring is not None
    assert (spring.hour, spring.utcoffset()) == (9, timedelta(hours=2))
    assert spring.astimezone(timezone.utc) == datetime(2026, 3, 30, 7, 0, tzinfo=timezone.utc)
    # Autumn: from 03:00 back to 02:00 on Sunday 25 October 2026.
    autumn = OFFICE.next_opening(paris(2026, 10, 23, 18, 30))
    assert autumn is not None
    assert (autumn.hour, autumn.utcoffset()) == (9, timedelta(hours=1))
    assert autumn.astimezone(timezone.utc) == datetime(2026, 10, 26, 8, 0, tzinfo=timezone.utc)


def test_an_opening_in_the_skipped_spring_hour_moves_after_the_change() -> None:
    night = OpeningHours("sun 02:30-05:00", "none")
    opening = night.next_opening(paris(2026, 3, 28, 12, 0))
    assert opening is not None
    assert opening.astimezone(timezone.utc) == datetime(2026, 3, 29, 1, 30, tzinfo=timezone.utc)
    assert night.is_open(datetime(2026, 3, 29, 1, 45, tzinfo=timezone.utc))  # 03:45 CEST


@pytest.mark.parametrize(
    "now",
    [
        paris(2026, 11, 29, 3, 0),
        paris(2026, 12, 25, 23, 59, 59),
        paris(2026, 3, 29, 3, 0),  # the spring DST change
        paris(2026, 10, 25, 2, 30),  # the autumn one
        datetime(2026, 10, 25, 0, 30, tzinfo=timezone.utc),  # the repeated hour, twice
        datetime(2026, 10, 25, 1, 30, tzinfo=timezone.utc),
    ],
)
def test_always_open(now: datetime) -> None:
    assert ALWAYS.is_open(now)
    opening = ALWAYS.next_opening(now)
    # Compared in UTC: Python never finds an ambiguous local time equal to another zone's.
    assert opening is not None
    assert opening.astimezone(timezone.utc) == now.astimezone(timezone.utc)


def test_always_open_but_on_public_holidays() -> None:
    hours = OpeningHours("mon-sun 00:00-24:00", "FR")
    assert not hours.is_open(paris(2026, 12, 25, 10, 0))
    assert next_text(hours, paris(2026, 12, 25, 10, 0)) == "demain à 0 h"


def test_a_schedule_that_never_opens() -> None:
    assert OpeningHours("", "none").next_opening(paris(2026, 12, 1, 10, 0)) is None


@pytest.mark.parametrize(
    ("spec", "holidays"),
    [
        ("mon-fri 9h-18h", "FR"),
        ("lun-ven 09:00-18:00", "FR"),
        ("fri-mon 09:00-18:00", "FR"),
        ("mon-fri 18:00-09:00", "FR"),
        ("mon-fri 09:00-25:00", "FR"),
        ("mon 09:00-12:00,11:00-13:00", "FR"),
        ("mon-fri", "FR"),
        ("mon-fri 09:00-18:00", "XX"),
    ],
)
def test_invalid_settings_are_refused(spec: str, holidays: str) -> None:
    with pytest.raises(OpeningHoursError):
        OpeningHours(spec, holidays)


def test_settings_read_the_environment() -> None:
    settings = Settings.from_env(
        {"ADVISOR_OPENING_HOURS": "mon-sun 00:00-24:00", "ADVISOR_HOLIDAYS": "none"}
    )
    assert settings.opening_hours.is_open(paris(2026, 12, 25, 3, 0))
    default = Settings.from_env({})
    assert default.opening_hours.spec == "mon-fri 09:00-18:00"
    assert not default.opening_hours.is_open(paris(2026, 12, 25, 10, 0))
    assert default.support_email == "espaces-clients@assureur.example"
    assert default.rasa_token is None
    assert Settings.from_env({"RASA_TOKEN": "s3cret"}).rasa_token == "s3cret"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (45, "45 s"), (185, "3 min 05 s"), (120, "2 min"), (7800, "2 h 10 min")],
)
def test_durations_in_french(seconds: int, text: str) -> None:
    assert french_duration(timedelta(seconds=seconds)) == text


@pytest.mark.parametrize(
    ("now", "said"),
    [
        (paris(2026, 12, 1, 20, 0), "dès demain à 9 h."),
        (paris(2026, 12, 1, 7, 30), "dès aujourd'hui à 9 h."),
        (paris(2026, 12, 4, 19, 0), "dès lundi 7 décembre à 9 h."),
        (None, "dès que possible."),
    ],
)
def test_the_out_of_hours_answer_says_when_an_advisor_comes_back(
    now: datetime | None, said: str
) -> None:
    """The assistant's sentence, as the domain writes it and the action fills it."""
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    template = domain["responses"]["utter_handoff_ticket"][0]["text"]
    # actions/handoff.py: the service's text, or « que possible » when it gives none.
    opens_at = next_text(OFFICE, now) if now is not None else "que possible"
    assert f"dans cette conversation {said}" in template.format(opens_at=opens_at)
