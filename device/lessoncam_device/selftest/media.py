"""What a short recording holds, read back from its segment files with PyAV: the picture's
size and rate, the sound's level, and flashes seen against beeps heard (the A/V offset)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import av
import numpy as np

SILENCE_DBFS = -120.0  # what digital silence is reported as
FLASH_RISE = 40.0  # grey levels above the recording's usual brightness: a flash
QUIET_BEFORE_ONSET_S = 0.3


@dataclass(frozen=True)
class VideoFigures:
    """A camera's recorded picture: its size, how many frames, over how long."""

    width: int
    height: int
    frames: int
    span_s: float  # first to last frame, plus one frame

    @property
    def fps(self) -> float:
        return self.frames / self.span_s if self.span_s > 0 else 0.0


def video_figures(paths: Sequence[Path]) -> VideoFigures | None:
    """Size, frame count and span of the video in ``paths`` (demuxed, not decoded); None
    when they hold no picture at all."""
    times: list[float] = []
    width = height = 0
    for path in paths:
        with av.open(str(path)) as c:
            if not c.streams.video:
                continue
            stream = c.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            for packet in c.demux(stream):
                if packet.pts is not None and packet.time_base is not None:
                    times.append(float(packet.pts * packet.time_base))
    if not times:
        return None
    times.sort()
    step = median(np.diff(times)) if len(times) > 1 else 0.0
    return VideoFigures(width, height, len(times), times[-1] - times[0] + step)


@dataclass(frozen=True)
class SoundLevel:
    """The recorded sound: its level over the whole recording and its loudest sample."""

    rms_dbfs: float
    peak_dbfs: float
    seconds: float


def _dbfs(value: float) -> float:
    return max(SILENCE_DBFS, 20 * math.log10(value)) if value > 0 else SILENCE_DBFS


def _audio(paths: Sequence[Path]) -> list[tuple[float, int, np.ndarray]]:
    """(time of the first sample, rate, mono float samples) per decoded audio frame."""
    out: list[tuple[float, int, np.ndarray]] = []
    for path in paths:
        with av.open(str(path)) as c:
            if not c.streams.audio:
                continue
            for frame in c.decode(c.streams.audio[0]):
                if frame.pts is None or frame.time_base is None:
                    continue
                samples = np.asarray(frame.to_ndarray(), np.float64).reshape(-1, frame.samples)
                out.append((float(frame.pts * frame.time_base), frame.sample_rate, samples[0]))
    out.sort(key=lambda f: f[0])
    return out


def sound_level(paths: Sequence[Path]) -> SoundLevel | None:
    """The level of the sound in ``paths`` (None: they carry no audio track)."""
    frames = _audio(paths)
    if not frames:
        return None
    samples = np.concatenate([f[2] for f in frames])
    rms = float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0
    peak = float(np.abs(samples).max()) if samples.size else 0.0
    return SoundLevel(_dbfs(rms), _dbfs(peak), samples.size / frames[0][1])


def flash_times(paths: Sequence[Path]) -> list[float]:
    """When the picture suddenly brightens (a torch, a phone's flash, the simulated flash):
    the first frame of each rise of ``FLASH_RISE`` grey levels over the usual brightness."""
    levels: list[tuple[float, float]] = []
    for path in paths:
        with av.open(str(path)) as c:
            if not c.streams.video:
                continue
            stream = c.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in c.decode(stream):
                if frame.pts is None or frame.time_base is None:
                    continue
                small = frame.reformat(width=160, height=90, format="gray")
                levels.append(
                    (float(frame.pts * frame.time_base), float(small.to_ndarray().mean()))
                )
    if not levels:
        return []
    levels.sort()
    usual = median(level for _, level in levels)
    out, bright = [], False
    for t, level in levels:
        now_bright = level > usual + FLASH_RISE
        if now_bright and not bright:
            out.append(t)
        bright = now_bright
    return out


def sound_onsets(paths: Sequence[Path]) -> list[float]:
    """When a loud sound starts (a clap, a beep) after at least 0.3 s of quiet: louder than a
    tenth of full scale and ten times the recording's usual level."""
    frames = _audio(paths)
    if not frames:
        return []
    usual = float(np.median([np.sqrt(np.mean(f[2] ** 2)) for f in frames]))
    threshold = max(0.1, 10 * usual)
    onsets: list[float] = []
    last_loud = -math.inf
    for start, rate, samples in frames:
        loud = np.flatnonzero(np.abs(samples) > threshold)
        if not loud.size:
            continue
        first = start + int(loud[0]) / rate
        if first - last_loud > QUIET_BEFORE_ONSET_S:
            onsets.append(first)
        last_loud = start + int(loud[-1]) / rate
    return onsets


def av_offset_s(paths: Sequence[Path]) -> tuple[float | None, int]:
    """Sound minus picture for the flash/beep (or flash/clap) pairs in ``paths``: the median
    offset in seconds (positive: the sound comes late) and how many pairs were found."""
    flashes, onsets = flash_times(paths), sound_onsets(paths)
    pairs = []
    for flash in flashes:
        nearest = min(onsets, key=lambda t: abs(t - flash), default=None)
        if nearest is not None and abs(nearest - flash) < 0.5:
            pairs.append(nearest - flash)
    return (median(pairs) if pairs else None), len(pairs)
