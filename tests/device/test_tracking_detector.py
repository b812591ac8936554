"""Marker detection on rendered classroom frames: sizes, blur, light, foreign and twin markers,
region-of-interest search and the full-frame rate limit."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from lessoncam_device.pictures import as_luma
from lessoncam_device.sim.figures import marker_card
from lessoncam_device.sim.geometry import MarkerSpec, Optics
from lessoncam_device.sim.scene import Scene
from lessoncam_device.sim.teacher_path import TeacherPose
from lessoncam_device.tracking.detector import DetectorSettings, Hint, MarkerDetector

from .sim_helpers import shared_scene

OPTICS = Optics(1920, 1080, 66.0)


def gray_view(
    scene: Scene, pose: TeacherPose, pan: float = 0.0, blur: float = 0.0, light: float = 1.0
) -> np.ndarray:
    bgr = scene.render(OPTICS, pan, pose, teacher_blur_px=blur, brightness=light)
    return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), np.uint8)


@pytest.mark.parametrize(
    ("distance", "blur", "light"),
    [
        (3.0, 0.0, 1.0),  # ~99 px
        (5.5, 6.0, 1.0),  # walking blur
        (7.4, 0.0, 0.45),  # dim room
        (7.4, 3.0, 1.5),  # overexposed, a little blur
        (8.5, 0.0, 1.0),  # ~35 px, the back of a deep room
    ],
)
def test_finds_the_marker_where_it_is(distance: float, blur: float, light: float) -> None:
    scene = shared_scene()
    pose = TeacherPose(12.0, distance)
    truth = scene.marker_corners(OPTICS, 0.0, pose)
    assert truth is not None
    detector = MarkerDetector(DetectorSettings(ids=(7,)))
    result = detector.detect(gray_view(scene, pose, blur=blur, light=light), 0.0)
    assert result.searched == "full" and result.detection is not None
    found = result.detection
    assert found.marker_id == 7
    assert math.dist(found.centre, tuple(truth.mean(axis=0))) < 1.0 + blur / 2
    # Again, as a hint would have it: only the region around it is searched.
    hint = Hint(found.centre[0] + 40, found.centre[1] - 25, found.side_px)
    again = detector.detect(gray_view(scene, pose, blur=blur, light=light), 0.05, hint)
    assert again.searched == "roi" and again.detection is not None
    assert np.allclose(again.detection.corners, found.corners, atol=0.5)
    x0, y0, x1, y1 = again.region or (0, 0, 0, 0)
    assert (x1 - x0, y1 - y0) == (max(320, math.ceil(4 * hint.side_px)),) * 2


def test_full_frame_searches_are_rate_limited() -> None:
    scene = shared_scene()
    detector = MarkerDetector(DetectorSettings(ids=(7,), reacquire_hz=5.0))
    empty = gray_view(scene, TeacherPose(0.0, 7.0, hidden=True))
    assert detector.detect(empty, 10.0).searched == "full"
    assert detector.detect(empty, 10.1).searched == "skipped"
    far_off = Hint(100.0, 100.0, 30.0)
    assert detector.detect(empty, 10.15, far_off).searched == "roi"
    result = detector.detect(empty, 10.25, far_off)
    assert result.searched == "roi+full" and result.detection is None


def test_a_foreign_marker_is_ignored_and_named() -> None:
    scene = Scene(marker=MarkerSpec(marker_id=3))
    frame = gray_view(scene, TeacherPose(-5.0, 6.0))
    result = MarkerDetector(DetectorSettings(ids=(7,))).detect(frame, 0.0)
    assert result.detection is None and result.foreign_ids == (3,)
    accepted = MarkerDetector(DetectorSettings(ids=(7, 3))).detect(frame, 0.0)
    assert accepted.detection is not None and accepted.detection.marker_id == 3


def test_two_of_our_markers_the_one_near_the_hint_wins() -> None:
    scene = shared_scene()
    frame = gray_view(scene, TeacherPose(-12.0, 6.0))
    truth = scene.marker_corners(OPTICS, 0.0, TeacherPose(-12.0, 6.0))
    assert truth is not None
    # A second copy of the same marker on the wall to the right (a poster of it).
    card = marker_card(MarkerSpec(), cell_px=10)
    frame[300 : 300 + card.shape[0], 1500 : 1500 + card.shape[1]] = card
    detector = MarkerDetector(DetectorSettings(ids=(7,), roi_px=1920))
    near_poster = detector.detect(frame, 0.0, Hint(1550.0, 350.0, 50.0))
    assert near_poster.candidates == 2
    assert near_poster.detection is not None and near_poster.detection.centre[0] > 1400
    x, y = truth.mean(axis=0)
    near_her = detector.detect(frame, 1.0, Hint(float(x), float(y), 40.0))
    assert near_her.detection is not None
    assert math.dist(near_her.detection.centre, (x, y)) < 1.0


def test_settings_refuse_ids_outside_the_dictionary() -> None:
    with pytest.raises(ValueError, match="not in DICT_4X4_50"):
        DetectorSettings(ids=(7, 60))


@pytest.mark.parametrize(("distance", "light"), [(7.4, 0.45), (8.5, 1.0)])
def test_finds_the_marker_in_a_pi_cameras_own_luma(distance: float, light: float) -> None:
    """On a Pi the tracker reads the I420 picture's Y plane (video range, 16-235) as it is."""
    scene = shared_scene()
    pose = TeacherPose(12.0, distance)
    truth = scene.marker_corners(OPTICS, 0.0, pose)
    assert truth is not None
    bgr = scene.render(OPTICS, 0.0, pose, brightness=light)
    luma = as_luma(np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420), np.uint8))
    result = MarkerDetector(DetectorSettings(ids=(7,))).detect(luma, 0.0)
    assert result.detection is not None and result.detection.marker_id == 7
    assert math.dist(result.detection.centre, tuple(truth.mean(axis=0))) < 1.0
