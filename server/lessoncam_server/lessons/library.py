"""The library: which lessons a person may open, as one SQL query for the JSON API and the pages.

A person sees her own lessons, those shared with her by an active share (not revoked, not
past its end) of a lesson that has an owner, and the lessons of the open coaching trajectories
she is a member of (invited, accepted, not left or removed; named by the parents' consent in
force; only the trajectory teacher's own lessons); a share as commenter, or membership, lets
her comment. That rule is the permission policy of ``access/permissions.py``
(``lesson_access``), which the check on one lesson applies; ``tests/server/test_library.py``
holds the two to the same answers.

One statement per page, filtered and newest first (no query per lesson), so a library of a
thousand lessons stays fast.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from ..access.memberships import lesson_trajectory
from ..access.permissions import Access, ShareFacts, lesson_access
from ..infra.db import query_rows
from ..infra.timeutil import from_iso, to_iso

PAGE_SIZE = 50

# The lessons :user may open now (:now), and whether she may comment on them.
_VISIBLE = """
visible AS (
    SELECT recording_id, MAX(can_comment) AS can_comment FROM (
        SELECT id AS recording_id, 1 AS can_comment FROM recordings WHERE owner_id = :user
        UNION ALL
        SELECT s.recording_id, s.role = 'commenter'
        FROM shares s JOIN recordings r ON r.id = s.recording_id
        WHERE s.user_id = :user AND s.revoked_at IS NULL
          AND r.owner_id IS NOT NULL AND r.owner_id != :user
          AND (s.expires_at IS NULL OR s.expires_at > :now)
        UNION ALL
        SELECT tl.recording_id, 1
        FROM trajectory_members m
        JOIN trajectories t ON t.id = m.trajectory_id
        JOIN trajectory_lessons tl ON tl.trajectory_id = t.id
        JOIN recordings r ON r.id = tl.recording_id
        WHERE m.user_id = :user AND m.accepted_at IS NOT NULL AND m.ended_at IS NULL
          AND t.status != 'closed' AND r.owner_id = t.teacher_id AND r.owner_id != :user
          AND EXISTS (SELECT 1 FROM trajectory_consents c
                      JOIN consent_watchers w ON w.consent_id = c.id
                      WHERE c.trajectory_id = t.id AND c.ended_at IS NULL AND w.user_id = :user)
    ) GROUP BY recording_id
)"""

_FILTERED = """
FROM recordings r JOIN visible v ON v.recording_id = r.id
LEFT JOIN units un ON un.id = r.unit_id
LEFT JOIN users ow ON ow.id = r.owner_id
LEFT JOIN trajectory_lessons tl ON tl.recording_id = r.id
WHERE (:like IS NULL OR r.title LIKE :like ESCAPE '\\' OR r.description LIKE :like ESCAPE '\\'
       OR un.name LIKE :like ESCAPE '\\')
  AND (:trajectory IS NULL OR tl.trajectory_id = :trajectory)
  AND (:since IS NULL OR r.started_at >= :since)
  AND (:until IS NULL OR r.started_at < :until)"""

# What the library page shows of each lesson.
_LISTED = """r.id, r.title, r.description, r.started_at, r.duration_s, r.state, r.state_reason,
       r.expected_segments, r.interrupted, r.owner_id, r.kind, un.name AS unit,
       ow.display_name AS owner_name,
       (SELECT t.title FROM trajectories t WHERE t.id = tl.trajectory_id
          AND (t.teacher_id = :user OR t.id IN (SELECT trajectory_id FROM trajectory_members
               WHERE user_id = :user AND accepted_at IS NOT NULL AND ended_at IS NULL)))
         AS trajectory_title, tl.trajectory_id,
       CASE WHEN r.state = 'ready' THEN NULL
            ELSE (SELECT COUNT(*) FROM segments g WHERE g.recording_id = r.id) END AS received"""


@dataclass(frozen=True)
class LibraryFilter:
    """What the reader asked for: words in title, description or unit, and a date range."""

    text: str = ""
    date_from: date | None = None
    date_to: date | None = None  # inclusive
    page: int = 1
    trajectory_id: int | None = None  # only the lessons of this trajectory


@dataclass
class LibraryPage:
    lessons: list[dict[str, Any]]
    total: int
    page: int
    pages: int


def _bound(day: date | None, zone: ZoneInfo, plus_days: int = 0) -> str | None:
    if day is None:
        return None
    local = datetime.combine(day + timedelta(days=plus_days), time.min, tzinfo=zone)
    return to_iso(local)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _params(user_id: int, now: datetime, wanted: LibraryFilter, zone: ZoneInfo) -> dict[str, Any]:
    text = wanted.text.strip()
    return {
        "user": user_id,
        "now": to_iso(now),
        "like": _like(text) if text else None,
        "since": _bound(wanted.date_from, zone),
        "until": _bound(wanted.date_to, zone, plus_days=1),
        "trajectory": wanted.trajectory_id,
    }


def _count(db: Database, params: dict[str, Any]) -> int:
    """How many visible lessons match ``params``."""
    sql = f"WITH {_VISIBLE} SELECT COUNT(*) {_FILTERED}"
    return int(db.execute(sql, params).fetchone()[0])


def _rows(
    db: Database, columns: str, params: dict[str, Any], limit: int, offset: int
) -> list[dict[str, Any]]:
    """``columns`` of the visible lessons matching ``params``, newest first, one page."""
    sql = (
        f"WITH {_VISIBLE} SELECT {columns} {_FILTERED}"
        " ORDER BY r.started_at DESC, r.id LIMIT :limit OFFSET :offset"
    )
    return query_rows(db, sql, {**params, "limit": limit, "offset": offset})


def library_page(
    db: Database, user_id: int, now: datetime, wanted: LibraryFilter, zone: ZoneInfo
) -> LibraryPage:
    """The page ``wanted.page`` of the lessons ``user_id`` may open that match ``wanted``
    (dates in ``zone``), as the library page lists them."""
    params = _params(user_id, now, wanted, zone)
    total = _count(db, params)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, wanted.page), pages)
    rows = _rows(db, _LISTED, params, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    lessons = [_shape(row, user_id) for row in rows]
    return LibraryPage(lessons=lessons, total=total, page=page, pages=pages)


def visible_lessons(
    db: Database,
    user_id: int,
    now: datetime,
    *,
    limit: int,
    offset: int,
    trajectory_id: int | None = None,
) -> tuple[list[tuple[dict[str, Any], Access]], int]:
    """The lessons ``user_id`` may open (of trajectory ``trajectory_id`` only, when given),
    newest first, ``limit`` from ``offset`` on: each row of ``recordings`` with her access to
    it; and how many there are in all (the JSON API's library)."""
    wanted = LibraryFilter(trajectory_id=trajectory_id)
    params = _params(user_id, now, wanted, ZoneInfo("UTC"))
    total = _count(db, params)
    rows = _rows(db, "r.*, v.can_comment", params, limit, offset)
    found = []
    for row in rows:
        can_comment = bool(row.pop("can_comment"))
        manage = row["owner_id"] == user_id
        found.append((row, Access(view=True, comment=can_comment, manage=manage)))
    return found, total


def _shape(row: dict[str, Any], user_id: int) -> dict[str, Any]:
    plan = json.loads(row.pop("expected_segments")) if row["expected_segments"] else None
    row["expected"] = sum(plan["segments"].values()) if plan else None
    row["is_owner"] = row["owner_id"] == user_id
    row["interrupted"] = bool(row["interrupted"])
    if row["trajectory_title"] is None:  # in a trajectory this reader is not in
        row["trajectory_id"] = None
    return row


def share_facts(db: Database, recording_id: str) -> list[ShareFacts]:
    """The shares of one lesson, as the permission policy reads them."""
    return [
        ShareFacts(
            user_id=row["user_id"],
            role=row["role"],
            expires_at=from_iso(row["expires_at"]) if row["expires_at"] else None,
            revoked_at=from_iso(row["revoked_at"]) if row["revoked_at"] else None,
        )
        for row in query_rows(db, "SELECT * FROM shares WHERE recording_id = ?", [recording_id])
    ]


def access(db: Database, user_id: int, row: Mapping[str, Any], now: datetime) -> Access:
    """What ``user_id`` may do with the lesson ``row`` now (the check on one lesson)."""
    trajectory = lesson_trajectory(db, row["id"])
    return lesson_access(user_id, row["owner_id"], share_facts(db, row["id"]), now, trajectory)
