"""A watch-together session as a trajectory's conversation: who of the people present goes in
(the trajectory's teacher and members; the others are left out, with the reason), how many
minutes it lasted (from the recorded presence), on which day, and which fragments were
discussed (the comments the participants made during the session). Pure: the caller reads the
session, its people and its comments, and writes the step (``session_conversations.py``)."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Literal

from .fragments import MAX_FRAGMENTS
from .steps import MINUTES_MAX

#: A comment at a moment stands for the fragment that starts there, this long.
MOMENT_SPAN_S = 10.0

LeftOutReason = Literal["not_member", "never_joined"]


@dataclass(frozen=True, slots=True)
class Attendee:
    """Someone invited to the session: ``present_s`` seconds present in all (recorded, plus
    any connection still open), ``joined`` whether she ever came."""

    user_id: int
    username: str
    display_name: str
    present_s: float
    joined: bool


@dataclass(frozen=True, slots=True)
class SessionComment:
    """A comment made during the session: at a moment (``end_s`` None) or over a span."""

    author_id: int
    start_s: float
    end_s: float | None


@dataclass(frozen=True, slots=True)
class LeftOut:
    username: str
    display_name: str
    reason: LeftOutReason


@dataclass(frozen=True, slots=True)
class Proposal:
    """The conversation step a session makes: ``participants`` (usernames), ``minutes``,
    ``held_on``, ``spans`` of the lesson (seconds), and what did not go in: ``left_out``
    people and ``spans_dropped`` (fragments past the most a step holds)."""

    held_on: date
    participants: tuple[str, ...]
    minutes: int
    spans: tuple[tuple[float, float], ...]
    left_out: tuple[LeftOut, ...]
    spans_dropped: int


def minutes_of(present_s: Iterable[float]) -> int:
    """How long the conversation lasted: the longest any participant was present, in whole
    minutes (at least one, at most what a step holds)."""
    longest = max(present_s, default=0.0)
    return min(MINUTES_MAX, max(1, math.floor(longest / 60.0 + 0.5)))


def day_of(started_at: datetime, zone: tzinfo, today: date) -> date:
    """The school's day the session started on; never after ``today`` (a step may not lie in
    the future, and "today" is the server's UTC day)."""
    return min(started_at.astimezone(zone).date(), today)


def spans_of(
    comments: Iterable[SessionComment], authors: Collection[int], duration_s: float
) -> tuple[list[tuple[float, float]], int]:
    """The fragments the ``authors``' comments name, in lesson order, each once, at most
    ``MAX_FRAGMENTS``; and how many more there were. A moment becomes the ``MOMENT_SPAN_S``
    after it (cut at the lesson's end); a comment past the end names nothing."""
    found: set[tuple[float, float]] = set()
    for comment in comments:
        if comment.author_id not in authors or comment.start_s >= duration_s:
            continue
        start = round(max(0.0, comment.start_s), 3)
        end = comment.end_s if comment.end_s is not None else start + MOMENT_SPAN_S
        end = round(min(end, duration_s), 3)
        if end > start:
            found.add((start, end))
    ordered = sorted(found)
    return ordered[:MAX_FRAGMENTS], max(0, len(ordered) - MAX_FRAGMENTS)


def proposal(
    *,
    started_at: datetime,
    zone: tzinfo,
    today: date,
    attendees: Iterable[Attendee],
    in_trajectory: Collection[int],
    comments: Iterable[SessionComment],
    duration_s: float,
) -> Proposal:
    """The conversation ``attendees`` of a session make in a trajectory whose teacher and
    members are ``in_trajectory`` (user ids)."""
    taking_part: list[Attendee] = []
    left_out: list[LeftOut] = []
    for person in attendees:
        if not person.joined:
            left_out.append(LeftOut(person.username, person.display_name, "never_joined"))
        elif person.user_id not in in_trajectory:
            left_out.append(LeftOut(person.username, person.display_name, "not_member"))
        else:
            taking_part.append(person)
    spans, dropped = spans_of(comments, {p.user_id for p in taking_part}, duration_s)
    return Proposal(
        held_on=day_of(started_at, zone, today),
        participants=tuple(p.username for p in taking_part),
        minutes=minutes_of(p.present_s for p in taking_part),
        spans=tuple(spans),
        left_out=tuple(left_out),
        spans_dropped=dropped,
    )
