"""Benchmark: from the teacher's long press to a watchable lesson on the server.

A 45-minute two-camera simulated lesson, recorded by the real daemon on a virtual clock and
uploaded live (segments go up while the lesson goes on, as fast as the lesson makes them) to a
real server on loopback. Measured in real seconds: the long press to the lesson being ready
(last segments closed and uploaded, both cameras assembled into faststart MP4s with poster and
thumbnails). Median of --runs.

Peer in the same run: the same unit and server, uploading only after the lesson has stopped
(the usual way: record, then upload), so the whole lesson is sent after the press.

    python bench/stop_to_ready.py                 # 45-minute lessons
    python bench/stop_to_ready.py --minutes 5     # a quick run

Results: bench/results/stop_to_ready.json (``seconds_stop_to_ready``: ours, median).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

from unit_harness import ROOT, LessonRun, loopback_server, record_lesson, run_facts, unit_config

from lessoncam_device.recorder import AudioSettings, RecorderOptions
from lessoncam_device.sim.sources import simulated_sources

RESULTS = ROOT / "bench" / "results" / "stop_to_ready.json"
TARGET_SECONDS = 10.0
WIDTH, HEIGHT, FPS = 320, 240, 15  # any resolution (see the JSON's note on 1080p)
OPTIONS = RecorderOptions(
    mode="pull", x264_preset="ultrafast", encoder_threads=1, audio=AudioSettings(coder="fast")
)


async def one_lesson(work: Path, name: str, minutes: float, live: bool) -> LessonRun:
    async with loopback_server(work / name / "server") as server:
        config = unit_config(work / name / "unit", 2, WIDTH, HEIGHT, FPS, minutes)
        run = await record_lesson(
            server, work / name / "unit", config, minutes, simulated_sources, OPTIONS, live=live
        )
    print(
        f"  {name}: {run.seconds_stop_to_ready:.2f} s from the long press to ready "
        f"({run.lesson_s / 60:.1f} min lesson, {run.record_wall_s:.0f} s to drive)",
        flush=True,
    )
    return run


async def main(minutes: float, runs: int) -> dict[str, Any]:
    ours: list[float] = []
    peer: list[float] = []
    with tempfile.TemporaryDirectory(prefix="lessoncam-stop-") as tmp:
        for i in range(runs):
            live = await one_lesson(Path(tmp), f"live-{i}", minutes, True)
            after = await one_lesson(Path(tmp), f"after-{i}", minutes, False)
            ours.append(live.seconds_stop_to_ready)
            peer.append(after.seconds_stop_to_ready)
    median, peer_median = statistics.median(ours), statistics.median(peer)
    return {
        "benchmark": "stop_to_ready",
        "lesson_minutes": minutes,
        "cameras": 2,
        "resolution": f"{WIDTH}x{HEIGHT}@{FPS}",
        "runs": runs,
        "seconds_stop_to_ready": round(median, 2),
        "seconds_stop_to_ready_all": [round(x, 2) for x in ours],
        "target_seconds": TARGET_SECONDS,
        "target_met": median <= TARGET_SECONDS,
        "peer": "same unit and server, uploading only after the lesson stopped",
        "peer_seconds_stop_to_ready": round(peer_median, 2),
        "peer_seconds_all": [round(x, 2) for x in peer],
        "ratio_peer_to_ours": round(peer_median / median, 1),
        "note": "the server remuxes segments as they arrive (live assembly); after the press "
        "come the last segment, the MP4 index, thumbnails and poster. Thumbnails decode one "
        "keyframe per tile, so they cost more at 1080p than at this resolution",
        **run_facts(),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=45.0)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    result = asyncio.run(main(args.minutes, args.runs))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"stop to ready: {result['seconds_stop_to_ready']} s (target <= {TARGET_SECONDS}); "
        f"uploading after the stop: {result['peer_seconds_stop_to_ready']} s; -> {args.output}"
    )
