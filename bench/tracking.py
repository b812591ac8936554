"""Benchmark: pan-follow in the simulated classroom, ours vs a proportional controller.

Run with ``make bench-tracking``. Two parts, both on rendered 1920x1080 frames with OpenCV's
ArUco detector:

1. ``roi_speedup``: the time to search a whole frame vs a region of interest around where the
   marker should be (centred off by up to half a marker side, as a prediction would be), over
   frames with markers of 24 px and more at several distances, blur and light levels. Both
   searches must find the marker equally often.
2. Closed loop over the scripted scenarios (3-8 m, walking at up to 1.4 m/s): the simulated
   servo turns the simulated camera, the tracker searches every 2nd frame (15 Hz) and gets each
   result 120 ms after capture. Our controller and the baseline (commanded pan += 0.35 x the
   marker's angle off centre, per sighting; no prediction, no acceleration limit) run the same
   scenarios with the same motor, detector and latency. Scores per frame at 30 fps.

Writes ``bench/results/tracking.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import platform
import random
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from lessoncam_device.sim.geometry import MarkerSpec, Optics
from lessoncam_device.sim.pan_follow import (
    ClosedLoopSettings,
    RunResult,
    run_closed_loop,
    score,
)
from lessoncam_device.sim.scene import Scene
from lessoncam_device.sim.teacher_path import SCENARIOS, TeacherPath, TeacherPose, position_at
from lessoncam_device.tracking.baseline import ProportionalController
from lessoncam_device.tracking.controller import ControllerSettings, PanController
from lessoncam_device.tracking.detector import DetectorSettings, Hint, MarkerDetector

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "tracking.json"
BASELINE_GAIN = 0.35
TARGETS = {
    "centred_fraction": (">=", 0.95),
    "in_view_fraction": (">=", 0.995),
    "error_ratio_vs_baseline": ("<=", 0.5),
    "p95_accel_deg_s2": ("<=", 60.0),
    "reacquire_s_max": ("<=", 1.0),
    "roi_speedup": (">=", 8.0),
}


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


def describe(path: TeacherPath) -> dict[str, float]:
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
    rate = np.abs(np.diff([p.bearing_deg for p in poses])) / 0.05
    return {
        "duration_s": round(path.duration_s, 1),
        "distance_m": [
            round(min(p.distance_m for p in poses), 1),
            round(max(p.distance_m for p in poses), 1),
        ],
        "peak_speed_mps": round(float(speed.max()), 2),
        "peak_bearing_rate_deg_s": round(float(rate.max()), 1),
    }


def pooled(runs: list[RunResult]) -> dict[str, float]:
    """Scores over all frames of all scenarios together."""
    records = [r for run in runs for r in run.records]
    width = runs[0].width
    merged = RunResult(records, width, runs[0].fps, 0, 0)
    s = score(merged)
    # Accelerations and re-acquisitions must not span two scenarios: take them per run.
    accel = np.concatenate(
        [np.abs(np.diff([r.pan_deg for r in run.records], 2)) * run.fps**2 for run in runs]
    )
    reacquire = [x for run in runs for x in score(run).reacquire_s]
    return {
        "centred_fraction": round(s.centred_fraction, 4),
        "in_view_fraction": round(s.in_view_fraction, 4),
        "mean_error_deg": round(s.mean_error_deg, 3),
        "p95_error_deg": round(s.p95_error_deg, 3),
        "p95_accel_deg_s2": round(float(np.percentile(accel, 95)), 1),
        "max_accel_deg_s2": round(float(accel.max()), 1),
        "reacquire_s_max": round(max(reacquire, default=0.0), 3),
        "frames": s.frames,
    }


def walking_error(runs: list[RunResult]) -> float:
    """Mean error over frames where her bearing changes faster than 3 deg/s."""
    errors = []
    for run in runs:
        recs = run.records
        for a, b in itertools.pairwise(recs):
            if b.seeable and abs(b.bearing_deg - a.bearing_deg) * run.fps > 3.0:
                errors.append(abs(b.bearing_deg - b.pan_deg))
    return round(float(np.mean(errors)), 3) if errors else 0.0


def variant(names: list[str], scene: Scene, **changes: float) -> dict[str, Any]:
    """Our controller with other settings, pooled over the scenarios (for the trade-offs)."""
    runs = []
    for name in names:
        path = SCENARIOS[name]
        start = path.start_bearing_deg
        runs.append(
            run_closed_loop(
                scene,
                path,
                lambda now, s=start: PanController(ControllerSettings(**changes), now, s),
                ClosedLoopSettings(start_pan_deg=start),
            )
        )
    return {"settings": changes, **pooled(runs)}


def closed_loop(names: list[str], scene: Scene) -> dict[str, Any]:
    per_scenario: dict[str, Any] = {}
    ours_runs: list[RunResult] = []
    base_runs: list[RunResult] = []
    for name in names:
        path = SCENARIOS[name]
        start = path.start_bearing_deg
        settings = ClosedLoopSettings(start_pan_deg=start)
        t0 = time.perf_counter()
        ours = run_closed_loop(
            scene, path, lambda now, s=start: PanController(ControllerSettings(), now, s), settings
        )
        base = run_closed_loop(
            scene,
            path,
            lambda now, s=start: ProportionalController(now, gain=BASELINE_GAIN, start_deg=s),
            settings,
        )
        ours_runs.append(ours)
        base_runs.append(base)
        entry = {"path": describe(path), "ours": pooled([ours]), "baseline": pooled([base])}
        per_scenario[name] = entry
        print(
            f"{name:18s} ours err {entry['ours']['mean_error_deg']:.2f} deg, "
            f"accel p95 {entry['ours']['p95_accel_deg_s2']:.0f} | baseline err "
            f"{entry['baseline']['mean_error_deg']:.2f}, accel p95 "
            f"{entry['baseline']['p95_accel_deg_s2']:.0f}  ({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
    return {
        "ours": pooled(ours_runs) | {"mean_error_walking_deg": walking_error(ours_runs)},
        "baseline": pooled(base_runs) | {"mean_error_walking_deg": walking_error(base_runs)},
        "scenarios": per_scenario,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenarios", nargs="*", default=list(SCENARIOS))
    parser.add_argument("--repeats", type=int, default=3, help="ROI timing repeats per frame")
    args = parser.parse_args()
    threads = cv2.getNumThreads()
    roi_by_threads = {}
    for n in (threads, 1):
        cv2.setNumThreads(n)
        print(f"region of interest vs full frame at 1920x1080, {n} thread(s) ...", flush=True)
        roi_by_threads[n] = roi_speedup(args.repeats)
        r = roi_by_threads[n]
        print(
            f"full {r['full_frame_ms_median']} ms, roi {r['roi_ms_median']} ms: "
            f"x{r['roi_speedup']}",
            flush=True,
        )
    # The headline is OpenCV's default threading (as the design brief measured): a full frame
    # gains more from threads than a small region, so this is the lower of the two speedups.
    roi = roi_by_threads[threads] | {"opencv_threads": threads}
    roi_single = roi_by_threads[1] | {"opencv_threads": 1}
    cv2.setNumThreads(1)  # the closed loop's speed does not matter, its results do
    scene = Scene()
    loop = closed_loop(args.scenarios, scene)
    print("variant: a narrow dead band ...", flush=True)
    narrow = variant(args.scenarios, scene, dead_band_deg=0.75, settle_deg=0.1)
    ours, base = loop["ours"], loop["baseline"]
    results: dict[str, Any] = {
        "centred_fraction": ours["centred_fraction"],
        "in_view_fraction": ours["in_view_fraction"],
        "mean_error_deg": ours["mean_error_deg"],
        "p95_error_deg": ours["p95_error_deg"],
        "error_ratio_vs_baseline": round(ours["mean_error_deg"] / base["mean_error_deg"], 3),
        "p95_accel_deg_s2": ours["p95_accel_deg_s2"],
        "baseline_p95_accel_deg_s2": base["p95_accel_deg_s2"],
        "reacquire_s_max": ours["reacquire_s_max"],
        "roi_speedup": roi["roi_speedup"],
    }
    met = {
        key: (results[key] >= goal if op == ">=" else results[key] <= goal)
        for key, (op, goal) in TARGETS.items()
    }
    out = {
        **results,
        "targets": {key: f"{op} {goal:g}" for key, (op, goal) in TARGETS.items()},
        "met": met,
        "ours": ours,
        "baseline": base | {"controller": f"pan += {BASELINE_GAIN} x pixel error per sighting"},
        "variants": {"narrow_dead_band": narrow},
        "roi": roi,
        "roi_single_thread": roi_single,
        "scenarios": loop["scenarios"],
        "setup": {
            "camera": "simulated 1920x1080, 66 deg, 30 fps; scored every frame",
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
        },
        "measured_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps({**results, "met": met}, indent=2))


if __name__ == "__main__":
    main()
