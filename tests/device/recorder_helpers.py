"""Helpers for the recorder tests: plans, simulated rigs, and reading segment files back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av

from lessoncam_device.segments import RecordingPlan
from lessoncam_device.sim.clock import VirtualClock

from ..mediagen import audio_frames, flash_times, onsets_in

RECORDING_ID = "01JD7Q3W9X4M2N8P5R6S7T8V9W"


def make_plan(
    clock: VirtualClock,
    cameras: list[tuple[str, int, int, float]],
    segment_s: float = 10.0,
    audio_camera: str | None = "main",
) -> RecordingPlan:
    """A plan starting now on ``clock``; the first camera is the main one."""
    specs = tuple(
        {
            "id": cam,
            "role": "main" if i == 0 else "second",
            "label": cam,
            "video": {"codec": "h264", "container": "mpegts", "width": w, "height": h, "fps": fps},
        }
        for i, (cam, w, h, fps) in enumerate(cameras)
    )
    return RecordingPlan(
        RECORDING_ID, clock.now().isoformat(), specs, audio_camera, segment_s, "0.1.0"
    )


@dataclass(frozen=True)
class VideoSpan:
    first: int  # 90 kHz pts of the first video packet
    last: int
    frames: int
    keyframe_first: bool


def demux_video_pts(path: Path) -> VideoSpan:
    """The video packets' pts span of a segment file (no decoding)."""
    pts: list[int] = []
    first_key = False
    with av.open(str(path)) as c:
        for p in c.demux(c.streams.video[0]):
            if p.pts is None:
                continue
            if not pts:
                first_key = bool(p.is_keyframe)
            pts.append(p.pts)
    return VideoSpan(min(pts), max(pts), len(pts), first_key)


def flashes_across(paths: list[Path]) -> list[float]:
    """File times of the white flash frames in a camera's segments."""
    return sorted(t for p in paths for t in flash_times(p))


def beeps_across(paths: list[Path], threshold: float = 0.1) -> list[float]:
    """File times at which beeps start (after >= 0.3 s of quiet) in a camera's segments.

    The audio of all files is taken together: a beep may start in one file and end in the
    next (audio goes into whichever file is open when its packet is made).
    """
    return onsets_in([f for p in paths for f in audio_frames(p)], threshold)


def av_offsets(paths: list[Path]) -> list[float]:
    """Beep time minus flash time for every flash (seconds; the nearest beep to each)."""
    beeps = beeps_across(paths)
    assert beeps, "no beeps found"
    return [min(beeps, key=lambda b: abs(b - f)) - f for f in flashes_across(paths)]
