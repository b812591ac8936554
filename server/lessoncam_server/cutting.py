"""Copy a stretch of a media file into a faststart MP4, packet by packet (never re-encoded).

Used for clips (a fragment of a lesson, cut at keyframes) and for videos uploaded from a
browser (the whole file, remuxed so it plays and seeks in the browser). The output timeline
is the input's, shifted so that ``origin_s`` becomes 0; the file is written under a temporary
name, fsync'd and renamed, as everything that may be served.
"""

from __future__ import annotations

import logging
import math
import os
import uuid
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
from av.packet import Packet
from av.stream import Stream

from .durable import fsync_path
from .remux import AssembledVideo, RemuxError, probe

log = logging.getLogger(__name__)

_EPSILON = Fraction(1, 1000)


class MediaRefused(Exception):
    """A clip or an uploaded video cannot be made; ``reason`` is ``"<code>: <detail>"``, the
    failed lesson's ``state_reason`` (the code is stable, the pages translate it)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.reason = f"{code}: {detail}"


@dataclass(frozen=True)
class KeyframeSpan:
    """Where a cut of the main camera begins and ends, in source seconds (both keyframes,
    or the end of the video)."""

    start_s: float
    end_s: float


def keyframe_span(src: Path, start_s: float, end_s: float) -> KeyframeSpan:
    """The keyframe at or before ``start_s`` and the first keyframe at or after ``end_s``
    (or the end of the video) of ``src``'s video: the cut that holds the whole fragment."""
    try:
        container = av.open(str(src))
    except (av.error.FFmpegError, OSError) as e:
        raise RemuxError(f"cannot open {src}: {e}") from e
    with container:
        if not container.streams.video:
            raise RemuxError(f"{src} has no video")
        stream = container.streams.video[0]
        tb = stream.time_base or Fraction(1, av.time_base)
        container.seek(max(int(start_s / tb), 0), stream=stream, backward=True)
        first: Fraction | None = None
        last_end = Fraction(0)
        for packet in container.demux(stream):
            if packet.pts is None or packet.size == 0:
                continue
            t = packet.pts * tb
            last_end = max(last_end, t + (packet.duration or 0) * tb)
            if first is None:
                if packet.is_keyframe:
                    first = t
                continue
            if packet.is_keyframe and t >= Fraction(end_s) - _EPSILON:
                return KeyframeSpan(float(first), float(t))
        if first is None:
            raise RemuxError(f"{src}: no keyframe after {start_s:.3f} s")
        return KeyframeSpan(float(first), float(last_end))


class _Track:
    def __init__(self, source: Stream, out: Stream) -> None:
        assert source.time_base is not None and out.time_base is not None
        self.in_tb: Fraction = source.time_base
        self.out = out
        self.out_tb: Fraction = out.time_base
        self.last_dts: int | None = None

    def place(self, packet: Packet[Stream], origin: Fraction) -> None:
        pts_in = packet.pts if packet.pts is not None else packet.dts
        dts_in = packet.dts if packet.dts is not None else pts_in
        assert pts_in is not None and dts_in is not None
        pts = round((pts_in * self.in_tb - origin) / self.out_tb)
        dts = round((dts_in * self.in_tb - origin) / self.out_tb)
        if self.last_dts is not None and dts <= self.last_dts:
            dts = self.last_dts + 1  # MP4 needs strictly increasing decoding times
        packet.stream = self.out
        packet.time_base = self.out_tb
        packet.pts, packet.dts = max(pts, dts), dts
        if packet.duration:
            packet.duration = round(packet.duration * self.in_tb / self.out_tb)
        self.last_dts = dts


def cut(src: Path, out_path: Path, origin_s: float, end_s: float = math.inf) -> AssembledVideo:
    """Copy ``src`` from ``origin_s`` to ``end_s`` (seconds) into a faststart MP4 at
    ``out_path``, with ``origin_s`` at 0.

    Video starts at the first keyframe at or after ``origin_s`` and stops before the first
    keyframe at or after ``end_s``; audio is copied over the same stretch. Only the first
    video and the first audio stream are kept. Raises :class:`RemuxError` when nothing
    could be copied.
    """
    origin = Fraction(origin_s)
    end = Fraction(end_s) if math.isfinite(end_s) else None
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.{uuid.uuid4().hex}.tmp")
    try:
        try:
            source = av.open(str(src))
        except (av.error.FFmpegError, OSError) as e:
            raise RemuxError(f"cannot open {src}: {e}") from e
        with source:
            if not source.streams.video:
                raise RemuxError(f"{src} has no video")
            vin = source.streams.video[0]
            ain = source.streams.audio[0] if source.streams.audio else None
            width, height = int(vin.codec_context.width), int(vin.codec_context.height)
            with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out:
                video = _Track(vin, out.add_stream_from_template(vin))
                audio = _Track(ain, out.add_stream_from_template(ain)) if ain else None
                out.start_encoding()
                copied = _copy(source, vin, ain, video, audio, origin, end, out)
            if not copied:
                raise RemuxError(f"{src}: no video between {origin_s:.3f} and {end_s:.3f} s")
        fsync_path(tmp)
        info = probe(tmp)
        os.replace(tmp, out_path)
        fsync_path(out_path.parent)
    except av.error.FFmpegError as e:
        raise RemuxError(f"cutting {src} failed: {e}") from e
    finally:
        tmp.unlink(missing_ok=True)
    return AssembledVideo(
        path=out_path,
        duration_s=info["duration_s"],
        width=width,
        height=height,
        has_audio=audio is not None,
        size=info["size"],
        gaps=[],
    )


def _copy(
    source: av.container.InputContainer,
    vin: Stream,
    ain: Stream | None,
    video: _Track,
    audio: _Track | None,
    origin: Fraction,
    end: Fraction | None,
    out: av.container.OutputContainer,
) -> int:
    """Mux the packets of the stretch; returns how many video packets were copied."""
    assert vin.time_base is not None
    if origin > 0:
        source.seek(max(int(origin / vin.time_base), 0), stream=vin, backward=True)
    streams = [vin] if ain is None else [vin, ain]
    started = False  # video waits for its first keyframe in the stretch
    video_done = False
    copied = 0
    video_end = end
    for packet in source.demux(streams):
        if packet.size == 0 or (packet.pts is None and packet.dts is None):
            continue
        ts = packet.pts if packet.pts is not None else packet.dts
        assert ts is not None and packet.stream.time_base is not None
        t = ts * packet.stream.time_base
        if packet.stream_index == vin.index:
            if video_done:
                if ain is None:
                    break
                continue
            if not started:
                if not (packet.is_keyframe and t >= origin - _EPSILON):
                    continue
                started = True
            elif packet.is_keyframe and end is not None and t >= end - _EPSILON:
                video_done = True
                video_end = t
                continue
            video.place(packet, origin)
            out.mux_one(packet)
            copied += 1
        elif audio is not None:
            if t < origin:
                continue
            if video_end is not None and t >= video_end:
                if video_done:
                    break
                continue
            audio.place(packet, origin)
            out.mux_one(packet)
    return copied
