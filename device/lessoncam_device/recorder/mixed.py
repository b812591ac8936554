"""One lesson from two kinds of camera: a Pi camera through picamera2 and a USB webcam through
PyAV (a Pi 4 has one camera connector, so its second camera is a webcam).

``MixedRecorder`` owns the lesson's lifecycle (t = 0, files, I/O thread, announcements, the
microphone's verdict, the closed marker) and lends it to its parts, each a recorder of some
of the plan's cameras (``camera_ids``) that never starts or stops by itself. The part with the
plan's audio camera carries the microphone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ..clock import Clock
from ..segments import RecordingPlan, SegmentInfo
from .base import AudioStats, CameraStats, RecordingStats
from .lifecycle import RecorderLifecycle, Stopped

log = logging.getLogger(__name__)


class MixedRecorder(RecorderLifecycle):
    """Records ``parts`` (recorders of disjoint sets of the plan's cameras) as one lesson."""

    def __init__(
        self,
        plan: RecordingPlan,
        state_dir: Path,
        clock: Clock,
        parts: Sequence[RecorderLifecycle],
        on_segment: Callable[[SegmentInfo], None] | None = None,
        *,
        microphone: object = None,
        sound_required: bool = False,
    ) -> None:
        ids = [cam for part in parts for cam in part.camera_ids]
        super().__init__(
            plan,
            state_dir,
            clock,
            len(ids),
            on_segment,
            microphone=microphone,
            sound_required=sound_required,
        )
        if sorted(ids) != sorted(self.camera_ids):
            raise ValueError(f"the parts record {ids}, the plan has {self.camera_ids}")
        self.parts = list(parts)

    def _prepare_cameras(self) -> None:
        for part in self.parts:
            part._prepare_cameras()

    async def _start_cameras(self, t0: float, wall_minus_mono: float) -> None:
        """Start each part; if one fails, stop those that started."""
        started: list[RecorderLifecycle] = []
        for part in self.parts:
            part._join(self)
            try:
                await part._start_cameras(t0, wall_minus_mono)
            except BaseException:
                for done in started:
                    try:
                        await done._stop_cameras()
                    except Exception:
                        log.exception("cameras %s did not stop cleanly", done.camera_ids)
                raise
            started.append(part)

    async def _stop_cameras(self) -> Stopped:
        counts: dict[str, int] = {}
        errors: list[BaseException] = []
        missing: dict[str, list[int]] = {}
        for part in self.parts:
            part_counts, part_errors, part_missing = await part._stop_cameras()
            counts.update(part_counts)
            errors += [e for e in part_errors if e not in errors]
            missing.update(part_missing)
        return counts, errors, missing

    async def sync(self) -> None:
        """Let parts that record on a virtual clock catch up (see ``Recorder.sync``)."""
        for part in self.parts:
            sync = getattr(part, "sync", None)
            if sync is not None:
                await sync()

    def _part_of(self, camera: str) -> RecorderLifecycle:
        return next(part for part in self.parts if camera in part.camera_ids)

    def latest_frame(self) -> NDArray[np.uint8] | None:
        """The main camera's newest picture, from the part that records it."""
        return self._part_of(self._main_camera()).latest_frame()

    def stats(self) -> RecordingStats:
        """Every part's figures together; the seconds are the main camera's."""
        cameras: dict[str, CameraStats] = {}
        audio: AudioStats | None = None
        errors = self.notes()
        failed: list[str] = []
        full = False
        for part in self.parts:
            stats = part.stats()
            cameras.update(stats.cameras)
            audio = audio or stats.audio
            errors += [e for e in stats.errors if e not in errors]
            failed += stats.failed_cameras
            full = full or stats.disk_full
        main = cameras.get(self._main_camera())
        return RecordingStats(
            cameras, audio, main.seconds if main else 0.0, errors, sorted(set(failed)), full
        )
