"""Benchmark: pan-follow in the simulated classroom, ours vs a proportional controller.

Run with ``make bench-tracking``. Two parts, on rendered frames with OpenCV's ArUco detector:

1. ``roi_speedup``: the time to search a whole 1920x1080 frame vs a region of interest around
   where the marker should be (centred off by up to half a marker side, as a prediction would
   be), over frames with markers of 24 px and more at several distances, blur and light levels.
   Both searches must find the marker equally often.
2. Closed loop over every named scenario (``SCENARIOS``: the calm ones and the wild ones:
   dashes and dead stops, swaying, hiding and reappearing far away, leaving the reach, pupils in
   between, a second marker, dim light), each on both detection streams (1920x1080 and the Pi's
   640x360). The simulated servo turns the simulated camera, the tracker searches every 2nd
   frame (15 Hz) and gets each result 120 ms after capture. Our controller and the baseline
   (commanded pan += 0.35 x the marker's angle off centre, per sighting; no prediction, no
   acceleration limit, holds when lost) run the same scenarios with the same motor, detector
   and latency. Scored per frame at 30 fps (``sim/follow_scores.py``). Then the same on
   held-out stretches (``wild_path`` with seeds never used while tuning).

Writes ``bench/results/tracking.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import math
import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from lessoncam_device.motors.simulated import SimulatedPanMotor
from lessoncam_device.sim.clock import VirtualClock
from lessoncam_device.sim.follow_phases import PHASES, breakdown
from lessoncam_device.sim.follow_scores import Scores, score_records
from lessoncam_device.sim.geometry import MarkerSpec, Optics
from lessoncam_device.sim.pan_follow import ClosedLoopSettings, FrameRecord, run_closed_loop
from lessoncam_device.sim.scene import Scene
from lessoncam_device.sim.teacher_path import (
    SCENARIOS,
    TeacherPath,
    TeacherPose,
    position_at,
    scenario,
    wild_path,
)
from lessoncam_device.tracking.baseline import ProportionalController
from lessoncam_device.tracking.controller import ControllerSettings, PanController
from lessoncam_device.tracking.detector import DetectorSettings, Hint, MarkerDetector
from lessoncam_device.tracking.motion import stopping_distance
from lessoncam_device.tracking.search import Phase

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "tracking.json"
BASELINE_GAIN = 0.35
STREAMS = {"1920x1080": (1920, 1080), "640x360": (640, 360)}
# A dark room: a third of the light, three times the exposure (motion blur), sensor noise.
DIM = {"brightness": 0.4, "exposure_s": 0.033, "noise_sigma": 3.0}
DIM_SCENARIOS = ("dim_light",)
HELD_OUT_SEEDS = (101, 102, 103, 104)
HELD_OUT_DIM_SEED = 105
# A second held-out set, only ever evaluated (never looked at while changing the controller).
HELD_OUT_2_SEEDS = tuple(range(201, 211))
# A third, added with the change that looked at the second: evaluated once, at the end.
HELD_OUT_3_SEEDS = tuple(range(301, 311))
# The sprint at 3 m may miss "centred" only where the acceleration limit makes it impossible.
EXCUSED_CENTRED = ("sprint_near",)
TARGETS = {
    "centred_fraction": (">=", 0.95),
    "in_view_fraction": (">=", 0.995),
    "reacquire_from_visible_s_max": ("<=", 1.5),
    "overshoot_deg_max": ("<=", 3.0),
    "still_glides_per_min_max": ("<=", 1.0),
    "still_movement_deg_max": ("<", 0.5),
    "error_ratio_vs_baseline_mean": ("<=", 0.6),
    "p95_accel_deg_s2": ("<=", 60.0),
    "roi_speedup": (">=", 8.0),
}
# Per run, the same targets under the names a single run's figures have.
_PER_RUN = {
    "still_glides_per_min_max": "still_glides_per_min",
    "error_ratio_vs_baseline_mean": "error_ratio_vs_baseline",
}
RUN_TARGETS = {_PER_RUN.get(k, k): v for k, v in TARGETS.items() if k != "roi_speedup"}


def _meets(value: float, op: str, goal: float) -> bool:
    return {">=": value >= goal, "<=": value <= goal, "<": value < goal}[op]


# --- part 1: region of interest vs full frame ------------------------------------------------


def roi_speedup(repeats: int) -> dict[str, Any]:
    optics = Optics(1920, 1080, 66.0)
    rng = random.Random(1)
    full_ms: list[float] = []
    roi_ms: list[float] = []
    found_full = found_roi = 0
    sides: list[float] = []
    for size_m in (0.12, 0.20):
        scene = Scene(marker=MarkerSpec(size_m=size_m))
        for distance in (3.0, 4.5, 6.0, 7.4):
            for bearing in (-22.0, -6.0, 9.0, 24.0):
                for blur, light in ((0.0, 1.0), (5.0, 1.0), (0.0, 0.5), (2.0, 1.4)):
                    pose = TeacherPose(bearing, distance)
                    truth = scene.marker_corners(optics, 0.0, pose)
                    if truth is None:
                        continue
                    edges = truth - np.roll(truth, -1, axis=0)
                    side = float(np.hypot(edges[:, 0], edges[:, 1]).mean())
                    if side < 24.0:
                        continue
                    bgr = scene.render(optics, 0.0, pose, teacher_blur_px=blur, brightness=light)
                    gray = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), np.uint8)
                    cx, cy = truth.mean(axis=0)
                    hint = Hint(
                        float(cx) + rng.uniform(-0.5, 0.5) * side,
                        float(cy) + rng.uniform(-0.5, 0.5) * side,
                        side,
                    )
                    sides.append(side)
                    for _ in range(repeats):
                        # Interleaved, so the machine's load weighs on both alike.
                        full = MarkerDetector(DetectorSettings())
                        t0 = time.perf_counter()
                        got_full = full.detect(gray, 0.0).detection
                        t1 = time.perf_counter()
                        roi = MarkerDetector(DetectorSettings(reacquire_hz=1e-9))
                        roi._last_full_s = 0.0  # no fallback to the full frame: ROI only
                        t2 = time.perf_counter()
                        got_roi = roi.detect(gray, 1.0, hint).detection
                        t3 = time.perf_counter()
                        full_ms.append((t1 - t0) * 1000)
                        roi_ms.append((t3 - t2) * 1000)
                        found_full += got_full is not None
                        found_roi += got_roi is not None
    n = len(full_ms)
    return {
        "frames": len(sides),
        "searches_each": n,
        "marker_side_px": [round(min(sides), 1), round(max(sides), 1)],
        "full_frame_ms_median": round(statistics.median(full_ms), 2),
        "roi_ms_median": round(statistics.median(roi_ms), 2),
        "full_frame_detection_rate": round(found_full / n, 4),
        "roi_detection_rate": round(found_roi / n, 4),
        "roi_speedup": round(statistics.median(full_ms) / statistics.median(roi_ms), 2),
        "roi_px": DetectorSettings().roi_px,
    }


# --- part 2: closed loop ---------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One closed-loop run: a path (named, or a held-out seed), a stream, a controller."""

    kind: str  # "named", "held_out", "held_out_2" or "held_out_3"
    name: str
    stream: str
    controller: str  # "ours" or "baseline"
    dim: bool = False

    @property
    def key(self) -> str:
        return f"{self.name}@{self.stream}"


def _path(job: Job) -> TeacherPath:
    if job.kind.startswith("held_out"):
        return wild_path(int(job.name.removeprefix("wild_seed")))
    return scenario(job.name)


def loop_settings(job: Job, path: TeacherPath) -> ClosedLoopSettings:
    width, height = STREAMS[job.stream]
    reach = ControllerSettings()
    start = min(max(path.start_bearing_deg, reach.min_deg), reach.max_deg)
    light: dict[str, float] = DIM if job.dim else {}
    return ClosedLoopSettings(
        width=width,
        height=height,
        start_pan_deg=start,
        reach_deg=(reach.min_deg, reach.max_deg),
        **light,  # type: ignore[arg-type]
    )


_SCENE: Scene | None = None


def run_job(job: Job) -> tuple[Job, list[FrameRecord], int, int, int, float, list[float]]:
    """Run one job (in a worker process): its frames, detections, searches, wrong sightings,
    the seconds it took and the angles commanded at every motion tick."""
    global _SCENE
    cv2.setNumThreads(1)  # the closed loop's speed does not matter, its results do
    # The other marker's id is noted in the log once a minute per run: not news here.
    logging.getLogger("lessoncam_device.tracking.tracker").setLevel(logging.ERROR)
    if _SCENE is None:
        _SCENE = Scene()
    path = _path(job)
    settings = loop_settings(job, path)
    start = settings.start_pan_deg
    make: Callable[[float], Any]
    if job.controller == "ours":
        make = lambda now: PanController(ControllerSettings(), now, start)  # noqa: E731
    else:
        make = lambda now: ProportionalController(  # noqa: E731
            now, gain=BASELINE_GAIN, start_deg=start
        )
    t0 = time.perf_counter()
    result = run_closed_loop(_SCENE, path, make, settings)
    took = time.perf_counter() - t0
    return (
        job,
        result.records,
        result.detections,
        result.searches,
        result.wrong_sightings,
        took,
        [angle for _, angle in result.commands],
    )


def describe(path: TeacherPath) -> dict[str, Any]:
    ts = np.arange(0.0, path.duration_s, 0.05)
    poses = [position_at(path, float(t)) for t in ts]
    xy = np.array(
        [
            (
                p.distance_m * math.sin(math.radians(p.bearing_deg)),
                p.distance_m * math.cos(math.radians(p.bearing_deg)),
            )
            for p in poses
        ]
    )
    speed = np.hypot(*np.diff(xy, axis=0).T) / 0.05 if len(xy) > 1 else np.zeros(1)
    bearings = np.unwrap(np.radians([p.bearing_deg for p in poses]))
    rate = np.degrees(np.abs(np.diff(bearings))) / 0.05
    seen = [p for p in poses if p.visible_in_room]
    return {
        "duration_s": round(path.duration_s, 1),
        "distance_m": [
            round(min(p.distance_m for p in seen), 1),
            round(max(p.distance_m for p in seen), 1),
        ],
        "peak_speed_mps": round(float(speed.max()), 2),
        "peak_bearing_rate_deg_s": round(float(rate.max()), 1),
        "marker_hidden_s": round(0.05 * sum(not p.marker_visible for p in poses), 1),
    }


def figures(s: Scores) -> dict[str, Any]:
    return {
        "centred_fraction": round(s.centred_fraction, 4),
        "centred_fraction_all": round(s.centred_fraction_all, 4),
        "in_view_fraction": round(s.in_view_fraction, 4),
        "in_view_fraction_all": round(s.in_view_fraction_all, 4),
        "mean_error_deg": round(s.mean_error_deg, 3),
        "p95_error_deg": round(s.p95_error_deg, 3),
        "mean_error_to_marker_deg": round(s.mean_error_to_marker_deg, 3),
        "p95_accel_deg_s2": round(s.p95_accel_deg_s2, 1),
        "max_accel_deg_s2": round(s.max_accel_deg_s2, 1),
        "reacquire_s_max": round(s.reacquire_s_max, 3),
        "reacquire_from_visible_s": [round(x, 2) for x in s.reacquire_from_visible_s],
        "reacquire_from_visible_s_max": round(s.reacquire_from_visible_s_max, 3),
        "overshoot_deg": [round(x, 2) for x in s.overshoot_deg],
        "overshoot_deg_max": round(s.overshoot_deg_max, 2),
        "overshoot_to_marker_deg_max": round(s.overshoot_to_marker_deg_max, 2),
        "still_s": round(s.still_s, 1),
        "still_glides": s.still_glides,
        "still_glides_per_min": round(s.still_glides_per_min, 2),
        "still_movement_deg_max": round(s.still_movement_deg_max, 3),
        "frames": s.frames,
        "reachable_frames": s.reachable_frames,
    }


def commanded_accel_p95(commands: list[float], hz: float) -> float:
    """p95 of the commanded trajectory's acceleration (second difference at the motion rate):
    what the controller asks of the motor, before the servo's steps and lag."""
    if len(commands) < 3:
        return 0.0
    return float(np.percentile(np.abs(np.diff(commands, 2)) * hz**2, 95))


def accel_p95(runs: list[list[FrameRecord]], fps: float) -> tuple[float, float]:
    """p95 and max of the pan's acceleration, never across two runs."""
    accel = np.concatenate(
        [np.abs(np.diff([r.pan_deg for r in run], 2)) * fps**2 for run in runs if len(run) > 2]
    )
    return float(np.percentile(accel, 95)), float(accel.max())


def pooled(runs: list[list[FrameRecord]], width: int, fps: float) -> Scores:
    """Scores over all frames of several runs (the accelerations by ``accel_p95``)."""
    return score_records([r for run in runs for r in run], width, fps)


def walking_error(runs: list[list[FrameRecord]], fps: float) -> float:
    """Mean error over reachable frames where her bearing changes faster than 3 deg/s."""
    errors = [
        abs(b.bearing_deg - b.pan_deg)
        for run in runs
        for a, b in itertools.pairwise(run)
        if b.reachable and abs(b.bearing_deg - a.bearing_deg) * fps > 3.0
    ]
    return round(float(np.mean(errors)), 3) if errors else 0.0


def sprint_excuse(limits: ControllerSettings, third_deg: float) -> dict[str, Any]:
    """Why the dash at 3 m cannot be kept centred without passing her when she stops dead:
    the least lag behind her that still lets the camera stop within 3 deg past her."""
    path = scenario("sprint_near")
    ts = np.arange(0.0, path.duration_s, 0.01)
    bearings = np.array([position_at(path, float(t)).bearing_deg for t in ts])
    rates = np.abs(np.diff(bearings)) / 0.01
    peak = float(rates.max())
    # Her own stop: 2.5 m/s to standing in half a metre, as a bearing.
    stop_deg = math.degrees(0.5 / 3.0)
    camera = min(peak, limits.max_speed_dps)
    brake = stopping_distance(camera, 0.0, limits.limits)
    # The sighting that shows she stops arrives ~0.19 s after she began (a 15 Hz frame and
    # 120 ms of perception): the camera runs on at full speed meanwhile.
    react = 1.0 / 15.0 + 0.12
    lag = camera * react + brake - stop_deg - 3.0
    return {
        "peak_bearing_rate_deg_s": round(peak, 1),
        "max_speed_dps": limits.max_speed_dps,
        "max_accel_dps2": limits.max_accel_dps2,
        "camera_braking_deg": round(brake, 1),
        "camera_runs_on_before_it_knows_deg": round(camera * react, 1),
        "her_stop_deg": round(stop_deg, 1),
        "least_lag_for_3deg_overshoot_deg": round(lag, 1),
        "middle_third_half_width_deg": round(third_deg, 1),
        "impossible": lag > third_deg,
    }


def servo_ripple() -> dict[str, float]:
    """The 95th percentile of the shaft's acceleration as the benchmark measures it (second
    difference at the frame rate) while the pan is commanded at a constant speed, i.e. with no
    acceleration at all: what the servo's steps (a new command every motion tick, 0.09 deg
    resolution, its own 50 ms loop) add to every figure by themselves."""
    loop = ClosedLoopSettings()
    out: dict[str, float] = {}
    for speed in (10.0, 20.0, 30.0, 40.0, 45.0):
        clock = VirtualClock(monotonic_s=0.0)
        motor = SimulatedPanMotor(loop.limits, clock, loop.motor, start_deg=-60.0)
        ticks = [(j / loop.motion_hz, 1) for j in range(round(3.0 * loop.motion_hz))]
        frames = [(k / loop.fps, 0) for k in range(round(3.0 * loop.fps))]
        pans: list[float] = []
        for t, kind in sorted(frames + ticks):
            clock.advance(max(0.0, t - clock.monotonic()))
            motor.poll(t)
            if kind:
                motor.move_to(-60.0 + speed * t)
            else:
                pans.append(motor.angle_deg)
        steady = np.array(pans[round(loop.fps) :])  # after the first second
        accel = np.abs(np.diff(steady, 2)) * loop.fps**2
        out[f"{speed:g}_dps"] = round(float(np.percentile(accel, 95)), 1)
    return out


def sweep_time() -> dict[str, float]:
    """How long the search takes with the default settings, never finding her: from the lesson's
    start at pan 0 (look 2.5 s, then the sweep) to resting, on the controller alone."""
    controller = PanController(ControllerSettings(), 0.0, 0.0)
    t, began, ended = 0.0, None, None
    while t < 30.0 and ended is None:
        t = round(t + 0.02, 6)
        controller.update(t)
        phase = controller.search_phase
        if phase is Phase.SWEEP and began is None:
            began = t
        if phase is Phase.REST and ended is None:
            ended = t
    assert began is not None and ended is not None
    return {"sweep_starts_s": round(began, 2), "sweep_covers_reach_s": round(ended - began, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenarios", nargs="*", default=list(SCENARIOS))
    parser.add_argument("--streams", nargs="*", default=list(STREAMS))
    parser.add_argument("--held-out", type=int, nargs="*", default=list(HELD_OUT_SEEDS))
    parser.add_argument("--held-out-2", type=int, nargs="*", default=list(HELD_OUT_2_SEEDS))
    parser.add_argument("--held-out-3", type=int, nargs="*", default=list(HELD_OUT_3_SEEDS))
    parser.add_argument("--repeats", type=int, default=3, help="ROI timing repeats per frame")
    parser.add_argument("--skip-roi", action="store_true", help="closed loop only")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    threads = cv2.getNumThreads()
    roi: dict[str, Any] = {}
    roi_single: dict[str, Any] = {}
    if not args.skip_roi:
        for n in (threads, 1):
            cv2.setNumThreads(n)
            print(f"region of interest vs full frame at 1920x1080, {n} thread(s) ...", flush=True)
            r = roi_speedup(args.repeats) | {"opencv_threads": n}
            print(
                f"full {r['full_frame_ms_median']} ms, roi {r['roi_ms_median']} ms: "
                f"x{r['roi_speedup']}",
                flush=True,
            )
            if n == threads:
                roi = r
            else:
                roi_single = r
    jobs = [
        Job("named", name, stream, controller, dim=name in DIM_SCENARIOS)
        for name in args.scenarios
        for stream in args.streams
        for controller in ("ours", "baseline")
    ]
    held = [(f"wild_seed{seed}", stream, False) for seed in args.held_out for stream in STREAMS]
    if args.held_out:
        held.append((f"wild_seed{HELD_OUT_DIM_SEED}", "640x360", True))
    jobs += [
        Job("held_out", name, stream, controller, dim=dim)
        for name, stream, dim in held
        for controller in ("ours", "baseline")
    ]
    for kind, seeds in (("held_out_2", args.held_out_2), ("held_out_3", args.held_out_3)):
        jobs += [
            Job(kind, f"wild_seed{seed}", stream, controller)
            for seed in seeds
            for stream in STREAMS
            for controller in ("ours", "baseline")
        ]
    done: dict[tuple[str, str, str], Done] = {}
    t_start = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        for job, records, detections, searches, wrong, took, commands in pool.map(run_job, jobs):
            done[(job.kind, job.key, job.controller)] = (
                records,
                detections,
                searches,
                wrong,
                commands,
            )
            print(f"{job.kind:8s} {job.key:28s} {job.controller:8s} {took:5.0f} s", flush=True)
    fps = ClosedLoopSettings().fps
    named = _collect([j for j in jobs if j.kind == "named"], done, fps)
    held_out = _collect([j for j in jobs if j.kind == "held_out"], done, fps)
    out = _summary(named, held_out, roi, roi_single, threads, time.perf_counter() - t_start)
    out["held_out_2"] = _held_out_summary(
        _collect([j for j in jobs if j.kind == "held_out_2"], done, fps),
        f"wild_path(seed), seeds {min(HELD_OUT_2_SEEDS)}-{max(HELD_OUT_2_SEEDS)}: evaluated "
        "only at first; their misses were then studied (in the fast mode) and fixed generally",
        fps,
    )
    out["held_out_3"] = _held_out_summary(
        _collect([j for j in jobs if j.kind == "held_out_3"], done, fps),
        f"wild_path(seed), seeds {min(HELD_OUT_3_SEEDS)}-{max(HELD_OUT_3_SEEDS)}: evaluated "
        "once, never run while the controller was changed",
        fps,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    brief = {k: out[k] for k in TARGETS if k in out}
    print(json.dumps({**brief, "met": out["met"]}, indent=2))


# One finished job: frames, detections, searches, wrong sightings, commanded angles.
Done = tuple[list[FrameRecord], int, int, int, list[float]]


def _collect(
    jobs: list[Job],
    done: dict[tuple[str, str, str], Done],
    fps: float,
) -> dict[str, Any]:
    """Per (path, stream): our figures, the baseline's, the path, and which targets it meets."""
    entries: dict[str, Any] = {}
    ours_runs: dict[str, list[list[FrameRecord]]] = {}
    base_runs: dict[str, list[list[FrameRecord]]] = {}
    for job in jobs:
        if job.controller != "ours":
            continue
        records, detections, searches, wrong, commands = done[(job.kind, job.key, "ours")]
        base_records = done[(job.kind, job.key, "baseline")][0]
        width = STREAMS[job.stream][0]
        ours = score_records(records, width, fps)
        base = score_records(base_records, width, fps)
        ratio = ours.mean_error_deg / base.mean_error_deg if base.mean_error_deg else 0.0
        base_to_marker = base.mean_error_to_marker_deg
        ratio_to_marker = ours.mean_error_to_marker_deg / base_to_marker if base_to_marker else 0.0
        entry = figures(ours) | {
            "error_ratio_vs_baseline": round(ratio, 3),
            "error_ratio_vs_baseline_to_marker": round(ratio_to_marker, 3),
            "p95_accel_commanded_deg_s2": round(
                commanded_accel_p95(commands, ClosedLoopSettings().motion_hz), 1
            ),
            "error_by_phase": breakdown(records, base_records),
            "detections": detections,
            "searches": searches,
            "wrong_sightings": wrong,
            "mean_error_walking_deg": walking_error([records], fps),
            "baseline": figures(base)
            | {"mean_error_walking_deg": walking_error([base_records], fps)},
            "path": describe(_path(job)),
            "light": "dim" if job.dim else "normal",
        }
        met = {
            key: _meets(entry[key], op, goal)
            for key, (op, goal) in RUN_TARGETS.items()
            if not (key == "centred_fraction" and job.name in EXCUSED_CENTRED)
        }
        entry["met"] = met
        entries[job.key] = entry
        ours_runs.setdefault(job.stream, []).append(records)
        base_runs.setdefault(job.stream, []).append(base_records)
    return {"entries": entries, "ours_runs": ours_runs, "base_runs": base_runs}


def _overall(collected: dict[str, Any], fps: float) -> dict[str, Any]:
    """Figures over every run of a set, for ours and the baseline."""
    entries = collected["entries"]
    result: dict[str, Any] = {}
    for who, runs_by_stream in (
        ("ours", collected["ours_runs"]),
        ("baseline", collected["base_runs"]),
    ):
        all_runs = [run for runs in runs_by_stream.values() for run in runs]
        by_stream: dict[str, Any] = {}
        for stream, runs in runs_by_stream.items():
            s = pooled(runs, STREAMS[stream][0], fps)
            p95, _ = accel_p95(runs, fps)
            by_stream[stream] = {
                "centred_fraction": round(s.centred_fraction, 4),
                "in_view_fraction": round(s.in_view_fraction, 4),
                "mean_error_deg": round(s.mean_error_deg, 3),
                "p95_accel_deg_s2": round(p95, 1),
            }
        s_all = score_records([r for run in all_runs for r in run], 1920, fps)
        p95, peak = accel_p95(all_runs, fps)
        result[who] = {
            "in_view_fraction": round(s_all.in_view_fraction, 4),
            "in_view_fraction_all": round(s_all.in_view_fraction_all, 4),
            "mean_error_deg": round(s_all.mean_error_deg, 3),
            "p95_error_deg": round(s_all.p95_error_deg, 3),
            "mean_error_to_marker_deg": round(s_all.mean_error_to_marker_deg, 3),
            "p95_accel_deg_s2": round(p95, 1),
            "max_accel_deg_s2": round(peak, 1),
            "reacquire_s_max": round(s_all.reacquire_s_max, 3),
            "mean_error_walking_deg": walking_error(all_runs, fps),
            "frames": s_all.frames,
            "streams": by_stream,
        }
    ours = [e for e in entries.values()]
    result["ours"] |= {
        # Each run scored on its own picture width, so pooled here from the runs' own figures.
        "centred_fraction": round(
            sum(e["centred_fraction"] * e["reachable_frames"] for e in ours)
            / max(1, sum(e["reachable_frames"] for e in ours)),
            4,
        ),
        "reacquire_from_visible_s_max": max(e["reacquire_from_visible_s_max"] for e in ours),
        "overshoot_deg_max": max(e["overshoot_deg_max"] for e in ours),
        "overshoot_to_marker_deg_max": max(e["overshoot_to_marker_deg_max"] for e in ours),
        "still_glides_per_min_max": max(e["still_glides_per_min"] for e in ours),
        "still_movement_deg_max": max(e["still_movement_deg_max"] for e in ours),
        "error_ratio_vs_baseline_mean": round(
            statistics.mean(e["error_ratio_vs_baseline"] for e in ours), 3
        ),
        "error_ratio_vs_baseline_mean_to_marker": round(
            statistics.mean(e["error_ratio_vs_baseline_to_marker"] for e in ours), 3
        ),
        "wrong_sightings": sum(e["wrong_sightings"] for e in ours),
        "p95_accel_commanded_deg_s2": max(e["p95_accel_commanded_deg_s2"] for e in ours),
        # Each phase's mean part of the per-run error ratio: they add up to its mean.
        "error_ratio_parts_mean": {
            p: round(statistics.mean(e["error_by_phase"][p]["ratio_part"] for e in ours), 3)
            for p in PHASES
        },
    }
    base_entries = [e["baseline"] for e in ours]
    result["baseline"] |= {
        "centred_fraction": round(
            sum(b["centred_fraction"] * b["reachable_frames"] for b in base_entries)
            / max(1, sum(b["reachable_frames"] for b in base_entries)),
            4,
        ),
        "reacquire_from_visible_s_max": max(
            b["reacquire_from_visible_s_max"] for b in base_entries
        ),
        "overshoot_deg_max": max(b["overshoot_deg_max"] for b in base_entries),
        "still_glides_per_min_max": max(b["still_glides_per_min"] for b in base_entries),
        "still_movement_deg_max": max(b["still_movement_deg_max"] for b in base_entries),
    }
    return result


def _held_out_summary(collected: dict[str, Any], paths: str, fps: float) -> dict[str, Any]:
    """A held-out set: overall figures, the targets each run misses, every run."""
    entries = collected["entries"]
    if not entries:
        return {}
    overall = _overall(collected, fps)
    missed = {
        key: [k for k, e in entries.items() if not e["met"].get(key, True)] for key in RUN_TARGETS
    }
    return {
        "paths": paths,
        "overall": overall["ours"],
        "baseline": overall["baseline"],
        "runs_missing_a_target": {k: v for k, v in missed.items() if v},
        "scenarios": entries,
    }


def _summary(
    named: dict[str, Any],
    held_out: dict[str, Any],
    roi: dict[str, Any],
    roi_single: dict[str, Any],
    threads: int,
    seconds: float,
) -> dict[str, Any]:
    fps = ClosedLoopSettings().fps
    overall = _overall(named, fps)
    ours, base = overall["ours"], overall["baseline"]
    entries = named["entries"]
    unexcused = [e for k, e in entries.items() if k.split("@")[0] not in EXCUSED_CENTRED]
    results: dict[str, Any] = {
        # Worst case over every scenario and stream (the sprint at 3 m excused from centred).
        "centred_fraction": min(e["centred_fraction"] for e in unexcused),
        "in_view_fraction": min(e["in_view_fraction"] for e in entries.values()),
        "mean_error_deg": ours["mean_error_deg"],
        "p95_error_deg": ours["p95_error_deg"],
        "error_ratio_vs_baseline": round(ours["mean_error_deg"] / base["mean_error_deg"], 3),
        "error_ratio_vs_baseline_mean": ours["error_ratio_vs_baseline_mean"],
        # The first benchmark's measure: the error to her marker, sway and leans included.
        "error_ratio_vs_baseline_mean_to_marker": ours["error_ratio_vs_baseline_mean_to_marker"],
        "p95_accel_deg_s2": max(e["p95_accel_deg_s2"] for e in entries.values()),
        # What the controller commands (before the servo's steps), worst scenario.
        "p95_accel_commanded_deg_s2": ours["p95_accel_commanded_deg_s2"],
        "error_ratio_parts_mean": ours["error_ratio_parts_mean"],
        "baseline_p95_accel_deg_s2": base["p95_accel_deg_s2"],
        "reacquire_s_max": ours["reacquire_s_max"],
        "reacquire_from_visible_s_max": ours["reacquire_from_visible_s_max"],
        "overshoot_deg_max": ours["overshoot_deg_max"],
        "overshoot_to_marker_deg_max": ours["overshoot_to_marker_deg_max"],
        "still_glides_per_min_max": ours["still_glides_per_min_max"],
        "still_movement_deg_max": ours["still_movement_deg_max"],
        "roi_speedup": roi.get("roi_speedup", 0.0),
    }
    met = {
        key: _meets(results[key], op, goal) for key, (op, goal) in TARGETS.items() if key in results
    }
    missed = {
        key: [k for k, e in entries.items() if not e["met"].get(key, True)] for key in RUN_TARGETS
    }
    limits = ControllerSettings()
    third = math.degrees(math.atan(1920 / 6 / ((1920 / 2) / math.tan(math.radians(33.0)))))
    return {
        **results,
        "targets": {key: f"{op} {goal:g}" for key, (op, goal) in TARGETS.items()},
        "met": met,
        "runs_missing_a_target": {k: v for k, v in missed.items() if v},
        "ours": ours,
        "baseline": base
        | {"controller": f"pan += {BASELINE_GAIN} x pixel error per sighting, holds when lost"},
        "scenarios": entries,
        "sprint_near_excuse": sprint_excuse(limits, third),
        "servo_ripple_p95_accel_deg_s2": servo_ripple(),
        "search": sweep_time(),
        "held_out": _held_out_summary(
            held_out,
            "wild_path(seed): random classroom stretches, seeds never used in tuning",
            fps,
        ),
        "roi": roi,
        "roi_single_thread": roi_single,
        "setup": {
            "streams": {
                k: f"{w}x{h}, 66 deg, 30 fps; scored every frame" for k, (w, h) in STREAMS.items()
            },
            "dim_light": DIM | {"scenarios": list(DIM_SCENARIOS)},
            "search_rate_hz": 15,
            "perception_latency_s": ClosedLoopSettings().perception_latency_s,
            "motion_hz": ClosedLoopSettings().motion_hz,
            "motor": "simulated servo: 400 deg/s, 50 ms servo loop, 0.09 deg steps, 20 ms latency",
            "controller": {
                k: v for k, v in vars(ControllerSettings()).items() if not k.startswith("_")
            },
            "opencv": cv2.__version__,
            "opencv_threads": f"{threads} for roi_speedup, 1 for roi_single_thread and the loop",
            "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
            "closed_loop_wall_s": round(seconds),
        },
        "measured_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }


if __name__ == "__main__":
    main()
