"""Dates, times and durations as the insurer writes them in French, in Paris time."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


def french_date(moment: datetime) -> str:
    """'26 décembre 2026'."""
    local = moment.astimezone(PARIS)
    return f"{local.day} {MONTHS[local.month - 1]} {local.year}"


def french_day(moment: datetime) -> str:
    """'lundi 30 novembre', 'vendredi 1er mai'."""
    local = moment.astimezone(PARIS)
    day = "1er" if local.day == 1 else str(local.day)
    return f"{WEEKDAYS[local.weekday()]} {day} {MONTHS[local.month - 1]}"


def french_time(moment: datetime) -> str:
    """'9 h', '9 h 30', '13 h 05'."""
    local = moment.astimezone(PARIS)
    return f"{local.hour} h" if local.minute == 0 else f"{local.hour} h {local.minute:02d}"


def french_datetime(moment: datetime) -> str:
    """'lundi 30 novembre 2026 à 9 h 30'."""
    local = moment.astimezone(PARIS)
    return f"{french_day(local)} {local.year} à {french_time(local)}"


def french_duration(duration: timedelta) -> str:
    """'45 s', '3 min 05 s', '2 h 10 min', '3 j 4 h': two units at most."""
    seconds = max(0, int(duration.total_seconds()))
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return f"{days} j {hours} h" if hours else f"{days} j"
    if hours:
        return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {seconds:02d} s" if seconds else f"{minutes} min"
    return f"{seconds} s"
