"""After a crash or power cut: keep every segment, salvage the open ones, close the recording.

A recording whose ``recording.json`` has no ``closed`` marker was cut off. For each camera:

- closed segments (``NNNNNN.ts``) are kept as they are; their ``SegmentInfo`` comes from the
  segment index (or, for one closed just before the cut, from reading and hashing the file);
- the open segment (``NNNNNN.ts.partial``) is salvaged: MPEG-TS cut short keeps what it has,
  so its readable prefix (whole 188-byte packets, up to the last unit known to be complete)
  is copied to ``NNNNNN.ts``, checked to demux, and its real duration read with PyAV. The
  original ``.partial`` is kept beside it as ``NNNNNN.ts.orig``: nothing is ever deleted.

Then every segment is announced again (the upload queue ignores ones it holds) and the
recording is marked closed and interrupted, with its counts. Running recovery twice, or
being cut off during it, is harmless.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import av
import av.error
import numpy as np

from lessoncam_common.disk import disk_full
from lessoncam_common.durable import fsync_path
from lessoncam_common.hashing import sha256_and_size

from ..segments import RecordingPlan, SegmentInfo
from .storage import (
    PARTIAL_SUFFIX,
    RECORDINGS_DIR,
    SALVAGED_SUFFIX,
    ClosedMarker,
    RecordingRecord,
    camera_dir,
    read_index,
    read_record,
    read_timeline,
    sequence_of,
    write_record,
)

log = logging.getLogger(__name__)

TS_PACKET = 188
_SYNC = 0x47
# Open without FFmpeg's probing (which decodes frames): the program tables name the streams.
_QUICK_OPEN = {"probesize": "32", "analyzeduration": "0", "fpsprobesize": "0"}


@dataclass(frozen=True)
class Probe:
    """What a segment file holds: its video span in file time (seconds)."""

    first_pts_s: float
    last_pts_s: float
    frames: int
    has_audio: bool


def probe_segment(path: Path) -> Probe | None:
    """Demux (no decoding) a segment file; None when it holds no video frame with a time."""
    try:
        with av.open(str(path), options=_QUICK_OPEN) as c:
            if not c.streams.video:
                return None
            vs = c.streams.video[0]
            tb = vs.time_base
            has_audio = bool(c.streams.audio)
            first = last = None
            frames = 0
            for p in c.demux(vs):
                if p.pts is None or p.size == 0:
                    continue
                frames += 1
                first = p.pts if first is None else min(first, p.pts)
                last = p.pts if last is None else max(last, p.pts)
    except (av.error.FFmpegError, OSError) as e:
        log.warning("%s does not demux: %s", path, e)
        return None
    if first is None or last is None or tb is None:
        return None
    return Probe(float(first * tb), float(last * tb), frames, has_audio)


def readable_length(path: Path) -> int:
    """How many leading bytes of an MPEG-TS file cut short are whole and complete.

    Whole 188-byte packets with their sync byte, up to the start of the last unit (PES or
    table) begun in the file, unless that unit declares its length and is all there: a muxer
    writes one unit after another, so only the last one begun can be incomplete. A video
    PES never declares its length, so a cut file loses at most its last frame.
    """
    size = path.stat().st_size
    n = size // TS_PACKET
    if n == 0:
        return 0
    with path.open("rb") as f:
        data = f.read(n * TS_PACKET)
    packets = np.frombuffer(data, np.uint8, count=len(data) // TS_PACKET * TS_PACKET).reshape(
        -1, TS_PACKET
    )
    bad = np.flatnonzero(packets[:, 0] != _SYNC)
    n = int(bad[0]) if bad.size else packets.shape[0]
    packets = packets[:n]
    starts = np.flatnonzero(packets[:, 1] & 0x40)  # payload_unit_start_indicator
    if not starts.size:
        return 0
    last = int(starts[-1])
    return n * TS_PACKET if _unit_complete(packets[last:]) else last * TS_PACKET


def _payload(packet: np.ndarray) -> bytes:
    afc = (int(packet[3]) >> 4) & 0x3
    if not afc & 0x1:
        return b""
    offset = 4 + (int(packet[4]) + 1 if afc & 0x2 else 0)
    return bytes(packet[offset:]) if offset < TS_PACKET else b""


def _unit_complete(packets: np.ndarray) -> bool:
    """Whether the unit starting in ``packets[0]`` is complete within ``packets``."""
    head = _payload(packets[0])
    if head[:3] != b"\x00\x00\x01":
        return True  # a table (PAT/PMT): one packet, so whole
    length = int.from_bytes(head[4:6], "big") if len(head) >= 6 else 0
    if length == 0:
        return False  # unbounded (video): cannot tell where it ends
    pid = ((int(packets[0][1]) & 0x1F) << 8) | int(packets[0][2])
    have = 0
    for p in packets:
        if ((int(p[1]) & 0x1F) << 8) | int(p[2]) == pid:
            have += len(_payload(p))
    return have >= 6 + length


@dataclass(frozen=True)
class Salvage:
    """One ``.partial`` turned into a closed segment."""

    info: SegmentInfo
    original_bytes: int
    kept_bytes: int


def salvage_partial(
    partial: Path,
    *,
    recording_id: str,
    camera: str,
    sequence: int,
    pts_to_recording_s: float | None,
    fps: float,
    fallback_start_s: float = 0.0,
) -> Salvage | None:
    """Make ``NNNNNN.ts`` from what ``partial`` holds; None (and nothing changed) if nothing.

    ``pts_to_recording_s`` maps file time to recording time (the camera's timeline); without
    it the segment is placed at ``fallback_start_s`` (where the previous one ended). On a
    disk too full for a copy the unreadable tail is cut off the file itself (no ``.orig``).
    """
    original = partial.stat().st_size
    keep = readable_length(partial)
    final = partial.with_name(partial.name.removesuffix(PARTIAL_SUFFIX))
    tmp = partial.with_name(f".{final.name}.salvage")
    if keep == 0:
        log.warning("%s: nothing readable (%s bytes)", partial, original)
        return None
    try:
        _copy_prefix(partial, tmp, keep)
        in_place = False
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if not disk_full(exc):
            raise
        # No room for a copy: cut the unreadable tail (at most the frame whose write
        # failed) off the file itself rather than lose what it holds.
        log.warning("%s: disk full, salvaged in place (%s bytes cut)", partial, original - keep)
        _truncate(partial, keep)
        in_place = True
    probe = probe_segment(partial if in_place else tmp)
    if probe is None:
        log.warning("%s: no video frame in its %s readable bytes", partial, keep)
        tmp.unlink(missing_ok=True)  # our own scratch copy; the .partial stays
        return None
    if in_place:
        os.replace(partial, final)
    else:
        os.replace(tmp, final)
        fsync_path(final.parent)
        os.replace(partial, final.with_name(final.name + SALVAGED_SUFFIX))
    fsync_path(final.parent)
    sha, size = sha256_and_size(final)
    if pts_to_recording_s is None:
        start = fallback_start_s
    else:
        start = probe.first_pts_s + pts_to_recording_s
    duration = probe.last_pts_s - probe.first_pts_s + 1.0 / fps
    info = SegmentInfo(
        recording_id, camera, sequence, round(start, 6), round(duration, 6), final, sha, size
    )
    log.info("salvaged %s: %.3f s kept, %s of %s bytes", partial.name, duration, keep, original)
    return Salvage(info, original, keep)


def _copy_prefix(source: Path, target: Path, length: int) -> None:
    """Write the first ``length`` bytes of ``source`` to ``target``, durably."""
    with source.open("rb") as src, target.open("wb") as dst:
        left = length
        while left > 0:
            block = src.read(min(left, 1 << 20))
            if not block:
                break
            dst.write(block)
            left -= len(block)
        dst.flush()
        os.fsync(dst.fileno())


def _truncate(path: Path, length: int) -> None:
    """Cut ``path`` to ``length`` bytes, durably (frees space: never fails for want of it)."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.ftruncate(fd, length)
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class CameraRecovery:
    """What recovery found and made for one camera."""

    camera: str
    segments: list[SegmentInfo] = field(default_factory=list)  # every segment file on disk
    salvaged: list[Salvage] = field(default_factory=list)
    count: int = 0  # sequences 0 .. count - 1 belong to the recording
    missing: list[int] = field(default_factory=list)  # partials with nothing readable


def recover_camera(rec_dir: Path, camera: str, recording_id: str, fps: float) -> CameraRecovery:
    """Keep the closed segments of one camera, salvage its partials, count them."""
    cam_dir = camera_dir(rec_dir, camera)
    out = CameraRecovery(camera)
    if not cam_dir.is_dir():
        return out
    index = read_index(cam_dir)
    timeline = read_timeline(cam_dir)
    offset = timeline.file_pts_to_recording_s if timeline else None
    closed: dict[int, Path] = {}
    partials: dict[int, Path] = {}
    for path in cam_dir.iterdir():
        seq = sequence_of(path)
        if seq is None:
            continue
        (partials if path.name.endswith(PARTIAL_SUFFIX) else closed)[seq] = path
    last_end = 0.0
    unreadable: list[int] = []
    for seq in sorted(closed.keys() | partials.keys()):
        if seq in closed:
            info = _closed_info(closed[seq], index.get(seq), recording_id, camera, seq, offset, fps)
            if info is not None:
                out.segments.append(info)
                last_end = info.start_s + info.duration_s
            if seq in partials:
                log.warning("%s: both closed and partial; keeping both", partials[seq])
            continue
        s = salvage_partial(
            partials[seq],
            recording_id=recording_id,
            camera=camera,
            sequence=seq,
            pts_to_recording_s=offset,
            fps=fps,
            fallback_start_s=last_end,
        )
        if s is None:
            unreadable.append(seq)
            continue
        out.salvaged.append(s)
        out.segments.append(s.info)
        last_end = s.info.start_s + s.info.duration_s
    known = [i.sequence for i in out.segments] + list(index)
    out.count = max(known) + 1 if known else 0
    # An unreadable partial after the last segment held nothing worth counting.
    out.missing = [seq for seq in unreadable if seq < out.count]
    return out


def _closed_info(
    path: Path,
    entry: dict[str, object] | None,
    recording_id: str,
    camera: str,
    seq: int,
    offset: float | None,
    fps: float,
) -> SegmentInfo | None:
    size = path.stat().st_size
    if entry is not None and entry.get("size") == size:
        return SegmentInfo(
            recording_id,
            camera,
            seq,
            float(entry["start_s"]),  # type: ignore[arg-type]
            float(entry["duration_s"]),  # type: ignore[arg-type]
            path,
            str(entry["sha256"]),
            size,
        )
    # Closed just before the cut, before its index line was written: read it.
    probe = probe_segment(path)
    if probe is None:
        log.warning("%s: closed but unreadable; left as it is", path)
        return None
    sha, size = sha256_and_size(path)
    start = probe.first_pts_s + (offset or 0.0)
    duration = probe.last_pts_s - probe.first_pts_s + 1.0 / fps
    return SegmentInfo(
        recording_id, camera, seq, round(start, 6), round(duration, 6), path, sha, size
    )


def closed_segments(rec_dir: Path, camera: str, recording_id: str, fps: float) -> list[SegmentInfo]:
    """The closed segment files of one camera (partials are left alone), as announced."""
    cam_dir = camera_dir(rec_dir, camera)
    if not cam_dir.is_dir():
        return []
    index = read_index(cam_dir)
    timeline = read_timeline(cam_dir)
    offset = timeline.file_pts_to_recording_s if timeline else None
    out = []
    for path in sorted(cam_dir.iterdir()):
        seq = sequence_of(path)
        if seq is None or path.name.endswith(PARTIAL_SUFFIX):
            continue
        info = _closed_info(path, index.get(seq), recording_id, camera, seq, offset, fps)
        if info is not None:
            out.append(info)
    return out


def closed_recording_segments(rec_dir: Path, plan: RecordingPlan) -> list[SegmentInfo]:
    """Every closed segment file of a recording, every camera."""
    return [
        info
        for spec in plan.cameras
        for info in closed_segments(
            rec_dir, str(spec["id"]), plan.recording_id, _fps(plan, str(spec["id"]))
        )
    ]


def salvage_leftovers(
    rec_dir: Path, camera: str, recording_id: str, emit: Callable[[SegmentInfo], None]
) -> int:
    """Salvage a camera's partials now (its encoder failed); announce them; its count."""
    plan = read_record(rec_dir).plan
    fps = _fps(plan, camera)
    result = recover_camera(rec_dir, camera, recording_id, fps)
    for s in result.salvaged:
        emit(s.info)
    return result.count


@dataclass(frozen=True)
class RecoveredRecording:
    """A recording recovery closed as interrupted."""

    plan: RecordingPlan
    marker: ClosedMarker
    cameras: dict[str, CameraRecovery]

    @property
    def segments(self) -> list[SegmentInfo]:
        return [s for c in self.cameras.values() for s in c.segments]

    @property
    def salvaged(self) -> list[Salvage]:
        return [s for c in self.cameras.values() for s in c.salvaged]


def recover_recordings(
    state_dir: Path,
    on_segment: Callable[[SegmentInfo], None] | None = None,
    now_iso: Callable[[], str] | None = None,
) -> list[RecoveredRecording]:
    """Close every recording under ``state_dir`` that was cut off; announce its segments.

    Blocking (reads and hashes files): run it in a thread before recording anything new.
    """
    root = state_dir / RECORDINGS_DIR
    if not root.is_dir():
        return []
    out: list[RecoveredRecording] = []
    for rec_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            record = read_record(rec_dir)
        except (OSError, ValueError) as e:
            log.warning("%s: no readable recording.json (%s); left alone", rec_dir, e)
            continue
        if record.closed is not None:
            continue
        out.append(_recover(rec_dir, record.plan, on_segment, now_iso))
    return out


def _recover(
    rec_dir: Path,
    plan: RecordingPlan,
    on_segment: Callable[[SegmentInfo], None] | None,
    now_iso: Callable[[], str] | None,
) -> RecoveredRecording:
    log.info("recovering recording %s", plan.recording_id)
    cameras: dict[str, CameraRecovery] = {}
    for spec in plan.cameras:
        cam = str(spec["id"])
        cameras[cam] = recover_camera(rec_dir, cam, plan.recording_id, _fps(plan, cam))
    if on_segment is not None:
        for c in cameras.values():
            for info in c.segments:
                on_segment(info)
    marker = ClosedMarker(
        at_iso=now_iso() if now_iso else _utc_now_iso(),
        interrupted=True,
        segments={cam: c.count for cam, c in cameras.items()},
        missing={cam: c.missing for cam, c in cameras.items() if c.missing},
    )
    write_record(rec_dir, RecordingRecord(plan, marker))
    log.info("recording %s closed as interrupted: %s", plan.recording_id, marker.segments)
    return RecoveredRecording(plan, marker, cameras)


def _fps(plan: RecordingPlan, camera: str) -> float:
    for spec in plan.cameras:
        if spec["id"] == camera:
            return float(spec["video"]["fps"])
    raise KeyError(camera)


def _utc_now_iso() -> str:
    return datetime.now(UTC).isoformat()
