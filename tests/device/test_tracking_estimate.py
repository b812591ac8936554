"""Her bearing and rate from sightings: slowing down is believed at once, an unseen walk slows
down, a parabola through the sightings tells a stop coming."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lessoncam_device.tracking.estimate import BearingFilter, fit_motion


@given(st.floats(-30, 30), st.floats(-20, 20), st.floats(-30, 30))
def test_the_fit_recovers_a_parabola(b0: float, rate: float, accel: float) -> None:
    points = [(k / 15, b0 + rate * k / 15 + 0.5 * accel * (k / 15) ** 2) for k in range(8)]
    t = 7 / 15
    bearing, r, a = fit_motion(points, t)
    assert bearing == pytest.approx(b0 + rate * t + 0.5 * accel * t * t, abs=1e-6)
    assert r == pytest.approx(rate + accel * t, abs=1e-5)
    assert a == pytest.approx(accel, abs=1e-4)


def test_a_walk_is_tracked_and_a_stop_believed_quickly() -> None:
    f = BearingFilter()
    for k in range(30):
        f.observe(k / 15, 10.0 * k / 15)  # 10 deg/s
    assert f.rate == pytest.approx(10.0, abs=0.1)
    for k in range(30, 36):
        f.observe(k / 15, 20.0)  # she stands
    assert abs(f.rate) < 1.0
    assert f.bearing == pytest.approx(20.0, abs=0.3)


def test_an_unseen_walk_slows_down_and_a_slowing_one_stops_where_it_would() -> None:
    f = BearingFilter()
    for k in range(30):
        f.observe(k / 15, 10.0 * k / 15)
    seen = 29 / 15
    near = f.bearing_at(seen + 0.2)
    far = f.bearing_at(seen + 30.0)
    assert near is not None and far is not None
    assert near == pytest.approx(f.bearing + 2.0, abs=0.01)  # straight on at first
    assert far - f.bearing < 10.0 * 2.0  # then slowing: less than 2 s of her walk in all
    g = BearingFilter()
    for k in range(12):  # 12 deg/s, slowing at 15 deg/s^2
        t = k / 15
        g.observe(t, 12.0 * t - 7.5 * t * t)
    stop = g.stop_point()
    assert stop is not None and stop == pytest.approx(12.0**2 / 30.0, abs=0.5)


def test_old_or_far_off_sightings_start_afresh() -> None:
    f = BearingFilter()
    f.observe(0.0, 5.0)
    f.observe(0.1, 6.0)
    assert not f.observe(0.05, 100.0)  # older than the last: ignored
    f.observe(0.2, 60.0)  # a jump of more than 20 deg: another marker or a glitch
    assert (f.bearing, f.rate) == (60.0, 0.0)
    f.observe(5.0, 10.0)  # seen again after a long while: her old speed says nothing
    assert f.rate == 0.0
