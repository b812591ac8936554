"""The library as one query: the lessons a person may open, filtered, newest first, by page.

One SQL statement per page (no query per lesson), so a library of a thousand lessons stays fast.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from ..access.permissions import Access, ShareFacts, lesson_access
from ..infra.db import query_rows
from ..infra.timeutil import from_iso, to_iso

PAGE_SIZE = 50


def share_facts(db: Database, recording_id: str) -> list[ShareFacts]:
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
    return lesson_access(user_id, row["owner_id"], share_facts(db, row["id"]), now)


def visible_ids(db: Database, user_id: int, now: datetime) -> list[str]:
    """Ids of the lessons ``user_id`` may open: their own and those actively shared with them."""
    rows = db.execute(
        """SELECT id FROM recordings WHERE owner_id = :u
           UNION
           SELECT r.id FROM recordings r JOIN shares s ON s.recording_id = r.id
           WHERE s.user_id = :u AND s.revoked_at IS NULL AND r.owner_id IS NOT NULL
             AND (s.expires_at IS NULL OR s.expires_at > :now)""",
        {"u": user_id, "now": to_iso(now)},
    ).fetchall()
    return [r[0] for r in rows]


@dataclass(frozen=True)
class LibraryFilter:
    """What the reader asked for: words in title, description or unit, and a date range."""

    text: str = ""
    date_from: date | None = None
    date_to: date | None = None  # inclusive
    page: int = 1


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


QUERY = """
WITH visible AS (
    SELECT id FROM recordings WHERE owner_id = :user
    UNION
    SELECT s.recording_id FROM shares s JOIN recordings r ON r.id = s.recording_id
    WHERE s.user_id = :user AND s.revoked_at IS NULL AND r.owner_id IS NOT NULL
      AND (s.expires_at IS NULL OR s.expires_at > :now)
)
SELECT r.id, r.title, r.description, r.started_at, r.duration_s, r.state, r.state_reason,
       r.expected_segments, r.interrupted, r.owner_id, r.kind, un.name AS unit,
       ow.display_name AS owner_name,
       CASE WHEN r.state = 'ready' THEN NULL
            ELSE (SELECT COUNT(*) FROM segments g WHERE g.recording_id = r.id) END AS received
FROM recordings r JOIN visible v ON v.id = r.id
LEFT JOIN units un ON un.id = r.unit_id
LEFT JOIN users ow ON ow.id = r.owner_id
WHERE (:like IS NULL OR r.title LIKE :like ESCAPE '\\' OR r.description LIKE :like ESCAPE '\\'
       OR un.name LIKE :like ESCAPE '\\')
  AND (:since IS NULL OR r.started_at >= :since)
  AND (:until IS NULL OR r.started_at < :until)
"""


def library_page(
    db: Database, user_id: int, now: datetime, wanted: LibraryFilter, zone: ZoneInfo
) -> LibraryPage:
    """The page ``wanted.page`` of the lessons ``user_id`` may open that match ``wanted``."""
    params: dict[str, Any] = {
        "user": user_id,
        "now": to_iso(now),
        "like": _like(wanted.text.strip()) if wanted.text.strip() else None,
        "since": _bound(wanted.date_from, zone),
        "until": _bound(wanted.date_to, zone, plus_days=1),
    }
    total = db.execute(f"SELECT COUNT(*) FROM ({QUERY})", params).fetchone()[0]  # noqa: S608
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, wanted.page), pages)
    params.update(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    rows = query_rows(
        db, QUERY + " ORDER BY r.started_at DESC, r.id LIMIT :limit OFFSET :offset", params
    )
    lessons = [_shape(row, user_id) for row in rows]
    return LibraryPage(lessons=lessons, total=total, page=page, pages=pages)


def _shape(row: dict[str, Any], user_id: int) -> dict[str, Any]:
    plan = json.loads(row.pop("expected_segments")) if row["expected_segments"] else None
    row["expected"] = sum(plan["segments"].values()) if plan else None
    row["is_owner"] = row["owner_id"] == user_id
    row["interrupted"] = bool(row["interrupted"])
    return row
