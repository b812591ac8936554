"""Jinja filters that show times, durations and sizes in the page's language and time zone."""

from __future__ import annotations

import contextvars
import functools
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, get_month_names
from babel.numbers import format_decimal
from jinja2 import Environment

from ..infra.timeutil import from_iso
from .i18n import current_catalogue

# The time zone of the page being rendered (set by ``render`` with the catalogue).
CURRENT_ZONE: contextvars.ContextVar[ZoneInfo] = contextvars.ContextVar("lessoncam_zone")
UTC_ZONE = ZoneInfo("UTC")
NOTHING = "\u2013"  # an en dash where there is no value


def _moment(value: str | datetime | None) -> datetime | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, datetime) else from_iso(value)


@functools.cache
def _month_abbreviations(language: str) -> dict[int, str]:
    return dict(get_month_names("abbreviated", locale=language).items())


def datetime_filter(value: str | datetime | None, form: str = "medium") -> str:
    """A UTC moment as local date and time, e.g. '2 nov 2026 09:30' (babel's 'd MMM y HH:mm').

    Built from cached month names rather than a babel pattern per call: a lesson page shows
    a date on each of hundreds of comments."""
    moment = _moment(value)
    if moment is None:
        return NOTHING
    local = moment.astimezone(CURRENT_ZONE.get(UTC_ZONE))
    month = _month_abbreviations(current_catalogue().language)[local.month]
    # Not strftime: glibc's may re-read the system time zone on every call.
    clock = f"{local.hour:02d}:{local.minute:02d}"
    if form == "long":
        clock += f":{local.second:02d}"
    return f"{local.day} {month} {local.year} {clock}"


def until_filter(value: str | datetime | None) -> str:
    """When something stops being valid, as people count days: an end at local midnight is
    the last day it is valid ('until 10 Dec' ends at 11 Dec 00:00 and reads '10 Dec 2026');
    an end at any other moment is shown with its time."""
    moment = _moment(value)
    if moment is None:
        return NOTHING
    local = moment.astimezone(CURRENT_ZONE.get(UTC_ZONE))
    if local.time() != time.min:
        return datetime_filter(moment)
    last = local.date() - timedelta(days=1)
    month = _month_abbreviations(current_catalogue().language)[last.month]
    return f"{last.day} {month} {last.year}"


def date_filter(value: str | datetime | None) -> str:
    moment = _moment(value)
    if moment is None:
        return NOTHING
    local = moment.astimezone(CURRENT_ZONE.get(UTC_ZONE))
    return format_date(local, "EEEE d MMMM y", locale=current_catalogue().language)


def day_filter(value: str | date | None) -> str:
    """A calendar date (no time, no zone: a review date, a date on paper) as '2 november 2026'."""
    if value is None or value == "":
        return NOTHING
    day = value if isinstance(value, date) else date.fromisoformat(value)
    return format_date(day, "d MMMM y", locale=current_catalogue().language)


def clock_filter(seconds: float | None) -> str:
    """Seconds as m:ss or h:mm:ss, the way a video player shows them."""
    if seconds is None:
        return NOTHING
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def bytes_filter(value: int | None) -> str:
    if value is None:
        return NOTHING
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{format_decimal(round(size, 1), locale=current_catalogue().language)} {unit}"
        size /= 1000
    return str(value)  # pragma: no cover - the loop always returns


def number_filter(value: float | None, digits: int = 1) -> str:
    if value is None:
        return NOTHING
    return str(format_decimal(round(value, digits), locale=current_catalogue().language))


def install(env: Environment) -> None:
    filters: dict[str, Any] = {
        "datetime": datetime_filter,
        "date": date_filter,
        "day": day_filter,
        "until": until_filter,
        "clock": clock_filter,
        "bytes": bytes_filter,
        "number": number_filter,
    }
    env.filters.update(filters)
