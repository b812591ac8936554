"""The simulated classroom as a lesson's sources: a teacher walking a lesson-long path in front
of the main camera, a fixed camera on the pupils, a microphone with a beep at every flash."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from ..clock import Clock
from ..config import DeviceConfig, TrackingConfig
from ..recorder import Recorder
from ..segments import RecordingPlan
from ..sources import RecorderSources
from .camera import CameraConfig, SimulatedCamera, pupil_camera
from .frames import SimulatedFrames
from .microphone import MicrophoneConfig, SimulatedMicrophone
from .scene import Scene
from .teacher_path import lesson_path


@functools.cache
def _scene() -> Scene:
    return Scene()  # building the panorama takes ~0.6 s: once per process


@dataclass
class SimulatedSources(RecorderSources):
    """Simulated cameras (in the plan's order) and microphone (or None).

    They are pulled up to the clock's now (virtual time in tests, the real clock in the demo);
    the tracker watches the main camera, which a simulated motor turns.
    """

    mode = "pull"
    cameras: list[SimulatedCamera]
    microphone: SimulatedMicrophone | None
    tracking: TrackingConfig
    offset_ms: float = 0.0

    def tracking_frames(self, recorder: Recorder, clock: Clock) -> SimulatedFrames:
        """The main camera's view, rendered at its current pan."""
        t = self.tracking
        return SimulatedFrames(self.cameras[0], clock, t.stream, t.lores_width)


def simulated_sources(
    config: DeviceConfig,
    plan: RecordingPlan,
    clock: Clock,
    *,
    flash_every_s: float | None = 2.0,
    drift_ppm: float = 0.0,
) -> SimulatedSources:
    """The simulated classroom, starting now: a teacher walking a lesson-long path, a flash
    (and a beep) every ``flash_every_s``, a microphone clock ``drift_ppm`` fast or slow."""
    start = clock.monotonic()
    cameras: list[SimulatedCamera] = []
    for spec in plan.cameras:
        cam = config.cameras[spec["id"]]
        settings = CameraConfig(
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
    return SimulatedSources(cameras, microphone, config.tracking, config.audio.offset_ms)
