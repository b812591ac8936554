"""Pan trajectories with speed, acceleration and jerk limits. Pure: no clock, no I/O.

The planner works one motion tick at a time: it is told the velocity wanted now (from where the
camera should point) and moves the pan towards it as fast as the limits allow, with the
acceleration changing at most at the jerk limit (no sudden kick at a start or a stop), and
never further than it can stop before a given boundary (the soft limits).

``stopping_distance`` is exact for the jerk-limited brake; ``braking_speed`` is its
conservative inverse from zero acceleration, used to shape approaches so they end on the
target instead of past it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

_EPS = 1e-9
_AT_BOUND = 0.01  # this close to a boundary the pan has arrived there


@dataclass(frozen=True)
class MotionLimits:
    """Top speed (deg/s), acceleration (deg/s^2) and jerk (deg/s^3) of the pan."""

    speed_dps: float
    accel_dps2: float
    jerk_dps3: float

    def __post_init__(self) -> None:
        for name in ("speed_dps", "accel_dps2", "jerk_dps3"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0")


@dataclass
class PanState:
    """Where the pan is, how fast it turns and how fast that changes."""

    position_deg: float
    velocity_dps: float = 0.0
    accel_dps2: float = 0.0

    @property
    def at_rest(self) -> bool:
        return self.velocity_dps == 0.0 and self.accel_dps2 == 0.0


def _advance(p: float, v: float, a: float, j: float, t: float) -> tuple[float, float, float]:
    """Exact motion under constant jerk ``j`` for ``t`` seconds."""
    return (
        p + v * t + a * t * t / 2.0 + j * t**3 / 6.0,
        v + a * t + j * t * t / 2.0,
        a + j * t,
    )


def stopping_distance(velocity: float, accel: float, limits: MotionLimits) -> float:
    """Signed distance covered while braking to rest as hard as ``limits`` allow, starting at
    ``velocity`` with acceleration ``accel`` (the acceleration itself changes at the jerk limit)."""
    if velocity < 0 or (velocity == 0 and accel < 0):
        return -stopping_distance(-velocity, -accel, limits)
    v, a = velocity, accel
    j_max, a_max = limits.jerk_dps3, limits.accel_dps2
    if v <= _EPS and abs(a) <= _EPS:
        return 0.0
    if a < 0 and v <= a * a / (2.0 * j_max):
        # Braking so hard that the speed reaches zero while the braking is being released.
        t = (-a - math.sqrt(max(0.0, a * a - 2.0 * j_max * v))) / j_max
        return _advance(0.0, v, a, j_max, t)[0]
    peak = math.sqrt(v * j_max + a * a / 2.0)  # the braking needed with no constant phase
    hold = 0.0
    if peak > a_max:
        peak = a_max
        t1 = (a + peak) / j_max
        dv1 = a * t1 - j_max * t1 * t1 / 2.0
        hold = max(0.0, (v + dv1 - peak * peak / (2.0 * j_max)) / peak)
    p, v1, a1 = _advance(0.0, v, a, -j_max, (a + peak) / j_max)
    p, v1, a1 = _advance(p, v1, a1, 0.0, hold)
    p, v1, a1 = _advance(p, v1, a1, j_max, peak / j_max)
    return p


def braking_speed(distance: float, limits: MotionLimits, react_s: float = 0.0) -> float:
    """Highest speed from which, after ``react_s`` at that speed and starting the brake from
    zero acceleration, the pan stops within ``distance`` (0 at or past it).

    Uses v^2 / (2A) + v A / (2J) for the brake, which is exact above A^2 / J and longer (the
    calm side) below it."""
    if distance <= 0:
        return 0.0
    a = limits.accel_dps2
    b = a / (2.0 * limits.jerk_dps3) + react_s
    return a * (-b + math.sqrt(b * b + 2.0 * distance / a))


def approach_speed(error: float, limits: MotionLimits, gain: float, dt: float) -> float:
    """Signed speed, relative to the target, that closes ``error`` without passing it: a
    proportional approach (``gain`` per second) that never outruns the brake."""
    closing = min(gain * abs(error), braking_speed(abs(error), limits, dt))
    return math.copysign(closing, error)


def _accel_towards(v: float, a: float, wanted: float, limits: MotionLimits, dt: float) -> float:
    """The next tick's acceleration: as hard towards ``wanted`` as the limits allow, but never
    so hard that easing it back to zero (at the jerk limit) would carry the speed past it."""
    j_max = limits.jerk_dps3
    j_dt = j_max * dt
    error = wanted - v
    if error == 0.0 and a == 0.0:
        return 0.0
    direction = 1.0 if error > 0 or (error == 0.0 and a < 0) else -1.0

    def past(a_next: float) -> float:
        settled = v + (a + a_next) * dt / 2.0 + a_next * abs(a_next) / (2.0 * j_max)
        return (settled - wanted) * direction

    bold = min(max(a + direction * j_dt, -limits.accel_dps2), limits.accel_dps2)
    if past(bold) <= 0:
        return bold
    gentle = min(max(a - direction * j_dt, -limits.accel_dps2), limits.accel_dps2)
    if past(gentle) > 0:
        return gentle
    for _ in range(30):
        mid = (bold + gentle) / 2.0
        if past(mid) > 0:
            bold = mid
        else:
            gentle = mid
    return gentle


def step(
    state: PanState,
    wanted_dps: float,
    limits: MotionLimits,
    dt: float,
    bounds: tuple[float, float],
    target: tuple[float, float] | None = None,
) -> PanState:
    """One tick of ``dt`` seconds towards the velocity ``wanted_dps``, within ``limits`` and
    never so fast that the pan could not stop inside ``bounds`` (low, high).

    With ``target`` (position, rate) the pan also never closes on it so fast that it would
    pass it: it brakes (relative to the target's motion) in time to arrive on it."""
    lo, hi = bounds
    p, v, a = state.position_deg, state.velocity_dps, state.accel_dps2
    wanted = min(max(wanted_dps, -limits.speed_dps), limits.speed_dps)
    if (p >= hi - _AT_BOUND and wanted > 0) or (p <= lo + _AT_BOUND and wanted < 0):
        wanted = 0.0  # at a boundary: nowhere further to go
    j_dt = limits.jerk_dps3 * dt

    def past(p1: float, v1: float, a1: float) -> float:
        """How far past a boundary (or the target) the pan would stop from (p1, v1, a1),
        braking from then on; <= 0 when it would not."""
        stop_at = p1 + stopping_distance(v1, a1, limits)
        worst = max(stop_at - hi, lo - stop_at)
        if target is not None:
            goal, rate = target
            ahead = goal - p
            if ahead * (v - rate) > 0:
                rel = p1 - (goal + rate * dt) + stopping_distance(v1 - rate, a1, limits)
                worst = max(worst, rel if ahead > 0 else -rel)
        return worst

    if abs(wanted - v) <= j_dt * dt / 2.0 and abs(a) <= j_dt:
        # Close enough to finish in this tick: land exactly (rest means exactly zero).
        v_new = 0.0 if abs(wanted) < _EPS else wanted
        p_new = p + (v + v_new) * dt / 2.0
        if past(p_new, v_new, 0.0) <= _EPS:
            return PanState(min(max(p_new, lo), hi), v_new, 0.0)
    a_new = _accel_towards(v, a, wanted, limits, dt)

    def overshoot(a_next: float) -> float:
        p1, v1, _ = _advance(p, v, a, (a_next - a) / dt, dt)
        return past(p1, v1, a_next)

    if overshoot(a_new) > _EPS:
        # Too fast for a boundary or the target: the gentlest braking that still stops in
        # time (the acceleration is monotonic in how far the pan goes).
        p1, v1, _ = _advance(p, v, a, (a_new - a) / dt, dt)
        towards = 1.0 if p1 + stopping_distance(v1, a_new, limits) > p else -1.0
        hard = min(max(a - towards * j_dt, -limits.accel_dps2), limits.accel_dps2)
        if overshoot(hard) > _EPS:
            a_new = hard
        else:
            ok, bad = hard, a_new
            for _ in range(20):
                mid = (ok + bad) / 2.0
                if overshoot(mid) > _EPS:
                    bad = mid
                else:
                    ok = mid
            a_new = ok
    p_new, v_new, _ = _advance(p, v, a, (a_new - a) / dt, dt)
    if wanted == 0.0 and (v * v_new < 0 or (v == 0.0 and a != 0.0)):
        # A stop reached within the tick: stay stopped (never a swing back, a reversal). A
        # pan at a standstill does not accelerate: keeping the braking's acceleration as
        # state would kick the next start by as much (found by the property test).
        v_new = 0.0
        a_new = 0.0
        p_new = p + v * dt / 2.0
    if abs(v_new) > limits.speed_dps:
        # At top speed: stop accelerating, as quickly as the jerk limit allows.
        v_new = math.copysign(limits.speed_dps, v_new)
        a_new = min(max(0.0, a - j_dt), a + j_dt)
    if abs(v_new) < _EPS and abs(a_new) < _EPS:
        v_new = a_new = 0.0  # at rest is exactly at rest
    return PanState(min(max(p_new, lo), hi), v_new, a_new)
