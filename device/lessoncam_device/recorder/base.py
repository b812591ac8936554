"""What the daemon sees of any recorder: the ``LessonRecorder`` protocol, its stats, its error.

Both recorders (``Recorder`` with PyAV, ``Picamera2Recorder`` on a Pi) implement it; the Pi
adapter imports these types from here, not from the PyAV recorder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from ..segments import RecordingPlan


class RecorderError(Exception):
    """The recorder cannot start, or a camera's recording failed (the message says which)."""


class MicrophoneUnavailable(RecorderError):
    """The lesson's microphone cannot be opened; the message names it and what to do."""


@runtime_checkable
class CheckableMicrophone(Protocol):
    """A real microphone that can be tried before a lesson starts (the simulated ones cannot
    fail, and have no ``check``)."""

    def check(self) -> None:
        """Open and close the microphone; raise ``MicrophoneUnavailable`` if it cannot."""
        ...


@dataclass(frozen=True)
class CameraStats:
    """One camera's recording so far."""

    camera: str
    frames: int
    dropped: int
    seconds: float
    segments: int  # closed
    bytes: int
    max_sync_gap_s: float  # longest recorded stretch without an fsync of the open file


@dataclass(frozen=True)
class AudioStats:
    """The microphone's part of the recording so far."""

    chunks: int
    blocks: int  # AAC frames encoded
    drift_ppm: float  # measured microphone clock error
    first_sample_s: float | None


@dataclass(frozen=True)
class RecordingStats:
    """What a recorder's ``stats()`` reports (for the heartbeat and the logs)."""

    cameras: dict[str, CameraStats]
    audio: AudioStats | None
    seconds: float  # of the main camera
    errors: list[str] = field(default_factory=list)
    failed_cameras: list[str] = field(default_factory=list)  # no more pictures from these
    disk_full: bool = False  # a write found the disk full


class LessonRecorder(Protocol):
    """What the daemon needs of a recorder (``Recorder``, or ``Picamera2Recorder`` on a Pi)."""

    plan: RecordingPlan
    error: BaseException | None

    async def start(self) -> None: ...

    async def stop(self) -> dict[str, int]: ...

    def stats(self) -> RecordingStats: ...

    def latest_frame(self) -> NDArray[np.uint8] | None: ...
