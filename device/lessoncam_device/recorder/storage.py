"""Where a recording lives on the unit's disk, and writes that survive a power cut.

::

    <state_dir>/recordings/<recording_id>/recording.json        plan, time base, closed marker
    <state_dir>/recordings/<recording_id>/<camera>/timeline.json file pts -> recording time
    <state_dir>/recordings/<recording_id>/<camera>/segments.jsonl one line per closed segment
    <state_dir>/recordings/<recording_id>/<camera>/000000.ts     closed segments
    <state_dir>/recordings/<recording_id>/<camera>/000001.ts.partial  the one being written

Every JSON file is replaced atomically (temp file, fsync, rename, fsync of the directory), so
a power cut leaves the old version or the new one, never half. The segment index is appended
to and fsync'd; a torn last line (power cut while appending) is ignored when read.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lessoncam_common.durable import fsync_path, write_json_atomic

from ..segments import RecordingPlan

log = logging.getLogger(__name__)

RECORDINGS_DIR = "recordings"
RECORDING_FILE = "recording.json"
TIMELINE_FILE = "timeline.json"
INDEX_FILE = "segments.jsonl"
SEGMENT_SUFFIX = ".ts"
PARTIAL_SUFFIX = ".partial"
#: What recovery renames a ``.partial`` to after salvaging it: the original bytes are kept.
SALVAGED_SUFFIX = ".orig"
FORMAT = 1

_RECORDING_ID = re.compile(r"[0-9A-Za-z_-]{8,64}")
_CAMERA_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


def recording_dir(state_dir: Path, recording_id: str) -> Path:
    """``<state_dir>/recordings/<recording_id>``; refuses ids that could escape it."""
    if not _RECORDING_ID.fullmatch(recording_id):
        raise ValueError(f"bad recording id {recording_id!r}")
    return state_dir / RECORDINGS_DIR / recording_id


def camera_dir(rec_dir: Path, camera: str) -> Path:
    """The folder of one camera's segments."""
    if not _CAMERA_ID.fullmatch(camera):
        raise ValueError(f"bad camera id {camera!r}")
    return rec_dir / camera


def segment_path(cam_dir: Path, sequence: int) -> Path:
    """``<camera dir>/<sequence:06d>.ts``: the closed segment."""
    return cam_dir / f"{sequence:06d}{SEGMENT_SUFFIX}"


def partial_path(cam_dir: Path, sequence: int) -> Path:
    """``<camera dir>/<sequence:06d>.ts.partial``: the segment while it is written."""
    return cam_dir / f"{sequence:06d}{SEGMENT_SUFFIX}{PARTIAL_SUFFIX}"


def sequence_of(path: Path) -> int | None:
    """The sequence number in a segment or partial file name, or None for other files."""
    m = re.fullmatch(r"(\d{6})\.ts(\.partial)?", path.name)
    return int(m.group(1)) if m else None


def make_dirs(path: Path) -> None:
    """``mkdir -p`` that also makes each new entry durable in its parent."""
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        d.mkdir(exist_ok=True)
        fsync_path(d.parent)


def plan_from_manifest(manifest: dict[str, Any]) -> RecordingPlan:
    """The inverse of :meth:`RecordingPlan.manifest`."""
    return RecordingPlan(
        recording_id=manifest["recording_id"],
        started_at_iso=manifest["started_at"],
        cameras=tuple(dict(c) for c in manifest["cameras"]),
        audio_camera=manifest.get("audio_camera"),
        segment_seconds=float(manifest["segment_seconds"]),
        software_version=manifest["software_version"],
    )


@dataclass(frozen=True)
class ClosedMarker:
    """How a recording ended; its fields are the body of ``POST .../complete``."""

    at_iso: str
    interrupted: bool
    segments: dict[str, int]  # segment count per camera (sequences 0 .. count - 1)
    missing: dict[str, list[int]] = field(default_factory=dict)

    def complete_body(self) -> dict[str, Any]:
        """``{"segments", "missing", "interrupted"}`` as the wire format wants it."""
        return {
            "segments": dict(self.segments),
            "missing": {k: list(v) for k, v in self.missing.items() if v},
            "interrupted": self.interrupted,
        }


@dataclass(frozen=True)
class RecordingRecord:
    """The content of ``recording.json``."""

    plan: RecordingPlan
    closed: ClosedMarker | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON object stored in ``recording.json``."""
        closed = None
        if self.closed is not None:
            closed = {"at": self.closed.at_iso, **self.closed.complete_body()}
        return {"format": FORMAT, "manifest": self.plan.manifest(), "closed": closed}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RecordingRecord:
        """Read what :meth:`to_json` wrote."""
        closed = data.get("closed")
        marker = None
        if closed is not None:
            marker = ClosedMarker(
                at_iso=closed["at"],
                interrupted=bool(closed["interrupted"]),
                segments={k: int(v) for k, v in closed["segments"].items()},
                missing={k: [int(s) for s in v] for k, v in closed.get("missing", {}).items()},
            )
        return cls(plan_from_manifest(data["manifest"]), marker)


def write_record(rec_dir: Path, record: RecordingRecord) -> None:
    """Write ``recording.json`` atomically."""
    write_json_atomic(rec_dir / RECORDING_FILE, record.to_json())


def read_record(rec_dir: Path) -> RecordingRecord:
    """Read ``recording.json``; raises ``OSError`` or ``ValueError`` when it is unusable."""
    with (rec_dir / RECORDING_FILE).open(encoding="utf-8") as f:
        data = json.load(f)
    try:
        return RecordingRecord.from_json(data)
    except (KeyError, TypeError) as e:
        raise ValueError(f"{rec_dir / RECORDING_FILE}: {e!r}") from e


@dataclass(frozen=True)
class Timeline:
    """How a camera's file timestamps map to the recording's clock.

    ``recording time = file pts (seconds) + file_pts_to_recording_s``. The recorder's own
    pipeline writes ``pts = t + 10 s`` (so AAC priming never goes negative), picamera2 writes
    pts relative to its first frame; either way this file says how to read them back.
    """

    file_pts_to_recording_s: float
    fps: float

    def to_json(self) -> dict[str, Any]:
        """The JSON object stored in ``timeline.json``."""
        return {"file_pts_to_recording_s": self.file_pts_to_recording_s, "fps": self.fps}


def write_timeline(cam_dir: Path, timeline: Timeline) -> None:
    """Write ``<camera>/timeline.json`` atomically."""
    write_json_atomic(cam_dir / TIMELINE_FILE, timeline.to_json())


def read_timeline(cam_dir: Path) -> Timeline | None:
    """The camera's timeline, or None when it was never written (or is unreadable)."""
    try:
        with (cam_dir / TIMELINE_FILE).open(encoding="utf-8") as f:
            data = json.load(f)
        return Timeline(float(data["file_pts_to_recording_s"]), float(data["fps"]))
    except (OSError, ValueError, KeyError, TypeError) as e:
        log.warning("no usable %s in %s: %s", TIMELINE_FILE, cam_dir, e)
        return None


def append_index(cam_dir: Path, entry: dict[str, Any]) -> None:
    """Add one closed segment's line to ``<camera>/segments.jsonl`` and fsync it."""
    line = json.dumps(entry, sort_keys=True) + "\n"
    fd = os.open(cam_dir / INDEX_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def read_index(cam_dir: Path) -> dict[int, dict[str, Any]]:
    """The closed segments' lines by sequence (unreadable lines are skipped)."""
    out: dict[int, dict[str, Any]] = {}
    try:
        text = (cam_dir / INDEX_FILE).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        try:
            entry = json.loads(line)
            out[int(entry["sequence"])] = entry
        except (ValueError, KeyError, TypeError):
            log.warning("%s: skipping a torn line", cam_dir / INDEX_FILE)
    return out
