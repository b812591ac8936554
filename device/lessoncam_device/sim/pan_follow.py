"""Pan-follow in closed loop: the simulated classroom, a simulated servo turning the simulated
camera, real OpenCV marker detection on the rendered frames, on virtual time.

Events happen in time order on a ``VirtualClock`` advanced by hand: a frame is captured every
``1 / fps`` s (the motor's shaft angle sets the view); every ``detect_every`` frames the tracker
gets that frame ``perception_latency_s`` later (the time a real unit needs to get, search and
hand on a frame); the motion loop ticks at ``motion_hz``. Every frame is also recorded with
the ground truth (``FrameRecord``); ``follow_scores.py`` says how well a controller followed
the teacher.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np
from numpy.typing import NDArray

from ..motors.base import MotorLimits
from ..motors.simulated import SimulatedMotorSettings, SimulatedPanMotor
from ..tracking.controller import TrackState
from ..tracking.detector import (
    Detection,
    DetectorSettings,
    FrameResult,
    Gray,
    Hint,
    MarkerDetector,
)
from ..tracking.tracker import CameraGeometry, Controller, Tracker
from .camera import CameraConfig, SimulatedCamera
from .clock import VirtualClock
from .scene import Scene
from .teacher_path import TeacherPath

# A sighting this far from the teacher is of something else.
_WRONG_DEG = 3.0


@dataclass(frozen=True)
class ClosedLoopSettings:
    """The simulated unit: camera, rates, latency, motor."""

    width: int = 1920
    height: int = 1080
    hfov_deg: float = 66.0
    fps: float = 30.0
    detect_every: int = 2  # search every 2nd frame: 15 Hz at 30 fps
    motion_hz: float = 50.0
    perception_latency_s: float = 0.12
    motor_lag_s: float = 0.06  # what the tracker assumes the motor lags its commands by
    motor: SimulatedMotorSettings = field(default_factory=SimulatedMotorSettings)
    limits: MotorLimits = field(default_factory=MotorLimits)
    start_pan_deg: float = 0.0
    brightness: float = 1.0
    noise_sigma: float = 0.0
    exposure_s: float = 0.01  # motion blur: how long each frame is exposed
    start_s: float = 100.0  # monotonic time of the first frame
    # The soft pan limits the controller keeps to: where she can be followed at all.
    reach_deg: tuple[float, float] = (-60.0, 60.0)
    # None: render every searched frame and run the real detector. A number: render nothing
    # and hand the tracker the marker's true corners with this much noise (px, Gaussian):
    # ~50x faster, for experiments on the controller (no missed or foreign detections).
    truth_noise_px: float | None = None


@dataclass(frozen=True)
class FrameRecord:
    """One frame, scored."""

    t: float  # seconds since the path started
    pan_deg: float  # where the camera pointed (shaft angle)
    bearing_deg: float  # where the marker is (ground truth)
    seeable: bool  # a camera pointed at her would see the marker (not hidden, in the room)
    marker_x: float | None  # marker centre column in this frame, None if not in the picture
    state: TrackState
    reachable: bool = True  # the camera could see the marker at some pan within its reach
    centrable: bool = True  # ... and have it in the middle third of the picture
    standing: bool = False  # she is not walking (the path pauses: she may sway or lean)
    leg: int = 0  # which leg of the path she is on
    stance_deg: float | None = None  # where she stands, less sway and leans (None: bearing)

    @property
    def stance(self) -> float:
        """The bearing the camera should frame: where she stands (her bearing when walking)."""
        return self.bearing_deg if self.stance_deg is None else self.stance_deg


@dataclass(frozen=True)
class RunResult:
    """A closed-loop run: every frame, and the tracker's counts."""

    records: list[FrameRecord]
    width: int
    fps: float
    detections: int
    searches: int
    wrong_sightings: int = 0  # sightings more than 3 deg from the teacher (another marker?)
    # Every command to the motor as (seconds since the path started, angle): the planned
    # trajectory, before the servo's steps and lag.
    commands: list[tuple[float, float]] = field(default_factory=list)


ControllerFactory = Callable[[float], Controller]


class _TruthDetector(MarkerDetector):
    """The detector's stand-in for ``truth_noise_px``: the corners it is handed, plus noise."""

    def __init__(self, settings: DetectorSettings, noise_px: float, seed: int = 0) -> None:
        super().__init__(settings)
        self.noise_px = noise_px
        self.corners: NDArray[np.float32] | None = None
        self._rng = np.random.default_rng(seed)

    def detect(self, gray: Gray, t_s: float, hint: Hint | None = None) -> FrameResult:
        del gray, t_s, hint
        if self.corners is None:
            return FrameResult(None, "full")
        noise = self._rng.normal(0.0, self.noise_px, (4, 2)).astype(np.float32)  # per corner
        found = Detection(self.settings.ids[0], self.corners + noise)
        return FrameResult(found, "roi", (), 1)


def run_closed_loop(
    scene: Scene,
    path: TeacherPath,
    make_controller: ControllerFactory,
    settings: ClosedLoopSettings | None = None,
    detector: DetectorSettings | None = None,
    duration_s: float | None = None,
) -> RunResult:
    """Follow ``path`` with the controller ``make_controller(now)`` builds; score every frame."""
    s = settings or ClosedLoopSettings()
    clock = VirtualClock(monotonic_s=s.start_s)
    camera = SimulatedCamera(
        scene,
        path,
        CameraConfig(
            width=s.width,
            height=s.height,
            fps=s.fps,
            hfov_deg=s.hfov_deg,
            start_pts_s=s.start_s,
            pan_deg=s.start_pan_deg,
            brightness=s.brightness,
            noise_sigma=s.noise_sigma,
            exposure_s=s.exposure_s,
        ),
    )
    motor = SimulatedPanMotor(s.limits, clock, s.motor, camera=camera, start_deg=s.start_pan_deg)
    detector_settings = detector or DetectorSettings(ids=(scene.marker.marker_id,))
    stand_in = (
        None if s.truth_noise_px is None else _TruthDetector(detector_settings, s.truth_noise_px)
    )
    tracker = Tracker(
        stand_in or MarkerDetector(detector_settings),
        make_controller(clock.monotonic()),
        motor,
        CameraGeometry(s.width, s.height, s.hfov_deg),
        clock.monotonic(),
        motor_lag_s=s.motor_lag_s,
    )
    end = s.start_s + (path.duration_s if duration_s is None else duration_s)
    # Events: (time, order, kind, payload). Order breaks ties: frames before deliveries.
    events: list[tuple[float, int, str, int]] = []
    in_flight: dict[int, tuple[float, Gray, NDArray[np.float32] | None]] = {}  # on their way
    commands: list[tuple[float, float]] = []
    blank: Gray = np.zeros((1, 1), np.uint8)
    n_frames = math.floor((end - s.start_s) * s.fps) + 1
    for k in range(n_frames):
        events.append((camera.pts_of(k), 0, "frame", k))
    n_ticks = math.floor((end - s.start_s) * s.motion_hz) + 1
    for j in range(n_ticks):
        events.append((s.start_s + j / s.motion_hz, 2, "tick", j))
    heapq.heapify(events)
    records: list[FrameRecord] = []
    lo, hi = s.reach_deg
    geometry = CameraGeometry(s.width, s.height, s.hfov_deg)
    third_deg = abs(geometry.offset_deg(geometry.cx + s.width / 6.0))  # middle third's half
    wrong = 0
    while events:
        t, _, kind, payload = heapq.heappop(events)
        if t > clock.monotonic():
            clock.advance(t - clock.monotonic())
        motor.poll(t)
        if kind == "tick":
            commands.append((t - s.start_s, tracker.tick(t)))
        elif kind == "frame":
            k = payload
            pose = camera.pose_at(k)
            assert pose is not None
            corners = camera.marker_corners(k)
            # A colleague nearer the camera hides her marker as a pupil does.
            others = camera.others_at(k)
            seeable = scene.marker_corners(camera.optics, pose.bearing_deg, pose, others)
            nearest = min(max(pose.bearing_deg, lo), hi)  # the reachable pan nearest to her
            reachable = scene.marker_corners(camera.optics, nearest, pose, others) is not None
            records.append(
                FrameRecord(
                    t - s.start_s,
                    camera.pan_deg,
                    pose.bearing_deg,
                    seeable is not None,
                    None if corners is None else float(corners[:, 0].mean()),
                    tracker.state,
                    reachable,
                    reachable and abs(nearest - pose.bearing_deg) <= third_deg,
                    pose.standing,
                    path.leg_at(t - s.start_s),
                    pose.stance,
                )
            )
            if k % s.detect_every == 0:
                if stand_in is None:
                    _, bgr = camera.frame_at(k)
                    gray = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), np.uint8)
                else:
                    gray = blank
                in_flight[k] = (t, gray, corners)
                heapq.heappush(events, (t + s.perception_latency_s, 1, "deliver", k))
        else:
            t_capture, gray, true_corners = in_flight.pop(payload)
            if stand_in is not None:
                stand_in.corners = true_corners
            tracker.on_frame(t_capture, gray)
            seen = tracker.last_sighting
            truth = camera.pose_at(payload)
            if seen is not None and seen.t == t_capture and truth is not None:
                wrong += abs(seen.bearing_deg - truth.bearing_deg) > _WRONG_DEG
    return RunResult(records, s.width, s.fps, tracker.sightings, tracker.frames, wrong, commands)
