"""Scripted teacher paths: physically plausible, and they do what their names say."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lessoncam_device.sim.teacher_path import (
    MAX_SPEED_MPS,
    MAX_WALK_SPEED_MPS,
    SCENARIOS,
    Companion,
    Crossing,
    Pause,
    TeacherPath,
    TeacherPose,
    Walk,
    cartesian,
    companions_at,
    lesson_path,
    polar,
    position_at,
    scenario,
    wild_path,
)

LESSON = lesson_path(45)
WILD = [wild_path(seed) for seed in (1, 2, 3)]
ALL_PATHS = [*SCENARIOS.values(), LESSON, *WILD]
# The calm scenarios (and whole lessons) never hurry.
CALM = {"walk_front", "walk_near", "walk_and_stop", "back_and_forth", "visit_tables"}
CALM |= {"hidden_2s", "leave_and_return", "board_work"}


def _track(path: TeacherPath, dt: float) -> tuple[np.ndarray, list[TeacherPose]]:
    times = np.arange(0.0, path.duration_s + dt, dt)
    return times, [position_at(path, float(t)) for t in times]


def _spans(times: np.ndarray, flags: list[bool]) -> list[tuple[float, float]]:
    """(start, end) of each run of True."""
    spans: list[tuple[float, float]] = []
    start = None
    for t, flag in zip(times, flags, strict=True):
        if flag and start is None:
            start = float(t)
        elif not flag and start is not None:
            spans.append((start, float(t)))
            start = None
    if start is not None:
        spans.append((start, float(times[-1])))
    return spans


@pytest.mark.parametrize("path", ALL_PATHS, ids=lambda p: p.name)
def test_never_faster_than_a_person(path: TeacherPath) -> None:
    dt = 0.05
    _, poses = _track(path, dt)
    xy = np.array([cartesian(p.bearing_deg, p.distance_m) for p in poses])
    speeds = np.hypot(*np.diff(xy, axis=0).T) / dt
    calm = path.name in CALM or path.name.startswith("lesson")
    assert speeds.max() <= (MAX_WALK_SPEED_MPS if calm else MAX_SPEED_MPS) + 1e-6
    assert speeds.max() > 0.3 or path.name.startswith("sway")  # she does walk


@pytest.mark.parametrize("path", ALL_PATHS, ids=lambda p: p.name)
def test_hits_every_waypoint_at_its_arrival_time(path: TeacherPath) -> None:
    waypoints = path.waypoints()
    assert waypoints or all(isinstance(leg, Pause) for leg in path.legs)
    for wp in waypoints:
        pose = position_at(path, wp.t_s)
        assert pose.bearing_deg == pytest.approx(wp.bearing_deg, abs=1e-6)
        assert pose.distance_m == pytest.approx(wp.distance_m, abs=1e-6)


@pytest.mark.parametrize("path", ALL_PATHS, ids=lambda p: p.name)
def test_stays_at_classroom_distances(path: TeacherPath) -> None:
    """3-8.5 m (the board's ends) wherever the camera can see her (round the back, behind it,
    she comes closer)."""
    _, poses = _track(path, 0.25)
    distances = [p.distance_m for p in poses if p.visible_in_room and abs(p.bearing_deg) < 60]
    assert min(distances) >= 3.0 - 1e-9 and max(distances) <= 8.5 + 1e-9


def test_walks_start_and_stop_smoothly() -> None:
    path = TeacherPath("line", 0.0, 5.0, (Walk(0.0, 8.0, speed_mps=1.2),))
    # 3 m at 1.2 m/s with 1 m/s^2 acceleration: 3 / 1.2 + 1.2 = 3.7 s.
    assert path.duration_s == pytest.approx(3.7)
    assert position_at(path, 0.5).distance_m == pytest.approx(5.0 + 0.5 * 0.5**2)
    assert position_at(path, 1.85).distance_m == pytest.approx(6.5)  # halfway at half time


def test_is_clamped_before_the_start_and_after_the_end() -> None:
    path = scenario("walk_front")
    end = path.waypoints()[-1]
    assert position_at(path, -5.0).distance_m == pytest.approx(path.start_distance_m)
    after = position_at(path, path.duration_s + 100.0)
    assert after == TeacherPose(end.bearing_deg, end.distance_m)


def test_walk_front_crosses_the_room() -> None:
    _, poses = _track(scenario("walk_front"), 0.1)
    bearings = [p.bearing_deg for p in poses]
    assert bearings[0] < -20 and bearings[-1] > 20
    assert all(p.marker_visible for p in poses)


def test_walk_near_is_the_fastest_bearing_change() -> None:
    # Design brief: at 1.4 m/s a teacher moves at most ~27 deg/s at 3 m.
    dt = 0.05
    _, poses = _track(scenario("walk_near"), dt)
    rates = np.abs(np.diff([p.bearing_deg for p in poses])) / dt
    assert 24.0 < rates.max() < 28.0


def test_walk_and_stop_stands_still_between_walks() -> None:
    path = scenario("walk_and_stop")
    times, poses = _track(path, 0.1)
    still = [i > 0 and poses[i].bearing_deg == poses[i - 1].bearing_deg for i in range(len(poses))]
    stops = [s for s in _spans(times, still) if s[1] - s[0] >= 3.0]
    assert len(stops) >= 3


def test_back_and_forth_turns_back() -> None:
    _, poses = _track(scenario("back_and_forth"), 0.1)
    steps = np.diff([p.bearing_deg for p in poses])
    moving = np.sign(steps[np.abs(steps) > 1e-6])
    turns = int((np.diff(moving) != 0).sum())
    assert turns >= 7


def test_visit_tables_sits_beside_pupils() -> None:
    times, poses = _track(scenario("visit_tables"), 0.1)
    sits = _spans(times, [p.sitting for p in poses])
    assert [round(b - a) for a, b in sits] == [8, 6]
    assert all(p.marker_visible for p in poses)
    nearest = min(p.distance_m for p in poses)
    assert nearest < 3.7


def test_hidden_2s_is_hidden_for_two_seconds() -> None:
    times, poses = _track(scenario("hidden_2s"), 0.01)
    hidden = _spans(times, [p.hidden for p in poses])
    assert len(hidden) == 1
    assert hidden[0][1] - hidden[0][0] == pytest.approx(2.0, abs=0.011)
    assert all(p.visible_in_room for p in poses)


def test_leave_and_return_leaves_through_the_door() -> None:
    path = scenario("leave_and_return")
    times, poses = _track(path, 0.1)
    away = _spans(times, [not p.visible_in_room for p in poses])
    assert len(away) == 1
    assert away[0][1] - away[0][0] == pytest.approx(10.0, abs=0.11)
    gone = position_at(path, (away[0][0] + away[0][1]) / 2)
    x, y = cartesian(gone.bearing_deg, gone.distance_m)
    assert x > 3.5 and 5.6 < y < 6.6  # at the door in the right wall
    assert poses[0].marker_visible and poses[-1].marker_visible


def test_board_work_turns_her_back_to_the_camera() -> None:
    times, poses = _track(scenario("board_work"), 0.1)
    away = _spans(times, [p.turned_away for p in poses])
    assert len(away) == 1 and all(p.hidden for p in poses if p.turned_away)


def test_lesson_is_long_plausible_and_reproducible() -> None:
    assert LESSON.duration_s == pytest.approx(45 * 60)
    assert lesson_path(45) == LESSON
    assert lesson_path(45, seed=1) != LESSON
    _, poses = _track(LESSON, 1.0)
    in_room = sum(p.visible_in_room for p in poses) / len(poses)
    visible = sum(p.marker_visible for p in poses) / len(poses)
    assert in_room > 0.9 and 0.6 < visible < 0.98
    assert any(p.sitting for p in poses)
    assert any(p.turned_away for p in poses)
    assert any(p.hidden and not p.turned_away for p in poses)
    assert lesson_path(5).duration_s == pytest.approx(300)


def test_too_fast_or_impossible_legs_are_refused() -> None:
    with pytest.raises(ValueError):
        Walk(0.0, 5.0, speed_mps=MAX_SPEED_MPS + 0.1)
    with pytest.raises(ValueError, match="accelerations"):
        Walk(0.0, 5.0, stop_mps2=20.0)
    with pytest.raises(ValueError, match="sway_m"):
        Pause(1.0, sway_m=0.5)
    with pytest.raises(ValueError):
        Pause(-1.0)
    with pytest.raises(KeyError, match="walk_front"):
        scenario("moonwalk")


def test_polar_and_cartesian_are_inverse() -> None:
    bearing, distance = polar(2.0, 6.0)
    assert bearing == pytest.approx(math.degrees(math.atan2(2.0, 6.0)))
    assert cartesian(bearing, distance) == pytest.approx((2.0, 6.0))


def test_a_dead_stop_stops_within_half_a_metre() -> None:
    path = TeacherPath.from_xy(
        "dash", -3.0, 7.0, (Walk.to_xy(3.0, 7.0, 2.5, accel_mps2=3.0, stop_mps2=6.25),)
    )
    end = path.waypoints()[-1].t_s
    x_end = cartesian(*_pose_xy(position_at(path, end)))[0]
    x_before = cartesian(*_pose_xy(position_at(path, end - 0.4)))[0]
    assert x_end == pytest.approx(3.0, abs=1e-6)
    assert x_end - x_before == pytest.approx(0.5, abs=0.01)  # 2.5 m/s to standing in 0.4 s
    x_mid = cartesian(*_pose_xy(position_at(path, end / 2)))[0]
    x_mid2 = cartesian(*_pose_xy(position_at(path, end / 2 + 0.1)))[0]
    assert (x_mid2 - x_mid) / 0.1 == pytest.approx(2.5, abs=0.01)  # at full speed midway


def _pose_xy(pose: TeacherPose) -> tuple[float, float]:
    return pose.bearing_deg, pose.distance_m


def test_she_sways_a_few_centimetres_and_leans_and_comes_back() -> None:
    path = TeacherPath.from_xy(
        "stand", 0.0, 5.0, (Pause(10.0, sway_m=0.03), Pause(3.0, sway_m=0.03, lean_m=0.12))
    )
    times, poses = _track(path, 0.02)
    xs = np.array([cartesian(p.bearing_deg, p.distance_m)[0] for p in poses])
    standing = xs[times < 10.0]
    assert 0.02 < standing.max() <= 0.03 + 1e-9 and -0.03 - 1e-9 <= standing.min() < -0.02
    assert np.abs(np.diff(xs)).max() < 0.01  # smooth: no jumps between pauses
    leaning = xs[(times > 10.8) & (times < 12.2)]
    assert leaning.mean() == pytest.approx(0.12, abs=0.03)
    assert abs(xs[-1]) <= 0.03  # back where she stood
    assert all(p.standing for p in poses)


def test_a_pupil_crossing_hides_her_only_while_in_front() -> None:
    path = TeacherPath.from_xy(
        "cross", 0.0, 6.0, (Pause(6.0),), crossings=(Crossing(1.0, speed_mps=1.0, gap_m=2.0),)
    )
    times, poses = _track(path, 0.05)
    pupils = [p.pupil for p in poses]
    assert pupils[0] is None and pupils[-1] is None
    during = [p for t, p in zip(times, poses, strict=True) if 1.0 < t < 4.0]
    assert all(p.pupil is not None for p in during)
    hidden = _spans(times, [p.hidden for p in poses])
    assert len(hidden) == 1
    start, end = hidden[0]
    assert start > 1.0 and end < 4.0 and start < 2.5 < end  # in the middle of her line of sight
    assert 0.3 < end - start < 1.0


def test_companions_walk_their_own_path_with_their_own_marker() -> None:
    colleague = TeacherPath.from_xy("c", 2.0, 5.0, (Walk.to_xy(-2.0, 5.0, 1.0),))
    path = TeacherPath.from_xy("t", 0.0, 7.0, (Pause(5.0),), companions=(Companion(colleague, 3),))
    [(pose, marker_id)] = companions_at(path, 2.0)
    assert marker_id == 3 and pose == position_at(colleague, 2.0)
    assert companions_at(scenario("walk_front"), 1.0) == []


def test_wild_paths_are_reproducible_and_varied() -> None:
    assert wild_path(1) == wild_path(1)
    assert wild_path(1) != wild_path(2)
    kinds = set()
    for path in WILD + [wild_path(seed) for seed in (4, 5, 6)]:
        assert 45.0 <= path.duration_s < 70.0
        _, poses = _track(path, 0.1)
        kinds |= (
            {"hidden" for p in poses if p.hidden and not p.turned_away}
            | {"turned" for p in poses if p.turned_away}
            | {"out" for p in poses if not p.visible_in_room}
        )
        kinds |= {"colleague"} if path.companions else set()
        kinds |= {"crossing"} if path.crossings else set()
    assert {"hidden", "turned", "colleague", "crossing"} <= kinds


def test_the_wild_scenarios_do_what_they_say() -> None:
    _, near = _track(scenario("sprint_near"), 0.02)
    rates = np.abs(np.diff([p.bearing_deg for p in near])) / 0.02
    assert rates.max() > 45.0  # faster than the camera's 45 deg/s
    times, hidden_far = _track(scenario("hidden_far"), 0.05)
    spans = _spans(times, [p.hidden for p in hidden_far])
    first_vanish = position_at(scenario("hidden_far"), spans[0][0]).bearing_deg
    first_back = position_at(scenario("hidden_far"), spans[0][1]).bearing_deg
    assert abs(first_back - first_vanish) > 35.0  # reappears far away
    _, round_back = _track(scenario("round_the_back"), 0.1)
    assert max(p.bearing_deg for p in round_back) > 93.0  # beyond any pan's view
    assert min(p.bearing_deg for p in round_back if p.distance_m > 2.0) < -45.0
    assert scenario("other_marker").companions[0].marker_id != 7
