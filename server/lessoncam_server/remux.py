"""Assemble one camera's uploaded segments into one faststart MP4, by remuxing (no re-encode).

Each segment is placed at the time the unit declared for it: the offset
``start_s - pts(first video packet)`` is added to every packet of that segment, so the segment
lands where the unit says and its audio stays with its video. The output timeline starts at 0,
the start of the recording. A missing or unreadable segment stays a hole at its true time (the
last frame before it is held, the audio is silent) and is reported in
:attr:`AssembledVideo.gaps`; the content after it is never moved earlier.

The output is written beside ``out_path`` under a temporary name, fsync'd, and renamed over
``out_path``, so a file that is being served is never rewritten in place.

Speed matters (an hour of two-camera 1080p is ~7 GB): segments are opened without FFmpeg's
stream probing (which decodes several frames of every file), and the MP4 index is written into
space reserved at the front of the file instead of moving all the media data afterwards
(``+faststart``), which is the fallback when the reservation turns out too small.
"""

from __future__ import annotations

import contextlib
import logging
import os
import statistics
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TypedDict

import av
import av.error
from av.container import InputContainer, OutputContainer
from av.packet import Packet
from av.stream import Stream

from .durable import disk_full, fsync_path

log = logging.getLogger(__name__)

#: Holes in the content shorter than this are not reported as gaps (timestamp rounding, and
#: a declared duration that differs from the content by a frame or two).
GAP_TOLERANCE_S = 0.1

_TS_PACKET_SIZE = 188
# Open segments without probing: the MPEG-TS program tables name the streams, while probing
# an H.264 stream decodes ~7 frames (25 ms per 1080p file, more than copying it). The options
# also reach the decoders the probe opens, where skip_frame=all stops the remaining decoding.
_QUICK_OPEN = {"probesize": "32", "analyzeduration": "0", "fpsprobesize": "0", "skip_frame": "all"}
# Room reserved for the MP4 index ('moov'): measured ~13 bytes per video and ~21 per AAC frame;
# 40 covers 64-bit chunk offsets and composition offsets (B-frames) too. Unused room is a
# 'free' box, ~0.3% of an hour of 1080p.
_MOOV_BYTES_PER_SAMPLE = 40
_MOOV_BASE_BYTES = 64 * 1024


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


# --- stream parameters --------------------------------------------------------------------


@dataclass(frozen=True)
class _Video:
    codec: str
    width: int
    height: int
    sps: bytes | None  # H.264 sequence parameter set, to compare segments without probing


@dataclass(frozen=True)
class _Audio:
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


def _sps(data: bytes | None) -> bytes | None:
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


def _video_of(stream: Stream) -> _Video:
    ctx = stream.codec_context
    return _Video(
        ctx.name,
        int(ctx.width),  # type: ignore[attr-defined]
        int(ctx.height),  # type: ignore[attr-defined]
        _sps(ctx.extradata),
    )


def _audio_of(stream: Stream) -> _Audio:
    ctx = stream.codec_context
    return _Audio(ctx.name, int(ctx.sample_rate), int(ctx.channels))  # type: ignore[attr-defined]


def _looks_like_mpegts(path: Path) -> bool:
    """MPEG-TS sync bytes at the first three packet starts."""
    with path.open("rb") as f:
        head = f.read(3 * _TS_PACKET_SIZE)
    return len(head) == 3 * _TS_PACKET_SIZE and head[0::_TS_PACKET_SIZE] == b"GGG"


def _open(path: Path, *, quick: bool) -> InputContainer | str:
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
class _Template:
    """A segment whose (fully probed) streams define an output track."""

    seg: SegmentFile
    video: _Video
    audio: _Audio | None
    frame_rate: Fraction | None


def _template(seg: SegmentFile) -> _Template | str:
    """Probe a segment fully; a string is the reason it cannot serve as a template."""
    c = _open(seg.path, quick=False)
    if isinstance(c, str):
        return c
    with c:
        if not c.streams.video:
            return "no video stream"
        vs = c.streams.video[0]
        video = _video_of(vs)
        if video.width <= 0 or video.height <= 0:
            return "video stream without a picture size"
        audio = _audio_of(c.streams.audio[0]) if c.streams.audio else None
        if audio is not None and (audio.sample_rate <= 0 or audio.channels <= 0):
            audio = None  # declared but never carried a packet the probe could read
        return _Template(seg, video, audio, vs.average_rate or vs.guessed_rate)


# --- packet copying -----------------------------------------------------------------------


class _Rescale:
    """Maps a segment's timestamps to the output track: ``round(ts * in_tb / out_tb) + offset``.

    Integer arithmetic only: this runs for every packet of an hour-long lesson.
    """

    __slots__ = ("den", "num", "offset", "same")

    def __init__(self, in_tb: Fraction, out_tb: Fraction, offset_s: Fraction) -> None:
        ratio = in_tb / out_tb
        self.num, self.den = ratio.numerator, ratio.denominator
        self.same = ratio == 1
        self.offset = round(offset_s / out_tb)

    def __call__(self, ts: int) -> int:
        if self.same:
            return ts + self.offset
        return (ts * self.num * 2 + self.den) // (self.den * 2) + self.offset

    def span(self, ts: int) -> int:
        """Rescale a duration (no offset)."""
        if self.same:
            return ts
        return (ts * self.num * 2 + self.den) // (self.den * 2)


def _adts_truncated(packet: Packet[Stream]) -> bool:
    """True when an ADTS AAC packet is shorter than its header says (a cut-off last frame)."""
    head = memoryview(packet)[:6]
    if len(head) < 6 or head[0] != 0xFF or (head[1] & 0xF0) != 0xF0:
        return False
    frame_length = ((head[3] & 0x03) << 11) | (head[4] << 3) | (head[5] >> 5)
    return packet.size < frame_length


class _Track:
    """Per output stream state: its time base and the monotonic-dts guard."""

    def __init__(self, stream: Stream, is_video: bool, nominal_duration_s: Fraction) -> None:
        self.stream = stream
        assert stream.time_base is not None
        self.tb: Fraction = stream.time_base
        self.is_video = is_video
        self.nominal = max(round(nominal_duration_s / self.tb), 1)
        self.last_dts: int | None = None
        # Video can only (re)start on a keyframe: at the beginning and after a hole.
        self.need_keyframe = is_video
        self.dropped = 0
        self.fixed = 0


class _Incompatible(Exception):
    """A segment's video differs from the output track's (another size or codec)."""


class _Writer:
    """Copies segments into one open MP4, keeping timestamps valid across segments."""

    def __init__(
        self,
        out: OutputContainer,
        video: _Track,
        video_params: _Video,
        audio: _Track | None,
        audio_params: _Audio | None,
    ) -> None:
        self.out = out
        self.video, self.video_params = video, video_params
        self.audio, self.audio_params = audio, audio_params

    def hole(self) -> None:
        """Something is missing here: video must restart on a keyframe."""
        self.video.need_keyframe = True

    def copy_segment(self, seg: SegmentFile) -> tuple[float, float] | str:
        """Copy one segment; return the (start_s, end_s) of video written, or why nothing was."""
        c = _open(seg.path, quick=True)
        if isinstance(c, str):
            return c
        with c:
            if not c.streams.video:
                return "no video stream"
            try:
                return self._copy(c, seg)
            except _Incompatible as e:
                return str(e)

    def _check_video(self, c: InputContainer, seg: SegmentFile, first: Packet[Stream]) -> None:
        """Make sure this segment's pictures fit the output track; raise _Incompatible if not."""
        want = self.video_params
        got = _video_of(c.streams.video[0])
        if got.codec != want.codec:
            raise _Incompatible(f"video codec {got.codec}, not {want.codec}")
        if got.width > 0:  # the container told us (MP4 input)
            size = (got.width, got.height)
        elif want.sps is not None and _sps(bytes(first)) == want.sps:
            return  # same SPS as the template: same picture size, no need to probe
        else:
            # Unknown or changed SPS: probe the file properly (rare).
            full = _template(seg)
            if isinstance(full, str):
                raise _Incompatible(full)
            size = (full.video.width, full.video.height)
        if size != (want.width, want.height):
            raise _Incompatible(f"picture {size[0]}x{size[1]}, not {want.width}x{want.height}")

    def _copy(self, c: InputContainer, seg: SegmentFile) -> tuple[float, float] | str:
        vin = c.streams.video[0]
        ain = None
        want = self.audio_params
        if self.audio is not None and want is not None and c.streams.audio:
            ain = c.streams.audio[0]
            got = _audio_of(ain)
            # A quick open knows an ADTS stream's rate and channels from its first frame; 0
            # means no frame came early enough to tell, and then the template decides.
            if got.codec != want.codec or (
                got.sample_rate
                and (got.sample_rate, got.channels) != (want.sample_rate, want.channels)
            ):
                log.warning(
                    "segment %s: audio %s differs, its audio is left out", seg.sequence, got
                )
                ain = None
        streams = [vin] if ain is None else [vin, ain]
        # An MPEG-TS file whose size is not a whole number of TS packets was cut off while
        # being written (power loss): its last video packet is most likely incomplete.
        truncated = c.format.name == "mpegts" and c.size % _TS_PACKET_SIZE != 0

        pending: list[Packet[Stream]] = []
        maps: dict[int, tuple[_Track, _Rescale]] = {}
        held: Packet[Stream] | None = None  # latest video packet, written when the next comes
        first: int | None = None  # video span written, in output ticks
        end: int | None = None

        def write(packet: Packet[Stream]) -> None:
            nonlocal first, end
            track, rescale = maps[packet.stream_index]
            span = self._write(packet, track, rescale)
            if span is not None and track.is_video:
                first = span[0] if first is None else min(first, span[0])
                end = span[1] if end is None else max(end, span[1])

        try:
            for packet in c.demux(streams):
                if packet.size == 0 or (packet.pts is None and packet.dts is None):
                    continue  # demuxer flush packets; a packet without any time cannot be placed
                if not maps:
                    if packet.stream_index != vin.index or packet.pts is None:
                        pending.append(packet)
                        continue
                    self._check_video(c, seg, packet)
                    maps = self._maps(seg, vin, ain, packet.pts)
                    for p in pending:
                        write(p)
                    pending.clear()
                if packet.stream_index == vin.index:
                    if held is not None:
                        write(held)
                    held = packet
                else:
                    write(packet)
        except av.error.FFmpegError as e:
            if disk_full(e):
                raise  # writing the output failed, not reading the segment: keep nothing cut
            log.warning("segment %s: read error, keeping what came before: %s", seg.sequence, e)
            truncated = True
        if held is not None:
            if truncated:
                log.debug("segment %s: dropping its last (cut off) video packet", seg.sequence)
            else:
                write(held)
        if first is None or end is None:
            return "no usable video packets"
        tb = self.video.tb
        return float(first * tb), float(end * tb)

    def _maps(
        self, seg: SegmentFile, vin: Stream, ain: Stream | None, first_pts: int
    ) -> dict[int, tuple[_Track, _Rescale]]:
        assert vin.time_base is not None
        offset_s = Fraction(seg.start_s) - first_pts * vin.time_base
        maps = {vin.index: (self.video, _Rescale(vin.time_base, self.video.tb, offset_s))}
        if ain is not None and self.audio is not None:
            assert ain.time_base is not None
            maps[ain.index] = (self.audio, _Rescale(ain.time_base, self.audio.tb, offset_s))
        return maps

    def _write(
        self, packet: Packet[Stream], track: _Track, rescale: _Rescale
    ) -> tuple[int, int] | None:
        """Retime and mux one packet; return its (start, end) in track ticks, None if dropped."""
        if track.is_video:
            if track.need_keyframe:
                if not packet.is_keyframe:
                    track.dropped += 1
                    return None
                track.need_keyframe = False
        elif _adts_truncated(packet):
            log.debug("dropping a cut-off AAC frame at pts %s", packet.pts)
            track.dropped += 1
            return None
        pts_in = packet.pts if packet.pts is not None else packet.dts
        dts_in = packet.dts if packet.dts is not None else packet.pts
        assert pts_in is not None and dts_in is not None
        pts, dts = rescale(pts_in), rescale(dts_in)
        duration = rescale.span(packet.duration) if packet.duration else track.nominal
        last = track.last_dts
        if last is not None and dts <= last:
            # Segments overlap or a declared start is slightly off: keep dts strictly
            # increasing, as MP4 requires. Up to half a frame is nudged (invisible); more means
            # overlapping content, which is dropped.
            if last + 1 - dts <= max(track.nominal // 2, 1):
                log.debug("%s dts %s -> %s", track.stream.type, dts, last + 1)
                dts = last + 1
                track.fixed += 1
            else:
                log.debug("dropping %s packet: dts %s behind %s", track.stream.type, dts, last)
                track.dropped += 1
                if track.is_video:
                    track.need_keyframe = True
                return None
        if pts < dts:
            pts = dts
        packet.stream = track.stream
        packet.time_base = track.tb
        packet.pts, packet.dts, packet.duration = pts, dts, duration
        self.out.mux_one(packet)
        track.last_dts = dts
        return pts, pts + duration


# --- assembly -----------------------------------------------------------------------------


def _expected_end(segments: Sequence[SegmentFile], expected_count: int) -> float:
    """Where the recording ends according to the manifest (estimated for a missing tail)."""
    last = max(segments, key=lambda s: s.sequence)
    end = max(s.start_s + s.duration_s for s in segments)
    missing_tail = expected_count - 1 - last.sequence
    if missing_tail > 0:
        typical = statistics.median(s.duration_s for s in segments)
        end = max(end, last.start_s + last.duration_s + missing_tail * typical)
    return end


def _holes(
    covered: list[tuple[float, float]], start: float, end: float
) -> list[tuple[float, float]]:
    """The parts of [start, end] not covered by the intervals, longer than the tolerance."""
    gaps: list[tuple[float, float]] = []
    cursor = start
    for a, b in sorted(covered):
        if a - cursor > GAP_TOLERANCE_S:
            gaps.append((round(cursor, 3), round(a, 3)))
        cursor = max(cursor, b)
    if end - cursor > GAP_TOLERANCE_S:
        gaps.append((round(cursor, 3), round(end, 3)))
    return gaps


def _moov_reservation(
    video: _Template,
    audio: _Template | None,
    span_s: float,
    n: int,
    bytes_per_sample: int = _MOOV_BYTES_PER_SAMPLE,
) -> int:
    """Bytes to reserve for the MP4 index: a generous upper bound from the declared time."""
    fps = float(video.frame_rate) if video.frame_rate else 60.0
    samples = (span_s * fps * 1.25) + 16 * n
    if audio is not None and audio.audio is not None:
        samples += span_s * audio.audio.sample_rate / 1024 * 1.1 + 16 * n
    return int(_MOOV_BASE_BYTES + bytes_per_sample * samples)


@dataclass
class _Outcome:
    covered: list[tuple[float, float]]
    unusable: dict[int, str]
    has_audio: bool


def _write_mp4(
    tmp: Path,
    segments: Sequence[SegmentFile],
    video: _Template,
    audio: _Template | None,
    reserve: int | None,
) -> _Outcome:
    """Write all usable segments into one MP4 at ``tmp``."""
    options = {"moov_size": str(reserve)} if reserve else {"movflags": "+faststart"}
    outcome = _Outcome([], {}, audio is not None)
    with av.open(str(tmp), "w", format="mp4", options=options) as out:
        writer = _open_tracks(out, video, audio)
        previous: int | None = None
        for seg in segments:
            if previous is not None and seg.sequence != previous + 1:
                writer.hole()
            span = writer.copy_segment(seg)
            if isinstance(span, str):
                log.warning("segment %s (%s) left out: %s", seg.sequence, seg.path, span)
                outcome.unusable[seg.sequence] = span
                writer.hole()
                previous = None
                continue
            outcome.covered.append(span)
            previous = seg.sequence
        if not outcome.covered:
            raise RemuxError("no segment had usable video packets")
        for track in (writer.video, writer.audio):
            if track is not None and (track.dropped or track.fixed):
                log.info(
                    "%s: %s %s packets dropped, %s retimed to keep timestamps increasing",
                    tmp.name,
                    track.dropped,
                    track.stream.type,
                    track.fixed,
                )
    return outcome


def _open_tracks(out: OutputContainer, video: _Template, audio: _Template | None) -> _Writer:
    """Create the output tracks from the template segments, and write the header."""
    sources: list[InputContainer] = []
    try:
        vsrc = av.open(str(video.seg.path))
        sources.append(vsrc)
        vout = out.add_stream_from_template(vsrc.streams.video[0])
        aout = None
        if audio is not None:
            asrc = av.open(str(audio.seg.path))
            sources.append(asrc)
            aout = out.add_stream_from_template(asrc.streams.audio[0])
        # Writing the header now fixes the tracks' time bases (the MP4 muxer chooses them), so
        # packets can be retimed straight into them.
        out.start_encoding()
    finally:
        for s in sources:
            s.close()
    rate = video.frame_rate or Fraction(30)
    vtrack = _Track(vout, True, 1 / Fraction(rate))
    atrack = None
    if aout is not None and audio is not None and audio.audio is not None:
        frame_size = aout.codec_context.frame_size or 1024
        atrack = _Track(aout, False, Fraction(frame_size, audio.audio.sample_rate))
    return _Writer(out, vtrack, video.video, atrack, audio.audio if audio is not None else None)


def _find_templates(
    ordered: list[SegmentFile], unusable: dict[int, str]
) -> tuple[_Template, _Template | None]:
    """The first segment with readable video, and the first with readable audio."""
    video: _Template | None = None
    for seg in ordered:
        found = _template(seg)
        if isinstance(found, str):
            log.warning("segment %s (%s) left out: %s", seg.sequence, seg.path, found)
            unusable[seg.sequence] = found
            continue
        video = found
        break
    if video is None:
        raise RemuxError(f"none of the {len(ordered)} segments has readable video")
    if video.audio is not None:
        return video, video
    # A camera without a microphone ends here after a quick look at each file.
    for seg in ordered:
        if seg.sequence <= video.seg.sequence:
            continue
        c = _open(seg.path, quick=True)
        if isinstance(c, str):
            continue
        with c:
            if not c.streams.audio:
                continue
        found = _template(seg)
        if not isinstance(found, str) and found.audio is not None:
            return video, found
    return video, None


def assemble_camera(
    segments: Sequence[SegmentFile], expected_count: int, out_path: Path
) -> AssembledVideo:
    """Remux one camera's segments into one faststart MP4 at ``out_path``.

    ``expected_count`` is the number of segments the unit recorded (sequence numbers
    ``0..expected_count-1``); absent ones are gaps. Unreadable segments are gaps too, a cut-off
    segment is used as far as it can be read. Raises :class:`RemuxError` when nothing usable
    is left.
    """
    by_seq: dict[int, SegmentFile] = {}
    for seg in sorted(segments, key=lambda s: s.sequence):
        if seg.sequence in by_seq:
            log.warning("segment %s given twice; using the first", seg.sequence)
            continue
        if not 0 <= seg.sequence < expected_count:
            log.warning("segment %s outside the expected 0..%s", seg.sequence, expected_count - 1)
        by_seq[seg.sequence] = seg
    ordered = list(by_seq.values())
    if not ordered:
        raise RemuxError("no segments")

    unusable: dict[int, str] = {}
    video, audio = _find_templates(ordered, unusable)
    todo = [s for s in ordered if s.sequence not in unusable]
    expected_end = _expected_end(ordered, expected_count)
    reserve = _moov_reservation(video, audio, expected_end + 10.0, len(todo))

    tmp = temporary_beside(out_path)
    try:
        try:
            outcome = _write_mp4(tmp, todo, video, audio, reserve)
        except av.error.FFmpegError as e:
            if disk_full(e):
                raise  # the slow way needs more room still: wait for space instead
            # Most likely the reserved index room was too small (the muxer can only tell at
            # the end); redo it the slow way, which moves the data to make room.
            log.warning("%s: MP4 writing failed (%s); retrying with +faststart", out_path, e)
            tmp.unlink(missing_ok=True)
            outcome = _write_mp4(tmp, todo, video, audio, None)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    unusable.update(outcome.unusable)
    return _publish(tmp, out_path, video, outcome, unusable, expected_count, expected_end)


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


def _publish(
    tmp: Path,
    out_path: Path,
    video: _Template,
    outcome: _Outcome,
    unusable: dict[int, str],
    expected_count: int,
    expected_end: float,
) -> AssembledVideo:
    """Make the finished MP4 at ``tmp`` durable and put it at ``out_path``; describe it."""
    try:
        info = install(tmp, out_path)
    except av.error.FFmpegError as e:
        raise RemuxError(f"writing {out_path} failed: {e}") from e
    gaps = _holes(outcome.covered, 0.0, expected_end)
    result = AssembledVideo(
        path=out_path,
        duration_s=info["duration_s"],
        width=video.video.width,
        height=video.video.height,
        has_audio=outcome.has_audio,
        size=info["size"],
        gaps=gaps,
        unusable_segments=sorted(unusable),
    )
    log.info(
        "assembled %s: %s of %s segments, %.2f s, %s bytes, gaps %s",
        out_path,
        len(outcome.covered),
        expected_count,
        result.duration_s,
        result.size,
        gaps,
    )
    return result


class LiveAssembly:
    """One camera's MP4 written while its segments arrive, so little is left at the stop.

    Segments must be added in sequence order (the caller holds back any that arrive early).
    The index goes into room reserved at the front for ``max_hours`` of content, so the file
    is faststart without a second pass. Anything unusual (a first segment without readable
    video or without the sound it should have, a missing segment, a lesson longer than the
    room) ends in :class:`RemuxError` from :meth:`finish`, and the caller falls back to
    :func:`assemble_camera`. Not thread-safe: use it from one thread at a time.
    """

    def __init__(self, out_path: Path, *, with_audio: bool, max_hours: float = 1.5) -> None:
        self.out_path = out_path
        self.with_audio = with_audio
        self.max_s = max_hours * 3600.0
        self.next_sequence = 0
        self.broken: str | None = None  # why it cannot finish, once it cannot
        self._tmp = temporary_beside(out_path)
        self._out: OutputContainer | None = None
        self._writer: _Writer | None = None
        self._template: _Template | None = None
        self._segments: list[SegmentFile] = []
        self._outcome = _Outcome([], {}, with_audio)
        self._previous: int | None = None

    def add(self, seg: SegmentFile) -> None:
        """Append segment ``next_sequence`` (others are refused with ValueError)."""
        if seg.sequence != self.next_sequence:
            raise ValueError(f"segment {seg.sequence} given, {self.next_sequence} expected")
        self.next_sequence += 1
        self._segments.append(seg)
        if self.broken is not None:
            return
        try:
            self._add(seg)
        except (av.error.FFmpegError, OSError, RemuxError) as e:
            self._break(f"segment {seg.sequence}: {e}")

    def _add(self, seg: SegmentFile) -> None:
        if self._writer is None:
            found = _template(seg)
            if isinstance(found, str) or (self.with_audio and found.audio is None):
                self._break(f"first segment cannot start the file ({found})")
                return
            self._template = found
            audio = found if found.audio is not None else None
            # Room for the longest lesson it takes, so tighter per sample than a full assembly
            # (which knows the length): measured 6-8 bytes, 20 leaves room for B-frames and
            # 64-bit offsets. Too little shows at finish(), and the full assembly takes over.
            reserve = _moov_reservation(
                found, audio, self.max_s, int(self.max_s / 2), bytes_per_sample=20
            )
            self._out = av.open(
                str(self._tmp), "w", format="mp4", options={"moov_size": str(reserve)}
            )
            self._writer = _open_tracks(self._out, found, audio)
        span = self._writer.copy_segment(seg)
        if isinstance(span, str):
            log.warning("segment %s (%s) left out: %s", seg.sequence, seg.path, span)
            self._outcome.unusable[seg.sequence] = span
            self._writer.hole()
            return
        if span[1] > self.max_s:
            self._break(f"longer than the {self.max_s:.0f} s reserved")
            return
        self._outcome.covered.append(span)

    def finish(self, expected_count: int) -> AssembledVideo:
        """Close the file and publish it at ``out_path``; RemuxError if it cannot be used."""
        if self.next_sequence != expected_count:
            self._break(f"{self.next_sequence} of {expected_count} segments added")
        if self.broken is None and not self._outcome.covered:
            self._break("no segment had usable video packets")
        if self.broken is not None or self._out is None or self._template is None:
            self.abandon()
            raise RemuxError(f"live assembly of {self.out_path.name} unusable: {self.broken}")
        try:
            self._out.close()
        except av.error.FFmpegError as e:  # most likely: the index did not fit
            self.abandon()
            raise RemuxError(f"live assembly of {self.out_path.name} failed: {e}") from e
        self._out = None
        end = _expected_end(self._segments, expected_count)
        unusable = dict(self._outcome.unusable)
        return _publish(
            self._tmp, self.out_path, self._template, self._outcome, unusable, expected_count, end
        )

    def abandon(self) -> None:
        """Drop the file (the recording was deleted, or the full assembly takes over)."""
        if self._out is not None:
            with contextlib.suppress(av.error.FFmpegError, OSError):
                self._out.close()
            self._out = None
        self._tmp.unlink(missing_ok=True)

    def _break(self, reason: str) -> None:
        if self.broken is None:
            log.info("live assembly of %s stops (%s)", self.out_path.name, reason)
            self.broken = reason
