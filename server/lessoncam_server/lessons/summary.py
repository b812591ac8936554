"""A lesson as people see it: a recording with an owner, shares, assembled media and a state."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from sqlite_utils import Database

from ..access.permissions import Access
from ..infra.db import query_rows
from ..units import recordings
from . import clips, comments

log = logging.getLogger(__name__)


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
