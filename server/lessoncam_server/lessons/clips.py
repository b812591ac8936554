"""Clips: a fragment of a lesson cut into a recording of its own (kind 'clip').

A clip is a row in ``recordings`` like any lesson, with its own media files (cut at keyframes
by ``media/makers.py``, never re-encoded, every camera), poster, thumbnails, shares and
comments. So the library, the player, sharing, permissions and downloads work on it
unchanged, and a colleague who gets a clip sees only its minutes: nothing in a clip leads to
the source lesson except, for its owner, ``source_id``.

Retention: a clip's ``started_at`` is the moment in the lesson where it begins, so the
retention period counts from when the lesson was recorded and a clip expires with its
lesson. Deleting the source lesson keeps its clips (they are the owner's to delete; the
lesson DELETE takes ``?with_clips=1`` to delete them too); ``source_id`` then becomes null.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from ..infra.errors import Conflict, Invalid
from ..infra.timeutil import from_iso
from ..units import recordings
from .fragments import check_span

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

    Raises :class:`~..infra.errors.DomainError` (``lesson_not_ready``, the ``check_span`` codes,
    ``clip_too_short``, ``title_too_long``).
    """
    if source["state"] != "ready" or source["duration_s"] is None:
        raise Conflict("lesson_not_ready", "a clip can be cut once the lesson is ready")
    start, end = check_span(start_s, end_s, float(source["duration_s"]))
    assert end is not None
    if end - start < MIN_CLIP_S:
        raise Invalid("clip_too_short", f"a clip lasts at least {MIN_CLIP_S:g} second")
    title = title.strip()
    if len(title) > MAX_TITLE:
        raise Invalid("title_too_long", f"a title has at most {MAX_TITLE} characters")
    clip_id = uuid.uuid4().hex
    manifest = recordings.manifest_of(source)
    started = from_iso(source["started_at"]) + timedelta(seconds=start)
    clip = recordings.NewLesson(
        manifest=manifest.model_copy(update={"recording_id": clip_id, "started_at": started}),
        owner_id=source["owner_id"],
        state="assembling",
        kind="clip",
        unit_id=source["unit_id"],
        title=title,
        source=(source["id"], start, end),
    )
    return recordings.insert(db, clip, now)


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
