"""The wire format shared with the units: a recording's manifest and each segment's metadata.

Device and server share only this format (as JSON and tus metadata); neither imports the other.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from ..infra.paths import CAMERA_ID, RECORDING_ID

SHA256_HEX = r"^[0-9a-f]{64}$"


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VideoFormat(_Wire):
    codec: Literal["h264"] = "h264"
    container: Literal["mpegts", "mp4"] = "mpegts"
    width: int = Field(ge=16, le=7680)
    height: int = Field(ge=16, le=4320)
    fps: float = Field(gt=0, le=240)


class CameraSpec(_Wire):
    id: str = Field(pattern=CAMERA_ID.pattern, description="Short id, e.g. 'main' or 'pupils'.")
    role: Literal["main", "second"]
    label: str = Field("", max_length=60)
    video: VideoFormat


class Manifest(_Wire):
    """What a unit declares when a recording starts."""

    format_version: Literal[1] = 1
    recording_id: str = Field(pattern=RECORDING_ID.pattern, description="Made on the unit (ULID).")
    started_at: AwareDatetime = Field(description="UTC start of the common clock (t = 0).")
    cameras: list[CameraSpec] = Field(min_length=1, max_length=4)
    audio_camera: str | None = Field(None, description="The camera whose stream carries audio.")
    segment_seconds: float = Field(10.0, gt=0, le=600)
    software_version: str = Field("", max_length=64)

    @model_validator(mode="after")
    def _consistent(self) -> Manifest:
        ids = [c.id for c in self.cameras]
        if len(set(ids)) != len(ids):
            raise ValueError("camera ids must be unique")
        if sum(c.role == "main" for c in self.cameras) != 1:
            raise ValueError("exactly one camera must have role 'main'")
        if self.audio_camera is not None and self.audio_camera not in ids:
            raise ValueError(f"audio_camera {self.audio_camera!r} is not one of the cameras")
        return self

    def camera(self, camera_id: str) -> CameraSpec | None:
        return next((c for c in self.cameras if c.id == camera_id), None)


class SegmentMeta(_Wire):
    """The tus Upload-Metadata of one segment (all values arrive as strings)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    recording: str = Field(pattern=RECORDING_ID.pattern)
    camera: str = Field(pattern=CAMERA_ID.pattern)
    sequence: int = Field(ge=0, le=1_000_000)
    sha256: str = Field(pattern=SHA256_HEX)
    start_s: float = Field(ge=0, le=48 * 3600)
    duration_s: float = Field(gt=0, le=3600)


class Completion(_Wire):
    """Sent by the unit when it has no more segments to send for a recording."""

    segments: dict[str, int] = Field(description="Segment count per camera id.")
    missing: dict[str, list[int]] = Field(
        default_factory=dict, description="Sequence numbers the unit lost (become gaps)."
    )
    interrupted: bool = Field(False, description="True when recovered after a crash or power cut.")
