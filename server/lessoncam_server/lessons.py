"""Lessons as people see them: a recording with an owner, shares, assembled media and a state."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from . import clips, comments, recordings, retention
from .db import query_rows
from .paths import DataPaths
from .permissions import Access, ShareFacts, lesson_access
from .timeutil import from_iso, to_iso

log = logging.getLogger(__name__)


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


def media_of(db: Database, recording_id: str) -> dict[str, dict[str, Any]]:
    out = {}
    for row in query_rows(db, "SELECT * FROM media WHERE recording_id = ?", [recording_id]):
        row["gaps"] = json.loads(row["gaps"])
        row["thumbs"] = json.loads(row["thumbs"]) if row["thumbs"] else None
        out[row["camera"]] = row
    return out


def summary(db: Database, row: Mapping[str, Any], user_id: int, acc: Access) -> dict[str, Any]:
    """A lesson as the library and the player see it."""
    manifest = recordings.manifest_of(row)
    prog = recordings.progress(db, row)
    unit = db.execute("SELECT name FROM units WHERE id = ?", [row["unit_id"]]).fetchone()
    owner = db.execute(
        "SELECT username, display_name FROM users WHERE id = ?", [row["owner_id"]]
    ).fetchone()
    media = media_of(db, row["id"]) if row["state"] == "ready" else {}
    base = f"/api/v1/lessons/{row['id']}"
    cameras = []
    for cam in manifest.cameras:
        m = media.get(cam.id)
        cameras.append(
            {
                "id": cam.id,
                "role": cam.role,
                "label": cam.label,
                "has_audio": manifest.audio_camera == cam.id,
                "video_url": f"{base}/cameras/{cam.id}/video" if m else None,
                "thumbnails_url": f"{base}/cameras/{cam.id}/thumbnails.jpg"
                if m and m["thumbs"]
                else None,
                "thumbnails": m["thumbs"] if m else None,
                "duration_s": m["duration_s"] if m else None,
                "width": m["width"] if m else cam.video.width,
                "height": m["height"] if m else cam.video.height,
                "gaps": m["gaps"] if m else [],
            }
        )
    return {
        "id": row["id"],
        "title": row["title"] or f"Lesson {row['started_at'][:16].replace('T', ' ')} UTC",
        "description": row["description"],
        "started_at": row["started_at"],
        "duration_s": row["duration_s"],
        "state": row["state"],
        "state_reason": row["state_reason"],
        "progress": {"received": prog.received, "expected": prog.expected},
        "interrupted": bool(row["interrupted"]),
        "unit": unit[0] if unit else None,
        "owner": {"username": owner[0], "display_name": owner[1]} if owner else None,
        "is_owner": row["owner_id"] == user_id,
        "access": {"view": acc.view, "comment": acc.comment, "manage": acc.manage},
        "poster_url": f"{base}/poster.jpg" if media else None,
        "cameras": cameras,
        "comment_count": comments.count_visible(db, row["id"], user_id),
        **clips.summary_extra(row, user_id),
    }


def delete(db: Database, paths: DataPaths, recording_id: str) -> None:
    """Remove a lesson's rows, then its files (a crash in between leaves files that
    ``remove_orphans`` clears at the next start)."""
    with db.atomic():
        db.execute("DELETE FROM recordings WHERE id = ?", [recording_id])
    shutil.rmtree(paths.recording_dir(recording_id), ignore_errors=True)


def remove_orphans(db: Database, paths: DataPaths) -> list[str]:
    """Delete recording folders that no row refers to any more."""
    known = {r[0] for r in db.execute("SELECT id FROM recordings").fetchall()}
    removed = []
    if paths.recordings.exists():
        for folder in paths.recordings.iterdir():
            if folder.is_dir() and folder.name not in known:
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder.name)
    return removed


def retention_days(db: Database, default: int) -> int:
    row = db.execute("SELECT value FROM settings WHERE key = ?", [retention.SETTING_KEY]).fetchone()
    return int(row[0]) if row else default


def expired_ids(db: Database, now: datetime, days: int) -> list[str]:
    cutoff = to_iso(retention.cutoff(now, days))
    rows = db.execute("SELECT id FROM recordings WHERE started_at < ?", [cutoff]).fetchall()
    return [r[0] for r in rows]
