"""Benchmark: from the teacher's long press to a watchable lesson on the server.

A 45-minute two-camera simulated lesson, recorded by the real daemon on a virtual clock and
uploaded live (segments go up while the lesson goes on, as fast as the lesson makes them) to a
real server on loopback. Measured in real seconds: the long press to the lesson being ready
(last segments closed and uploaded, both cameras assembled into faststart MP4s with poster and
thumbnails). Median of --runs.

Peer in the same run: the same unit and server, uploading only after the lesson has stopped
(the usual way: record, then upload), so the whole lesson is sent after the press.

    python bench/stop_to_ready.py                 # 45-minute lessons at 320x240@15
    python bench/stop_to_ready.py --minutes 5     # a quick run
    python bench/stop_to_ready.py --resolution 1080p --no-peer   # both cameras 1920x1080@30

Results: bench/results/stop_to_ready.json, one figure per variant, the others kept:
``seconds_stop_to_ready`` (320x240, the default), ``seconds_stop_to_ready_1080p``; a variant's
details are under ``variants``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unit_harness import ROOT, LessonRun, loopback_server, record_lesson, run_facts, unit_config

from lessoncam_device.recorder import AudioSettings, RecorderOptions
from lessoncam_device.sim.sources import simulated_sources

RESULTS = ROOT / "bench" / "results" / "stop_to_ready.json"


@dataclass(frozen=True)
class Variant:
    """A picture format the cameras record in, with the key suffix and target of its figure."""

    width: int
    height: int
    fps: int
    suffix: str
    target_s: float


VARIANTS = {
    "240p": Variant(320, 240, 15, "", 10.0),
    "1080p": Variant(1920, 1080, 30, "_1080p", 2.0),
}
OPTIONS = RecorderOptions(
    mode="pull", x264_preset="ultrafast", encoder_threads=1, audio=AudioSettings(coder="fast")
)


async def one_lesson(
    work: Path, name: str, variant: Variant, minutes: float, live: bool
) -> LessonRun:
    async with loopback_server(work / name / "server") as server:
        config = unit_config(
            work / name / "unit", 2, variant.width, variant.height, variant.fps, minutes
        )
        run = await record_lesson(
            server, work / name / "unit", config, minutes, simulated_sources, OPTIONS, live=live
        )
    print(
        f"  {name}: {run.seconds_stop_to_ready:.2f} s from the long press to ready "
        f"({run.lesson_s / 60:.1f} min lesson, {run.record_wall_s:.0f} s to drive)",
        flush=True,
    )
    return run


async def main(variant: Variant, minutes: float, runs: int, peer: bool) -> dict[str, Any]:
    """The variant's figures, keyed with its suffix (``seconds_stop_to_ready_1080p``)."""
    ours: list[float] = []
    after: list[float] = []
    with tempfile.TemporaryDirectory(prefix="lessoncam-stop-") as tmp:
        for i in range(runs):
            run = await one_lesson(Path(tmp), f"live-{i}", variant, minutes, True)
            ours.append(run.seconds_stop_to_ready)
            if peer:
                run = await one_lesson(Path(tmp), f"after-{i}", variant, minutes, False)
                after.append(run.seconds_stop_to_ready)
    median = statistics.median(ours)
    x = variant.suffix
    detail: dict[str, Any] = {
        "lesson_minutes": minutes,
        "cameras": 2,
        "resolution": f"{variant.width}x{variant.height}@{variant.fps}",
        "runs": runs,
        f"seconds_stop_to_ready{x}": round(median, 2),
        f"seconds_stop_to_ready{x}_all": [round(t, 2) for t in ours],
        "target_seconds": variant.target_s,
        "target_met": median <= variant.target_s,
    }
    if after:
        peer_median = statistics.median(after)
        detail |= {
            "peer": "same unit and server, uploading only after the lesson stopped",
            "peer_seconds_stop_to_ready": round(peer_median, 2),
            "peer_seconds_all": [round(t, 2) for t in after],
            "ratio_peer_to_ours": round(peer_median / median, 1),
        }
    return detail | run_facts()


def merge(previous: dict[str, Any], variant: Variant, detail: dict[str, Any]) -> dict[str, Any]:
    """The results file with this variant's run in, other variants' figures kept."""
    key = f"seconds_stop_to_ready{variant.suffix}"
    result = dict(previous) | {"benchmark": "stop_to_ready", "note": NOTE}
    if variant.suffix:
        result[key] = detail[key]
        result.setdefault("variants", {})[variant.suffix.lstrip("_")] = detail
    else:  # the original variant keeps its figures at the top level
        result |= detail
    return result


NOTE = (
    "the server remuxes segments as they arrive (live assembly); after the press come the last "
    "segment, the MP4 index, thumbnails and poster. Only those depend on the picture size: "
    "every lesson longer than 200 s gets about 100 thumbnails per camera"
)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--resolution", choices=sorted(VARIANTS), default="240p")
    parser.add_argument("--minutes", type=float, default=45.0)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--no-peer", action="store_true", help="skip uploading after the stop")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    variant = VARIANTS[args.resolution]
    detail = asyncio.run(main(variant, args.minutes, args.runs, not args.no_peer))
    previous = json.loads(args.output.read_text()) if args.output.exists() else {}
    result = merge(previous, variant, detail)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    key = f"seconds_stop_to_ready{variant.suffix}"
    print(
        f"stop to ready ({detail['resolution']}): {detail[key]} s "
        f"(target <= {variant.target_s}) -> {args.output}"
    )
