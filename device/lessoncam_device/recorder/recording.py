"""The recorder the daemon drives: start, segments as they close, stats, stop.

One ``Recorder`` records one lesson: one continuous H.264 encoder per camera, AAC from the
microphone on the plan's audio camera, all on one time base (t = 0 is the plan's
``started_at``), cut into ~10 s MPEG-TS segments that are announced (``SegmentInfo``) as soon
as they are closed and durable, so the uploader can send them while recording goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from lessoncam_common.disk import disk_full

from ..clock import Clock
from ..segments import RecordingPlan, SegmentInfo
from .audio_sync import AudioSyncSettings, AudioTimeline
from .base import AudioStats, CameraStats, RecorderError, RecordingStats
from .encoders import PTS_BASE_S, AudioSettings, EncoderBank, VideoSettings
from .inputs import (
    Camera,
    Feed,
    Microphone,
    PullCamera,
    PullFeed,
    PullMicrophone,
    QueueFeed,
    StopTime,
    StreamCamera,
    StreamMicrophone,
    pump_camera,
    pump_microphone,
)
from .lifecycle import RecorderLifecycle, Stopped
from .pipeline import CameraPipeline
from .recovery import recover_camera
from .segmenter import Segmenter
from .storage import Timeline, camera_dir, write_timeline

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecorderOptions:
    """How to record; the defaults suit a unit, tests pick faster encoder settings."""

    #: "stream": real time, from the sources' ``stream(...)`` iterators (a unit, the demo).
    #: "pull": virtual time, ``frame_at``/``chunk_at`` as fast as possible up to the clock.
    mode: Literal["stream", "pull"] = "stream"
    segment_s: float | None = None  # None: the plan's segment_seconds
    sync_s: float = 1.0  # fsync the open segment this often (recorded time)
    x264_preset: str = "veryfast"
    x264_tune: str | None = "zerolatency"
    crf: float | None = 23.0
    video_bitrate: int | None = None
    keyframe_s: float = 1.0
    encoder_threads: int = 0
    audio: AudioSettings = field(default_factory=AudioSettings)
    audio_sync: AudioSyncSettings = field(default_factory=AudioSyncSettings)
    samples_per_chunk: int = 1024  # microphone chunk size asked for
    max_queued_frames: int = 60  # per camera, stream mode; more are dropped
    stop_timeout_s: float = 10.0  # real seconds to wait for a source to end at stop


class Recorder(RecorderLifecycle):
    """Records one lesson from ``cameras`` (in the plan's order) and ``microphone``.

    ``on_segment`` (optional) is called on the event loop with every closed segment; or
    iterate :meth:`segments`. Files go to ``<state_dir>/recordings/<recording_id>/``. A real
    microphone is tried first: if it cannot be opened the lesson is recorded without sound
    (said in ``stats().errors``), or refused with ``sound_required``.
    """

    def __init__(
        self,
        plan: RecordingPlan,
        state_dir: Path,
        cameras: Sequence[Camera],
        microphone: Microphone | None,
        clock: Clock,
        options: RecorderOptions | None = None,
        on_segment: Callable[[SegmentInfo], None] | None = None,
        *,
        sound_required: bool = False,
        camera_ids: Sequence[str] | None = None,
    ) -> None:
        super().__init__(
            plan,
            state_dir,
            clock,
            len(cameras),
            on_segment,
            microphone=microphone,
            sound_required=sound_required,
            camera_ids=camera_ids,
        )
        self.cameras = list(cameras)
        self.microphone = microphone
        self.options = options or RecorderOptions()
        self._check_sources()
        self._stop = StopTime()
        self._pipelines: list[CameraPipeline] = []
        self._timeline: AudioTimeline | None = None
        self._pumps: list[asyncio.Task[None]] = []

    # --- the lifecycle's camera steps -------------------------------------------------------

    async def _start_cameras(self, t0: float, wall_minus_mono: float) -> None:
        """Start every camera's encoder thread."""
        assert self._io is not None
        try:
            for index, source in enumerate(self.cameras):
                self._pipelines.append(self._pipeline(index, source, t0, wall_minus_mono))
        except BaseException:
            for p in self._pipelines:
                p.bank.close()
            for task in self._pumps:
                task.cancel()
            raise
        for p in self._pipelines:
            p.start()

    async def _stop_cameras(self) -> Stopped:
        """Stop at the clock's now; after a failure keep every segment that is on the disk."""
        assert self._io is not None
        self._stop.set(self.clock.monotonic())
        if self._pumps:
            _, late = await asyncio.wait(self._pumps, timeout=self.options.stop_timeout_s)
            for task in late:
                log.warning("a source did not end at stop; cancelling it")
                task.cancel()
            await asyncio.gather(*self._pumps, return_exceptions=True)
        await asyncio.to_thread(self._finish_threads)
        errors = [p.error for p in self._pipelines if p.error is not None]
        errors += self._pump_errors() + self._io.errors
        counts = {p.camera: p.segmenter.next_sequence for p in self._pipelines}
        missing: dict[str, list[int]] = {}
        if errors:
            counts, missing = await asyncio.to_thread(self._reconcile, counts)
        return counts, errors, missing

    # --- the daemon's API -------------------------------------------------------------------

    async def sync(self) -> None:
        """Wait until everything captured by now is encoded and asked-for fsyncs are done."""
        target = self.clock.monotonic()
        settled = 0
        while settled < 2:
            busy = any(p.running and not p.feed.idle_since(target) for p in self._pipelines)
            settled = 0 if busy else settled + 1
            await asyncio.sleep(0.002)
        if self._io is not None:
            await asyncio.to_thread(self._io.drain)

    @property
    def stop_at(self) -> float | None:
        """Monotonic time the recording stops (None until ``stop``)."""
        return self._stop.at

    def latest_frame(self) -> NDArray[np.uint8] | None:
        """The main camera's latest recorded frame, in its own layout (BGR or I420)."""
        main = self._main_camera()
        for p in self._pipelines:
            if p.camera == main and p.latest is not None:
                return p.latest.image
        return None

    def stats(self) -> RecordingStats:
        """Frames, drops, seconds, segments and sync figures so far (any thread)."""
        cams: dict[str, CameraStats] = {}
        for p in self._pipelines:
            c, s = p.counters, p.segmenter.counters
            dropped = c.dropped + (p.feed.dropped if isinstance(p.feed, QueueFeed) else 0)
            seconds = 0.0
            if c.first_t is not None and c.last_t is not None:
                seconds = c.last_t - c.first_t + p.frame_s
            cams[p.camera] = CameraStats(
                p.camera, c.frames, dropped, seconds, s.segments, s.bytes, s.max_sync_gap_s
            )
        audio = None
        if self._timeline is not None:
            main = next(p for p in self._pipelines if p.timeline is self._timeline)
            audio = AudioStats(
                main.counters.audio_chunks,
                main.counters.audio_blocks,
                self._timeline.ppm,
                self._timeline.first_sample_s,
            )
        main_id = self._main_camera()
        errors = self.notes() + [repr(p.error) for p in self._pipelines if p.error is not None]
        errors += [repr(e) for e in self._pump_errors()]
        errors += [repr(e) for e in self._io.errors] if self._io is not None else []
        failed = [p.camera for p in self._pipelines if p.error is not None]
        failed += [
            task.get_name().removeprefix("camera:")
            for task in self._pumps
            if task.get_name().startswith("camera:")
            and task.done()
            and not task.cancelled()
            and task.exception() is not None
        ]
        seconds = cams[main_id].seconds if main_id in cams else 0
        problems = [p.error for p in self._pipelines] + list(self._pump_errors())
        problems += self._io.errors if self._io is not None else []
        full = any(disk_full(e) for e in problems if e is not None)
        return RecordingStats(cams, audio, seconds, errors, sorted(set(failed)), full)

    # --- set-up ---------------------------------------------------------------------------

    def _check_sources(self) -> None:
        pull = self.options.mode == "pull"
        for cam_id, source in zip(self.camera_ids, self.cameras, strict=True):
            ok = isinstance(source, PullCamera if pull else StreamCamera)
            if not ok:
                need = "frame_at/pts_of" if pull else "stream(clock)"
                raise RecorderError(f"camera {cam_id!r}: a source with {need} is needed")
        mic = self.microphone
        if mic is not None and not isinstance(mic, PullMicrophone if pull else StreamMicrophone):
            need = "chunk_at/sample_pts" if pull else "stream(clock, n)"
            raise RecorderError(f"microphone: a source with {need} is needed")

    def _prepare_cameras(self) -> None:
        for cam_id in self.camera_ids:
            fps = float(self._spec(cam_id)["video"]["fps"])
            write_timeline(camera_dir(self.dir, cam_id), Timeline(-PTS_BASE_S, fps))

    def _spec(self, cam_id: str) -> dict[str, Any]:
        return next(dict(c) for c in self.plan.cameras if str(c["id"]) == cam_id)

    def _pipeline(
        self, index: int, source: Camera, t0: float, wall_minus_mono: float
    ) -> CameraPipeline:
        o = self.options
        cam_id = self.camera_ids[index]
        spec = self._spec(cam_id)
        video = spec["video"]
        fps = float(video["fps"])
        with_audio = self.sound_wanted and self.plan.audio_camera == cam_id
        bank = EncoderBank()
        try:
            venc = bank.video(
                VideoSettings(
                    width=int(video["width"]),
                    height=int(video["height"]),
                    fps=fps,
                    preset=o.x264_preset,
                    tune=o.x264_tune,
                    crf=o.crf,
                    bitrate=o.video_bitrate,
                    keyframe_s=o.keyframe_s,
                    threads=o.encoder_threads,
                )
            )
            aenc = bank.audio(o.audio) if with_audio else None
            bank.start()
        except BaseException:
            bank.close()
            raise
        assert self._io is not None
        segmenter = Segmenter(
            recording_id=self.plan.recording_id,
            camera=cam_id,
            cam_dir=camera_dir(self.dir, cam_id),
            video_template=venc.stream,
            audio_template=aenc.stream if aenc else None,
            segment_s=o.segment_s or self.plan.segment_seconds,
            fps=fps,
            io=self._io,
            sync_s=o.sync_s,
        )
        timeline = None
        if aenc is not None:
            timeline = AudioTimeline(
                o.audio.sample_rate, o.audio.channels, o.audio_sync, aenc.frame_size
            )
            self._timeline = timeline
        feed = self._feed(cam_id, source, self.microphone if with_audio else None, t0)
        return CameraPipeline(
            cam_id,
            feed,
            bank,
            venc,
            segmenter,
            t0,
            fps,
            audio=aenc,
            timeline=timeline,
            wall_minus_mono_s=wall_minus_mono,
        )

    def _feed(
        self, camera_id: str, camera: Camera, microphone: Microphone | None, t0: float
    ) -> Feed:
        o = self.options
        if o.mode == "pull":
            assert isinstance(camera, PullCamera)
            assert microphone is None or isinstance(microphone, PullMicrophone)
            return PullFeed(camera, microphone, self.clock, t0, self._stop, o.samples_per_chunk)
        assert isinstance(camera, StreamCamera)
        feed = QueueFeed(2 if microphone is not None else 1, o.max_queued_frames)
        self._pumps.append(
            asyncio.create_task(
                pump_camera(camera, self.clock, feed, t0, self._stop), name=f"camera:{camera_id}"
            )
        )
        if microphone is not None:
            assert isinstance(microphone, StreamMicrophone)
            self._pumps.append(
                asyncio.create_task(
                    pump_microphone(microphone, self.clock, feed, self._stop, o.samples_per_chunk),
                    name="microphone",
                )
            )
        return feed

    # --- threads -------------------------------------------------------------------------

    def _pump_errors(self) -> list[BaseException]:
        """Sources that failed (their stream raised) in stream mode."""
        out: list[BaseException] = []
        for task in self._pumps:
            if task.done() and not task.cancelled() and task.exception() is not None:
                error = task.exception()
                assert error is not None
                out.append(error)
        return out

    def _finish_threads(self) -> None:
        for p in self._pipelines:
            p.join()
        assert self._io is not None
        self._io.drain()  # the lifecycle ends the I/O thread (it may serve other cameras)

    def _reconcile(self, counts: dict[str, int]) -> tuple[dict[str, int], dict[str, list[int]]]:
        """After a failure (a full disk, a camera): keep every segment that is on the disk.

        A failed camera left its open segment as ``.partial``; a failed write may have left a
        closed segment without its index line, never announced. Recovery's pass over the
        camera's folder salvages the one and reads the other; whatever was not announced yet
        is announced now. Returns the counts and the sequences with nothing readable.
        """
        missing: dict[str, list[int]] = {}
        for p in self._pipelines:
            fps = 1.0 / p.frame_s
            found = recover_camera(self.dir, p.camera, self.plan.recording_id, fps)
            announced = self._announced.get(p.camera, set())
            for info in found.segments:
                if info.sequence not in announced:
                    log.warning("segment %s/%06d kept after the failure", p.camera, info.sequence)
                    self._emit(info)
            highest = max(announced | {i.sequence for i in found.segments}, default=-1)
            counts[p.camera] = max(found.count, highest + 1)
            if found.missing:
                missing[p.camera] = found.missing
        return counts, missing
