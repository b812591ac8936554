"""Copy a stretch of a media file into a faststart MP4, packet by packet (never re-encoded).

Used for clips (a fragment of a lesson, cut at keyframes) and for videos uploaded from a
browser (the whole file, remuxed so it plays and seeks in the browser). The output timeline
is the input's, shifted so that ``origin_s`` becomes 0; the file is written under a temporary
name, fsync'd and renamed, as everything that may be served.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
from av.packet import Packet
from av.stream import Stream

# The remuxer's integer retiming and index sizing, shared rather than copied.
from .remux import AssembledVideo, RemuxError, install, temporary_beside
from .remux.assemble import MOOV_BASE_BYTES, MOOV_BYTES_PER_SAMPLE
from .remux.packets import Rescale

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
    """One output stream: integer retiming (per packet, so no Fractions) and increasing dts."""

    def __init__(self, source: Stream, out: Stream, origin: Fraction) -> None:
        assert source.time_base is not None and out.time_base is not None
        self.out = out
        self.out_tb: Fraction = out.time_base
        self.rescale = Rescale(source.time_base, out.time_base, -origin)
        self.last_dts: int | None = None

    def place(self, packet: Packet[Stream]) -> None:
        pts_in = packet.pts if packet.pts is not None else packet.dts
        dts_in = packet.dts if packet.dts is not None else pts_in
        assert pts_in is not None and dts_in is not None
        pts, dts = self.rescale(pts_in), self.rescale(dts_in)
        if self.last_dts is not None and dts <= self.last_dts:
            dts = self.last_dts + 1  # MP4 needs strictly increasing decoding times
        packet.stream = self.out
        packet.time_base = self.out_tb
        packet.pts, packet.dts = max(pts, dts), dts
        if packet.duration:
            packet.duration = self.rescale.span(packet.duration)
        self.last_dts = dts


def _ticks(seconds: Fraction, time_base: Fraction) -> int:
    """The first timestamp at or after ``seconds`` (less a millisecond) in ``time_base``."""
    return math.ceil((seconds - _EPSILON) / time_base)


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
    tmp = temporary_beside(out_path)
    try:
        try:
            width, height, has_audio = _write(src, tmp, origin, end, reserve=True)
        except av.error.FFmpegError as e:
            # The index room reserved up front was too small (the muxer tells only at the
            # end): write again and let the muxer move the data (+faststart), as remux does.
            log.warning("%s: MP4 writing failed (%s); retrying with +faststart", out_path, e)
            tmp.unlink(missing_ok=True)
            width, height, has_audio = _write(src, tmp, origin, end, reserve=False)
        info = install(tmp, out_path)
    except av.error.FFmpegError as e:
        raise RemuxError(f"cutting {src} failed: {e}") from e
    finally:
        tmp.unlink(missing_ok=True)
    return AssembledVideo(
        path=out_path,
        duration_s=info["duration_s"],
        width=width,
        height=height,
        has_audio=has_audio,
        size=info["size"],
        gaps=[],
    )


def _write(
    src: Path, tmp: Path, origin: Fraction, end: Fraction | None, *, reserve: bool
) -> tuple[int, int, bool]:
    """Write the stretch into ``tmp``; returns the picture size and whether audio came along.

    With ``reserve``, room for the MP4 index is kept at the front of the file (sized from the
    stretch's length, as the remuxer does), which spares rewriting the whole file afterwards.
    """
    try:
        source = av.open(str(src))
    except (av.error.FFmpegError, OSError) as e:
        raise RemuxError(f"cannot open {src}: {e}") from e
    with source:
        if not source.streams.video:
            raise RemuxError(f"{src} has no video")
        vin = source.streams.video[0]
        ain = source.streams.audio[0] if source.streams.audio else None
        options = {"movflags": "+faststart"}
        if reserve:
            options = {"moov_size": str(_index_room(source, vin, ain, origin, end))}
        with av.open(str(tmp), "w", format="mp4", options=options) as out:
            video = _Track(vin, out.add_stream_from_template(vin), origin)
            audio = _Track(ain, out.add_stream_from_template(ain), origin) if ain else None
            out.start_encoding()
            copied = _copy(source, vin, ain, video, audio, origin, end, out)
        if not copied:
            raise RemuxError(f"{src}: no video in the stretch from {float(origin):.3f} s")
        return int(vin.codec_context.width), int(vin.codec_context.height), ain is not None


def _index_room(
    source: av.container.InputContainer,
    vin: Stream,
    ain: Stream | None,
    origin: Fraction,
    end: Fraction | None,
) -> int:
    """A generous upper bound of the MP4 index's size for the stretch (see remux)."""
    total = Fraction(source.duration or 0, av.time_base)
    span = float((end if end is not None else total) - origin) + 10.0
    fps = float(vin.average_rate or vin.guessed_rate or 60)
    samples = span * fps * 1.25 + 16
    if ain is not None:
        rate = int(ain.codec_context.sample_rate or 48000)  # type: ignore[attr-defined]
        samples += span * rate / 1024 * 1.1 + 16
    return int(MOOV_BASE_BYTES + MOOV_BYTES_PER_SAMPLE * samples)


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
    vtb = vin.time_base
    assert vtb is not None
    atb = ain.time_base if ain is not None else None
    if origin > 0:
        source.seek(max(int(origin / vtb), 0), stream=vin, backward=True)
    # Bounds in each stream's own ticks, so the loop compares integers.
    v_start = _ticks(origin, vtb)
    v_end = _ticks(end, vtb) if end is not None else None
    a_start = math.ceil(origin / atb) if atb is not None else 0  # never before the origin
    a_end = _ticks(end, atb) if atb is not None and end is not None else None
    streams = [vin] if ain is None else [vin, ain]
    started = False  # video waits for its first keyframe in the stretch
    video_done = False
    copied = 0
    for packet in source.demux(streams):
        if packet.size == 0:
            continue
        ts = packet.pts if packet.pts is not None else packet.dts
        if ts is None:
            continue
        if packet.stream_index == vin.index:
            if video_done:
                if ain is None:
                    break
                continue
            if not started:
                if not (packet.is_keyframe and ts >= v_start):
                    continue
                started = True
            elif packet.is_keyframe and v_end is not None and ts >= v_end:
                video_done = True
                if atb is not None:  # audio stops where the video stops
                    a_end = _ticks(ts * vtb + _EPSILON, atb)
                continue
            video.place(packet)
            out.mux_one(packet)
            copied += 1
        elif audio is not None:
            if ts < a_start:
                continue
            if a_end is not None and ts >= a_end:
                if video_done:
                    break
                continue
            audio.place(packet)
            out.mux_one(packet)
    return copied
