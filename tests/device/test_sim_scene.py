"""The simulated classroom: real OpenCV ArUco detection on rendered views agrees with physics."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from lessoncam_device.sim.figures import marker_card
from lessoncam_device.sim.geometry import (
    MarkerSpec,
    Optics,
    SceneConfig,
    apparent_size_px,
    focal_length_px,
)
from lessoncam_device.sim.panorama import build_panorama
from lessoncam_device.sim.teacher_path import (
    SCENARIOS,
    SITTING_DROP_M,
    TeacherPose,
    polar,
    position_at,
)

from .sim_helpers import MARKER, detect, shared_scene

OPTICS = Optics(1280, 720, 66.0)


def test_focal_length_matches_the_measured_fact() -> None:
    # Design brief: with a 66 deg lens a 24 px marker is ~20 cm wide at 8 m on a 1280 px image.
    f = focal_length_px(1280, 66.0)
    assert apparent_size_px(0.20, 8.0, f) == pytest.approx(24.6, abs=0.1)


@pytest.mark.parametrize("distance_m", [3.0, 8.0])
def test_marker_is_detected_at_the_size_physics_predicts(distance_m: float) -> None:
    scene = shared_scene()
    pose = TeacherPose(0.0, distance_m)
    found = detect(scene.render(OPTICS, 0.0, pose))
    assert found is not None
    predicted = apparent_size_px(MARKER.size_m, distance_m, OPTICS.focal_px)
    assert found.side_px == pytest.approx(predicted, rel=0.10)
    truth = scene.marker_corners(OPTICS, 0.0, pose)
    assert truth is not None
    assert np.abs(found.corners - truth).max() < 1.5


def test_off_axis_marker_is_stretched_as_by_a_rectilinear_lens() -> None:
    scene = shared_scene()
    off = 25.0
    pose = TeacherPose(off, 5.0)
    found = detect(scene.render(OPTICS, 0.0, pose))
    assert found is not None
    on_axis = apparent_size_px(MARKER.size_m, 5.0, OPTICS.focal_px)
    c = math.cos(math.radians(off))
    assert found.width_px == pytest.approx(on_axis / c**2, rel=0.08)
    assert found.height_px == pytest.approx(on_axis / c, rel=0.08)
    assert found.centre[0] == pytest.approx(
        OPTICS.cx + OPTICS.focal_px * math.tan(math.radians(off)), abs=1.5
    )
    assert OPTICS.bearing_offset_deg(found.centre[0]) == pytest.approx(off, abs=0.1)


@pytest.mark.parametrize("distance_m", [3.0, 5.0, 8.0])
@pytest.mark.parametrize("sitting", [False, True])
def test_a_pupil_in_front_hides_the_marker(distance_m: float, sitting: bool) -> None:
    scene = shared_scene()
    pose = TeacherPose(0.0, distance_m, hidden=True, sitting=sitting)
    assert detect(scene.render(OPTICS, 0.0, pose)) is None
    assert scene.marker_corners(OPTICS, 0.0, pose) is None


def test_turned_away_or_out_of_the_room_shows_no_marker() -> None:
    scene = shared_scene()
    away = TeacherPose(0.0, 7.9, hidden=True, turned_away=True)
    assert detect(scene.render(OPTICS, 0.0, away)) is None
    gone = TeacherPose(0.0, 5.0, visible_in_room=False)
    assert np.array_equal(scene.render(OPTICS, 0.0, gone), scene.render(OPTICS, 0.0, None))


def test_sitting_lowers_the_marker_and_it_is_still_found() -> None:
    scene = shared_scene()
    bearing, distance = polar(0.2, 4.85)
    standing = detect(scene.render(OPTICS, bearing, TeacherPose(bearing, distance)))
    sitting = detect(scene.render(OPTICS, bearing, TeacherPose(bearing, distance, sitting=True)))
    assert standing is not None and sitting is not None
    drop_px = OPTICS.focal_px * SITTING_DROP_M / distance
    assert sitting.centre[1] - standing.centre[1] == pytest.approx(drop_px, abs=2.0)


def test_seated_pupils_can_hide_a_sitting_teacher() -> None:
    # Not scripted: the geometry does it. The ground truth and the detector agree.
    scene = shared_scene()
    hidden = []
    for x in np.arange(-3.5, 3.51, 0.25):
        bearing, distance = polar(float(x), 5.95)
        pose = TeacherPose(bearing, distance, sitting=True)
        truth = scene.marker_corners(OPTICS, bearing, pose)
        if truth is None:
            hidden.append(pose)
    assert hidden
    pose = hidden[0]
    assert detect(scene.render(OPTICS, pose.bearing_deg, pose)) is None


@pytest.mark.parametrize("brightness", [0.45, 1.5])
def test_dark_and_bright_rooms_still_show_the_marker(brightness: float) -> None:
    image = shared_scene().render(OPTICS, 0.0, TeacherPose(0.0, 6.0), brightness=brightness)
    assert detect(image) is not None


def test_motion_blur_smears_but_does_not_lose_a_near_marker() -> None:
    scene = shared_scene()
    pose = TeacherPose(0.0, 3.0)
    sharp = scene.render(OPTICS, 0.0, pose)
    blurred = scene.render(OPTICS, 0.0, pose, teacher_blur_px=5.0)
    assert not np.array_equal(sharp, blurred)
    # Blur only touches her: the room far from her is unchanged.
    assert np.array_equal(sharp[:, :300], blurred[:, :300])
    assert detect(blurred) is not None


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenarios_are_seen_as_scripted(name: str) -> None:
    """With the camera on her, the marker is found exactly when the script says it is visible,
    and the ground truth agrees with the detector."""
    scene, path = shared_scene(), SCENARIOS[name]
    for t in np.arange(0.0, path.duration_s, 0.1):
        pose = position_at(path, float(t))
        if abs(pose.bearing_deg) > 90.0:
            continue  # behind the camera: no pan looks there
        truth = scene.marker_corners(OPTICS, pose.bearing_deg, pose)
        assert (truth is not None) == pose.marker_visible, (name, t)
    for t in np.arange(0.0, path.duration_s, 2.5):
        pose = position_at(path, float(t))
        if abs(pose.bearing_deg) > 90.0:
            continue
        found = detect(scene.render(OPTICS, pose.bearing_deg, pose))
        assert (found is not None) == pose.marker_visible, (name, t)


def test_marker_dictionary_and_id_are_configurable() -> None:
    spec = MarkerSpec(dictionary="DICT_5X5_100", marker_id=42)
    card = marker_card(spec)
    page = cv2.copyMakeBorder(card, 40, 40, 40, 40, cv2.BORDER_CONSTANT, value=225)
    found = detect(np.asarray(cv2.cvtColor(page, cv2.COLOR_GRAY2BGR), np.uint8), spec)
    assert found is not None
    # Printed ink and paper under room light, and a white quiet zone all round.
    assert card.shape[0] == card.shape[1] and set(np.unique(card)) == {30, 225}
    ring = np.concatenate([card[:4].ravel(), card[-4:].ravel(), card[:, :4].ravel()])
    assert (ring == 225).all()


def test_panorama_covers_the_field_and_is_reproducible() -> None:
    config = SceneConfig(field_deg=120.0, px_per_deg=4.0, margin_deg=20.0)
    image, depth = build_panorama(config)
    assert image.dtype == np.uint8 and image.shape[1] == round(160 * 4.0)
    assert image.shape[2] == 3 and depth.shape == image.shape[:2]
    assert image.shape[0] % 2 == 1  # the horizon is the middle row
    again, _ = build_panorama(config)
    assert np.array_equal(image, again)
    other, _ = build_panorama(SceneConfig(field_deg=120.0, px_per_deg=4.0, margin_deg=20, seed=8))
    assert not np.array_equal(image, other)
    assert depth.min() < 100 < depth.max()  # furniture is near, walls are "far"


def _ids(image: np.ndarray) -> set[int]:
    dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, MARKER.dictionary))
    _, ids, _ = cv2.aruco.ArucoDetector(dictionary, cv2.aruco.DetectorParameters()).detectMarkers(
        image
    )
    return set() if ids is None else {int(i) for i in ids.ravel()}


def test_a_colleague_wears_a_marker_with_another_id() -> None:
    teacher = TeacherPose(-8.0, 6.0)
    colleague = TeacherPose(8.0, 7.0)
    image = shared_scene().render(OPTICS, 0.0, teacher, others=[(colleague, 3)])
    assert _ids(image) == {MARKER.marker_id, 3}
    alone = shared_scene().render(OPTICS, 0.0, None, others=[(colleague, 3)])
    assert _ids(alone) == {3}


def test_a_crossing_pupil_is_drawn_where_the_path_says() -> None:
    hidden = TeacherPose(0.0, 6.0, hidden=True, pupil=(0.0, 4.0))
    assert detect(shared_scene().render(OPTICS, 0.0, hidden)) is None
    beside = TeacherPose(0.0, 6.0, pupil=(6.0, 4.0))  # a pupil walking past, not yet in front
    assert detect(shared_scene().render(OPTICS, 0.0, beside)) is not None
