"""Seek thumbnails made while a lesson is assembled live: the same pictures as from the file."""

from __future__ import annotations

import os
from pathlib import Path

import av
import pytest

from lessoncam_server.media.previews import (
    LiveTiles,
    ThumbnailStrip,
    default_interval,
    make_thumbnail_strip,
)
from lessoncam_server.media.remux import AssembledVideo, LiveAssembly, SegmentFile

from ..mediagen import GeneratedSegment, make_segments, read_frame_index
from .test_previews import tiles

FPS = 30


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> list[GeneratedSegment]:
    """30 s, 320x240, a keyframe every second, in three 10 s segments, no sound."""
    return make_segments(tmp_path_factory.mktemp("rec"), seconds=30.0, segment_s=10.0, audio=False)


def assemble_live(segments: list[SegmentFile], out: Path, live: LiveTiles) -> AssembledVideo:
    assembly = LiveAssembly(out, with_audio=False, on_keyframe=live.add)
    for seg in segments:
        assembly.add(seg)
    return assembly.finish(len(segments))


def files(segments: list[GeneratedSegment]) -> list[SegmentFile]:
    return [SegmentFile(s.sequence, s.start_s, s.duration_s, s.path) for s in segments]


def indexes(strip: ThumbnailStrip) -> list[int]:
    return [read_frame_index(t) for t in tiles(strip)]


def test_the_strip_shows_what_the_file_shows_and_only_tile_keyframes_are_decoded(
    recorded: list[GeneratedSegment], tmp_path: Path
) -> None:
    # At most 4 tiles: the interval grows 2 -> 4 -> 8 s while the 30 s are written.
    live = LiveTiles(width=320, most=4)
    video = assemble_live(files(recorded), tmp_path / "lesson.mp4", live)
    from_live = make_thumbnail_strip(video.path, tmp_path / "live.jpg", width=320, live=live)
    from_file = make_thumbnail_strip(video.path, tmp_path / "file.jpg", width=320, interval_s=8)
    assert from_live.interval_s == 8.0 and from_live.count == 4
    assert indexes(from_live) == indexes(from_file) == [0, 8 * FPS, 16 * FPS, 24 * FPS]
    # 0, 2, 4, 6, then 8, 12, then 16, 24: not the 30 keyframes of the lesson.
    assert live.decoded == 8
    assert sorted(live.tiles) == [0, 8, 16, 24]  # the others were let go as the interval grew


def test_a_hole_shows_the_last_picture_before_it_as_from_the_file(
    recorded: list[GeneratedSegment], tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage.ts"
    garbage.write_bytes(os.urandom(50_000))
    segments = files(recorded)
    segments[1] = SegmentFile(1, segments[1].start_s, segments[1].duration_s, garbage)
    live = LiveTiles(width=320, most=10)
    video = assemble_live(segments, tmp_path / "lesson.mp4", live)
    assert video.unusable_segments == [1]
    from_live = make_thumbnail_strip(video.path, tmp_path / "live.jpg", width=320, live=live)
    from_file = make_thumbnail_strip(video.path, tmp_path / "file.jpg", width=320, interval_s=4)
    assert indexes(from_live) == indexes(from_file)
    # 8 s; at 12 and 16 s (segment 1 is lost) the keyframe at 9 s; 20 s.
    assert indexes(from_live)[2:6] == [8 * FPS, 9 * FPS, 9 * FPS, 20 * FPS]


def test_an_undecodable_keyframe_leaves_the_strip_to_the_file(
    recorded: list[GeneratedSegment], tmp_path: Path
) -> None:
    video = assemble_live(files(recorded), tmp_path / "lesson.mp4", LiveTiles())
    live = LiveTiles(width=320, most=10)
    with av.open(str(recorded[0].path)) as src:
        stream = src.streams.video[0]
        for t in (0.0, 1.0):
            junk = av.Packet(os.urandom(3000))
            junk.stream = stream
            live.add(junk, t)
    assert live.broken is not None and not live.tiles
    from_live = make_thumbnail_strip(video.path, tmp_path / "live.jpg", width=320, live=live)
    from_file = make_thumbnail_strip(video.path, tmp_path / "file.jpg", width=320, interval_s=4)
    assert from_live.interval_s == 4.0
    assert indexes(from_live) == indexes(from_file) == [i * 4 * FPS for i in range(8)]


def test_a_failing_thumbnail_never_reaches_the_live_assembly() -> None:
    """Whatever goes wrong with a keyframe (here: a packet of no stream) gives up the tiles,
    without an exception into the writer that called."""
    live = LiveTiles()
    live.add(av.Packet(b"\x00\x00\x01\x65"), 0.0)
    live.add(av.Packet(b"\x00\x00\x01\x65"), 1.0)
    assert live.broken is not None and not live.tiles


def test_tiles_of_another_width_are_not_used(
    recorded: list[GeneratedSegment], tmp_path: Path
) -> None:
    live = LiveTiles(width=80, most=10)
    video = assemble_live(files(recorded), tmp_path / "lesson.mp4", live)
    strip = make_thumbnail_strip(video.path, tmp_path / "s.jpg", width=320, live=live)
    assert (strip.width, strip.height) == (320, 240)
    assert indexes(strip) == [i * 4 * FPS for i in range(8)]


@pytest.mark.parametrize(
    ("duration", "interval"),
    [(0, 2), (30, 2), (200, 2), (200.5, 4), (2700.4, 32), (3600, 64), (5400, 64)],
)
def test_the_default_interval_is_a_power_of_two_for_at_most_100_tiles(
    duration: float, interval: float
) -> None:
    assert default_interval(duration) == interval
    assert duration / interval <= 100
    if duration > 200:
        assert duration / interval > 50  # never fewer than half
