"""Who opened a lesson, and when: the owner sees it; her own visits are not counted. And how
long each person (the owner too) actually played it, as the player measures it: the
reflection's "minutes watching" are filled in from that."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlite_utils import Database

from ..access.principal import User
from ..infra.errors import Invalid
from ..infra.timeutil import to_iso
from ..services import Services


def record(db: Database, lesson: Mapping[str, Any], user_id: int, now: datetime) -> bool:
    """Count one opening of ``lesson`` by ``user_id``; the owner's own openings are not
    counted. Returns True when it was counted."""
    if lesson["owner_id"] is None or lesson["owner_id"] == user_id:
        return False
    stamp = to_iso(now)
    db.execute(
        """INSERT INTO lesson_views (recording_id, user_id, first_at, last_at, count)
           VALUES (?, ?, ?, ?, 1)
           ON CONFLICT (recording_id, user_id)
           DO UPDATE SET last_at = excluded.last_at, count = count + 1""",
        [lesson["id"], user_id, stamp, stamp],
    )
    return True


def record_open(
    services: Services, request: web.Request | None, user: User, lesson: Mapping[str, Any]
) -> None:
    """Everything that happens when someone opens a lesson (the API's lesson detail and the
    player page call this): an audit entry ``lesson_view`` and, unless she is the owner, a
    view in the owner's list."""
    services.audit(request, user, "lesson_view", object_kind="lesson", object_id=lesson["id"])
    record(services.db, lesson, user.id, services.now())


def viewers(db: Database, recording_id: str) -> list[dict[str, Any]]:
    """Who opened the lesson, most recent first: ``username``, ``display_name``,
    ``first_viewed_at``, ``last_viewed_at``, ``count``."""
    rows = db.execute(
        """SELECT u.username, u.display_name, v.first_at, v.last_at, v.count
           FROM lesson_views v JOIN users u ON u.id = v.user_id
           WHERE v.recording_id = ? ORDER BY v.last_at DESC, u.username""",
        [recording_id],
    ).fetchall()
    return [
        {
            "username": r[0],
            "display_name": r[1],
            "first_viewed_at": r[2],
            "last_viewed_at": r[3],
            "count": r[4],
        }
        for r in rows
    ]


#: The player reports every 15 s (and when the page is left); one report covers at most this.
MAX_REPORTED_S = 60.0


def record_playback(
    db: Database, lesson: Mapping[str, Any], user_id: int, seconds: float, now: datetime
) -> float:
    """Add ``seconds`` that ``user_id`` played ``lesson`` (wall-clock time while it played,
    as the player measured it); returns her total for the lesson. Raises Invalid
    ``played_invalid`` for anything but 0 < seconds <= ``MAX_REPORTED_S``."""
    if not math.isfinite(seconds) or not 0 < seconds <= MAX_REPORTED_S:
        raise Invalid(
            "played_invalid", f"report between 0 and {MAX_REPORTED_S:.0f} seconds played at a time"
        )
    db.execute(
        """INSERT INTO lesson_playback (recording_id, user_id, played_s, updated_at)
           VALUES (?, ?, ?, ?)
           ON CONFLICT (recording_id, user_id)
           DO UPDATE SET played_s = played_s + excluded.played_s,
                         updated_at = excluded.updated_at""",
        [lesson["id"], user_id, round(seconds, 3), to_iso(now)],
    )
    return played_seconds(db, lesson["id"], user_id)


def played_seconds(db: Database, recording_id: str, user_id: int) -> float:
    """How many seconds ``user_id`` has played the lesson, in all her sessions together."""
    row = db.execute(
        "SELECT played_s FROM lesson_playback WHERE recording_id = ? AND user_id = ?",
        [recording_id, user_id],
    ).fetchone()
    return float(row[0]) if row else 0.0
