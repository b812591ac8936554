"""The files going in and out: an uploaded segment, the assembled MP4, probing, and
installing a finished file durably beside the one it replaces."""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import av
import av.error

from lessoncam_common.durable import fsync_path

if TYPE_CHECKING:
    from ..previews import LiveTiles

log = logging.getLogger(__name__)


class RemuxError(Exception):
    """Nothing usable could be assembled (no readable segment, or the output failed)."""


@dataclass(frozen=True)
class SegmentFile:
    """One uploaded segment of one camera, as declared by the unit's manifest."""

    sequence: int
    start_s: float
    duration_s: float
    path: Path


@dataclass(frozen=True)
class AssembledVideo:
    """The assembled MP4 and what is (not) in it."""

    path: Path
    duration_s: float
    width: int
    height: int
    has_audio: bool
    size: int
    #: (start_s, end_s) of stretches of the recording missing from the output.
    gaps: list[tuple[float, float]]
    #: Sequence numbers of segments that were uploaded but could not be used (not readable,
    #: no video, or a different picture format from the rest).
    unusable_segments: list[int] = field(default_factory=list)
    #: Seek thumbnails made while the video was written (a live assembly), if any.
    live_tiles: LiveTiles | None = field(default=None, compare=False, repr=False)


class StreamInfo(TypedDict):
    """One stream of a probed file."""

    index: int
    type: str
    codec: str
    width: int
    height: int
    sample_rate: int
    channels: int
    start_s: float | None
    duration_s: float | None
    frames: int


class ProbeResult(TypedDict):
    """What :func:`probe` found in a media file."""

    format: str
    #: Where the content starts on the timeline (> 0 when an MP4 edit list leaves the first
    #: seconds empty, as for a recording whose first segment is missing).
    start_s: float
    #: End of the timeline: what a player shows as the length.
    duration_s: float
    size: int
    streams: list[StreamInfo]


def _seconds(ts: int | None, tb: Fraction | None) -> float | None:
    if ts is None or tb is None:
        return None
    return float(ts * tb)


def probe(path: Path) -> ProbeResult:
    """Describe a media file: container format, duration, size and streams.

    Raises :class:`RemuxError` when the file cannot be opened as media.
    """
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as e:
        raise RemuxError(f"cannot open {path}: {e}") from e
    with container:
        streams: list[StreamInfo] = []
        for s in container.streams:
            ctx = s.codec_context
            streams.append(
                StreamInfo(
                    index=s.index,
                    type=s.type,
                    codec=ctx.name if ctx is not None else "",
                    width=int(getattr(ctx, "width", 0) or 0),
                    height=int(getattr(ctx, "height", 0) or 0),
                    sample_rate=int(getattr(ctx, "sample_rate", 0) or 0),
                    channels=int(getattr(ctx, "channels", 0) or 0),
                    start_s=_seconds(s.start_time, s.time_base),
                    duration_s=_seconds(s.duration, s.time_base),
                    frames=s.frames,
                )
            )
        start = max(container.start_time or 0, 0) / av.time_base
        duration = (container.duration or 0) / av.time_base
        return ProbeResult(
            format=container.format.name,
            start_s=start,
            duration_s=round(start + duration, 6),
            size=path.stat().st_size,
            streams=streams,
        )


def temporary_beside(out_path: Path) -> Path:
    """A fresh hidden name beside ``out_path`` to write a new file under."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    return out_path.with_name(f".{out_path.name}.{uuid.uuid4().hex}.tmp")


def install(tmp: Path, out_path: Path) -> ProbeResult:
    """Make the finished file at ``tmp`` durable and move it over ``out_path`` (a file being
    served is replaced, never rewritten); what it holds. ``tmp`` is gone afterwards."""
    try:
        fsync_path(tmp)
        info = probe(tmp)
        os.replace(tmp, out_path)
        fsync_path(out_path.parent)
        return info
    finally:
        tmp.unlink(missing_ok=True)
