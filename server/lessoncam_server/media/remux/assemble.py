"""The full assembly of one camera's segments into one faststart MP4 (also the fallback for a
live assembly that could not be used)."""

from __future__ import annotations

import contextlib
import logging
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
from av.container import InputContainer, OutputContainer

from lessoncam_common.disk import disk_full

from .files import AssembledVideo, RemuxError, SegmentFile, install, temporary_beside
from .inputs import Template, open_segment, template_of
from .packets import KeyframeHook, Track, Writer
from .sink import BUFFER_BYTES, Sink

log = logging.getLogger(__name__)


#: Holes in the content shorter than this are not reported as gaps (timestamp rounding, and
#: a declared duration that differs from the content by a frame or two).
GAP_TOLERANCE_S = 0.1

# Room reserved for the MP4 index ('moov'): measured ~13 bytes per video and ~21 per AAC frame;
# 40 covers 64-bit chunk offsets and composition offsets (B-frames) too. Unused room is a
# 'free' box, ~0.3% of an hour of 1080p.
MOOV_BYTES_PER_SAMPLE = 40
MOOV_BASE_BYTES = 64 * 1024

# --- assembly -----------------------------------------------------------------------------


def expected_end_s(segments: Sequence[SegmentFile], expected_count: int) -> float:
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


def moov_reservation(
    video: Template,
    audio: Template | None,
    span_s: float,
    n: int,
    bytes_per_sample: int = MOOV_BYTES_PER_SAMPLE,
) -> int:
    """Bytes to reserve for the MP4 index: a generous upper bound from the declared time."""
    fps = float(video.frame_rate) if video.frame_rate else 60.0
    samples = (span_s * fps * 1.25) + 16 * n
    if audio is not None and audio.audio is not None:
        samples += span_s * audio.audio.sample_rate / 1024 * 1.1 + 16 * n
    return int(MOOV_BASE_BYTES + bytes_per_sample * samples)


@dataclass
class Outcome:
    covered: list[tuple[float, float]]
    unusable: dict[int, str]
    has_audio: bool


def _write_mp4(
    tmp: Path,
    segments: Sequence[SegmentFile],
    video: Template,
    audio: Template | None,
    reserve: int | None,
) -> Outcome:
    """Write all usable segments into one MP4 at ``tmp``."""
    outcome = Outcome([], {}, audio is not None)
    with contextlib.ExitStack() as stack:
        if reserve:
            # Our own file object: large writes, writeback overlapping the remux.
            sink = stack.enter_context(Sink(tmp))
            out = stack.enter_context(
                av.open(
                    sink,
                    "w",
                    format="mp4",
                    # No flush after every packet (FFmpeg's default for custom I/O).
                    options={"moov_size": str(reserve), "flush_packets": "0"},
                    buffer_size=BUFFER_BYTES,
                )
            )
        else:
            # +faststart moves the data by reopening the file by its name: FFmpeg's own I/O.
            out = stack.enter_context(
                av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"})
            )
        writer = open_tracks(out, video, audio)
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


def open_tracks(
    out: OutputContainer,
    video: Template,
    audio: Template | None,
    on_keyframe: KeyframeHook | None = None,
) -> Writer:
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
    vtrack = Track(vout, True, 1 / Fraction(rate))
    atrack = None
    if aout is not None and audio is not None and audio.audio is not None:
        frame_size = aout.codec_context.frame_size or 1024
        atrack = Track(aout, False, Fraction(frame_size, audio.audio.sample_rate))
    aparams = audio.audio if audio is not None else None
    return Writer(out, vtrack, video.video, atrack, aparams, on_keyframe)


def _find_templates(
    ordered: list[SegmentFile], unusable: dict[int, str]
) -> tuple[Template, Template | None]:
    """The first segment with readable video, and the first with readable audio."""
    video: Template | None = None
    for seg in ordered:
        found = template_of(seg)
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
        c = open_segment(seg.path, quick=True)
        if isinstance(c, str):
            continue
        with c:
            if not c.streams.audio:
                continue
        found = template_of(seg)
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
    expected_end = expected_end_s(ordered, expected_count)
    reserve = moov_reservation(video, audio, expected_end + 10.0, len(todo))

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
    return publish(tmp, out_path, video, outcome, unusable, expected_count, expected_end)


def publish(
    tmp: Path,
    out_path: Path,
    video: Template,
    outcome: Outcome,
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
