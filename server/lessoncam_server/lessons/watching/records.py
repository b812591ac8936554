"""What is kept of watch-together sessions: the session (lesson, who started it, when it
ended and why), whom she invited, and per person when she joined, left and how long she was
present. The owner's "who watched" and a trajectory's conversation record read these; the
seconds each person played are counted by the player as always (``lessons/viewings.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from ...infra.db import query_row, query_rows
from ...infra.timeutil import to_iso
from .. import library


def create(db: Database, session_id: str, lesson_id: str, host_id: int, now: datetime) -> None:
    """A new session on ``lesson_id``, started by ``host_id`` (her own participant row)."""
    stamp = to_iso(now)
    with db.atomic():
        db.execute(
            """INSERT INTO watch_sessions (id, recording_id, host_id, created_at)
               VALUES (?, ?, ?, ?)""",
            [session_id, lesson_id, host_id, stamp],
        )
        _add(db, session_id, host_id, host_id, stamp)


def _add(db: Database, session_id: str, user_id: int, by: int, stamp: str) -> None:
    db.execute(
        """INSERT INTO watch_participants (session_id, user_id, invited_by, invited_at)
           VALUES (?, ?, ?, ?)
           ON CONFLICT (session_id, user_id) DO UPDATE SET removed_at = NULL""",
        [session_id, user_id, by, stamp],
    )


def invite(db: Database, session_id: str, user_id: int, by: int, now: datetime) -> None:
    _add(db, session_id, user_id, by, to_iso(now))


def remove(db: Database, session_id: str, user_id: int, now: datetime) -> None:
    db.execute(
        "UPDATE watch_participants SET removed_at = ? WHERE session_id = ? AND user_id = ?",
        [to_iso(now), session_id, user_id],
    )


def joined(db: Database, session_id: str, user_id: int, now: datetime) -> None:
    db.execute(
        """UPDATE watch_participants SET first_joined_at = COALESCE(first_joined_at, ?)
           WHERE session_id = ? AND user_id = ?""",
        [to_iso(now), session_id, user_id],
    )


def left(db: Database, session_id: str, user_id: int, present_s: float, now: datetime) -> None:
    """One connection of hers closed after ``present_s`` seconds."""
    db.execute(
        """UPDATE watch_participants SET last_left_at = ?, present_s = present_s + ?
           WHERE session_id = ? AND user_id = ?""",
        [to_iso(now), round(max(0.0, present_s), 3), session_id, user_id],
    )


def end(db: Database, session_id: str, reason: str, now: datetime) -> None:
    db.execute(
        "UPDATE watch_sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL",
        [to_iso(now), reason, session_id],
    )


def end_all_open(db: Database, reason: str, now: datetime) -> int:
    """Sessions live in memory: at start-up, the ones a previous process left open end."""
    cursor = db.execute(
        "UPDATE watch_sessions SET ended_at = ?, end_reason = ? WHERE ended_at IS NULL",
        [to_iso(now), reason],
    )
    return int(cursor.rowcount or 0)


def participants(db: Database, session_id: str) -> list[dict[str, Any]]:
    """Everyone invited to the session (the host first): ``user_id``, ``username``,
    ``display_name``, ``first_joined_at``, ``last_left_at``, ``present_s``, ``removed``."""
    rows = query_rows(
        db,
        """SELECT p.user_id, u.username, u.display_name, p.first_joined_at, p.last_left_at,
                  p.present_s, p.removed_at IS NOT NULL AS removed
           FROM watch_participants p
           JOIN watch_sessions s ON s.id = p.session_id
           JOIN users u ON u.id = p.user_id
           WHERE p.session_id = ?
           ORDER BY p.user_id != s.host_id, p.invited_at, u.username""",
        [session_id],
    )
    for row in rows:
        row["removed"] = bool(row["removed"])
    return rows


def session_row(db: Database, session_id: str) -> dict[str, Any] | None:
    return query_row(db, "SELECT * FROM watch_sessions WHERE id = ?", [session_id])


def of_lesson(db: Database, lesson_id: str) -> list[dict[str, Any]]:
    """The lesson's sessions, newest first, each with its participants (who watched together
    and for how long)."""
    sessions = query_rows(
        db,
        """SELECT id, host_id, created_at, ended_at, end_reason FROM watch_sessions
           WHERE recording_id = ? ORDER BY created_at DESC, id""",
        [lesson_id],
    )
    for session in sessions:
        session["participants"] = participants(db, session["id"])
    return sessions


def watched_together(db: Database, lesson_id: str) -> list[dict[str, Any]]:
    """The lesson's sessions anyone joined (who watched together, and how long), newest
    first: the owner's "who watched"."""
    return [
        session
        for session in of_lesson(db, lesson_id)
        if any(p["first_joined_at"] for p in session["participants"])
    ]


def open_invitations(db: Database, user_id: int, now: datetime) -> list[dict[str, Any]]:
    """Sessions still running that ``user_id`` is invited to by someone else, on lessons she
    may still view: ``session_id``, ``lesson_id``, ``title``, ``started_at``, ``host_name``,
    ``created_at``."""
    rows = query_rows(
        db,
        """SELECT s.id AS session_id, r.id AS lesson_id, r.title, r.started_at,
                  r.owner_id, h.display_name AS host_name, s.created_at
           FROM watch_participants p
           JOIN watch_sessions s ON s.id = p.session_id
           JOIN recordings r ON r.id = s.recording_id
           LEFT JOIN users h ON h.id = s.host_id
           WHERE p.user_id = ? AND p.removed_at IS NULL AND s.ended_at IS NULL
             AND s.host_id IS NOT ? ORDER BY s.created_at DESC""",
        [user_id, user_id],
    )
    found = []
    for row in rows:
        lesson = {"id": row["lesson_id"], "owner_id": row.pop("owner_id")}
        if library.access(db, user_id, lesson, now).view:
            found.append(row)
    return found


def may_view(db: Database, user_id: int, lesson: Mapping[str, Any], now: datetime) -> bool:
    return library.access(db, user_id, lesson, now).view


def candidates(
    db: Database, lesson: Mapping[str, Any], user_id: int, now: datetime
) -> list[dict[str, Any]]:
    """The people ``user_id`` could invite: everyone else who may view the lesson now (its
    owner, the people it is shared with, the members of its trajectory), by name."""
    rows = query_rows(
        db,
        """SELECT id, username, display_name FROM users
           WHERE disabled = 0 AND id != :me AND (
               id = :owner
               OR id IN (SELECT user_id FROM shares WHERE recording_id = :lesson)
               OR id IN (SELECT m.user_id FROM trajectory_members m
                         JOIN trajectory_lessons tl ON tl.trajectory_id = m.trajectory_id
                         WHERE tl.recording_id = :lesson))
           ORDER BY display_name, username""",
        {"me": user_id, "owner": lesson["owner_id"], "lesson": lesson["id"]},
    )
    return [row for row in rows if may_view(db, row["id"], lesson, now)]


def comment_fits(db: Database, comment_id: int, lesson_id: str) -> bool:
    """A comment announced in a session is on its lesson (a deleted one is fine: the others
    reload their list, which shows each of them what she may see)."""
    row = db.execute("SELECT recording_id FROM comments WHERE id = ?", [comment_id]).fetchone()
    return row is None or row[0] == lesson_id
