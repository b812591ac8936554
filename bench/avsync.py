"""Benchmark: sound and picture together over a whole lesson, with a drifting microphone.

A 60-minute simulated lesson (a white flash every 2 s on the main camera, a beep with each on
the microphone), recorded by the real daemon on a virtual clock and uploaded live to a real
server on loopback, which assembles it. The microphone's sample clock runs 100 ppm fast, then
(another lesson) 100 ppm slow: 0.36 s of drift in an hour if nothing corrects it. Measured in
the final MP4 the server serves: beep time minus flash time for every flash.

Peer in the same run: the same recorder with drift correction off, which is what picamera2
does on its own (audio stamped by rebasing to its first packet, a fixed offset, no drift).

    python bench/avsync.py                # 60-minute lessons (a few minutes)
    python bench/avsync.py --minutes 5    # a quick run

Results: bench/results/avsync.json (``max_abs_offset_ms``: ours, worst of both lessons).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

from unit_harness import ROOT, loopback_server, record_lesson, run_facts, unit_config

from lessoncam_device.recorder import AudioSettings, AudioSyncSettings, RecorderOptions
from lessoncam_device.sim.sources import simulated_sources
from tests.mediagen import beep_onsets, flash_times

RESULTS = ROOT / "bench" / "results" / "avsync.json"
TARGET_MAX_ABS_OFFSET_MS = 40.0
WIDTH, HEIGHT, FPS = 160, 120, 10  # any resolution: sync does not depend on it


def offsets_ms(mp4: Path) -> tuple[list[float], int]:
    """Beep minus flash (ms) for every flash with a beep within a second, and the number of
    flashes without one. A flash in the last half second is left out: the stop may have
    cut its beep."""
    flashes = flash_times(mp4)
    beeps = beep_onsets(mp4)
    if not flashes or not beeps:
        raise RuntimeError(f"{mp4}: {len(flashes)} flashes and {len(beeps)} beeps found")
    end = max(flashes[-1], beeps[-1])
    offsets, unmatched = [], 0
    for flash in flashes:
        if flash > end - 0.5:
            continue
        nearest = min(beeps, key=lambda b: abs(b - flash))
        if abs(nearest - flash) > 1.0:
            unmatched += 1
        else:
            offsets.append(1000.0 * (nearest - flash))
    return offsets, unmatched


async def one_lesson(work: Path, minutes: float, drift_ppm: float, correct: bool) -> dict[str, Any]:
    name = f"{'ours' if correct else 'peer'}-{drift_ppm:+.0f}ppm"
    options = RecorderOptions(
        mode="pull",
        x264_preset="ultrafast",
        encoder_threads=1,
        audio=AudioSettings(coder="fast"),
        audio_sync=AudioSyncSettings(drift_correction=correct),
    )
    async with loopback_server(work / name / "server") as server:
        config = unit_config(work / name / "unit", 1, WIDTH, HEIGHT, FPS, minutes)
        sources = functools.partial(simulated_sources, flash_every_s=2.0, drift_ppm=drift_ppm)
        run = await record_lesson(server, work / name / "unit", config, minutes, sources, options)
        mp4 = server.video(run.recording_id, "main")
        offsets, unmatched = await asyncio.to_thread(offsets_ms, mp4)
    worst = max(offsets, key=abs)
    print(
        f"  {name}: {len(offsets)} flashes ({unmatched} without a beep), "
        f"max |offset| {abs(worst):.1f} ms, "
        f"first {offsets[0]:+.1f} ms, last {offsets[-1]:+.1f} ms "
        f"({run.record_wall_s:.0f} s to drive)",
        flush=True,
    )
    return {
        "drift_ppm": drift_ppm,
        "drift_correction": correct,
        "flashes": len(offsets),
        "flashes_without_beep": unmatched,
        "max_abs_offset_ms": round(abs(worst), 2),
        "median_abs_offset_ms": round(statistics.median(abs(o) for o in offsets), 2),
        "first_offset_ms": round(offsets[0], 2),
        "last_offset_ms": round(offsets[-1], 2),
        "lesson_s": round(run.lesson_s, 3),
    }


async def main(minutes: float) -> dict[str, Any]:
    lessons = []
    with tempfile.TemporaryDirectory(prefix="lessoncam-avsync-") as tmp:
        for drift in (100.0, -100.0):
            for correct in (True, False):
                lessons.append(await one_lesson(Path(tmp), minutes, drift, correct))
    ours = [x for x in lessons if x["drift_correction"]]
    peer = [x for x in lessons if not x["drift_correction"]]
    ours_max = max(x["max_abs_offset_ms"] for x in ours)
    peer_max = max(x["max_abs_offset_ms"] for x in peer)
    return {
        "benchmark": "avsync",
        "lesson_minutes": minutes,
        "drift_ppm": [100.0, -100.0],
        "resolution": f"{WIDTH}x{HEIGHT}@{FPS}",
        "max_abs_offset_ms": ours_max,
        "target_max_abs_offset_ms": TARGET_MAX_ABS_OFFSET_MS,
        "target_met": ours_max <= TARGET_MAX_ABS_OFFSET_MS,
        "peer": "same recorder without drift correction (picamera2's own audio timing)",
        "peer_max_abs_offset_ms": peer_max,
        "ratio_peer_to_ours": round(peer_max / ours_max, 1) if ours_max else None,
        "lessons": lessons,
        **run_facts(),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    result = asyncio.run(main(args.minutes))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"max |offset| {result['max_abs_offset_ms']} ms (target <= {TARGET_MAX_ABS_OFFSET_MS}); "
        f"without drift correction {result['peer_max_abs_offset_ms']} ms; -> {args.output}"
    )
