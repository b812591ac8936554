"""Cuts one camera's continuous encoder output into MPEG-TS segment files at keyframes.

A segment starts at a video keyframe once the previous one has lasted ``segment_s`` (the
encoder is asked for an IDR at that frame, so cuts land on time even with long GOPs). Audio
packets go into whichever file is open when the AAC encoder emits them, exactly as picamera2's
``SplittableOutput`` does: the timestamps are continuous across files, so nothing is lost or
doubled at a join. The open file is ``NNNNNN.ts.partial``; the muxer flushes every packet to
it and an fsync is asked for every ``sync_s`` of recorded time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
from av.packet import Packet

from .encoders import from_ticks
from .segment_io import PartialFile, SegmentIO
from .storage import partial_path, segment_path

log = logging.getLogger(__name__)

# Every packet goes to the file at once: what the muxer has, the page cache has.
_MUX_OPTIONS = {"flush_packets": "1"}


def copy_stream(container: Any, template: Any) -> Any:
    """A stream in ``container`` like ``template`` (the encoder's), on any PyAV the unit meets.

    PyAV 13 added ``add_stream_from_template``; Raspberry Pi OS Bookworm's apt has PyAV 12.3
    (kept for its picamera2), whose ``add_stream`` takes the template instead.
    """
    add = getattr(container, "add_stream_from_template", None)
    if add is not None:
        return add(template)
    return container.add_stream(template=template)


@dataclass
class SegmenterCounters:
    """Updated by the encoder thread; read by anyone."""

    segments: int = 0  # closed (handed to the I/O thread)
    bytes: int = 0
    fsyncs_asked: int = 0
    max_sync_gap_s: float = 0.0  # longest stretch of recorded time without an fsync


class _OpenSegment:
    def __init__(self, file: PartialFile, container: Any, streams: list[Any], first_t: float):
        self.file = file
        self.container = container
        self.streams = streams
        self.first_t = first_t
        self.last_t = first_t
        self.synced_t = first_t


class Segmenter:
    """Receives packets from one camera's encoders (one thread) and writes segment files."""

    def __init__(
        self,
        *,
        recording_id: str,
        camera: str,
        cam_dir: Path,
        video_template: Any,
        audio_template: Any | None,
        segment_s: float,
        fps: float,
        io: SegmentIO,
        sync_s: float = 1.0,
    ) -> None:
        self.recording_id = recording_id
        self.camera = camera
        self.cam_dir = cam_dir
        self._templates = [video_template] + ([audio_template] if audio_template else [])
        self.segment_s = segment_s
        self.frame_s = 1.0 / fps
        self.io = io
        self.sync_s = sync_s
        self.counters = SegmenterCounters()
        self._seg: _OpenSegment | None = None
        self._sequence = -1
        self._pending_audio: list[Packet[Any]] = []
        self._forced_for = -1  # sequence whose boundary keyframe has been asked for

    @property
    def next_sequence(self) -> int:
        """How many segments have been started (the next one's sequence number)."""
        return self._sequence + 1

    def wants_keyframe(self, t_s: float) -> bool:
        """Whether the frame at recording time ``t_s`` should be an IDR (a segment boundary)."""
        upcoming = self._sequence + 1
        if self._forced_for >= upcoming:
            return False  # asked already; a delaying encoder has not delivered it yet
        seg = self._seg
        if seg is not None and t_s < seg.first_t + self.segment_s - self.frame_s / 2:
            return False
        self._forced_for = upcoming
        return True

    def add_video(self, packets: list[Packet[Any]]) -> None:
        """Mux video packets; a keyframe due for a boundary starts the next segment."""
        for p in packets:
            if p.pts is None:
                continue
            t = from_ticks(p.pts, p.time_base)
            seg = self._seg
            if p.is_keyframe and (
                seg is None or t >= seg.first_t + self.segment_s - self.frame_s / 2
            ):
                if seg is not None:
                    self._close(end_t=t)
                seg = self._open(t)
                for a in self._pending_audio:
                    self._mux(a, 1)
                self._pending_audio.clear()
            if seg is None:
                log.debug("%s: dropping a video packet before the first keyframe", self.camera)
                continue
            self._mux(p, 0)
            seg.last_t = max(seg.last_t, t)  # decode order differs from display with B-frames
            if t - seg.synced_t >= self.sync_s:
                self._ask_sync(seg, t)

    def add_audio(self, packets: list[Packet[Any]]) -> None:
        """Mux audio packets into the open segment (held until the first one opens)."""
        if self._seg is None:
            self._pending_audio.extend(packets)
            return
        for p in packets:
            self._mux(p, 1)

    def finish(self) -> None:
        """Close the open segment (its last frame lasts one frame period)."""
        if self._seg is not None:
            self._close(end_t=self._seg.last_t + self.frame_s)

    def abandon(self) -> None:
        """Close the muxer without closing the segment (after an error): it stays ``.partial``.

        Never raises: the error that brought us here (a full disk makes the close fail too)
        is the one to report, and what the file holds is salvaged at the stop.
        """
        if self._seg is not None:
            seg, self._seg = self._seg, None
            try:
                seg.container.close()
            except Exception as exc:
                log.warning("%s: closing the abandoned segment failed too: %s", self.camera, exc)
            finally:
                seg.file.close_fd()

    def _open(self, t: float) -> _OpenSegment:
        self._sequence += 1
        seq = self._sequence
        partial = partial_path(self.cam_dir, seq)
        file = PartialFile(
            self.recording_id, self.camera, seq, partial, segment_path(self.cam_dir, seq)
        )
        file.create()
        try:
            container = av.open(str(partial), "w", format="mpegts", options=_MUX_OPTIONS)
        except BaseException:
            file.close_fd()
            raise
        try:
            streams = [copy_stream(container, s) for s in self._templates]
        except BaseException:
            container.close()
            file.close_fd()
            raise
        self._seg = _OpenSegment(file, container, streams, t)
        self.io.sync(file, new=True)
        return self._seg

    def _mux(self, packet: Packet[Any], index: int) -> None:
        assert self._seg is not None
        self.counters.bytes += packet.size
        packet.stream = self._seg.streams[index]
        self._seg.container.mux(packet)

    def _ask_sync(self, seg: _OpenSegment, t: float) -> None:
        c = self.counters
        c.max_sync_gap_s = max(c.max_sync_gap_s, t - seg.synced_t)
        c.fsyncs_asked += 1
        seg.synced_t = t
        self.io.sync(seg.file)

    def _close(self, end_t: float) -> None:
        seg = self._seg
        assert seg is not None
        self._seg = None
        seg.container.close()
        self.counters.max_sync_gap_s = max(self.counters.max_sync_gap_s, end_t - seg.synced_t)
        self.io.close(seg.file, seg.first_t, end_t - seg.first_t)
        self.counters.segments += 1
