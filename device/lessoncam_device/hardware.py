"""The real sources a lesson records from, chosen by the config: webcams and ALSA, or the Pi's
cameras. Simulated cameras come from the simulator, which the entry point hands in
(``sources_for(..., simulated=...)``): nothing here imports ``sim/``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from . import __version__
from .clock import Clock
from .config import CameraConfig, DeviceConfig, TrackingConfig
from .ids import new_ulid
from .real.alsa_microphone import AlsaMicrophone
from .real.v4l2_camera import V4L2Camera
from .recorder import AudioSyncSettings, Recorder, RecorderOptions
from .recorder.mixed import MixedRecorder
from .recorder.picamera2_adapter import (
    Picamera2Microphone,
    Picamera2Recorder,
    Picamera2Settings,
)
from .segments import RecordingPlan, SegmentInfo
from .sources import Capture, HardwareUnavailable, RecorderSources, Sources, SourcesFactory
from .tracking.detection_stream import detection_stream
from .tracking.frames import RecorderFrames
from .video_encoding import read_pi_model, video_encoding


def camera_specs(config: DeviceConfig) -> tuple[dict[str, Any], ...]:
    """The manifest's camera entries, 'main' first."""
    names = ["main", *sorted(n for n in config.cameras if n != "main")]
    return tuple(
        {
            "id": name,
            "role": "main" if name == "main" else "second",
            "label": config.cameras[name].label,
            "video": {
                "codec": "h264",
                "container": "mpegts",
                "width": config.cameras[name].width,
                "height": config.cameras[name].height,
                "fps": float(config.cameras[name].fps),
            },
        }
        for name in names
    )


def lesson_plan(config: DeviceConfig, clock: Clock) -> RecordingPlan:
    """A new lesson's plan, starting now: its id, cameras and which one carries the sound."""
    now = clock.now()
    return RecordingPlan(
        recording_id=new_ulid(now),
        started_at_iso=now.isoformat(),
        cameras=camera_specs(config),
        audio_camera=None if config.audio.source == "none" else "main",
        segment_seconds=config.recording.segment_seconds,
        software_version=__version__,
    )


def _cameras_of(
    config: DeviceConfig, plan: RecordingPlan, source: str
) -> list[tuple[str, CameraConfig]]:
    """The plan's cameras whose source is ``source``, in the plan's order."""
    return [
        (str(spec["id"]), config.cameras[spec["id"]])
        for spec in plan.cameras
        if config.cameras[spec["id"]].source == source
    ]


@dataclass
class Webcams(RecorderSources):
    """USB webcams and an ALSA microphone (or none), recorded in real time with PyAV."""

    mode = "stream"
    cameras: list[V4L2Camera]  # in the plan's order
    microphone: AlsaMicrophone | None
    main: CameraConfig
    tracking: TrackingConfig
    offset_ms: float = 0.0
    sound_required: bool = False
    x264_preset: str = "veryfast"

    def tracking_frames(self, recorder: Recorder, clock: Clock) -> RecorderFrames:
        """The recorder's newest main-camera picture."""
        return RecorderFrames(
            recorder, clock, self.main.width, self.main.height, self.tracking.hfov_deg
        )


def microphone_of(config: DeviceConfig) -> AlsaMicrophone | None:
    """The configured ALSA microphone, or None (``[audio] source = "none"``)."""
    if config.audio.source != "alsa":
        return None
    return AlsaMicrophone(config.audio.device, config.audio.sample_rate, config.audio.channels)


def real_sources(config: DeviceConfig, plan: RecordingPlan) -> Webcams:
    """USB webcams through V4L2 and an ALSA microphone (or none)."""
    cameras = [
        V4L2Camera(cam.device, cam.width, cam.height, float(cam.fps))
        for _, cam in _cameras_of(config, plan, "v4l2")
    ]
    return Webcams(
        cameras,
        microphone_of(config),
        config.cameras["main"],
        config.tracking,
        config.audio.offset_ms,
        sound_required=config.audio.required,
        x264_preset=config.video.x264_preset,
    )


@dataclass
class PiCameras:
    """Pi cameras: they record through picamera2's own encoder pipeline, audio included.

    ``camera_ids`` are the plan's cameras they are (None: all of them; some, with webcams).
    """

    settings: list[Picamera2Settings]
    microphone: Picamera2Microphone | None
    offset_ms: float
    hfov_deg: float = 66.0
    sound_required: bool = False
    picamera2_factory: Callable[[int], Any] | None = None
    camera_ids: list[str] | None = None

    def recorder(
        self,
        plan: RecordingPlan,
        state_dir: Path,
        clock: Clock,
        on_segment: Callable[[SegmentInfo], None] | None,
    ) -> Picamera2Recorder:
        """The picamera2 recorder of these cameras."""
        return Picamera2Recorder(
            plan,
            state_dir,
            self.settings,
            clock,
            audio_sync=AudioSyncSettings(offset_s=self.offset_ms / 1000.0),
            microphone=self.microphone,
            sound_required=self.sound_required,
            on_segment=on_segment,
            picamera2_factory=self.picamera2_factory,
            camera_ids=self.camera_ids,
        )

    def tracking_size(self) -> tuple[int, int]:
        """The size of the picture the tracker watches: the first (main) camera's lores."""
        return self.settings[0].lores_size or self.settings[0].size

    def capture(
        self,
        plan: RecordingPlan,
        state_dir: Path,
        clock: Clock,
        on_segment: Callable[[SegmentInfo], None],
        options: RecorderOptions | None = None,
    ) -> Capture:
        """A picamera2 recorder (``options`` do not apply: picamera2 encodes); the tracker
        watches the main camera's low-resolution stream (or its main stream, when the marker
        needs every pixel; see ``tracking.detection_stream``)."""
        recorder = self.recorder(plan, state_dir, clock, on_segment)
        width, height = self.tracking_size()
        return Capture(recorder, RecorderFrames(recorder, clock, width, height, self.hfov_deg))


@dataclass
class MixedCameras:
    """A Pi camera and USB webcams in one lesson (a Pi 4 has one camera connector, so its
    second camera is a webcam): one ``MixedRecorder`` of a picamera2 part and a PyAV part;
    the part with the plan's audio camera carries the microphone."""

    pi: PiCameras
    webcams: list[V4L2Camera]
    webcam_ids: list[str]
    microphone: AlsaMicrophone | None
    main: CameraConfig
    tracking: TrackingConfig
    offset_ms: float = 0.0
    sound_required: bool = False
    x264_preset: str = "ultrafast"  # the webcams encode on the CPU: a Pi 4's is slow

    def capture(
        self,
        plan: RecordingPlan,
        state_dir: Path,
        clock: Clock,
        on_segment: Callable[[SegmentInfo], None],
        options: RecorderOptions | None = None,
    ) -> Capture:
        """The lesson's recorder; the tracker watches the main camera, whichever part has it."""
        sound_on_webcam = plan.audio_camera in self.webcam_ids
        pi_part = replace(self.pi, microphone=None if sound_on_webcam else self.microphone)
        options = options or RecorderOptions(
            mode="stream",
            audio_sync=AudioSyncSettings(offset_s=self.offset_ms / 1000.0),
            x264_preset=self.x264_preset,
        )
        parts = [
            pi_part.recorder(plan, state_dir, clock, None),
            Recorder(
                plan,
                state_dir,
                self.webcams,
                self.microphone if sound_on_webcam else None,
                clock,
                options,
                camera_ids=self.webcam_ids,
            ),
        ]
        recorder = MixedRecorder(
            plan,
            state_dir,
            clock,
            parts,
            on_segment,
            microphone=self.microphone,
            sound_required=self.sound_required,
        )
        main_is_pi = "main" not in self.webcam_ids
        width, height = (
            self.pi.tracking_size() if main_is_pi else (self.main.width, self.main.height)
        )
        frames = RecorderFrames(recorder, clock, width, height, self.tracking.hfov_deg)
        return Capture(recorder, frames)


def pi_cameras(config: DeviceConfig, plan: RecordingPlan, *, model: str | None = None) -> PiCameras:
    """The plan's Pi cameras as picamera2 settings.

    ``model`` is the board (None: read from the device tree): it picks the encoder.
    """
    model = read_pi_model() if model is None else model
    settings = []
    for name, cam in _cameras_of(config, plan, "picamera2"):
        if not cam.device.isdigit():
            raise HardwareUnavailable(
                f"[cameras.{name}] device = {cam.device!r}: a Pi camera is chosen by "
                'its number, "0" or "1" (see `lessoncam-device devices`)'
            )
        size = (cam.width, cam.height)
        # The tracker's stream, on the main camera only: big enough for the marker.
        lores = detection_stream(size, config.tracking).lores if name == "main" else None
        encoding = video_encoding(config.video, model, size, float(cam.fps))
        settings.append(
            Picamera2Settings(
                camera_num=int(cam.device),
                size=size,
                fps=float(cam.fps),
                lores_size=lores,
                encoder="hardware" if encoding.encoder == "hardware" else "libav",
                bitrate=encoding.bitrate,
                preset=encoding.preset,
            )
        )
    ids = [name for name, _ in _cameras_of(config, plan, "picamera2")]
    return PiCameras(
        settings,
        microphone_of(config),
        config.audio.offset_ms,
        hfov_deg=config.tracking.hfov_deg,
        sound_required=config.audio.required,
        camera_ids=None if len(ids) == len(plan.cameras) else ids,
    )


def mixed_cameras(config: DeviceConfig, plan: RecordingPlan) -> MixedCameras:
    """The plan's Pi cameras and webcams, recorded together."""
    webcams = _cameras_of(config, plan, "v4l2")
    return MixedCameras(
        pi_cameras(config, plan),
        [V4L2Camera(cam.device, cam.width, cam.height, float(cam.fps)) for _, cam in webcams],
        [name for name, _ in webcams],
        microphone_of(config),
        config.cameras["main"],
        config.tracking,
        config.audio.offset_ms,
        sound_required=config.audio.required,
        x264_preset=config.video.x264_preset,
    )


def sources_for(
    config: DeviceConfig,
    plan: RecordingPlan,
    clock: Clock,
    *,
    simulated: SourcesFactory | None = None,
) -> Sources:
    """What the config asks to record from: simulated (made by ``simulated``), Pi cameras,
    or webcams and ALSA."""
    kinds = {cam.source for cam in config.cameras.values()}
    if kinds == {"simulated"}:
        if config.audio.source == "alsa":
            raise HardwareUnavailable(
                '[audio] source = "alsa" needs real cameras; use "simulated" or "none"'
            )
        if simulated is None:
            raise HardwareUnavailable(
                "simulated cameras need the simulator, which `lessoncam-device run` loads; "
                'on a unit set source = "picamera2" or "v4l2" in [cameras]'
            )
        return simulated(config, plan, clock)
    for name, cam in config.cameras.items():
        if cam.source == "simulated":
            raise HardwareUnavailable(
                f'[cameras.{name}] source = "simulated" cannot be combined with a real camera; '
                'use "picamera2" or "v4l2"'
            )
    if config.audio.source == "simulated":
        raise HardwareUnavailable(
            '[audio] source = "simulated" needs simulated cameras; use "alsa" or "none"'
        )
    if kinds == {"picamera2", "v4l2"}:
        return mixed_cameras(config, plan)
    if kinds == {"picamera2"}:
        return pi_cameras(config, plan)
    return real_sources(config, plan)
