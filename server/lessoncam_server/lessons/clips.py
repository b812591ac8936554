"""Clips: a fragment of a lesson cut into a recording of its own (kind 'clip').

A clip is a row in ``recordings`` like any lesson, with its own media files (remuxed at
keyframes, never re-encoded, every camera), poster, thumbnails, shares and comments. So the
library, the player, sharing, permissions and downloads work on it unchanged, and a colleague
who gets a clip sees only its minutes: nothing in a clip leads to the source lesson except,
for its owner, ``source_id``.

Retention: a clip's ``started_at`` is the moment in the lesson where it begins, so the
retention period counts from when the lesson was recorded and a clip expires with its
lesson. Deleting the source lesson keeps its clips (they are the owner's to delete; the
lesson DELETE takes ``?with_clips=1`` to delete them too); ``source_id`` then becomes null.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlite_utils import Database

from ..infra.timeutil import from_iso, to_iso
from ..media.cutting import MediaRefused, cut, keyframe_span
from ..media.remux import AssembledVideo, RemuxError
from ..units import recordings
from .fragments import InvalidInput, check_span, gaps_within

if TYPE_CHECKING:
    from ..services import Services

MIN_CLIP_S = 1.0
MAX_TITLE = 200


def create(
    db: Database,
    source: Mapping[str, Any],
    start_s: float,
    end_s: float,
    title: str,
    now: datetime,
) -> dict[str, Any]:
    """Register a clip of ``source`` (the caller checked ``manage`` access) in state
    'assembling'; the assembler cuts it. Returns its row.

    Raises :class:`InvalidInput` (``lesson_not_ready``, the ``check_span`` codes,
    ``clip_too_short``, ``title_too_long``).
    """
    if source["state"] != "ready" or source["duration_s"] is None:
        raise InvalidInput("lesson_not_ready", "a clip can be cut once the lesson is ready", 409)
    start, end = check_span(start_s, end_s, float(source["duration_s"]))
    assert end is not None
    if end - start < MIN_CLIP_S:
        raise InvalidInput("clip_too_short", f"a clip lasts at least {MIN_CLIP_S:g} second")
    title = title.strip()
    if len(title) > MAX_TITLE:
        raise InvalidInput("title_too_long", f"a title has at most {MAX_TITLE} characters")
    clip_id = uuid.uuid4().hex
    manifest = recordings.manifest_of(source)
    started = from_iso(source["started_at"]) + timedelta(seconds=start)
    clip_manifest = manifest.model_copy(update={"recording_id": clip_id, "started_at": started})
    db.table("recordings").insert(
        {
            "id": clip_id,
            "unit_id": source["unit_id"],
            "owner_id": source["owner_id"],
            "title": title,
            "description": "",
            "started_at": to_iso(started),
            "manifest": clip_manifest.model_dump_json(),
            "state": "assembling",
            "created_at": to_iso(now),
            "kind": "clip",
            "source_id": source["id"],
            "source_start_s": start,
            "source_end_s": end,
        }
    )
    row = recordings.get(db, clip_id)
    assert row is not None
    return row


def of_lesson(db: Database, source_id: str) -> list[dict[str, Any]]:
    """The clips cut from a lesson (for its owner): id, title, state, source_start_s,
    source_end_s, created_at; in timeline order."""
    rows = db.execute(
        """SELECT id, title, state, state_reason, source_start_s, source_end_s, created_at
           FROM recordings WHERE source_id = ? AND kind = 'clip'
           ORDER BY source_start_s, created_at""",
        [source_id],
    )
    columns = [c[0] for c in rows.description]
    return [dict(zip(columns, r, strict=True)) for r in rows.fetchall()]


def summary_extra(row: Mapping[str, Any], user_id: int) -> dict[str, Any]:
    """What the lesson summary adds: ``kind`` for everyone, ``clip_of`` only for the owner
    (a colleague who has the clip must not learn about the lesson it came from)."""
    kind = row.get("kind") or "unit"
    clip_of = None
    if kind == "clip" and row["owner_id"] == user_id:
        clip_of = {
            "id": row["source_id"],
            "start_s": row["source_start_s"],
            "end_s": row["source_end_s"],
        }
    return {"kind": kind, "clip_of": clip_of}


async def cut_media(
    services: Services, clip: Mapping[str, Any], version: int
) -> tuple[list[tuple[str, AssembledVideo]], str]:
    """Cut every camera of the source at the main camera's keyframes (run by the assembler).

    The main camera decides the cut: from its keyframe at or before the wanted start to its
    first keyframe at or after the wanted end. The other cameras are cut on the same
    timeline, so the player keeps them in sync; each starts at its first keyframe.
    """
    db, paths = services.db, services.paths
    source = recordings.get(db, clip["source_id"]) if clip["source_id"] else None
    if source is None or source["state"] != "ready":
        raise MediaRefused("source_gone", "the lesson this clip comes from was deleted")
    # Each camera of the source with its holes (summary.py imports this module, not back).
    media = {
        camera: json.loads(gaps)
        for camera, gaps in db.execute(
            "SELECT camera, gaps FROM media WHERE recording_id = ?", [source["id"]]
        ).fetchall()
    }
    manifest = recordings.manifest_of(source)
    main = next((c.id for c in manifest.cameras if c.role == "main" and c.id in media), None)
    if main is None:
        raise MediaRefused("source_gone", "the lesson has no main camera video")
    src_version = source["media_version"]

    def work() -> tuple[list[tuple[str, AssembledVideo]], float, float]:
        main_src = paths.video(source["id"], main, src_version)
        span = keyframe_span(main_src, clip["source_start_s"], clip["source_end_s"])
        videos = []
        for camera in [main, *(c for c in media if c != main)]:
            out = paths.video(clip["id"], camera, version)
            src = paths.video(source["id"], camera, src_version)
            try:
                video = cut(src, out, span.start_s, span.end_s)
            except RemuxError:
                if camera == main:
                    raise
                continue
            # The lesson's holes (lost segments) inside the clip stay holes, on its timeline.
            gaps = gaps_within(media[camera], span.start_s, span.end_s)
            videos.append((camera, replace(video, gaps=gaps)))
        return videos, span.start_s, span.end_s

    videos, start, end = await asyncio.to_thread(work)
    db.table("recordings").update(
        clip["id"],
        {"source_start_s": round(start, 3), "source_end_s": round(end, 3)},
    )
    return videos, main
