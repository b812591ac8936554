"""Poster and thumbnail strip from an assembled lesson video."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from lessoncam_server.media.previews import (
    PreviewError,
    ThumbnailStrip,
    default_interval,
    make_poster,
    make_thumbnail_strip,
)
from lessoncam_server.media.remux import SegmentFile, assemble_camera

from ..mediagen import make_segments, read_frame_index

FPS = 30


@pytest.fixture(scope="module")
def lesson(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 30 s assembled video, 320x240, a keyframe every second."""
    tmp = tmp_path_factory.mktemp("lesson")
    segs = make_segments(tmp / "in", seconds=30.0, segment_s=10.0, audio=False)
    files = [SegmentFile(s.sequence, s.start_s, s.duration_s, s.path) for s in segs]
    return assemble_camera(files, len(files), tmp / "lesson.mp4").path


@pytest.fixture(scope="module")
def lesson_with_holes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 s with its first and third 10 s missing."""
    tmp = tmp_path_factory.mktemp("holes")
    segs = make_segments(tmp / "in", seconds=40.0, segment_s=10.0, audio=False)
    files = [SegmentFile(s.sequence, s.start_s, s.duration_s, s.path) for s in segs]
    return assemble_camera([files[1], files[3]], 4, tmp / "lesson.mp4").path


def read_jpeg(path: Path) -> np.ndarray:
    assert path.read_bytes()[:2] == b"\xff\xd8"
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    assert image is not None
    return np.asarray(image)


def tiles(strip: ThumbnailStrip) -> list[np.ndarray]:
    sprite = read_jpeg(strip.path)
    rows = -(-strip.count // strip.columns)
    assert sprite.shape == (rows * strip.height, strip.columns * strip.width)
    out = []
    for i in range(strip.count):
        r, c = divmod(i, strip.columns)
        out.append(
            sprite[
                r * strip.height : (r + 1) * strip.height, c * strip.width : (c + 1) * strip.width
            ]
        )
    return out


def test_poster_is_the_keyframe_at_a_tenth(lesson: Path, tmp_path: Path) -> None:
    out = make_poster(lesson, tmp_path / "poster.jpg")
    image = read_jpeg(out)
    assert image.shape == (240, 320)  # never scaled up
    assert read_frame_index(image) == 3 * FPS  # 10% of 30 s, a keyframe
    assert [p.name for p in tmp_path.iterdir()] == ["poster.jpg"]


def test_poster_is_scaled_down_to_max_width(lesson: Path, tmp_path: Path) -> None:
    out = make_poster(lesson, tmp_path / "poster.jpg", at_fraction=0.5, max_width=160)
    assert read_jpeg(out).shape == (120, 160)


def test_poster_replaces_the_old_one(lesson: Path, tmp_path: Path) -> None:
    out = tmp_path / "poster.jpg"
    out.write_bytes(b"old")
    make_poster(lesson, out)
    assert out.read_bytes()[:2] == b"\xff\xd8"


def test_default_strip(lesson: Path, tmp_path: Path) -> None:
    strip = make_thumbnail_strip(lesson, tmp_path / "thumbs.jpg")
    assert strip.interval_s == 2.0 and strip.count == 15 and strip.columns == 10
    assert (strip.width, strip.height) == (160, 120)
    assert len(tiles(strip)) == 15


def test_strip_tiles_are_in_time_order(lesson: Path, tmp_path: Path) -> None:
    strip = make_thumbnail_strip(lesson, tmp_path / "thumbs.jpg", interval_s=3.0, width=320)
    assert strip.count == 10 and (strip.width, strip.height) == (320, 240)
    assert [read_frame_index(t) for t in tiles(strip)] == [i * 3 * FPS for i in range(10)]


def test_strip_respects_max_count(lesson: Path, tmp_path: Path) -> None:
    strip = make_thumbnail_strip(lesson, tmp_path / "t.jpg", interval_s=1.0, max_count=4)
    assert strip.count == 4 and strip.interval_s == pytest.approx(7.5)
    assert strip.columns == 4


def test_strip_over_holes_follows_the_player(lesson_with_holes: Path, tmp_path: Path) -> None:
    strip = make_thumbnail_strip(lesson_with_holes, tmp_path / "t.jpg", interval_s=5.0, width=320)
    assert strip.count == 8  # the timeline is 40 s: nothing moved
    found = tiles(strip)
    assert found[0].mean() < 20 and found[1].mean() < 20  # before the first picture: black
    indexes = [read_frame_index(t) for t in found[2:]]
    # 10 s and 15 s; the hole at 20-30 s shows the last picture before it; then 30 s, 35 s.
    assert indexes == [300, 450, 570, 570, 900, 1050]


def test_poster_of_a_video_with_a_missing_start(lesson_with_holes: Path, tmp_path: Path) -> None:
    image = read_jpeg(make_poster(lesson_with_holes, tmp_path / "p.jpg", at_fraction=0.0))
    assert read_frame_index(image) == 300


def test_default_interval() -> None:
    assert default_interval(30) == 2.0
    assert default_interval(3600) == 64.0
    assert default_interval(2700.4) == 32.0


def test_unreadable_video(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 1000)
    with pytest.raises(PreviewError):
        make_poster(bad, tmp_path / "p.jpg")
    with pytest.raises(PreviewError):
        make_thumbnail_strip(bad, tmp_path / "t.jpg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mp4"]
