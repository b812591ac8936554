"""The real sources a lesson records from, chosen by the config: webcams and ALSA, or the Pi's
cameras. Simulated cameras come from the simulator, which the entry point hands in
(``sources_for(..., simulated=...)``): nothing here imports ``sim/``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .clock import Clock
from .config import CameraConfig, DeviceConfig, TrackingConfig
from .real.alsa_microphone import AlsaMicrophone
from .real.v4l2_camera import V4L2Camera
from .recorder import AudioSyncSettings, Recorder, RecorderOptions
from .recorder.picamera2_adapter import Picamera2Recorder, Picamera2Settings
from .segments import RecordingPlan, SegmentInfo
from .sources import Capture, HardwareUnavailable, RecorderSources, Sources, SourcesFactory
from .tracking.frames import RecorderFrames


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


def _cameras_of(
    config: DeviceConfig, plan: RecordingPlan, source: str
) -> list[tuple[str, CameraConfig]]:
    """The plan's cameras, all of which must be ``source`` cameras (with real sound)."""
    found = []
    for spec in plan.cameras:
        cam = config.cameras[spec["id"]]
        if cam.source != source:
            raise HardwareUnavailable(
                f"[cameras.{spec['id']}] source = {cam.source!r} cannot be combined with a "
                f'{source} camera; use source = "{source}" for both'
            )
        found.append((str(spec["id"]), cam))
    if config.audio.source == "simulated":
        raise HardwareUnavailable(
            '[audio] source = "simulated" needs simulated cameras; use "alsa" or "none"'
        )
    return found


@dataclass
class Webcams(RecorderSources):
    """USB webcams and an ALSA microphone (or none), recorded in real time with PyAV."""

    mode = "stream"
    cameras: list[V4L2Camera]  # in the plan's order
    microphone: AlsaMicrophone | None
    main: CameraConfig
    tracking: TrackingConfig
    offset_ms: float = 0.0

    def tracking_frames(self, recorder: Recorder, clock: Clock) -> RecorderFrames:
        """The recorder's newest main-camera picture."""
        return RecorderFrames(
            recorder, clock, self.main.width, self.main.height, self.tracking.hfov_deg
        )


def real_sources(config: DeviceConfig, plan: RecordingPlan) -> Webcams:
    """USB webcams through V4L2 and an ALSA microphone (or none)."""
    cameras = [
        V4L2Camera(cam.device, cam.width, cam.height, float(cam.fps))
        for _, cam in _cameras_of(config, plan, "v4l2")
    ]
    microphone = None
    if config.audio.source == "alsa":
        microphone = AlsaMicrophone(
            config.audio.device, config.audio.sample_rate, config.audio.channels
        )
    return Webcams(
        cameras, microphone, config.cameras["main"], config.tracking, config.audio.offset_ms
    )


@dataclass
class PiCameras:
    """Pi cameras: they record through picamera2's own encoder pipeline, audio included."""

    settings: list[Picamera2Settings]
    with_audio: bool
    offset_ms: float
    hfov_deg: float = 66.0
    picamera2_factory: Callable[[int], Any] | None = None
    audio_input: dict[str, Any] | None = None

    def capture(
        self,
        plan: RecordingPlan,
        state_dir: Path,
        clock: Clock,
        on_segment: Callable[[SegmentInfo], None],
        options: RecorderOptions | None = None,
    ) -> Capture:
        """A picamera2 recorder (``options`` do not apply: picamera2 encodes); the tracker
        watches the main camera's low-resolution stream."""
        recorder = Picamera2Recorder(
            plan,
            state_dir,
            self.settings,
            clock,
            with_audio=self.with_audio,
            audio_sync=AudioSyncSettings(offset_s=self.offset_ms / 1000.0),
            on_segment=on_segment,
            picamera2_factory=self.picamera2_factory,
            audio_input=self.audio_input,
        )
        width, height = self.settings[0].lores_size or self.settings[0].size
        return Capture(recorder, RecorderFrames(recorder, clock, width, height, self.hfov_deg))


def pi_cameras(config: DeviceConfig, plan: RecordingPlan) -> PiCameras:
    """The plan's cameras as picamera2 settings; every camera must be a Pi camera."""
    settings = []
    for name, cam in _cameras_of(config, plan, "picamera2"):
        if not cam.device.isdigit():
            raise HardwareUnavailable(
                f"[cameras.{name}] device = {cam.device!r}: a Pi camera is chosen by "
                'its number, "0" or "1" (see `lessoncam-device devices`)'
            )
        settings.append(
            Picamera2Settings(
                camera_num=int(cam.device),
                size=(cam.width, cam.height),
                fps=float(cam.fps),
                audio_device=config.audio.device,
                audio_options={
                    "sample_rate": str(config.audio.sample_rate),
                    "channels": str(config.audio.channels),
                },
            )
        )
    return PiCameras(
        settings,
        config.audio.source == "alsa",
        config.audio.offset_ms,
        hfov_deg=config.tracking.hfov_deg,
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
    if "picamera2" in kinds:
        return pi_cameras(config, plan)
    return real_sources(config, plan)
