"""The lifecycle every recorder shares, whatever encodes its cameras.

``start``: refuse a second start, fix t = 0, create the recording's folders and
``recording.json``, open the segment I/O thread, try the microphone, then start the cameras.
``stop``: stop the cameras, write the closed marker (interrupted if anything failed), and end
the announcements once every segment has been announced. ``Recorder`` (PyAV) and
``Picamera2Recorder`` fill in how their cameras start and stop.

A microphone that cannot be opened either leaves the lesson without sound, said in
``without_sound`` and the stats' errors, or (``sound_required``) refuses the lesson. A start
that fails half-way closes the recording at once, interrupted, with what was announced.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ..clock import Clock
from ..segments import RecordingPlan, SegmentInfo
from .base import CheckableMicrophone, MicrophoneUnavailable, RecorderError, RecordingStats
from .segment_io import Announcements, SegmentIO
from .storage import (
    ClosedMarker,
    RecordingRecord,
    camera_dir,
    make_dirs,
    recording_dir,
    write_record,
)

log = logging.getLogger(__name__)

# A plan's started_at further than this from "now" is not trusted as t = 0.
_T0_TOLERANCE_S = (60.0, 1.0)  # (in the past, in the future)


def recording_t0(plan: RecordingPlan, clock: Clock) -> float:
    """t = 0 on the monotonic clock: the plan's started_at, if that is about now."""
    now = clock.monotonic()
    started = datetime.fromisoformat(plan.started_at_iso).timestamp()
    t0 = started - (clock.time() - now)
    past, future = _T0_TOLERANCE_S
    if not now - past <= t0 <= now + future:
        log.warning("plan started_at is %.1f s from now: recording from now instead", t0 - now)
        return now
    return t0


Stopped = tuple[dict[str, int], list[BaseException], dict[str, list[int]]]
"""What the cameras left: segments per camera, what failed, sequences with nothing readable."""


class RecorderLifecycle(ABC):
    """One lesson's recording folder, announcements and closed marker around its cameras.

    ``cameras`` is how many the subclass was given: it must match ``camera_ids``, the plan's
    cameras it records (default: all of them). Closed segments go to ``on_segment`` (on the
    event loop) and to :meth:`segments`. ``microphone`` is tried before the cameras start when
    it can be (a :class:`CheckableMicrophone`).

    A recorder may also record some of a lesson's cameras as a part of another (``MixedRecorder``
    in ``mixed.py``): then it never starts or stops by itself; the whole does, and lends it
    its files, I/O thread, announcements and the microphone's verdict (:meth:`_join`).
    """

    def __init__(
        self,
        plan: RecordingPlan,
        state_dir: Path,
        clock: Clock,
        cameras: int,
        on_segment: Callable[[SegmentInfo], None] | None,
        *,
        microphone: object = None,
        sound_required: bool = False,
        camera_ids: Sequence[str] | None = None,
    ) -> None:
        planned = [str(c["id"]) for c in plan.cameras]
        ids = planned if camera_ids is None else list(camera_ids)
        if cameras != len(ids) or not set(ids) <= set(planned):
            raise RecorderError(f"the plan has cameras {planned}, {cameras} given for {ids}")
        self.plan = plan
        self.state_dir = state_dir
        self.clock = clock
        self.on_segment = on_segment
        self.dir = recording_dir(state_dir, plan.recording_id)
        self.camera_ids = ids
        self.t0: float | None = None  # monotonic time of the recording's t = 0
        self.error: BaseException | None = None
        self.sound_required = sound_required
        #: Why this lesson records no sound although a microphone was asked for (or None).
        self.without_sound: str | None = None
        self._microphone = microphone
        self._announce = Announcements(on_segment)
        self._announced: dict[str, set[int]] = {}  # sequences handed on, per camera
        self._io: SegmentIO | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._counts: dict[str, int] | None = None
        self._whole: RecorderLifecycle | None = None  # set when recording as a part

    # --- what a recorder fills in ---------------------------------------------------------

    @abstractmethod
    async def _start_cameras(self, t0: float, wall_minus_mono: float) -> None:
        """Start every camera (the files and the I/O thread exist); clean up if one fails."""

    @abstractmethod
    def stats(self) -> RecordingStats:
        """Frames, drops, seconds, segments and sync figures so far (any thread)."""

    @abstractmethod
    def latest_frame(self) -> NDArray[np.uint8] | None:
        """The main camera's newest picture in the layout its camera gives (BGR, or I420
        planes: see ``pictures``); None: not recorded here, or none yet."""

    @abstractmethod
    async def _stop_cameras(self) -> Stopped:
        """Stop every camera and the I/O thread; keep whatever a failed camera left."""

    # --- the lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Create the recording's files and start every camera."""
        if self._loop is not None:
            raise RecorderError("a recorder records once")
        self._loop = asyncio.get_running_loop()
        self._announce.bind(self._loop)
        wall_minus_mono = self.clock.time() - self.clock.monotonic()
        self.t0 = t0 = recording_t0(self.plan, self.clock)
        await asyncio.to_thread(self._create_files)
        self._io = SegmentIO(self._emit, name=f"segment-io-{self.plan.recording_id}")
        try:
            await self._try_microphone()
            await self._start_cameras(t0, wall_minus_mono)
        except BaseException as exc:
            await self._abandon(exc)
            raise
        log.info(
            "recording %s started: %s cameras, t0 = %.3f (monotonic)",
            self.plan.recording_id,
            len(self.camera_ids),
            t0,
        )

    async def stop(self) -> dict[str, int]:
        """Stop at the clock's now, close the last segments, mark the recording closed.

        Returns the number of segments per camera. A camera that failed is logged, reported
        in :attr:`error` and ``stats()``, and the recording is marked interrupted.
        """
        if self._counts is not None:
            return dict(self._counts)
        if self._loop is None or self._io is None:
            raise RecorderError("not started")
        counts, errors, missing = await self._stop_cameras()
        await asyncio.to_thread(self._io.finish)  # every segment closed and announced
        errors += [e for e in self._io.errors if e not in errors]
        self.error = errors[0] if errors else None
        marker = ClosedMarker(
            at_iso=self.clock.now().isoformat(),
            interrupted=bool(errors),
            segments=counts,
            missing=missing,
        )
        await asyncio.to_thread(write_record, self.dir, RecordingRecord(self.plan, marker))
        self._counts = counts
        self._announce.close()  # after every segment announced
        await asyncio.sleep(0)
        log.info("recording %s stopped: %s", self.plan.recording_id, counts)
        return dict(counts)

    @property
    def sound_wanted(self) -> bool:
        """A microphone was given and it opened (or cannot be tried): record its sound."""
        return self._microphone is not None and self.without_sound is None

    def notes(self) -> list[str]:
        """What the lifecycle itself has to say in the stats' errors (sound left out)."""
        return [self.without_sound] if self.without_sound else []

    async def _try_microphone(self) -> None:
        """Open and close the microphone before any camera starts (a thread)."""
        mic = self._microphone
        if not isinstance(mic, CheckableMicrophone):
            return
        try:
            await asyncio.to_thread(mic.check)
        except MicrophoneUnavailable as exc:
            if self.sound_required:
                raise MicrophoneUnavailable(
                    f"{exc}; the lesson was not recorded ([audio] required = true)"
                ) from exc
            self.without_sound = f"recording without sound: {exc}"
            log.warning("%s", self.without_sound)

    async def _abandon(self, exc: BaseException) -> None:
        """After a failed start (the cameras already cleaned up): close the recording as
        interrupted, with whatever was announced, so it never stays open."""
        log.error("recording %s did not start: %s", self.plan.recording_id, exc)
        assert self._io is not None
        await asyncio.to_thread(self._io.finish)
        counts = {cam: max(self._announced.get(cam, {-1})) + 1 for cam in self.camera_ids}
        self.error = exc
        marker = ClosedMarker(
            at_iso=self.clock.now().isoformat(), interrupted=True, segments=counts, missing={}
        )
        try:
            await asyncio.to_thread(write_record, self.dir, RecordingRecord(self.plan, marker))
        except OSError:
            log.exception("recording %s: the closed marker could not be written", self.dir)
        self._counts = counts
        self._announce.close()

    async def segments(self) -> AsyncIterator[SegmentInfo]:
        """Closed segments in the order they closed, until the recording has stopped."""
        async for info in self._announce.segments():
            yield info

    def _main_camera(self) -> str:
        for c in self.plan.cameras:
            if c.get("role") == "main":
                return str(c["id"])
        return self.camera_ids[0]

    def _create_files(self) -> None:
        """The recording's folder, ``recording.json`` and a folder per camera (a thread)."""
        make_dirs(self.dir)
        write_record(self.dir, RecordingRecord(self.plan))
        for spec in self.plan.cameras:
            make_dirs(camera_dir(self.dir, str(spec["id"])))
        self._prepare_cameras()

    def _prepare_cameras(self) -> None:
        """What this recorder's cameras need in their folders before they start (a thread)."""
        return None

    def _join(self, whole: RecorderLifecycle) -> None:
        """Record as a part of ``whole``, which has created the files and started the I/O."""
        self._whole = whole
        self._loop, self._io, self.t0 = whole._loop, whole._io, whole.t0
        self.without_sound = whole.without_sound
        self._announced = whole._announced

    def _emit(self, info: SegmentInfo) -> None:
        """Announce a closed segment (from any thread), remembering that it was."""
        if self._whole is not None:
            self._whole._emit(info)
            return
        self._announced.setdefault(info.camera, set()).add(info.sequence)
        self._announce.emit_threadsafe(info)
