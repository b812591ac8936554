"""Recording on a Raspberry Pi with picamera2's own pipeline.

Per camera: ``Picamera2`` configured for a YUV420 main stream (1080p30 by default) and a lores
stream (for the tracker), an H.264 encoder (``LibavH264Encoder``, libx264, on a Pi 5, which
has no hardware encoder; the hardware ``H264Encoder`` on a Pi 4), with ``audio = True`` and an
explicit ALSA ``audio_input`` on the audio camera (a system service has no PulseAudio),
feeding ``SplittableOutput(PyavOutput(..., format="mpegts"))``; ``split_output`` is called at
each segment boundary, so one continuous encoder (video and AAC) is cut at keyframes.

What this adds to picamera2, in small subclasses built at run time:

- the encoder's ``outputframe`` watches video timestamps: it asks the splitter thread for a
  split half a second before a boundary, forces a keyframe at the boundary, and asks for an
  fsync of the open ``.partial`` every ``sync_s``;
- the encoder's audio thread runs the recorder's :class:`AudioTimeline` (fixed offset, drift
  measured against the video timestamps, resampling) between the ALSA input and the AAC
  encoder, instead of picamera2's rebase-to-first-packet plus fixed ``audio_sync``;
- each segment's ``PyavOutput`` remembers its first and last video timestamps.

picamera2 is imported here only, and only when a camera starts (it needs libcamera from
Raspberry Pi OS), so the rest of the recorder imports on any machine. Written against
picamera2 0.3.38 (it reads ``SplittableOutput._new_output`` and overrides the encoder's
``_audio_thread_func``): check both when upgrading. Also runs on Raspberry Pi OS Bookworm's
0.3.29 (the arm64 rehearsal runs PyPI's 0.3.30, the same in everything used here).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import inspect
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal, Protocol

import av
import numpy as np

from ..clock import Clock
from ..segments import RecordingPlan, SegmentInfo
from .audio_sync import AudioSyncSettings, AudioTimeline
from .base import (
    AudioStats,
    CameraStats,
    CheckableMicrophone,
    MicrophoneUnavailable,
    RecorderError,
    RecordingStats,
)
from .encoders import AudioSettings
from .lifecycle import RecorderLifecycle, Stopped
from .recovery import salvage_leftovers
from .segment_io import PartialFile, SegmentIO
from .storage import Timeline, camera_dir, partial_path, segment_path, write_timeline

log = logging.getLogger(__name__)

_US = 1_000_000
_ARM_BEFORE_S = 0.5  # ask for the split this long before a boundary
_ARM_WAIT_S = 2.0  # at the boundary, wait at most this long for the splitter to be ready
_HW_ENCODER_DEVICE = "/dev/video11"  # the Pi 4's bcm2835 H.264 encoder


@dataclass(frozen=True)
class Picamera2Settings:
    """One Pi camera. ``audio_device`` only matters on the plan's audio camera."""

    camera_num: int = 0
    size: tuple[int, int] = (1920, 1080)
    fps: float = 30.0
    lores_size: tuple[int, int] | None = (640, 360)
    encoder: Literal["auto", "libav", "hardware"] = "auto"  # auto: hardware on a Pi 4
    bitrate: int | None = None  # None: picamera2's MEDIUM quality for the size and rate
    preset: str | None = None  # libx264's preset (None: picamera2's "ultrafast")


class Picamera2Microphone(CheckableMicrophone, Protocol):
    """The microphone of a Pi lesson: tried before the cameras start, then opened by
    picamera2's encoder itself from ``av_input()`` (``AlsaMicrophone`` on a unit)."""

    def av_input(self) -> dict[str, Any]:
        """Keyword arguments for ``av.open`` (picamera2's ``encoder.audio_input``)."""
        ...


@functools.cache
def _picamera2() -> SimpleNamespace:
    """Import picamera2 (only on a Pi, or in a test that stubs libcamera) and build the
    subclasses this adapter needs."""
    try:
        root = importlib.import_module("picamera2")
        encoders = importlib.import_module("picamera2.encoders")
        outputs = importlib.import_module("picamera2.outputs")
        platform = importlib.import_module("picamera2.platform")
    except ImportError as e:
        raise RecorderError(
            "picamera2 is not available: on Raspberry Pi OS install python3-picamera2 "
            f"(apt) and create the venv with --system-site-packages ({e})"
        ) from e
    return SimpleNamespace(
        Picamera2=root.Picamera2,
        LibavH264Encoder=encoders.LibavH264Encoder,
        H264Encoder=encoders.H264Encoder,
        PyavOutput=outputs.PyavOutput,
        Output=outputs.Output,
        SplittableOutput=outputs.SplittableOutput,
        # picamera2 takes any non-Pi-5 machine for a Pi 4: also ask for the encoder device.
        has_hw_h264=platform.get_platform() == platform.Platform.VC4
        and Path(_HW_ENCODER_DEVICE).exists(),
    )


# Every packet goes to the file at once: what the muxer has, the page cache has.
_MUX_OPTIONS = {"flush_packets": "1"}


def _segment_output_class(pyav_output: type, output: Any) -> type:
    """``pyav_output`` (picamera2's ``PyavOutput``) for one segment; ``output`` is its base."""
    # PyavOutput takes muxer options since picamera2 0.3.31; Bookworm's apt has 0.3.29.
    takes_options = "options" in inspect.signature(pyav_output).parameters

    class SegmentOutput(pyav_output):  # type: ignore[misc]
        """A ``PyavOutput`` to one ``.partial`` file that remembers its video span."""

        def __init__(
            self,
            file: PartialFile,
            on_video: Callable[[Any, int], None],
            counters: _SessionCounters,
        ) -> None:
            if takes_options:
                super().__init__(str(file.partial), format="mpegts", options=_MUX_OPTIONS)
            else:
                super().__init__(str(file.partial), format="mpegts")
            self.file = file
            self.counters = counters
            self.first_us: int | None = None
            self.last_us: int | None = None
            self.started = threading.Event()  # its first video packet has arrived
            self._on_video = on_video

        def start(self) -> None:
            if takes_options:
                super().start()
                return
            # What PyavOutput.start does before 0.3.31, with the options it cannot pass.
            self._container = av.open(self._output_name, "w", format="mpegts", options=_MUX_OPTIONS)
            output.start(self)

        def outputframe(
            self,
            frame: Any,
            keyframe: bool = True,
            timestamp: int | None = None,
            packet: Any = None,
            audio: bool = False,
        ) -> None:
            super().outputframe(frame, keyframe, timestamp, packet, audio)
            if self.recording:
                self.counters.bytes += packet.size if packet is not None else len(frame)
            if not audio and timestamp is not None and self.recording:
                if self.first_us is None:
                    self.first_us = timestamp
                    self.started.set()
                self.last_us = timestamp
                self._on_video(self, timestamp)

    return SegmentOutput


def _splitter_class(splittable: type) -> type:
    class Splitter(splittable):  # type: ignore[misc]
        @property
        def pending(self) -> bool:
            """A split has been asked for and waits for the next keyframe."""
            return getattr(self, "_new_output", None) is not None

        cancelled = False

        def cancel_split(self) -> None:
            """Give up a split that no keyframe will complete (the encoder has stopped)."""
            new = getattr(self, "_new_output", None)
            self._new_output = None
            self.cancelled = True
            self._split_done.set()
            if new is not None:
                new.stop()

    return Splitter


def _encoder_class(base: type) -> type:
    class Encoder(base):  # type: ignore[misc]
        """picamera2's encoder, reporting video timestamps and with our audio thread."""

        lessoncam: _CameraSession | None = None

        def outputframe(
            self,
            frame: Any,
            keyframe: bool = True,
            timestamp: int | None = None,
            packet: Any = None,
            audio: bool = False,
        ) -> None:
            session = self.lessoncam
            if session is not None and not audio and timestamp is not None:
                session.before_video(self, timestamp)
            super().outputframe(frame, keyframe, timestamp, packet, audio)

        def _audio_thread_func(self) -> None:
            session = self.lessoncam
            if session is None:
                super()._audio_thread_func()
                return
            for audio_frame in self._audio_input_container.decode(self._audio_input_stream):
                if not self._running:
                    break
                session.audio_frame(self, audio_frame)
            session.audio_flush(self)

    return Encoder


@dataclass
class _SessionCounters:
    """Updated by picamera2's threads; read by anyone."""

    frames: int = 0
    dropped: int = 0  # frames the camera skipped (timestamp gaps)
    bytes: int = 0
    segments: int = 0  # closed
    max_sync_gap_s: float = 0.0
    first_us: int | None = None
    last_us: int | None = None


class _CameraSession:
    """One camera's recording through picamera2: segments, splits, the audio timeline."""

    def __init__(
        self,
        *,
        recording_id: str,
        camera: str,
        cam_dir: Path,
        settings: Picamera2Settings,
        t0: float,
        segment_s: float,
        sync_s: float,
        io: SegmentIO,
        audio: AudioSettings | None,
        audio_sync: AudioSyncSettings,
        audio_input: dict[str, Any] | None,
        stamp_to_monotonic: Callable[[float], float],
        picamera2_factory: Callable[[int], Any] | None,
    ) -> None:
        self.recording_id = recording_id
        self.camera = camera
        self.cam_dir = cam_dir
        self.settings = settings
        self.t0 = t0
        self.segment_s = segment_s
        self.sync_s = sync_s
        self.io = io
        self.audio = audio
        self.audio_input = audio_input
        self.stamp_to_monotonic = stamp_to_monotonic
        self.frame_us = round(_US / settings.fps)
        self.pc = _picamera2()
        self._factory = picamera2_factory or self.pc.Picamera2
        self._output_cls = _segment_output_class(self.pc.PyavOutput, self.pc.Output)
        self._splitter_cls = _splitter_class(self.pc.SplittableOutput)
        self.timeline = (
            AudioTimeline(audio.sample_rate, audio.channels, audio_sync) if audio else None
        )
        self.sequence = 0
        self.counters = _SessionCounters()
        self.audio_blocks = 0
        self.error: BaseException | None = None
        self.started = False
        self._first_sensor_us: int | None = None
        self._latest_us: int | None = None
        self._boundary_us: int | None = None
        self._split_asked = False
        self._forced = False
        self._stopping = False
        self._hardware = False
        self._synced_us: int | None = None
        self._early_audio: list[tuple[float, np.ndarray]] = []
        self._tasks: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._splitter_run, name=f"split-{camera}")
        self.picam2: Any = None
        self.encoder: Any = None
        self.splitter: Any = None
        self.current: Any = None

    # --- start and stop (called from a worker thread of the recorder) ---------------------

    def start(self) -> None:
        """Configure and start the camera; if any step fails, undo the others and raise
        (``MicrophoneUnavailable`` when it was the microphone that picamera2 opened)."""
        try:
            self._start()
        except BaseException as exc:
            self._abandon()
            source = self.audio_input.get("file") if self.audio_input else None
            if isinstance(exc, av.error.FFmpegError) and source and exc.filename == source:
                raise MicrophoneUnavailable(
                    f"microphone {source!r} cannot be opened ({exc}); check [audio] device"
                ) from exc
            raise
        self.started = True

    def _start(self) -> None:
        s = self.settings
        picam2 = self._factory(s.camera_num)
        self.picam2 = picam2
        lores = {"size": s.lores_size, "format": "YUV420"} if s.lores_size else None
        config = picam2.create_video_configuration(
            main={"size": s.size, "format": "YUV420"},
            lores=lores,
            controls={"FrameRate": s.fps},
        )
        picam2.configure(config)
        self.encoder = self._make_encoder()
        self.current = self._new_output(0)
        self.splitter = self._splitter_cls(self.current)
        self._thread.start()
        picam2.start_encoder(self.encoder, self.splitter)
        picam2.start()

    def _abandon(self) -> None:
        """Undo a start that failed half-way: no encoder, thread or camera left running."""
        encoder = self.encoder
        if encoder is not None and getattr(encoder, "_running", False):
            # picamera2 leaves its encoder running when the audio input fails to open, with
            # no audio thread to join: stop it as a silent one.
            if getattr(encoder, "_audio_thread", None) is None:
                encoder.audio = False
                for name in ("_audio_input_container", "_audio_output_container"):
                    container = getattr(encoder, name, None)
                    if container is not None:
                        with contextlib.suppress(Exception):
                            container.close()
            try:
                encoder.stop()
            except Exception:
                log.exception("camera %s: stopping the half-started encoder failed", self.camera)
        if self._thread.is_alive():
            self._tasks.put(None)
            self._thread.join()
        if self.current is not None:
            self.current.file.close_fd()
        if self.picam2 is not None:
            for step in (self.picam2.stop, self.picam2.close):
                try:
                    step()
                except Exception:
                    log.exception("camera %s: closing after a failed start failed", self.camera)

    def stop(self) -> int:
        """Stop the camera, close the last segment; the number of segments."""
        self._stopping = True
        try:
            self.picam2.stop_encoder(self.encoder)
        finally:
            self._tasks.put(None)
            while self._thread.is_alive():
                if self.splitter.pending:  # no keyframe will come to complete it
                    self.splitter.cancel_split()
                self._thread.join(0.05)
            self.picam2.stop()
            self.picam2.close()
        last = self.current
        if last.first_us is None:
            last.file.close_fd()
            # Never written to: nothing recorded is lost by not counting it.
            return self.sequence
        self._close(last, (last.last_us or last.first_us) + self.frame_us)
        return self.sequence + 1

    def _make_encoder(self) -> Any:
        s = self.settings
        hardware = s.encoder == "hardware" or (s.encoder == "auto" and self.pc.has_hw_h264)
        if s.encoder == "hardware" and not self.pc.has_hw_h264:
            raise RecorderError(
                f"camera {self.camera}: no hardware H.264 encoder here ({_HW_ENCODER_DEVICE} "
                'is missing; a Pi 5 has none): set [video] encoder = "libx264" or "auto"'
            )
        self._hardware = hardware
        base = self.pc.H264Encoder if hardware else self.pc.LibavH264Encoder
        gop = max(1, round(s.fps))  # a keyframe every second: cuts are never more than 1 s off
        # PyAV wants a rational rate, not a float.
        rate = int(s.fps) if s.fps.is_integer() else Fraction(s.fps).limit_denominator(1001)
        encoder = _encoder_class(base)(bitrate=s.bitrate, iperiod=gop, framerate=rate)
        if not hardware and s.preset is not None:
            encoder.preset = s.preset  # picamera2's own default is "ultrafast"
        encoder.lessoncam = self
        if self.audio is not None:
            a = self.audio
            assert self.audio_input is not None
            encoder.audio = True
            encoder.audio_input = self.audio_input
            encoder.audio_output = {
                "codec_name": "aac",
                "rate": a.sample_rate,
                "layout": "mono" if a.channels == 1 else "stereo",
                "bit_rate": a.bitrate,
            }
        return encoder

    def _new_output(self, sequence: int) -> Any:
        file = PartialFile(
            self.recording_id,
            self.camera,
            sequence,
            partial_path(self.cam_dir, sequence),
            segment_path(self.cam_dir, sequence),
        )
        file.create()
        self.io.sync(file, new=True)
        return self._output_cls(file, self._on_output_video, self.counters)

    # --- the encoder thread ---------------------------------------------------------------

    def before_video(self, encoder: Any, ts_us: int) -> None:
        """A video packet is about to go out (encoder thread): plan splits around it."""
        c = self.counters
        if c.last_us is not None and ts_us - c.last_us > 1.5 * self.frame_us:
            c.dropped += round((ts_us - c.last_us) / self.frame_us) - 1
        c.frames += 1
        c.first_us = ts_us if c.first_us is None else c.first_us
        c.last_us = ts_us if c.last_us is None else max(c.last_us, ts_us)
        self._latest_us = ts_us
        if self._first_sensor_us is None:
            self._first_sensor_us = int(encoder.firsttimestamp)
            self._boundary_us = ts_us + round(self.segment_s * _US)
            self._tasks.put("timeline")
            return
        boundary = self._boundary_us
        assert boundary is not None
        if self._stopping:
            return
        if not self._split_asked and ts_us >= boundary - _ARM_BEFORE_S * _US:
            self._split_asked = True
            log.debug("%s: split asked at %s", self.camera, ts_us)
            self._tasks.put("split")
        if self._split_asked and not self._forced and ts_us + 1.5 * self.frame_us >= boundary:
            # The next frame is the boundary: the split must be armed before it comes.
            deadline = time.monotonic() + _ARM_WAIT_S
            while not self.splitter.pending and time.monotonic() < deadline:
                time.sleep(0.001)
            log.debug("%s: armed=%s at %s", self.camera, self.splitter.pending, ts_us)
            if self._hardware:
                # LibavH264Encoder's force_key_frame sets pict_type = "I", which PyAV >= 14
                # refuses (TypeError) in picamera2 0.3.38; its GOP of one second puts
                # keyframes on whole-second boundaries anyway.
                encoder.force_key_frame()
            self._forced = True

    def _on_output_video(self, output: Any, ts_us: int) -> None:
        """A video packet went into ``output`` (encoder thread): fsync it now and then."""
        if output.first_us == ts_us:  # the first packet of a new segment
            log.debug("%s: new segment at %s", self.camera, ts_us)
            self._boundary_us = ts_us + round(self.segment_s * _US)
            self._synced_us = ts_us
            self._split_asked = False
            self._forced = False
        elif self._synced_us is not None and ts_us - self._synced_us >= self.sync_s * _US:
            gap = (ts_us - self._synced_us) / _US
            self.counters.max_sync_gap_s = max(self.counters.max_sync_gap_s, gap)
            self._synced_us = ts_us
            self.io.sync(output.file)

    # --- the splitter thread --------------------------------------------------------------

    def _splitter_run(self) -> None:
        while (task := self._tasks.get()) is not None:
            try:
                if task == "timeline":
                    first = self._first_sensor_us
                    assert first is not None
                    write_timeline(self.cam_dir, Timeline(first / _US - self.t0, self.settings.fps))
                elif task == "split":
                    self._split()
            except Exception as e:
                log.exception("camera %s: split failed", self.camera)
                self.error = e

    def _split(self) -> None:
        if self._stopping:
            return
        old = self.current
        new = self._new_output(self.sequence + 1)
        self.splitter.split_output(new)  # returns once switched and the old file is closed
        if self.splitter.cancelled:  # at stop: no keyframe came
            new.file.close_fd()
            new.file.partial.unlink(missing_ok=True)  # our own empty file, never written
            return
        # Switched: the keyframe that did it is being written into ``new`` right now.
        new.started.wait(_ARM_WAIT_S)
        self.sequence += 1
        self.current = new
        self._close(old, new.first_us)

    def _close(self, output: Any, end_us: int) -> None:
        first = self._first_sensor_us
        assert first is not None and output.first_us is not None
        start_s = (first + output.first_us) / _US - self.t0
        self.io.close(output.file, start_s, (end_us - output.first_us) / _US)
        self.counters.segments += 1

    # --- the encoder's audio thread -------------------------------------------------------

    def audio_frame(self, encoder: Any, frame: av.AudioFrame) -> None:
        """A decoded microphone frame: map it onto the video clock, resample, encode."""
        if frame.pts is None or frame.time_base is None:
            return
        stamp = self.stamp_to_monotonic(float(frame.pts * frame.time_base)) - self.t0
        samples = _interleaved(frame)
        if self._first_sensor_us is None:  # no video clock yet: keep the last few seconds
            self._early_audio.append((stamp, samples))
            if len(self._early_audio) > 200:
                self._early_audio.pop(0)
            return
        for early_stamp, early_samples in self._early_audio:
            self._encode_audio(encoder, early_stamp, early_samples, observe=False)
        self._early_audio.clear()
        self._encode_audio(encoder, stamp, samples, observe=True)

    def audio_flush(self, encoder: Any) -> None:
        for packet in encoder._audio_output_stream.encode(None):
            self._send_audio(encoder, packet)

    def _encode_audio(
        self, encoder: Any, stamp: float, samples: np.ndarray, *, observe: bool
    ) -> None:
        assert self.timeline is not None and self.audio is not None
        first = self._first_sensor_us
        latest = self._latest_us
        assert first is not None and latest is not None
        video_t = (first + latest) / _US - self.t0
        stream = encoder._audio_output_stream
        layout = "mono" if self.audio.channels == 1 else "stereo"
        for pts, block in self.timeline.add(stamp, samples, video_t if observe else None):
            af = av.AudioFrame.from_ndarray(block, format="fltp", layout=layout)
            af.sample_rate = self.audio.sample_rate
            af.pts = pts
            af.time_base = Fraction(1, self.audio.sample_rate)
            self.audio_blocks += 1
            for packet in stream.encode(af):
                self._send_audio(encoder, packet)

    def _send_audio(self, encoder: Any, packet: Any) -> None:
        first = self._first_sensor_us
        if packet.pts is None or first is None:
            return
        seconds = float(packet.pts * packet.time_base) + self.t0 - first / _US
        ts_us = round(seconds * _US)
        if ts_us >= 0:
            encoder.outputframe(None, True, ts_us, packet, True)


def _interleaved(frame: av.AudioFrame) -> np.ndarray:
    """A decoded frame's samples as (n, channels)."""
    arr = frame.to_ndarray()
    channels = len(frame.layout.channels)  # nb_channels only since PyAV 13 (Bookworm: 12.3)
    if frame.format.is_planar:
        return np.ascontiguousarray(arr.T)
    return arr.reshape(-1, channels)


class Picamera2Recorder(RecorderLifecycle):
    """The :class:`Recorder` API on a Pi: one picamera2 pipeline per camera of the plan.

    ``picamera2_factory(camera_num)`` makes the ``Picamera2`` object (tests pass a fake);
    ``microphone`` (None: no sound) is tried before the cameras start, then picamera2's
    encoder opens it on the plan's audio camera; if it cannot be opened the lesson records
    without sound (said in ``stats().errors``), or is refused with ``sound_required``.
    ``stamp_to_monotonic`` maps the microphone's timestamps to the monotonic clock (default:
    ALSA's wall clock minus (wall - monotonic)). A camera that fails to start stops the ones
    that started before it.
    """

    def __init__(
        self,
        plan: RecordingPlan,
        state_dir: Path,
        cameras: Sequence[Picamera2Settings],
        clock: Clock,
        *,
        segment_s: float | None = None,
        sync_s: float = 1.0,
        audio: AudioSettings | None = None,
        audio_sync: AudioSyncSettings | None = None,
        microphone: Picamera2Microphone | None = None,
        sound_required: bool = False,
        on_segment: Callable[[SegmentInfo], None] | None = None,
        picamera2_factory: Callable[[int], Any] | None = None,
        stamp_to_monotonic: Callable[[float], float] | None = None,
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
        self.settings = list(cameras)
        self.segment_s = segment_s or plan.segment_seconds
        self.sync_s = sync_s
        self.audio = audio or AudioSettings()
        self.audio_sync = audio_sync or AudioSyncSettings()
        self.microphone = microphone
        self._factory = picamera2_factory
        self._stamp_to_monotonic = stamp_to_monotonic
        self._sessions: list[_CameraSession] = []

    async def _start_cameras(self, t0: float, wall_minus_mono: float) -> None:
        """Configure and start every camera; if one fails, stop those that started."""
        assert self._io is not None
        to_mono = self._stamp_to_monotonic or (lambda s: s - wall_minus_mono)
        audio_input = None
        if self.microphone is not None and self.sound_wanted:
            audio_input = self.microphone.av_input()
        for cam, settings in zip(self.camera_ids, self.settings, strict=True):
            audio = audio_input is not None and self.plan.audio_camera == cam
            self._sessions.append(
                _CameraSession(
                    recording_id=self.plan.recording_id,
                    camera=cam,
                    cam_dir=camera_dir(self.dir, cam),
                    settings=settings,
                    t0=t0,
                    segment_s=self.segment_s,
                    sync_s=self.sync_s,
                    io=self._io,
                    audio=self.audio if audio else None,
                    audio_sync=self.audio_sync,
                    audio_input=audio_input if audio else None,
                    stamp_to_monotonic=to_mono,
                    picamera2_factory=self._factory,
                )
            )
        for session in self._sessions:
            try:
                await asyncio.to_thread(session.start)
            except Exception as exc:
                for started in self._sessions:
                    if started.started:
                        try:
                            await asyncio.to_thread(started.stop)
                        except Exception:
                            log.exception("camera %s did not stop cleanly", started.camera)
                if isinstance(exc, RecorderError):
                    raise
                raise RecorderError(
                    f"Pi camera {session.settings.camera_num} ([cameras.{session.camera}]) "
                    f"did not start: {exc}"
                ) from exc

    async def _stop_cameras(self) -> Stopped:
        """Stop every camera; a camera that failed keeps what its open segment holds."""
        assert self._io is not None
        counts: dict[str, int] = {}
        errors: list[BaseException] = []
        failed: list[str] = []
        for session in self._sessions:
            try:
                counts[session.camera] = await asyncio.to_thread(session.stop)
            except Exception as e:
                log.exception("camera %s did not stop cleanly", session.camera)
                errors.append(e)
                failed.append(session.camera)
            if session.error is not None:
                errors.append(session.error)
        await asyncio.to_thread(self._io.drain)  # the lifecycle ends the I/O thread
        for camera in failed:  # its open segment is still .partial: keep what it holds
            counts[camera] = await asyncio.to_thread(
                salvage_leftovers, self.dir, camera, self.plan.recording_id, self._emit
            )
        return counts, errors, {}

    def latest_frame(self) -> np.ndarray | None:
        """The main camera's lores picture as it comes, I420 planes (``pictures.as_luma`` takes
        the tracker's luma from it without a conversion)."""
        main = self._main_camera()
        for s in self._sessions:
            if s.camera == main and s.picam2 is not None:
                stream = "lores" if s.settings.lores_size else "main"
                width, height = s.settings.lores_size or s.settings.size
                i420 = np.asarray(s.picam2.capture_array(stream), dtype=np.uint8)
                # picamera2 pads rows to a stride; keep the picture's own width.
                return np.ascontiguousarray(i420[: height * 3 // 2, :width])
        return None

    def stats(self) -> RecordingStats:
        """Frames, drops, seconds, segments and sync figures so far (any thread)."""
        cams: dict[str, CameraStats] = {}
        for s in self._sessions:
            c = s.counters
            seconds = 0.0
            if c.first_us is not None and c.last_us is not None:
                seconds = (c.last_us - c.first_us + s.frame_us) / _US
            cams[s.camera] = CameraStats(
                s.camera, c.frames, c.dropped, seconds, c.segments, c.bytes, c.max_sync_gap_s
            )
        audio = None
        for s in self._sessions:
            if s.timeline is not None:
                audio = AudioStats(
                    s.timeline.chunks, s.audio_blocks, s.timeline.ppm, s.timeline.first_sample_s
                )
        main = cams.get(self._main_camera())
        errors = self.notes() + [repr(s.error) for s in self._sessions if s.error is not None]
        failed = [s.camera for s in self._sessions if s.error is not None]
        return RecordingStats(cams, audio, main.seconds if main else 0.0, errors, failed)
