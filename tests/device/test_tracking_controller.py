"""The pan controller's promises, as properties over many generated situations."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lessoncam_device.tracking.controller import (
    ControllerSettings,
    PanController,
    TrackState,
    braking_speed,
)

DT = 0.02  # the motion loop's 50 Hz
DETECT_EVERY = 4  # sightings at 12.5 Hz
S = ControllerSettings()


def run(
    controller: PanController, bearings: list[float | None], t0: float = 0.0
) -> tuple[list[float], list[float]]:
    """Feed one bearing (or None: unseen) per detection period; positions and velocities at
    every motion tick."""
    positions, velocities = [], []
    t = t0
    for bearing in bearings:
        if bearing is not None:
            controller.observe(t, bearing)
        for _ in range(DETECT_EVERY):
            t += DT
            positions.append(controller.update(t))
            velocities.append(controller.velocity_dps)
    return positions, velocities


bearing = st.floats(-120.0, 120.0, allow_nan=False)
maybe_bearing = st.one_of(st.none(), bearing)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(maybe_bearing, min_size=1, max_size=120),
    st.floats(-60.0, 60.0),
)
def test_never_past_the_limits_and_never_too_fast(
    bearings: list[float | None], start: float
) -> None:
    controller = PanController(S, 0.0, start)
    positions, velocities = run(controller, bearings)
    assert all(S.min_deg <= p <= S.max_deg for p in positions)
    assert all(abs(v) <= S.max_speed_dps + 1e-9 for v in velocities)
    previous = 0.0
    for v in velocities:
        assert abs(v - previous) <= S.max_accel_dps2 * DT + 1e-9  # bounded acceleration
        previous = v


# Sightings in less time than the controller waits before it re-centres lazily.
BEFORE_RECENTRING = int(S.recentre_after_s / (DETECT_EVERY * DT))
BAND = S.dead_band_deg - 0.1  # anywhere in the band, the detector's noise included


@settings(max_examples=100, deadline=None)
@given(
    st.floats(-40.0, 40.0),
    st.floats(-1.0, 1.0),
    st.lists(st.floats(-0.1, 0.1), min_size=5, max_size=BEFORE_RECENTRING),
)
def test_no_motion_inside_the_dead_band(centre: float, side: float, noise: list[float]) -> None:
    """She stands within the dead band (the detector's noise on top): the camera stays still
    (until she has stood there long enough to re-centre lazily, tested below)."""
    controller = PanController(S, 0.0, centre)
    positions, _ = run(controller, [centre + side * BAND + n for n in noise])
    assert positions == [centre] * len(positions)


@settings(max_examples=100, deadline=None)
@given(
    st.floats(-40.0, 40.0),
    st.floats(-BAND, BAND),
    st.lists(
        st.tuples(st.floats(0.3, 0.45), st.booleans(), st.integers(3, BEFORE_RECENTRING)),
        min_size=1,
        max_size=40,
    ),
)
def test_no_motion_while_she_moves_around_inside_the_dead_band(
    centre: float, first: float, moves: list[tuple[float, bool, int]]
) -> None:
    """Small steps, leans and shuffles inside the band, however long in all: the camera never
    moves, because each change of her bearing restarts the wait for standing still. (Bigger,
    quicker steps towards the edge look like walking out and start a move early.)"""
    bearings: list[float | None] = []
    offset = first
    for step, right, hold in moves:
        bearings += [centre + offset] * hold
        offset += step if right else -step
        if abs(offset) > BAND:  # bounce off the band's edge
            offset -= 2 * (step if right else -step)
    controller = PanController(S, 0.0, centre)
    positions, _ = run(controller, bearings)
    assert positions == [centre] * len(positions)


@settings(max_examples=100, deadline=None)
@given(
    st.floats(-55.0, 55.0),
    st.floats(-1.0, 1.0),
    st.lists(st.floats(-0.1, 0.1), min_size=100, max_size=100),
)
def test_recentres_lazily_when_she_stands_still_off_centre(
    centre: float, side: float, noise: list[float]
) -> None:
    """Still (with the detector's jitter) inside the band: after the settle time the camera
    glides to her slowly and gently, in one direction, and then rests."""
    target = centre + side * BAND
    controller = PanController(S, 0.0, centre)
    positions, velocities = run(controller, [target + n for n in noise])
    # Nothing happens before she has been still for the settle time.
    wait = int(S.recentre_after_s / DT)
    assert positions[:wait] == [centre] * wait
    final = positions[-1]
    if abs(target - centre) > 0.3:
        assert abs(final - target) < 0.15  # on her now (the mean of the jittery sightings)
    assert abs(final - target) <= abs(target - centre) + 0.15
    assert all(abs(v) <= S.recentre_speed_dps + 1e-9 for v in velocities)
    ramp = S.recentre_speed_dps / 0.5
    previous = 0.0
    for v in velocities:
        assert abs(v - previous) <= ramp * DT + 1e-9  # far gentler than a tracking move
        previous = v
    assert len({v > 0 for v in velocities if v != 0.0}) <= 1  # no hunting
    assert positions[-20:] == [final] * 20  # then it rests


def test_a_glide_stops_gently_when_she_moves_again_inside_the_band() -> None:
    controller = PanController(S, 0.0, 0.0)
    positions, velocities = run(controller, [1.8] * 16)  # still: the glide has begun
    assert 0.0 < positions[-1] < 1.8 and velocities[-1] > 0
    positions, velocities = run(controller, [1.5] * 8, t0=16 * DETECT_EVERY * DT)
    # She stepped back a little: the glide stops, gently, and the camera rests (and waits
    # for her to stand still again).
    assert velocities[-1] == 0.0
    assert all(v >= 0 for v in velocities)
    previous = velocities[0]
    for v in velocities[1:]:
        assert abs(v - previous) <= S.recentre_speed_dps / 0.5 * DT + 1e-9
        previous = v


def test_lazy_recentring_can_be_turned_off() -> None:
    controller = PanController(ControllerSettings(recentre_speed_dps=0.0), 0.0, 0.0)
    positions, _ = run(controller, [1.5] * 100)
    assert positions == [0.0] * len(positions)


@settings(max_examples=100, deadline=None)
@given(st.floats(-55.0, 55.0), st.floats(-55.0, 55.0))
def test_settles_on_a_still_target_without_hunting(start: float, target: float) -> None:
    controller = PanController(S, 0.0, start)
    positions, velocities = run(controller, [target] * 100)
    final = positions[-1]
    # Far: a tracking move; near: a lazy glide (below 0.15 deg it stays put).
    assert abs(final - target) <= max(S.settle_deg, min(abs(target - start), 0.15)) + 1e-6
    # One smooth move: the velocity never changes sign (no overshoot, no oscillation).
    signs = {v > 0 for v in velocities if abs(v) > 1e-9}
    assert len(signs) <= 1
    # Once settled, it stays put.
    assert positions[-20:] == [final] * 20


def test_follows_a_walking_teacher_and_leads_her_by_the_latency() -> None:
    controller = PanController(S, 0.0, -40.0)
    rate = 10.0  # deg/s: 1.4 m/s at 8 m
    t, errors = 0.0, []
    for k in range(100):  # 8 s of walking
        t = k * DETECT_EVERY * DT
        controller.observe(t, -40.0 + rate * t)
        for _ in range(DETECT_EVERY):
            controller.update(t + DT)
            t += DT
        errors.append(-40.0 + rate * t - controller.position_deg)
    assert max(abs(e) for e in errors[-40:]) < 1.0  # caught up and stays within a degree
    assert controller.state is TrackState.LOCKED


def test_lost_holds_then_returns_home_slowly() -> None:
    settings_ = ControllerSettings(return_home_s=5.0, home_deg=0.0)
    controller = PanController(settings_, 0.0, 0.0)
    run(controller, [30.0] * 50)  # 4 s: turned to her
    assert controller.position_deg == pytest.approx(30.0, abs=settings_.settle_deg)
    positions, velocities = run(controller, [None] * 50, t0=4.0)
    # Not seen for 4 s: holds where she was (she stood still: nothing to coast on).
    assert max(positions) - min(positions) < 0.5
    assert controller.state is TrackState.SEARCHING
    positions, velocities = run(controller, [None] * 100, t0=8.0)
    assert controller.state is TrackState.LOST
    assert positions[-1] == pytest.approx(0.0, abs=settings_.settle_deg)
    assert max(abs(v) for v in velocities) <= settings_.home_speed_dps + 1e-9


def test_states_locked_searching_lost() -> None:
    controller = PanController(ControllerSettings(return_home_s=3.0), 0.0, 20.0)
    controller.update(2.0)
    assert controller.state is TrackState.SEARCHING  # never seen yet: holds where it was put
    assert controller.position_deg == 20.0
    controller.update(3.5)
    assert controller.state is TrackState.LOST  # then turns home
    assert controller.position_deg < 20.0
    controller = PanController(ControllerSettings(return_home_s=3.0), 0.0)
    controller.observe(0.0, 1.0)
    controller.update(0.1)
    assert controller.state is TrackState.LOCKED
    controller.update(1.0)
    assert controller.state is TrackState.SEARCHING
    controller.update(3.5)
    assert controller.state is TrackState.LOST


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_deg": 10, "max_deg": -10}, "min_deg (10) must be below max_deg (-10)"),
        ({"home_deg": 90}, "home_deg (90) must lie within the pan limits"),
        ({"max_accel_dps2": 0}, "max_accel_dps2 must be > 0"),
        ({"settle_deg": 5}, "settle_deg must be >= 0 and below dead_band_deg"),
        ({"recentre_speed_dps": -1}, "recentre_after_s and recentre_speed_dps must be >= 0"),
    ],
)
def test_wrong_settings_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ControllerSettings(**kwargs)


@given(st.floats(0.0, 100.0), st.floats(1.0, 500.0), st.floats(0.001, 0.1))
def test_braking_speed_stops_in_time(distance: float, accel: float, dt: float) -> None:
    v = braking_speed(distance, accel, dt)
    assert v * v / (2 * accel) + v * dt <= distance + 1e-6
