"""A recording's life on the server: registered by its unit, fed with segments, completed.

Every step is idempotent, because a unit on school Wi-Fi repeats whatever it is not sure of.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlite_utils import Database

from ..access.principal import Unit
from ..coaching import linking
from ..infra.db import query_row, query_rows
from ..infra.timeutil import to_iso
from . import claims
from .manifest import Completion, Manifest, SegmentMeta


class RecordingError(Exception):
    """A unit's request about a recording that cannot be carried out."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def outstanding(
    expected: Mapping[str, int] | None,
    missing: Mapping[str, list[int]],
    received: Mapping[str, set[int]],
) -> dict[str, list[int]] | None:
    """Sequence numbers still awaited per camera; None while the unit has not said how many."""
    if expected is None:
        return None
    waiting: dict[str, list[int]] = {}
    for camera, count in expected.items():
        lost = set(missing.get(camera, []))
        have = received.get(camera, set())
        left = [seq for seq in range(count) if seq not in have and seq not in lost]
        if left:
            waiting[camera] = left
    return waiting


@dataclass(frozen=True)
class Progress:
    """How far a recording has come, for the unit, the library and the assembler."""

    received: int
    expected: int | None
    waiting: dict[str, list[int]] | None

    @property
    def complete(self) -> bool:
        return self.waiting is not None and not self.waiting


LessonKind = Literal["unit", "clip", "upload"]


@dataclass(frozen=True)
class NewLesson:
    """A lesson about to get its row: from a unit, cut from another lesson, or uploaded.

    Its id and start time are the manifest's; ``source`` is a clip's lesson and its span in it.
    """

    manifest: Manifest
    owner_id: int | None
    state: str
    kind: LessonKind = "unit"
    unit_id: str | None = None
    title: str = ""
    state_reason: str | None = None
    completed: bool = False  # nothing more to arrive (an upload)
    source: tuple[str, float, float] | None = None


def insert(db: Database, lesson: NewLesson, now: datetime) -> dict[str, Any]:
    """Make the row of a new lesson (the one place that does); returns it."""
    row: dict[str, Any] = {
        "id": lesson.manifest.recording_id,
        "unit_id": lesson.unit_id,
        "owner_id": lesson.owner_id,
        "title": lesson.title,
        "description": "",
        "started_at": to_iso(lesson.manifest.started_at),
        "manifest": lesson.manifest.model_dump_json(),
        "state": lesson.state,
        "state_reason": lesson.state_reason,
        "created_at": to_iso(now),
        "completed_at": to_iso(now) if lesson.completed else None,
        "kind": lesson.kind,
    }
    if lesson.source is not None:
        row["source_id"], row["source_start_s"], row["source_end_s"] = lesson.source
    db.table("recordings").insert(row)
    made = get(db, row["id"])
    assert made is not None
    return made


def get(db: Database, recording_id: str) -> dict[str, Any] | None:
    return query_row(db, "SELECT * FROM recordings WHERE id = ?", [recording_id])


def manifest_of(row: Mapping[str, Any]) -> Manifest:
    return Manifest.model_validate_json(row["manifest"])


def received_segments(db: Database, recording_id: str) -> dict[str, dict[int, dict[str, Any]]]:
    out: dict[str, dict[int, dict[str, Any]]] = {}
    for seg in query_rows(
        db,
        "SELECT * FROM segments WHERE recording_id = ? ORDER BY camera, sequence",
        [recording_id],
    ):
        out.setdefault(seg["camera"], {})[seg["sequence"]] = seg
    return out


def camera_segments(
    db: Database, recording_id: str, camera: str, first: int = 0
) -> dict[int, dict[str, Any]]:
    """The segments of one camera held from sequence ``first`` on (a long lesson's segments
    arrive one by one: each arrival looks only at what is new)."""
    found = query_rows(
        db,
        "SELECT * FROM segments WHERE recording_id = ? AND camera = ? AND sequence >= ?"
        " ORDER BY sequence",
        [recording_id, camera, first],
    )
    return {seg["sequence"]: seg for seg in found}


def held_segment(
    db: Database, recording_id: str, camera: str, sequence: int
) -> dict[str, Any] | None:
    return query_row(
        db,
        "SELECT * FROM segments WHERE recording_id = ? AND camera = ? AND sequence = ?",
        [recording_id, camera, sequence],
    )


def progress(db: Database, row: Mapping[str, Any]) -> Progress:
    counts: dict[str, set[int]] = {}
    for camera, sequence in db.execute(
        "SELECT camera, sequence FROM segments WHERE recording_id = ?", [row["id"]]
    ).fetchall():
        counts.setdefault(camera, set()).add(sequence)
    plan = json.loads(row["expected_segments"]) if row["expected_segments"] else None
    expected = plan["segments"] if plan else None
    waiting = outstanding(expected, plan["missing"] if plan else {}, counts)
    return Progress(
        received=sum(len(s) for s in counts.values()),
        expected=sum(expected.values()) if expected else None,
        waiting=waiting,
    )


def register(
    db: Database, unit: Unit, manifest: Manifest, now: datetime
) -> tuple[dict[str, Any], bool]:
    """Store a new recording (owned by the unit's teacher, or by the teacher who claimed the
    unit when the recording started), in the trajectory the claim named or the owner chose for
    her new recordings, if any; returns (row, created)."""
    with db.atomic():
        existing = get(db, manifest.recording_id)
        if existing is not None:
            if existing["unit_id"] != unit.id:
                raise RecordingError(409, "this recording id belongs to another unit")
            if manifest_of(existing) != manifest:
                raise RecordingError(409, "this recording was registered with another manifest")
            return existing, False
        # The unit's default teacher, or whoever claimed it when the lesson started.
        held = claims.claim_at(db, unit.id, manifest.started_at)
        owner = held.user_id if held is not None else unit.teacher_id
        lesson = NewLesson(manifest=manifest, owner_id=owner, state="receiving", unit_id=unit.id)
        row = insert(db, lesson, now)
        linking.link_on_arrival(db, row, held.trajectory_id if held else None, now)
        return row, True


def unit_recording(db: Database, unit: Unit, recording_id: str) -> dict[str, Any]:
    row = get(db, recording_id)
    # A clip keeps its lesson's unit (for the library) but is no recording of the unit's.
    if row is None or row["unit_id"] != unit.id or row.get("kind", "unit") != "unit":
        raise RecordingError(404, f"unknown recording {recording_id!r}; register it first (PUT)")
    return row


def check_segment(db: Database, unit: Unit, meta: SegmentMeta) -> dict[str, Any]:
    """Refuse a segment upload before any byte is sent when it cannot belong anywhere."""
    row = unit_recording(db, unit, meta.recording)
    manifest = manifest_of(row)
    if manifest.camera(meta.camera) is None:
        raise RecordingError(400, f"camera {meta.camera!r} is not in the recording's manifest")
    plan = json.loads(row["expected_segments"]) if row["expected_segments"] else None
    if plan is not None:
        count = plan["segments"].get(meta.camera, 0)
        if meta.sequence >= count:
            raise RecordingError(
                409, f"the recording was completed with {count} segments for {meta.camera!r}"
            )
    return row


def complete(
    db: Database, unit: Unit, recording_id: str, done: Completion, now: datetime
) -> Progress:
    """Record the final segment counts; the same call again is a no-op, a different one a 409."""
    row = unit_recording(db, unit, recording_id)
    manifest = manifest_of(row)
    unknown = set(done.segments) - {c.id for c in manifest.cameras}
    if unknown:
        raise RecordingError(400, f"unknown camera(s) in segments: {', '.join(sorted(unknown))}")
    for camera, lost in done.missing.items():
        count = done.segments.get(camera, 0)
        if any(seq < 0 or seq >= count for seq in lost):
            raise RecordingError(400, f"missing sequence numbers for {camera!r} out of range")
    plan = {"segments": done.segments, "missing": {k: sorted(v) for k, v in done.missing.items()}}
    encoded = json.dumps(plan, sort_keys=True)
    with db.atomic():
        if row["expected_segments"] is not None:
            if row["expected_segments"] != encoded:
                raise RecordingError(409, "the recording was already completed with other counts")
        else:
            db.table("recordings").update(
                recording_id,
                {
                    "expected_segments": encoded,
                    "interrupted": int(done.interrupted),
                    "completed_at": to_iso(now),
                },
            )
    fresh = get(db, recording_id)
    assert fresh is not None
    return progress(db, fresh)


def discard_if_empty(db: Database, recording_id: str, done: Completion) -> dict[str, Any] | None:
    """A completed recording in which no camera made a segment (a start that failed: the
    camera or the microphone did not open) and of which nothing arrived is not a lesson: it is
    removed, so that no empty "failed" lesson appears in the teacher's library for each press
    (the fleet view says what failed). Returns the status the unit is answered with, or None
    when the recording holds anything. A repeated completion finds nothing (404); the unit
    then registers it again and this runs again."""
    if any(done.segments.values()) or received_segments(db, recording_id):
        return None
    db.execute("DELETE FROM recordings WHERE id = ?", [recording_id])
    return {
        "id": recording_id,
        "state": "discarded",
        "state_reason": "nothing was recorded",
        "received": 0,
        "expected": 0,
        "waiting": {},
        "segments": {},
    }


def status(db: Database, row: Mapping[str, Any]) -> dict[str, Any]:
    """What the unit needs to know: the state and every segment the server holds, with checksums."""
    prog = progress(db, row)
    return {
        "id": row["id"],
        "state": row["state"],
        "state_reason": row["state_reason"],
        "received": prog.received,
        "expected": prog.expected,
        "waiting": prog.waiting,
        "segments": {
            camera: [{"sequence": seq, "sha256": s["sha256"]} for seq, s in sorted(segs.items())]
            for camera, segs in received_segments(db, row["id"]).items()
        },
    }


def set_state(db: Database, recording_id: str, state: str, reason: str | None = None) -> None:
    db.table("recordings").update(recording_id, {"state": state, "state_reason": reason})
