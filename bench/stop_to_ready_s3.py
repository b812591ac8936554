"""Benchmark: from the long press to ready when the lesson must also reach the bucket.

The run of ``bench/stop_to_ready.py`` (two simulated cameras, live upload, live assembly) at
1920x1080@30, with ``[storage] media = "s3"`` on moto's S3 server (the test dependency): the
lesson is ready only once every camera's MP4, strip and poster are in the bucket, verified.
Each camera's MP4 goes to the bucket while it is assembled (``store/live_upload.py``), so
what is left at the stop should not grow with the lesson: lessons of several lengths are
measured (``--minutes 1 3``), and the figure is the slowest length's median.
Adds ``seconds_stop_to_ready_1080p_s3`` (and its details under ``variants.1080p_s3``) to
bench/results/stop_to_ready.json, keeping the other figures.

    python bench/stop_to_ready_s3.py --minutes 1 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

from unit_harness import ROOT, loopback_server, record_lesson, run_facts, unit_config

from lessoncam_device.recorder import AudioSettings, RecorderOptions
from lessoncam_device.sim.sources import simulated_sources
from tests.server.s3_fixtures import credentials_file, new_bucket, s3_server, s3_settings

RESULTS = ROOT / "bench" / "results" / "stop_to_ready.json"
TARGET_SECONDS = 5.0
WIDTH, HEIGHT, FPS = 1920, 1080, 30
OPTIONS = RecorderOptions(
    mode="pull", x264_preset="ultrafast", encoder_threads=1, audio=AudioSettings(coder="fast")
)


async def one_lesson(work: Path, s3_port: int, minutes: float) -> tuple[float, int]:
    """Seconds from the long press to ready, and how many videos went while written."""
    bucket = new_bucket(s3_port)
    s3 = s3_settings(f"http://127.0.0.1:{s3_port}", bucket, credentials_file(work))
    s3.update(timeout_s=30.0, part_size_mib=16)
    async with loopback_server(work / "server", {"media": "s3", "s3": s3}) as server:
        config = unit_config(work / "unit", 2, WIDTH, HEIGHT, FPS, minutes)
        run = await record_lesson(
            server, work / "unit", config, minutes, simulated_sources, OPTIONS, live=True
        )
        row = server.services.db.execute(
            "SELECT media_store FROM recordings WHERE id = ?", [run.recording_id]
        ).fetchone()
        assert row is not None and row[0] == "s3", "the lesson did not go to the bucket"
        sent_live = server.services.stores.live.completed
    print(
        f"  {minutes:g} min: {run.seconds_stop_to_ready:.2f} s from the long press to ready in"
        f" the bucket ({sent_live} video(s) sent while written)"
    )
    return run.seconds_stop_to_ready, sent_live


async def main(lengths: list[float], runs: int) -> dict[str, Any]:
    by_length: dict[str, dict[str, Any]] = {}
    with s3_server() as port:
        for minutes in lengths:
            times, live = [], []
            for i in range(runs):
                with tempfile.TemporaryDirectory(prefix=f"lessoncam-stop-s3-{i}-") as tmp:
                    seconds, sent_live = await one_lesson(Path(tmp), port, minutes)
                times.append(seconds)
                live.append(sent_live)
            by_length[f"{minutes:g}"] = {
                "seconds_stop_to_ready": round(statistics.median(times), 2),
                "seconds_all": [round(t, 2) for t in times],
                "videos_sent_while_written": min(live),
            }
    worst = max(v["seconds_stop_to_ready"] for v in by_length.values())
    return {
        "lesson_minutes": max(lengths),
        "cameras": 2,
        "resolution": f"{WIDTH}x{HEIGHT}@{FPS}",
        "runs": runs,
        "seconds_stop_to_ready_1080p_s3": worst,
        "by_lesson_minutes": by_length,
        "target_seconds": TARGET_SECONDS,
        "target_met": worst <= TARGET_SECONDS,
        "bucket": "moto server (Python) on loopback; each camera's MP4 is sent while it is "
        "assembled, so the stop leaves its first part (the index room, rewritten at the end), "
        "its last part or two, the completion and the poster and strips",
        **run_facts(),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 3.0])
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    detail = asyncio.run(main(args.minutes, args.runs))
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    previous["seconds_stop_to_ready_1080p_s3"] = detail["seconds_stop_to_ready_1080p_s3"]
    previous.setdefault("variants", {})["1080p_s3"] = detail
    RESULTS.write_text(json.dumps(previous, indent=2) + "\n")
    print(f"stop to ready (1080p, bucket): {detail['seconds_stop_to_ready_1080p_s3']} s")
