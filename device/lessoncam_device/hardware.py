"""The recording sources a lesson uses, chosen by the config: simulated here, the Pi's on a Pi."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from .config import DeviceConfig
from .segments import RecordingPlan
from .sim.camera import CameraConfig as SimCameraConfig
from .sim.camera import SimulatedCamera, pupil_camera
from .sim.clock import Clock
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
    config: DeviceConfig, plan: RecordingPlan, clock: Clock, *, flash_every_s: float | None = 2.0
) -> Sources:
    """The simulated classroom, starting now: a teacher walking a lesson-long path."""
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
            ),
            cameras[0].flashes,
            clock.time() - clock.monotonic(),
        )
    return Sources(cameras, microphone)


def sources_for(config: DeviceConfig, plan: RecordingPlan, clock: Clock) -> Sources:
    """The sources the config asks for."""
    wanted = {cam.source for cam in config.cameras.values()} | {config.audio.source}
    if wanted <= {"simulated", "none"}:
        return simulated_sources(config, plan, clock)
    # picamera2 records through its own encoder pipeline (recorder.picamera2_adapter); the
    # daemon does not drive it yet, so say so instead of recording nothing.
    raise HardwareUnavailable(
        f"sources {sorted(wanted - {'simulated', 'none'})} are not supported by this version's "
        'daemon yet; set source = "simulated" to try the unit without a camera'
    )
