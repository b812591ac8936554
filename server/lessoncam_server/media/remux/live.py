"""Assembling one camera's MP4 while its segments arrive, so little is left at the stop."""

from __future__ import annotations

import contextlib
import logging
import os
import struct
from pathlib import Path

import av
import av.error
from av.container import OutputContainer

from .assemble import Outcome, expected_end_s, moov_reservation, open_tracks, publish
from .files import AssembledVideo, RemuxError, SegmentFile, temporary_beside
from .inputs import Template, template_of
from .packets import KeyframeHook, Writer

log = logging.getLogger(__name__)


class LiveAssembly:
    """One camera's MP4 written while its segments arrive, so little is left at the stop.

    Segments must be added in sequence order (the caller holds back any that arrive early).
    The index goes into room reserved at the front for ``max_hours`` of content, so the file
    is faststart without a second pass. Anything unusual (a first segment without readable
    video or without the sound it should have, a missing segment, a lesson longer than the
    room) ends in :class:`RemuxError` from :meth:`finish`, and the caller falls back to
    :func:`assemble_camera`. Not thread-safe: use it from one thread at a time.

    ``on_keyframe`` is told of every video keyframe written (the packet and its time), in
    order, from the thread that adds the segments: seek thumbnails are made from them as the
    lesson goes on.
    """

    def __init__(
        self,
        out_path: Path,
        *,
        with_audio: bool,
        max_hours: float = 1.5,
        on_keyframe: KeyframeHook | None = None,
    ) -> None:
        self.out_path = out_path
        self.on_keyframe = on_keyframe
        self.with_audio = with_audio
        self.max_s = max_hours * 3600.0
        self.next_sequence = 0
        self.broken: str | None = None  # why it cannot finish, once it cannot
        self._tmp = temporary_beside(out_path)
        self._out: OutputContainer | None = None
        self._writer: Writer | None = None
        self._template: Template | None = None
        self._segments: list[SegmentFile] = []
        self._outcome = Outcome([], {}, with_audio)
        self._previous: int | None = None
        self._reserve: int | None = None  # the room for the index, once the file is open

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
            found = template_of(seg)
            if isinstance(found, str) or (self.with_audio and found.audio is None):
                self._break(f"first segment cannot start the file ({found})")
                return
            self._template = found
            audio = found if found.audio is not None else None
            # Room for the longest lesson it takes, so tighter per sample than a full assembly
            # (which knows the length): measured 6-8 bytes, 20 leaves room for B-frames and
            # 64-bit offsets. Too little shows at finish(), and the full assembly takes over.
            reserve = moov_reservation(
                found, audio, self.max_s, int(self.max_s / 2), bytes_per_sample=20
            )
            self._out = av.open(
                str(self._tmp), "w", format="mp4", options={"moov_size": str(reserve)}
            )
            self._reserve = reserve
            self._writer = open_tracks(self._out, found, audio, self.on_keyframe)
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

    @property
    def working_path(self) -> Path:
        """The file being written (renamed to ``out_path`` by :meth:`finish`)."""
        return self._tmp

    def stable_from(self) -> int | None:
        """Where the bytes end that :meth:`finish` may still rewrite; None while unknown.

        FFmpeg's MP4 muxer with ``moov_size`` writes 'ftyp', skips the reserved room, then an
        8-byte placeholder box and the 'mdat' header with its size left 0; every packet after
        that is appended once, in order. At the end it writes the index into the room and
        the mdat size into its header (or a 64-bit header over the placeholder). So every
        byte from the end of that header on is final once it is on disk: a copy of them may
        be sent before the file is finished. Any other layout gives None. Reads the file
        (call it after a segment was added, from any thread).
        """
        if self._reserve is None or self.broken is not None:
            return None
        try:
            fd = os.open(self._tmp, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            head = os.pread(fd, 8, 0)
            if len(head) < 8 or head[4:8] != b"ftyp":
                return None
            at = int(struct.unpack(">I", head[:4])[0]) + self._reserve
            boxes = os.pread(fd, 16, at)
        finally:
            os.close(fd)
        placeholder_ok = boxes[:4] == b"\0\0\0\x08" and boxes[4:8] in (b"free", b"wide")
        if len(boxes) < 16 or not placeholder_ok or boxes[8:16] != b"\0\0\0\0mdat":
            return None
        return at + 16

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
        end = expected_end_s(self._segments, expected_count)
        unusable = dict(self._outcome.unusable)
        return publish(
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
