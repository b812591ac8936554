"""A moment or a fragment on a lesson's timeline: the checks comments and clips share. Pure."""

from __future__ import annotations

import math

from ..infra.errors import Invalid

#: The player may report a time a little past the end (rounding); that much is taken as the end.
END_TOLERANCE_S = 0.25


def check_span(
    start_s: float, end_s: float | None, duration_s: float
) -> tuple[float, float | None]:
    """Validate a moment (``end_s`` None) or a fragment on a lesson ``duration_s`` long.

    Returns the times rounded to milliseconds (and clamped to the end within
    ``END_TOLERANCE_S``). Raises :class:`~..infra.errors.Invalid` with code ``time_invalid``,
    ``time_negative``, ``time_past_end`` or ``end_before_start``.
    """
    for value in (start_s, end_s):
        if value is not None and not math.isfinite(value):
            raise Invalid("time_invalid", "a time must be a number of seconds")
    if start_s < 0 or (end_s is not None and end_s < 0):
        raise Invalid("time_negative", "a time cannot be before the start of the lesson")
    limit = duration_s + END_TOLERANCE_S
    if start_s > limit or (end_s is not None and end_s > limit):
        raise Invalid(
            "time_past_end",
            f"the lesson is only {format_time(duration_s)} long; choose a time within it",
        )
    start = round(min(start_s, duration_s), 3)
    if end_s is None:
        return start, None
    end = round(min(end_s, duration_s), 3)
    if end <= start:
        raise Invalid("end_before_start", "a fragment must end after it starts")
    return start, end


def format_time(seconds: float) -> str:
    """``H:MM:SS`` (or ``M:SS`` under an hour), as the player shows it."""
    whole = max(int(seconds), 0)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def gaps_within(
    gaps: list[tuple[float, float]] | list[list[float]], start_s: float, end_s: float
) -> list[tuple[float, float]]:
    """The parts of ``gaps`` (holes in a lesson's video) inside ``[start_s, end_s]``, on a
    timeline that starts at ``start_s`` (a clip's). Pure."""
    out = []
    for a, b in gaps:
        lo, hi = max(a, start_s), min(b, end_s)
        if hi > lo:
            out.append((round(lo - start_s, 3), round(hi - start_s, 3)))
    return out
