"""Pan-follow in closed loop: the simulated servo turns the simulated camera, the real detector
searches the rendered frames, on virtual time."""

from __future__ import annotations

import pytest

from lessoncam_device.sim.pan_follow import (
    ClosedLoopSettings,
    FrameRecord,
    reacquire_times,
    run_closed_loop,
    score,
)
from lessoncam_device.sim.teacher_path import scenario
from lessoncam_device.tracking.baseline import ProportionalController
from lessoncam_device.tracking.controller import ControllerSettings, PanController, TrackState

from .sim_helpers import shared_scene


@pytest.mark.slow
def test_follows_her_through_a_walk_and_a_two_second_hiding() -> None:
    path = scenario("hidden_2s")  # walks 2 m, a pupil hides her 2 s, walks on
    settings = ClosedLoopSettings(width=1280, height=720, start_pan_deg=path.start_bearing_deg)
    result = run_closed_loop(
        shared_scene(),
        path,
        lambda now: PanController(ControllerSettings(), now, path.start_bearing_deg),
        settings,
    )
    scores = score(result)
    assert scores.in_view_fraction >= 0.99
    assert scores.centred_fraction >= 0.95
    assert scores.p95_accel_deg_s2 <= 60.0
    assert scores.mean_error_deg < 2.0
    # Hidden for 2 s: the tracker searched, held, and locked again soon after she reappeared.
    states = [r.state for r in result.records if 4.5 < r.t < 6.5]
    assert TrackState.SEARCHING in states
    assert len(scores.reacquire_s) >= 2 and scores.reacquire_s_max <= 1.0
    assert result.records[-1].state is TrackState.LOCKED
    final = result.records[-1]
    assert abs(final.bearing_deg - final.pan_deg) < ControllerSettings().dead_band_deg


@pytest.mark.slow
def test_the_baseline_shakes_the_picture_more() -> None:
    path = scenario("walk_front")
    settings = ClosedLoopSettings(width=1280, height=720, start_pan_deg=path.start_bearing_deg)
    ours = score(
        run_closed_loop(
            shared_scene(),
            path,
            lambda now: PanController(ControllerSettings(), now, path.start_bearing_deg),
            settings,
        )
    )
    baseline = score(
        run_closed_loop(
            shared_scene(),
            path,
            lambda now: ProportionalController(now, start_deg=path.start_bearing_deg),
            settings,
        )
    )
    assert ours.p95_accel_deg_s2 < baseline.p95_accel_deg_s2 / 2
    assert ours.mean_error_deg < baseline.mean_error_deg


def record(t: float, in_picture: bool, state: TrackState) -> FrameRecord:
    return FrameRecord(t, 0.0, 0.0, True, 960.0 if in_picture else None, state)


def test_reacquire_time_counts_from_reappearing_in_the_picture() -> None:
    L, S = TrackState.LOCKED, TrackState.SEARCHING
    records = [
        record(0.0, True, L),
        record(1.0, False, S),  # hidden
        record(2.0, True, S),  # back in the picture
        record(2.5, True, L),  # locked 0.5 s later
        record(3.0, False, S),
        record(3.5, True, S),  # in the picture only briefly: the clock restarts
        record(3.6, False, S),
        record(4.0, True, S),
        record(4.2, True, L),
    ]
    assert reacquire_times(records) == pytest.approx([0.5, 0.2])
