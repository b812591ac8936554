"""The recording sources a lesson uses, chosen by the config: simulated here, the Pi's on a Pi."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .clock import Clock
from .config import CameraConfig, DeviceConfig
from .real.alsa_microphone import AlsaMicrophone
from .real.v4l2_camera import V4L2Camera
from .recorder.audio_sync import AudioSyncSettings
from .recorder.picamera2_adapter import Picamera2Recorder, Picamera2Settings
from .segments import RecordingPlan, SegmentInfo
from .sim.camera import CameraConfig as SimCameraConfig
from .sim.camera import SimulatedCamera, pupil_camera
from .sim.microphone import MicrophoneConfig, SimulatedMicrophone
from .sim.scene import Scene
from .sim.teacher_path import lesson_path


class HardwareUnavailable(Exception):
    """The configured camera or microphone cannot be used here; the message says why."""


@dataclass
class Sources:
    """One lesson's cameras (in the plan's order) and its microphone (or None)."""

    cameras: list[Any]
    microphone: Any | None


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


@functools.cache
def _scene() -> Scene:
    return Scene()  # building the panorama takes ~0.6 s: once per process


def simulated_sources(
    config: DeviceConfig,
    plan: RecordingPlan,
    clock: Clock,
    *,
    flash_every_s: float | None = 2.0,
    drift_ppm: float = 0.0,
) -> Sources:
    """The simulated classroom, starting now: a teacher walking a lesson-long path, a flash
    (and a beep) every ``flash_every_s``, a microphone clock ``drift_ppm`` fast or slow."""
    start = clock.monotonic()
    cameras: list[Any] = []
    for spec in plan.cameras:
        cam = config.cameras[spec["id"]]
        settings = SimCameraConfig(
            width=cam.width,
            height=cam.height,
            fps=float(cam.fps),
            start_pts_s=start,
            flash_every_s=flash_every_s if spec["role"] == "main" else None,
        )
        if spec["role"] == "main":
            path = lesson_path(config.recording.max_minutes)
            cameras.append(SimulatedCamera(_scene(), path, settings))
        else:
            cameras.append(pupil_camera(_scene(), None, settings))
    microphone = None
    if config.audio.source != "none":
        microphone = SimulatedMicrophone(
            MicrophoneConfig(
                sample_rate=config.audio.sample_rate,
                channels=config.audio.channels,
                start_pts_s=start,
                drift_ppm=drift_ppm,
            ),
            cameras[0].flashes,
            clock.time() - clock.monotonic(),
        )
    return Sources(cameras, microphone)


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


def real_sources(config: DeviceConfig, plan: RecordingPlan) -> Sources:
    """USB webcams through V4L2 and an ALSA microphone (or none)."""
    cameras: list[Any] = [
        V4L2Camera(cam.device, cam.width, cam.height, float(cam.fps))
        for _, cam in _cameras_of(config, plan, "v4l2")
    ]
    microphone: Any | None = None
    if config.audio.source == "alsa":
        microphone = AlsaMicrophone(
            config.audio.device, config.audio.sample_rate, config.audio.channels
        )
    return Sources(cameras, microphone)


@dataclass
class PiCameras:
    """Pi cameras: they record through picamera2's own encoder pipeline, audio included."""

    settings: list[Picamera2Settings]
    with_audio: bool
    offset_ms: float
    picamera2_factory: Callable[[int], Any] | None = None
    audio_input: dict[str, Any] | None = None

    def recorder(
        self,
        plan: RecordingPlan,
        state_dir: Path,
        clock: Clock,
        on_segment: Callable[[SegmentInfo], None],
    ) -> Picamera2Recorder:
        return Picamera2Recorder(
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
    return PiCameras(settings, config.audio.source == "alsa", config.audio.offset_ms)


def sources_for(config: DeviceConfig, plan: RecordingPlan, clock: Clock) -> Sources | PiCameras:
    """What the config asks to record from: simulated, Pi cameras, or webcams and ALSA."""
    kinds = {cam.source for cam in config.cameras.values()}
    if kinds == {"simulated"}:
        if config.audio.source == "alsa":
            raise HardwareUnavailable(
                '[audio] source = "alsa" needs real cameras; use "simulated" or "none"'
            )
        return simulated_sources(config, plan, clock)
    if "picamera2" in kinds:
        return pi_cameras(config, plan)
    return real_sources(config, plan)
