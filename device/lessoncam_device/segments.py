"""What the recorder hands to the uploader: closed segment files and the recording's manifest.

The manifest is the wire format of ``docs/wire-format.md`` (format_version 1); the unit builds
it as plain JSON-able dicts and never imports the server's code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class SegmentInfo:
    """One closed, fsync'd segment file of one camera."""

    recording_id: str
    camera: str
    sequence: int  # 0, 1, 2, ... per camera
    start_s: float  # first video frame's time, seconds since the recording's started_at
    duration_s: float
    path: Path
    sha256: str
    size: int


@dataclass(frozen=True)
class RecordingPlan:
    """A recording as the unit registers it with the server (see ``manifest``)."""

    recording_id: str
    started_at_iso: str  # UTC, e.g. "2026-11-25T08:30:00.000000+00:00"
    cameras: tuple[dict[str, Any], ...]  # {"id", "role", "label", "video": {...}}
    audio_camera: str | None
    segment_seconds: float
    software_version: str

    def manifest(self) -> dict[str, Any]:
        """The JSON body of ``PUT /api/v1/recordings/{id}``."""
        return {
            "format_version": 1,
            "recording_id": self.recording_id,
            "started_at": self.started_at_iso,
            "cameras": [dict(c) for c in self.cameras],
            "audio_camera": self.audio_camera,
            "segment_seconds": self.segment_seconds,
            "software_version": self.software_version,
        }
