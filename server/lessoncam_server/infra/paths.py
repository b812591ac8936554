"""Where things live in the data directory. Every media path is made here, from validated ids."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

RECORDING_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{7,63}$")
CAMERA_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
UNIT_ID = re.compile(r"^[0-9a-f]{32}$")


def _checked(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not pattern.fullmatch(value):
        raise ValueError(f"not a valid {what}: {value!r}")
    return value


@dataclass(frozen=True)
class DataPaths:
    """The layout of one data directory (database, staging uploads, recordings, unit snapshots)."""

    root: Path

    @property
    def database(self) -> Path:
        return self.root / "lessoncam.db"

    @property
    def uploads(self) -> Path:
        return self.root / "uploads"

    @property
    def recordings(self) -> Path:
        return self.root / "recordings"

    @property
    def units(self) -> Path:
        return self.root / "units"

    def create(self) -> None:
        for folder in (self.root, self.uploads, self.recordings, self.units):
            folder.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)  # recordings of children: no other local account reads them

    def recording_dir(self, recording_id: str) -> Path:
        return self.recordings / _checked(RECORDING_ID, recording_id, "recording id")

    def segment(self, recording_id: str, camera: str, sequence: int) -> Path:
        camera = _checked(CAMERA_ID, camera, "camera id")
        return self.recording_dir(recording_id) / "segments" / camera / f"{int(sequence):06d}.ts"

    def video(self, recording_id: str, camera: str, version: int) -> Path:
        camera = _checked(CAMERA_ID, camera, "camera id")
        return self.recording_dir(recording_id) / f"{camera}.v{int(version)}.mp4"

    def thumbnails(self, recording_id: str, camera: str, version: int) -> Path:
        camera = _checked(CAMERA_ID, camera, "camera id")
        return self.recording_dir(recording_id) / f"{camera}.v{int(version)}.thumbs.jpg"

    def upload_original(self, recording_id: str) -> Path:
        """A video uploaded from a browser, kept until its lesson's media is made from it."""
        return self.recording_dir(recording_id) / "original.upload"

    def poster(self, recording_id: str, version: int) -> Path:
        return self.recording_dir(recording_id) / f"poster.v{int(version)}.jpg"

    def snapshot(self, unit_id: str) -> Path:
        return self.units / f"{_checked(UNIT_ID, unit_id, 'unit id')}.jpg"
