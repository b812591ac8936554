"""Copying one segment's packets into the output tracks, retimed to where the unit placed it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from fractions import Fraction

import av
import av.error
from av.container import InputContainer, OutputContainer
from av.packet import Packet
from av.stream import Stream

from lessoncam_common.disk import disk_full

from .files import SegmentFile
from .inputs import (
    TS_PACKET_SIZE,
    AudioParams,
    VideoParams,
    audio_of,
    open_segment,
    sps_of,
    template_of,
    video_of,
)

log = logging.getLogger(__name__)


# --- packet copying -----------------------------------------------------------------------


class Rescale:
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


class Track:
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


#: Told of every video keyframe written: the packet and its time on the output's timeline (s).
KeyframeHook = Callable[["Packet[Stream]", float], None]


class _Incompatible(Exception):
    """A segment's video differs from the output track's (another size or codec)."""


class Writer:
    """Copies segments into one open MP4, keeping timestamps valid across segments."""

    def __init__(
        self,
        out: OutputContainer,
        video: Track,
        video_params: VideoParams,
        audio: Track | None,
        audio_params: AudioParams | None,
        on_keyframe: KeyframeHook | None = None,
    ) -> None:
        self.out = out
        self.video, self.video_params = video, video_params
        self.audio, self.audio_params = audio, audio_params
        self.on_keyframe = on_keyframe

    def hole(self) -> None:
        """Something is missing here: video must restart on a keyframe."""
        self.video.need_keyframe = True

    def copy_segment(self, seg: SegmentFile) -> tuple[float, float] | str:
        """Copy one segment; return the (start_s, end_s) of video written, or why nothing was."""
        c = open_segment(seg.path, quick=True)
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
        got = video_of(c.streams.video[0])
        if got.codec != want.codec:
            raise _Incompatible(f"video codec {got.codec}, not {want.codec}")
        if got.width > 0:  # the container told us (MP4 input)
            size = (got.width, got.height)
        elif want.sps is not None and sps_of(bytes(first)) == want.sps:
            return  # same SPS as the template: same picture size, no need to probe
        else:
            # Unknown or changed SPS: probe the file properly (rare).
            full = template_of(seg)
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
            got = audio_of(ain)
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
        truncated = c.format.name == "mpegts" and c.size % TS_PACKET_SIZE != 0

        pending: list[Packet[Stream]] = []
        maps: dict[int, tuple[Track, Rescale]] = {}
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
    ) -> dict[int, tuple[Track, Rescale]]:
        assert vin.time_base is not None
        offset_s = Fraction(seg.start_s) - first_pts * vin.time_base
        maps = {vin.index: (self.video, Rescale(vin.time_base, self.video.tb, offset_s))}
        if ain is not None and self.audio is not None:
            assert ain.time_base is not None
            maps[ain.index] = (self.audio, Rescale(ain.time_base, self.audio.tb, offset_s))
        return maps

    def _write(
        self, packet: Packet[Stream], track: Track, rescale: Rescale
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
        if self.on_keyframe is not None and track.is_video and packet.is_keyframe:
            self.on_keyframe(packet, float(pts * track.tb))  # the muxer left the packet whole
        return pts, pts + duration
