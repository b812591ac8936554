"""Writing a watch-together session down as a trajectory's conversation: the sessions on the
trajectory's lessons a member took part in, recording one (a conversation step prefilled from
the session, linked to it so it is not recorded twice; audited), and the "watched together"
figures of the steps made so. Reads and writes the tables; the rules are in
``from_session.py`` and ``steps.py``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from ..access.principal import User
from ..infra.db import query_row, query_rows
from ..infra.errors import Conflict, Forbidden, Invalid, NotFound
from ..infra.timeutil import from_iso, to_iso
from ..lessons.watching import records
from ..services import Services
from . import fragments, steps
from .fragments import Fragment
from .from_session import Attendee, Proposal, SessionComment, proposal
from .rules import require_open
from .steps import StepDraft

#: The notes a recorded session starts with, when the caller gives none.
DEFAULT_BODY = "We watched the lesson together."


@dataclass(frozen=True, slots=True)
class Recorded:
    """The conversation step written, and what the session gave it."""

    step: dict[str, Any]
    proposal: Proposal


def left_out_rows(made: Proposal) -> list[dict[str, str]]:
    """Who ``made`` leaves out, as the API and the step's record show it."""
    return [
        {"username": p.username, "display_name": p.display_name, "reason": p.reason}
        for p in made.left_out
    ]


def in_trajectory(db: Database, trajectory: Mapping[str, Any]) -> set[int]:
    """The user ids of the trajectory's teacher and its members now."""
    rows = db.execute(
        """SELECT user_id FROM trajectory_members WHERE trajectory_id = ?
           AND accepted_at IS NOT NULL AND ended_at IS NULL""",
        [trajectory["id"]],
    ).fetchall()
    return {int(trajectory["teacher_id"]), *(int(r[0]) for r in rows)}


def took_part_in(db: Database, trajectory_id: int, user_id: int) -> list[dict[str, Any]]:
    """The sessions on the trajectory's lessons that ``user_id`` joined, newest first:
    ``id``, ``lesson_id``, ``lesson_title``, ``lesson_started_at``, ``created_at``,
    ``ended_at``, ``step_id`` (the conversation it was recorded as, or None) and ``people``
    (display names of those who joined)."""
    sessions = query_rows(
        db,
        """SELECT s.id, s.recording_id AS lesson_id, r.title AS lesson_title,
                  r.started_at AS lesson_started_at, s.created_at, s.ended_at,
                  w.step_id
           FROM watch_sessions s
           JOIN trajectory_lessons tl ON tl.recording_id = s.recording_id
           JOIN recordings r ON r.id = s.recording_id
           JOIN watch_participants p ON p.session_id = s.id AND p.user_id = :user
           LEFT JOIN watch_conversations w ON w.session_id = s.id
           WHERE tl.trajectory_id = :t AND p.first_joined_at IS NOT NULL
           ORDER BY s.created_at DESC, s.id""",
        {"t": trajectory_id, "user": user_id},
    )
    for session in sessions:
        session["people"] = [
            p["display_name"]
            for p in records.participants(db, session["id"])
            if p["first_joined_at"]
        ]
    return sessions


def by_step(db: Database, trajectory_id: int) -> dict[int, dict[str, Any]]:
    """The steps of the trajectory written from a session: step id -> ``people``,
    ``minutes`` (what the timeline shows as "watched together")."""
    rows = query_rows(
        db,
        """SELECT w.step_id, w.people, w.minutes FROM watch_conversations w
           JOIN trajectory_steps s ON s.id = w.step_id WHERE s.trajectory_id = ?""",
        [trajectory_id],
    )
    return {r["step_id"]: {"people": r["people"], "minutes": r["minutes"]} for r in rows}


def left_out_of(db: Database, step_id: int) -> list[dict[str, str]] | None:
    """Who was present in the session step ``step_id`` was written from but is not in it
    (``username``, ``display_name``, ``reason``); None for a step not written from one."""
    row = db.execute(
        "SELECT left_out FROM watch_conversations WHERE step_id = ?", [step_id]
    ).fetchone()
    if row is None:
        return None
    found: list[dict[str, str]] = json.loads(row[0])
    return found


def _session(db: Database, raw_id: str, user: User) -> dict[str, Any]:
    """The session ``raw_id`` if ``user`` was invited to it (or started it)."""
    found = query_row(
        db,
        """SELECT s.*, p.first_joined_at FROM watch_sessions s
           JOIN watch_participants p ON p.session_id = s.id AND p.user_id = ?
           WHERE s.id = ?""",
        [user.id, raw_id[:64]],
    )
    if found is None:
        raise NotFound("not_found", "no such watch-together session, or not for you")
    return found


def _attendees(db: Database, session_id: str, live: Mapping[int, float]) -> list[Attendee]:
    return [
        Attendee(
            user_id=p["user_id"],
            username=p["username"],
            display_name=p["display_name"],
            present_s=float(p["present_s"]) + live.get(p["user_id"], 0.0),
            joined=p["first_joined_at"] is not None or p["user_id"] in live,
        )
        for p in records.participants(db, session_id)
    ]


def _comments(db: Database, session: Mapping[str, Any], until: str) -> list[SessionComment]:
    # Shared comments only: a private note stays its author's, also as a fragment's time.
    rows = db.execute(
        """SELECT author_id, start_s, end_s FROM comments
           WHERE recording_id = ? AND parent_id IS NULL AND visibility = 'shared'
             AND author_id IS NOT NULL AND created_at >= ? AND created_at <= ?""",
        [session["recording_id"], session["created_at"], until],
    ).fetchall()
    return [SessionComment(int(a), float(s), None if e is None else float(e)) for a, s, e in rows]


def record(
    services: Services,
    user: User,
    trajectory: dict[str, Any],
    raw_session_id: str,
    *,
    body: str = "",
    live: Mapping[int, float] | None = None,
    address: str,
) -> Recorded:
    """``user`` (who may contribute to ``trajectory``: the caller checked) writes the session
    ``raw_session_id`` down as a conversation step; audited. ``live``: seconds of the
    connections still open, by user id, for a session still running. Raises NotFound
    ``not_found`` (no such session for her; audited), Forbidden ``not_present`` (she never
    joined it), Invalid ``session_other_lesson`` (not on a lesson of this trajectory) and
    ``lesson_not_in_trajectory`` (a lesson she may no longer open), Conflict
    ``trajectory_closed``, ``session_recorded``; and those of ``steps.add``."""
    db, now = services.db, services.now()
    require_open(trajectory)
    try:
        session = _session(db, raw_session_id, user)
    except NotFound:
        services.audit_from(
            address,
            user,
            "access_denied",
            outcome="denied",
            object_kind="watch_session",
            object_id=raw_session_id[:8],
            detail={"trajectory": trajectory["id"]},
        )
        raise
    live = live or {}
    if session["first_joined_at"] is None and user.id not in live:
        raise Forbidden("not_present", "only someone who took part can record this session")
    linked = db.execute(
        "SELECT 1 FROM trajectory_lessons WHERE recording_id = ? AND trajectory_id = ?",
        [session["recording_id"], trajectory["id"]],
    ).fetchone()
    if linked is None:
        raise Invalid("session_other_lesson", "this session is on a lesson of another trajectory")
    lesson = fragments.lesson_of(db, trajectory["id"], user.id, now, session["recording_id"])
    made = proposal(
        started_at=from_iso(session["created_at"]),
        zone=ZoneInfo(services.config.web.timezone),
        today=now.date(),
        attendees=_attendees(db, session["id"], live),
        in_trajectory=in_trajectory(db, trajectory),
        comments=_comments(db, session, session["ended_at"] or to_iso(now)),
        duration_s=float(lesson["duration_s"] or 0.0),
    )
    draft = StepDraft(
        kind="conversation",
        body=body.strip() or DEFAULT_BODY,
        held_on=made.held_on,
        minutes=made.minutes,
        participants=made.participants,
        fragments=tuple(Fragment(lesson["id"], s, e) for s, e in made.spans),
    )
    with db.atomic():
        held = db.execute(
            "SELECT 1 FROM watch_conversations WHERE session_id = ?", [session["id"]]
        ).fetchone()
        if held is not None:
            raise Conflict("session_recorded", "this session is written down as a conversation")
        step = steps.add(services, user, trajectory, draft, address=address)
        db.table("watch_conversations").insert(
            {
                "step_id": step["id"],
                "session_id": session["id"],
                "people": len(made.participants),
                "minutes": made.minutes,
                "left_out": json.dumps(left_out_rows(made)),
                "recorded_by": user.id,
                "recorded_at": to_iso(now),
            }
        )
    services.audit_from(
        address,
        user,
        "conversation_from_session",
        object_kind="trajectory",
        object_id=trajectory["id"],
        detail={
            "step": step["id"],
            "session": session["id"][:8],
            "left_out": [p.username for p in made.left_out],
        },
    )
    return Recorded(step, made)
