"""Pan-follow in closed loop: the simulated classroom, a simulated servo turning the simulated
camera, real OpenCV marker detection on the rendered frames, on virtual time.

Events happen in time order on a ``VirtualClock`` advanced by hand: a frame is captured every
``1 / fps`` s (the motor's shaft angle sets the view); every ``detect_every`` frames the tracker
gets that frame ``perception_latency_s`` later (the time a real unit needs to get, search and
hand on a frame); the motion loop ticks at ``motion_hz``. Every frame is also scored against
the ground truth (``FrameRecord``), so a run says how well a controller followed the teacher.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..motors.base import MotorLimits
from ..motors.simulated import SimulatedMotorSettings, SimulatedPanMotor
from ..tracking.controller import TrackState
from ..tracking.detector import DetectorSettings, Gray, MarkerDetector
from ..tracking.tracker import CameraGeometry, Controller, Tracker
from .camera import CameraConfig, SimulatedCamera
from .clock import VirtualClock
from .scene import Scene
from .teacher_path import TeacherPath


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
    start_s: float = 100.0  # monotonic time of the first frame


@dataclass(frozen=True)
class FrameRecord:
    """One frame, scored."""

    t: float  # seconds since the path started
    pan_deg: float  # where the camera pointed (shaft angle)
    bearing_deg: float  # where the marker is (ground truth)
    seeable: bool  # a camera pointed at her would see the marker (not hidden, in the room)
    marker_x: float | None  # marker centre column in this frame, None if not in the picture
    state: TrackState


@dataclass(frozen=True)
class RunResult:
    """A closed-loop run: every frame, and the tracker's counts."""

    records: list[FrameRecord]
    width: int
    fps: float
    detections: int
    searches: int


ControllerFactory = Callable[[float], Controller]


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
        ),
    )
    motor = SimulatedPanMotor(s.limits, clock, s.motor, camera=camera, start_deg=s.start_pan_deg)
    tracker = Tracker(
        MarkerDetector(detector or DetectorSettings(ids=(scene.marker.marker_id,))),
        make_controller(clock.monotonic()),
        motor,
        CameraGeometry(s.width, s.height, s.hfov_deg),
        clock.monotonic(),
        motor_lag_s=s.motor_lag_s,
    )
    end = s.start_s + (path.duration_s if duration_s is None else duration_s)
    # Events: (time, order, kind, payload). Order breaks ties: frames before deliveries.
    events: list[tuple[float, int, str, int]] = []
    in_flight: dict[int, tuple[float, Gray]] = {}  # frames on their way to the tracker
    n_frames = math.floor((end - s.start_s) * s.fps) + 1
    for k in range(n_frames):
        events.append((camera.pts_of(k), 0, "frame", k))
    n_ticks = math.floor((end - s.start_s) * s.motion_hz) + 1
    for j in range(n_ticks):
        events.append((s.start_s + j / s.motion_hz, 2, "tick", j))
    heapq.heapify(events)
    records: list[FrameRecord] = []
    while events:
        t, _, kind, payload = heapq.heappop(events)
        if t > clock.monotonic():
            clock.advance(t - clock.monotonic())
        motor.poll(t)
        if kind == "tick":
            tracker.tick(t)
        elif kind == "frame":
            k = payload
            pose = camera.pose_at(k)
            assert pose is not None
            corners = camera.marker_corners(k)
            seeable = scene.marker_corners(camera.optics, pose.bearing_deg, pose) is not None
            records.append(
                FrameRecord(
                    t - s.start_s,
                    camera.pan_deg,
                    pose.bearing_deg,
                    seeable,
                    None if corners is None else float(corners[:, 0].mean()),
                    tracker.state,
                )
            )
            if k % s.detect_every == 0:
                _, bgr = camera.frame_at(k)
                gray = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), np.uint8)
                in_flight[k] = (t, gray)
                heapq.heappush(events, (t + s.perception_latency_s, 1, "deliver", k))
        else:
            tracker.on_frame(*in_flight.pop(payload))
    return RunResult(records, s.width, s.fps, tracker.sightings, tracker.frames)


# --- scores ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scores:
    """How well a run followed the teacher (see docs/tracking.md for the definitions)."""

    frames: int
    centred_fraction: float
    in_view_fraction: float
    mean_error_deg: float
    p95_error_deg: float
    p95_accel_deg_s2: float
    max_accel_deg_s2: float
    reacquire_s: list[float]

    @property
    def reacquire_s_max(self) -> float:
        return max(self.reacquire_s, default=0.0)


def _fraction(hits: int, total: int) -> float:
    return hits / total if total else 1.0


def score(result: RunResult) -> Scores:
    """Score a run frame by frame."""
    recs = result.records
    third = result.width / 6.0
    cx = (result.width - 1) / 2.0
    in_picture = [r for r in recs if r.marker_x is not None]
    centred = sum(1 for r in in_picture if r.marker_x is not None and abs(r.marker_x - cx) <= third)
    seeable = [r for r in recs if r.seeable]
    in_view = sum(1 for r in seeable if r.marker_x is not None)
    errors = np.array([abs(r.bearing_deg - r.pan_deg) for r in seeable]) if seeable else None
    pans = np.array([r.pan_deg for r in recs])
    accel = np.abs(np.diff(pans, 2)) * result.fps**2 if len(pans) > 2 else np.zeros(1)
    return Scores(
        frames=len(recs),
        centred_fraction=_fraction(centred, len(in_picture)),
        in_view_fraction=_fraction(in_view, len(seeable)),
        mean_error_deg=float(errors.mean()) if errors is not None else 0.0,
        p95_error_deg=float(np.percentile(errors, 95)) if errors is not None else 0.0,
        p95_accel_deg_s2=float(np.percentile(accel, 95)),
        max_accel_deg_s2=float(accel.max()),
        reacquire_s=reacquire_times(recs),
    )


def reacquire_times(records: Sequence[FrameRecord]) -> list[float]:
    """For every time the marker came (back) into the picture while the tracker was not
    locked: seconds until it locked. The clock restarts if the marker leaves the picture
    again before the lock (it cannot be found while out of the picture)."""
    times: list[float] = []
    since: float | None = None
    for r in records:
        locked = r.state is TrackState.LOCKED
        if since is not None and locked:
            times.append(r.t - since)
            since = None
        elif not locked:
            if r.marker_x is None:
                since = None
            elif since is None:
                since = r.t
    return times
