"""Fragments of a trajectory's lessons that its steps and goals refer to ("see 1:20-2:05"): a
span of one lesson in the trajectory that the writer may open herself. Shared by
``steps.py`` and ``goals.py``."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from ..infra.db import query_row, query_rows
from ..infra.errors import Invalid
from ..lessons import library
from ..lessons.fragments import check_span

_TIME = r"(?:(\d{1,2}):)?(\d{1,2}):(\d{2})"
_SPAN = re.compile(rf"\s*{_TIME}\s*[-\u2013]\s*{_TIME}\s*")
MAX_FRAGMENTS = 20


@dataclass(frozen=True, slots=True)
class Fragment:
    """A span of a lesson, in seconds from its start."""

    lesson_id: str
    start_s: float
    end_s: float


def _seconds(hours: str | None, minutes: str, seconds: str) -> float:
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds)


def parse_spans(text: str) -> list[tuple[float, float]]:
    """Spans as a person types them, ``1:20-2:05; 1:04:10-1:04:30`` (commas, semicolons or new
    lines between them). Raises Invalid ``fragment_invalid``. Pure."""
    spans = []
    for part in re.split(r"[;,\n]", text):
        if not part.strip():
            continue
        found = _SPAN.fullmatch(part)
        if found is None:
            raise Invalid(
                "fragment_invalid",
                f"write a fragment as start-end in minutes and seconds, such as 1:20-2:05; "
                f"not {part.strip()[:40]!r}",
            )
        groups = found.groups()
        spans.append((_seconds(*groups[:3]), _seconds(*groups[3:])))
    return spans


def lesson_of(
    db: Database, trajectory_id: int, user_id: int, now: datetime, lesson_id: str
) -> dict[str, Any]:
    """The lesson ``lesson_id`` if it is in the trajectory and ``user_id`` may open it (the
    one lesson policy). Raises Invalid ``lesson_not_in_trajectory``."""
    lesson = query_row(
        db,
        """SELECT r.* FROM recordings r JOIN trajectory_lessons tl ON tl.recording_id = r.id
           WHERE r.id = ? AND tl.trajectory_id = ?""",
        [lesson_id[:64], trajectory_id],
    )
    if lesson is None or not library.access(db, user_id, lesson, now).view:
        raise Invalid(
            "lesson_not_in_trajectory", "choose a lesson of this trajectory that you can open"
        )
    return lesson


def checked(
    db: Database,
    trajectory_id: int,
    user_id: int,
    now: datetime,
    fragments: Iterable[Fragment],
) -> list[Fragment]:
    """``fragments`` if each lies within a lesson of the trajectory that ``user_id`` may open
    (the one lesson policy), rounded as the comments' times are. Raises Invalid
    ``too_many_fragments``, ``lesson_not_in_trajectory``, ``lesson_not_ready`` and the
    time codes of ``lessons/fragments.check_span`` (``end_before_start``, ...)."""
    wanted = list(fragments)
    if len(wanted) > MAX_FRAGMENTS:
        raise Invalid("too_many_fragments", f"at most {MAX_FRAGMENTS} fragments at a time")
    out = []
    for fragment in wanted:
        lesson = lesson_of(db, trajectory_id, user_id, now, fragment.lesson_id)
        if lesson["state"] != "ready" or lesson["duration_s"] is None:
            raise Invalid("lesson_not_ready", "fragments can be marked once the lesson is ready")
        start, end = check_span(fragment.start_s, fragment.end_s, float(lesson["duration_s"]))
        assert end is not None
        out.append(Fragment(lesson["id"], start, end))
    return out


def store(
    db: Database,
    fragments: Iterable[Fragment],
    *,
    step_id: int | None = None,
    goal_id: int | None = None,
) -> None:
    """Keep checked ``fragments`` for a step or a goal (the caller's transaction)."""
    for fragment in fragments:
        db.table("step_fragments").insert(
            {
                "step_id": step_id,
                "goal_id": goal_id,
                "recording_id": fragment.lesson_id,
                "start_s": fragment.start_s,
                "end_s": fragment.end_s,
            }
        )


def of_trajectory(db: Database, trajectory_id: int) -> list[dict[str, Any]]:
    """Every fragment of the trajectory's steps and goals, in timeline order: ``step_id``,
    ``goal_id``, ``lesson_id``, ``start_s``, ``end_s``, ``lesson_title``,
    ``lesson_started_at``."""
    return query_rows(
        db,
        """SELECT f.step_id, f.goal_id, f.recording_id AS lesson_id, f.start_s, f.end_s,
                  r.title AS lesson_title, r.started_at AS lesson_started_at
           FROM step_fragments f JOIN recordings r ON r.id = f.recording_id
           LEFT JOIN trajectory_steps s ON s.id = f.step_id
           LEFT JOIN trajectory_goals g ON g.id = f.goal_id
           WHERE s.trajectory_id = :t OR g.trajectory_id = :t
           ORDER BY r.started_at, f.start_s, f.id""",
        {"t": trajectory_id},
    )
