"""Opening uploaded segments quickly, and the stream parameters that must match across them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
from av.container import InputContainer
from av.stream import Stream

from .files import SegmentFile

log = logging.getLogger(__name__)


TS_PACKET_SIZE = 188
# Open segments without probing: the MPEG-TS program tables name the streams, while probing
# an H.264 stream decodes ~7 frames (25 ms per 1080p file, more than copying it). The options
# also reach the decoders the probe opens, where skip_frame=all stops the remaining decoding.
_QUICK_OPEN = {"probesize": "32", "analyzeduration": "0", "fpsprobesize": "0", "skip_frame": "all"}

# --- stream parameters --------------------------------------------------------------------


@dataclass(frozen=True)
class VideoParams:
    codec: str
    width: int
    height: int
    sps: bytes | None  # H.264 sequence parameter set, to compare segments without probing


@dataclass(frozen=True)
class AudioParams:
    codec: str
    sample_rate: int
    channels: int


def _nal_units(data: bytes) -> list[bytes]:
    """Split an H.264 Annex B byte stream into NAL units (without start codes)."""
    units: list[bytes] = []
    start = data.find(b"\x00\x00\x01")
    while start >= 0:
        begin = start + 3
        nxt = data.find(b"\x00\x00\x01", begin)
        end = len(data) if nxt < 0 else nxt
        units.append(data[begin:end].rstrip(b"\x00"))
        start = nxt
    return units


def sps_of(data: bytes | None) -> bytes | None:
    """The SPS in H.264 extradata (avcC or Annex B) or in an Annex B packet."""
    if not data:
        return None
    if data[0] == 1 and len(data) > 8:  # avcC: version 1, then the SPS list
        if data[5] & 0x1F:
            length = int.from_bytes(data[6:8], "big")
            return data[8 : 8 + length]
        return None
    for nal in _nal_units(data[:65536]):
        if nal and nal[0] & 0x1F == 7:
            return nal
    return None


def video_of(stream: Stream) -> VideoParams:
    ctx = stream.codec_context
    return VideoParams(
        ctx.name,
        int(ctx.width),  # type: ignore[attr-defined]
        int(ctx.height),  # type: ignore[attr-defined]
        sps_of(ctx.extradata),
    )


def audio_of(stream: Stream) -> AudioParams:
    ctx = stream.codec_context
    return AudioParams(ctx.name, int(ctx.sample_rate), int(ctx.channels))  # type: ignore[attr-defined]


def _looks_like_mpegts(path: Path) -> bool:
    """MPEG-TS sync bytes at the first three packet starts."""
    with path.open("rb") as f:
        head = f.read(3 * TS_PACKET_SIZE)
    return len(head) == 3 * TS_PACKET_SIZE and head[0::TS_PACKET_SIZE] == b"GGG"


def open_segment(path: Path, *, quick: bool) -> InputContainer | str:
    """Open a segment; a string is the reason it cannot be opened."""
    try:
        if path.stat().st_size == 0:
            return "empty file"
        # FFmpeg's format guess fails on a very short TS (one frame at the end of a lesson
        # is taken for MP2 audio): name the format when the bytes say what it is.
        fmt = "mpegts" if _looks_like_mpegts(path) else None
        return av.open(str(path), format=fmt, options=_QUICK_OPEN if quick else None)
    except (av.error.FFmpegError, OSError) as e:
        return f"not readable ({e})"


@dataclass(frozen=True)
class Template:
    """A segment whose (fully probed) streams define an output track."""

    seg: SegmentFile
    video: VideoParams
    audio: AudioParams | None
    frame_rate: Fraction | None


def template_of(seg: SegmentFile) -> Template | str:
    """Probe a segment fully; a string is the reason it cannot serve as a template."""
    c = open_segment(seg.path, quick=False)
    if isinstance(c, str):
        return c
    with c:
        if not c.streams.video:
            return "no video stream"
        vs = c.streams.video[0]
        video = video_of(vs)
        if video.width <= 0 or video.height <= 0:
            return "video stream without a picture size"
        audio = audio_of(c.streams.audio[0]) if c.streams.audio else None
        if audio is not None and (audio.sample_rate <= 0 or audio.channels <= 0):
            audio = None  # declared but never carried a packet the probe could read
        return Template(seg, video, audio, vs.average_rate or vs.guessed_rate)
