"""Assembly of synthetic segments into one faststart MP4: placement, gaps, damage, A/V sync."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np
import pytest

from lessoncam_server.media import remux
from lessoncam_server.media.remux import (
    AssembledVideo,
    LiveAssembly,
    RemuxError,
    SegmentFile,
    assemble_camera,
    probe,
)

from ..mediagen import (
    GeneratedSegment,
    beep_onsets,
    flash_times,
    make_segments,
    top_level_boxes,
    truncate,
    video_frames,
)

FPS = 30
FRAME = 1 / FPS
SECONDS = 30.0
SEGMENT_S = 5.0
COUNT = int(SECONDS / SEGMENT_S)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> list[GeneratedSegment]:
    """30 s with audio in six 5 s MPEG-TS segments from one continuous encoder."""
    return make_segments(tmp_path_factory.mktemp("rec"), seconds=SECONDS, segment_s=SEGMENT_S)


def files(segments: Sequence[GeneratedSegment]) -> list[SegmentFile]:
    return [SegmentFile(s.sequence, s.start_s, s.duration_s, s.path) for s in segments]


def copied(segments: Sequence[GeneratedSegment], dest: Path) -> list[GeneratedSegment]:
    """Private copies, for tests that damage files."""
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for s in segments:
        path = dest / s.path.name
        shutil.copyfile(s.path, path)
        out.append(GeneratedSegment(s.sequence, s.start_s, s.duration_s, path, s.sha256, s.frames))
    return out


def assert_frames_at_true_time(path: Path) -> list[float]:
    """Every frame shows the picture recorded at its output time; returns the frame times."""
    frames = video_frames(path)
    assert frames, "no frames decoded"
    for f in frames:
        assert abs(f.index * FRAME - f.time_s) < FRAME / 2, (f.index, f.time_s)
    times = [f.time_s for f in frames]
    assert times == sorted(times)
    return times


def assert_in_sync(path: Path) -> None:
    """Each white flash has its beep within one frame, and vice versa."""
    flashes, beeps = flash_times(path), beep_onsets(path)
    assert flashes and len(flashes) == len(beeps), (flashes, beeps)
    for flash, beep in zip(flashes, beeps, strict=True):
        assert abs(flash - beep) <= FRAME, (flash, beep)


def assert_dts_increasing(path: Path) -> None:
    with av.open(str(path)) as c:
        last: dict[int, int] = {}
        for p in c.demux():
            if p.dts is None:
                continue
            assert p.dts > last.get(p.stream_index, -(2**62)), (p.stream.type, p.dts)
            last[p.stream_index] = p.dts


def no_temp_files(directory: Path) -> bool:
    return not [p for p in directory.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.slow
def test_all_segments_make_one_playable_faststart_mp4(
    recorded: list[GeneratedSegment], tmp_path: Path
) -> None:
    out = tmp_path / "cam.mp4"
    video = assemble_camera(files(recorded), COUNT, out)

    assert isinstance(video, AssembledVideo)
    assert video.path == out and out.exists() and no_temp_files(tmp_path)
    assert abs(video.duration_s - SECONDS) <= FRAME
    assert (video.width, video.height, video.has_audio) == (320, 240, True)
    assert video.size == out.stat().st_size
    assert video.gaps == [] and video.unusable_segments == []

    info = probe(out)
    assert sorted(s["type"] for s in info["streams"]) == ["audio", "video"]
    (vinfo,) = [s for s in info["streams"] if s["type"] == "video"]
    assert vinfo["frames"] == SECONDS * FPS

    boxes = top_level_boxes(out)
    assert boxes[0] == "ftyp" and boxes.index("moov") < boxes.index("mdat")

    times = assert_frames_at_true_time(out)
    assert len(times) == SECONDS * FPS and times[0] == 0.0
    assert_in_sync(out)
    assert_dts_increasing(out)


def test_aac_is_stored_the_mp4_way(recorded: list[GeneratedSegment], tmp_path: Path) -> None:
    """ADTS headers from MPEG-TS are gone and the AudioSpecificConfig is in the track header."""
    out = assemble_camera(files(recorded[:2]), 2, tmp_path / "cam.mp4").path
    with av.open(str(out)) as c:
        audio = c.streams.audio[0]
        assert audio.codec_context.extradata  # AudioSpecificConfig (esds)
        for packet, _ in zip(c.demux(audio), range(20), strict=False):
            if packet.size:
                head = bytes(packet)[:2]
                assert not (head[0] == 0xFF and head[1] & 0xF0 == 0xF0), "ADTS header left in"


def test_missing_middle_segment_stays_a_gap(
    recorded: list[GeneratedSegment], tmp_path: Path
) -> None:
    kept = [s for s in recorded if s.sequence != 2]
    video = assemble_camera(files(kept), COUNT, tmp_path / "cam.mp4")

    assert video.gaps == [(10.0, 15.0)]
    assert abs(video.duration_s - SECONDS) <= FRAME  # nothing was squeezed out
    times = assert_frames_at_true_time(video.path)
    assert not [t for t in times if 10.0 + FRAME / 2 < t < 15.0 - FRAME / 2]
    assert min(t for t in times if t > 10.0) == pytest.approx(15.0)
    assert_in_sync(video.path)
    assert [round(t) for t in flash_times(video.path)][10:12] == [15, 16]


def one_frame_tail(path: Path) -> Path:
    """What a unit writes when a lesson stops just after a boundary: an AAC packet, then a
    single (white, so tiny) keyframe. FFmpeg's format guess takes it for MP2 audio."""
    with av.open(str(path), "w", format="mpegts") as out:
        video = out.add_stream("libx264", rate=30)
        video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
        audio = out.add_stream("aac", rate=48000)
        sound = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), "fltp", "mono")
        sound.sample_rate, sound.pts = 48000, 0
        for packet in [*audio.encode(sound), *audio.encode(None)]:
            out.mux(packet)
        white = av.VideoFrame.from_ndarray(np.full((240, 320, 3), 255, np.uint8), "bgr24")
        for packet in [*video.encode(white), *video.encode(None)]:
            out.mux(packet)
    return path


def test_a_last_segment_of_one_frame_is_kept(
    recorded: list[GeneratedSegment], tmp_path: Path
) -> None:
    tail = one_frame_tail(tmp_path / "tail.ts")
    last = SegmentFile(COUNT, SECONDS, FRAME, tail)
    video = assemble_camera([*files(recorded), last], COUNT + 1, tmp_path / "cam.mp4")
    assert video.unusable_segments == [] and video.gaps == []
    assert video.duration_s == pytest.approx(SECONDS + FRAME, abs=FRAME)


def test_missing_first_and_last_segments(recorded: list[GeneratedSegment], tmp_path: Path) -> None:
    video = assemble_camera(files(recorded[1:-1]), COUNT, tmp_path / "cam.mp4")

    assert video.gaps == [(0.0, 5.0), (25.0, 30.0)]
    assert abs(video.duration_s - 25.0) <= FRAME  # the head stays, the tail cannot be stored
    times = assert_frames_at_true_time(video.path)
    assert times[0] == pytest.approx(5.0) and times[-1] == pytest.approx(25.0 - FRAME)
    assert_in_sync(video.path)


def test_truncated_last_segment_is_used_as_far_as_readable(
    recorded: list[GeneratedSegment], tmp_path: Path
) -> None:
    segs = copied(recorded, tmp_path / "in")
    truncate(segs[-1].path, 0.6)  # power cut while writing the last file
    video = assemble_camera(files(segs), COUNT, tmp_path / "cam.mp4")

    assert video.unusable_segments == []
    ((gap_start, gap_end),) = video.gaps
    assert 26.0 < gap_start < 29.5 and gap_end == SECONDS
    assert video.duration_s == pytest.approx(gap_start, abs=0.1)
    times = assert_frames_at_true_time(video.path)
    assert times[-1] > 26.0
    assert_in_sync(video.path)


def test_garbage_segment_counts_as_a_gap(recorded: list[GeneratedSegment], tmp_path: Path) -> None:
    segs = copied(recorded, tmp_path / "in")
    segs[3].path.write_bytes(os.urandom(50_000))
    empty = tmp_path / "in" / "empty.ts"
    empty.write_bytes(b"")
    listed = files(segs)
    listed[4] = SegmentFile(4, listed[4].start_s, listed[4].duration_s, empty)

    video = assemble_camera(listed, COUNT, tmp_path / "cam.mp4")

    assert video.unusable_segments == [3, 4]
    assert video.gaps == [(15.0, 25.0)]
    times = assert_frames_at_true_time(video.path)
    assert min(t for t in times if t > 15.0) == pytest.approx(25.0)
    assert_in_sync(video.path)


def test_first_segment_unreadable(recorded: list[GeneratedSegment], tmp_path: Path) -> None:
    segs = copied(recorded[:3], tmp_path / "in")
    segs[0].path.write_bytes(b"\x47" + bytes(5000))  # a sync byte, then nothing
    video = assemble_camera(files(segs), 3, tmp_path / "cam.mp4")
    assert video.unusable_segments == [0] and video.gaps == [(0.0, 5.0)]
    assert assert_frames_at_true_time(video.path)[0] == pytest.approx(5.0)


def test_nothing_usable_raises(recorded: list[GeneratedSegment], tmp_path: Path) -> None:
    junk = tmp_path / "junk.ts"
    junk.write_bytes(os.urandom(10_000))
    out = tmp_path / "cam.mp4"
    with pytest.raises(RemuxError):
        assemble_camera([SegmentFile(0, 0.0, 5.0, junk)], 1, out)
    with pytest.raises(RemuxError):
        assemble_camera([], 3, out)
    assert not out.exists() and no_temp_files(tmp_path)


@pytest.mark.slow
def test_restarting_timestamps(tmp_path: Path) -> None:
    segs = make_segments(tmp_path / "in", seconds=15.0, segment_s=5.0, continuous=False)
    with av.open(str(segs[2].path)) as c:  # the premise: every file starts at the same pts
        assert c.streams.video[0].start_time == pytest.approx(10 * 90000, abs=2)
    video = assemble_camera(files([segs[0], segs[2]]), 3, tmp_path / "cam.mp4")
    assert video.gaps == [(5.0, 10.0)]
    assert abs(video.duration_s - 15.0) <= FRAME
    assert_frames_at_true_time(video.path)
    assert_in_sync(video.path)


def test_segments_are_placed_at_their_declared_time(
    recorded: list[GeneratedSegment], tmp_path: Path
) -> None:
    """The manifest decides: a segment declared 2 s late is shown 2 s late, audio with it."""
    listed = files(recorded[:2])
    listed[1] = SegmentFile(1, 7.0, 5.0, listed[1].path)
    video = assemble_camera(listed, 2, tmp_path / "cam.mp4")
    assert video.gaps == [(5.0, 7.0)]
    frames = video_frames(video.path)
    later = [f for f in frames if f.index >= 150]
    assert later[0].time_s == pytest.approx(7.0)
    assert all(abs(f.time_s - (f.index * FRAME + 2.0)) < FRAME / 2 for f in later)
    assert_in_sync(video.path)


def test_overlapping_declared_times_keep_dts_increasing(
    recorded: list[GeneratedSegment], tmp_path: Path
) -> None:
    listed = files(recorded[:3])
    # Segment 1 declared half a second early: its overlapping start is dropped up to its next
    # keyframe. Segment 2 a hair (< half a frame) early: its first packets are nudged.
    listed[1] = SegmentFile(1, 4.5, 5.0, listed[1].path)
    listed[2] = SegmentFile(2, 9.5 - 0.01, 5.0, listed[2].path)
    video = assemble_camera(listed, 3, tmp_path / "cam.mp4")
    assert_dts_increasing(video.path)
    assert video.gaps == [(5.0, 5.5)]
    frames = video_frames(video.path)
    assert [f.index for f in frames if 4.9 < f.time_s < 5.52] == [148, 149, 180]
    assert frames[-1].index == 449 and frames[-1].time_s == pytest.approx(14.49 - FRAME, abs=0.002)


def test_video_only_camera(tmp_path: Path) -> None:
    segs = make_segments(tmp_path / "in", seconds=10.0, segment_s=5.0, audio=False)
    video = assemble_camera(files(segs), 2, tmp_path / "cam.mp4")
    assert not video.has_audio
    assert [s["type"] for s in probe(video.path)["streams"]] == ["video"]
    assert abs(video.duration_s - 10.0) <= FRAME


@pytest.mark.slow
def test_b_frames_and_fragmented_mp4_input(tmp_path: Path) -> None:
    """Other encoders: B-frames (pts != dts), segments in fragmented MP4."""
    segs = make_segments(
        tmp_path / "in",
        seconds=10.0,
        segment_s=5.0,
        fmt="mp4",
        video_options={"preset": "veryfast", "tune": "film"},
    )
    video = assemble_camera(files(segs), 2, tmp_path / "cam.mp4")
    assert video.gaps == [] and abs(video.duration_s - 10.0) <= FRAME
    times = assert_frames_at_true_time(video.path)
    assert times[0] == pytest.approx(0.0) and len(times) == 300
    assert_in_sync(video.path)


def test_too_small_index_reservation_falls_back_to_faststart(
    recorded: list[GeneratedSegment], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(remux.assemble, "MOOV_BASE_BYTES", 512)
    monkeypatch.setattr(remux.assemble, "MOOV_BYTES_PER_SAMPLE", 0)
    video = assemble_camera(files(recorded[:2]), 2, tmp_path / "cam.mp4")
    boxes = top_level_boxes(video.path)
    assert boxes.index("moov") < boxes.index("mdat")
    assert len(assert_frames_at_true_time(video.path)) == 300
    assert no_temp_files(tmp_path)


def test_output_replaces_a_served_file_without_touching_it(
    recorded: list[GeneratedSegment], tmp_path: Path
) -> None:
    out = tmp_path / "cam.mp4"
    out.write_bytes(b"old version")
    with out.open("rb") as served:  # a reader (sendfile) holding the old file
        assemble_camera(files(recorded[:1]), 1, out)
        assert served.read() == b"old version"
    assert out.read_bytes()[4:8] == b"ftyp"


def test_duplicate_and_unexpected_sequences(
    recorded: list[GeneratedSegment], tmp_path: Path
) -> None:
    listed = files(recorded[:2])
    video = assemble_camera([*listed, listed[1]], 2, tmp_path / "cam.mp4")
    assert video.gaps == [] and abs(video.duration_s - 10.0) <= FRAME


def test_a_live_assembly_that_cannot_finish_says_so(
    recorded: list[GeneratedSegment], tmp_path: Path
) -> None:
    # Longer than its reserved index room: the caller falls back to the full assembly.
    live = LiveAssembly(tmp_path / "long.mp4", with_audio=True, max_hours=10 / 3600)
    for seg in files(recorded):
        live.add(seg)
    with pytest.raises(RemuxError, match="reserved"):
        live.finish(COUNT)
    # A segment that never came: the same.
    live = LiveAssembly(tmp_path / "gap.mp4", with_audio=True)
    for seg in files(recorded)[:-1]:
        live.add(seg)
    with pytest.raises(RemuxError, match=f"{COUNT - 1} of {COUNT}"):
        live.finish(COUNT)
    # Neither leaves a file behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == []
