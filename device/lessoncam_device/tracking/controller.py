"""The pan controller: where the camera should point, moment by moment. Pure: no clock, no I/O.

Measurements are bearings of the marker in room degrees (the pan at capture time plus the
marker's angle off the optical axis), stamped with their capture time. A small alpha-beta
filter estimates bearing and rate; the commanded pan follows the bearing predicted past the
perception and motor latency, with a velocity feed-forward so a walking teacher stays centred
instead of being chased.

Smoothness rules, each a property the tests check:

- dead band: at rest, the camera starts to move only when a measurement lies more than
  ``dead_band_deg`` from where it points; once moving it settles on her and stops;
- lazy re-centring: when she has stood still (her bearing steady) for ``recentre_after_s``
  off-centre but inside the dead band, the camera glides to her at no more than
  ``recentre_speed_dps``, accelerating gently, then rests. Without it she could sit up to a
  dead band off-centre for minutes; with it the dead band only filters fidgeting and small
  steps (any change of her bearing restarts the wait, and stops a glide gently);
- speed and acceleration never exceed ``max_speed_dps`` and ``max_accel_dps2``;
- the pan never leaves [``min_deg``, ``max_deg``]: it brakes in time for a limit;
- the marker lost: keep following the predicted motion briefly, hold, and after
  ``return_home_s`` turn slowly back to ``home_deg``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class TrackState(StrEnum):
    """What the tracker is doing, as the heartbeat and the log show it."""

    LOCKED = "locked"  # the marker was seen just now
    SEARCHING = "searching"  # not seen for a moment: holding, searching the whole frame
    LOST = "lost"  # not seen for ``return_home_s``: at (or turning to) the home position


@dataclass(frozen=True)
class ControllerSettings:
    """Limits and tuning; the defaults suit a 66 deg lens in a classroom (3-8 m)."""

    min_deg: float = -60.0
    max_deg: float = 60.0
    home_deg: float = 0.0
    dead_band_deg: float = 2.0
    settle_deg: float = 0.2
    # At rest, also start when she walks off (faster than this and leaving the band soon):
    # waiting until she has left the band means chasing her (~1.5 deg behind) at every start.
    walk_trigger_dps: float = 1.5
    trigger_lead_s: float = 1.5
    max_speed_dps: float = 45.0
    max_accel_dps2: float = 60.0
    lookahead_s: float = 0.06  # motor latency: predict this far past "now"
    track_gain: float = 4.0  # 1/s: how fast a position error is closed (besides feed-forward)
    alpha: float = 0.8  # filter gain for the bearing
    beta: float = 0.4  # filter gain for the rate
    lock_timeout_s: float = 0.5  # unseen this long: SEARCHING
    coast_s: float = 0.8  # keep following the predicted motion this long when unseen
    return_home_s: float = 15.0  # unseen this long: LOST, turn back home
    home_speed_dps: float = 12.0
    # Lazy re-centring: steady this long inside the dead band, glide to her at this speed
    # (0: never; she may then stay up to ``dead_band_deg`` off-centre).
    recentre_after_s: float = 0.8
    recentre_speed_dps: float = 3.0
    max_step_s: float = 0.02  # integration step; longer updates are split

    def __post_init__(self) -> None:
        if not self.min_deg < self.max_deg:
            raise ValueError(
                f"pan limits: min_deg ({self.min_deg}) must be below max_deg ({self.max_deg})"
            )
        if not self.min_deg <= self.home_deg <= self.max_deg:
            raise ValueError(
                f"home_deg ({self.home_deg}) must lie within the pan limits "
                f"[{self.min_deg}, {self.max_deg}]"
            )
        for name in ("max_speed_dps", "max_accel_dps2", "home_speed_dps", "max_step_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")
        if self.recentre_after_s < 0 or self.recentre_speed_dps < 0:
            raise ValueError("recentre_after_s and recentre_speed_dps must be >= 0")
        if not 0 <= self.settle_deg < self.dead_band_deg:
            raise ValueError("settle_deg must be >= 0 and below dead_band_deg")
        if not (0 < self.alpha <= 1 and 0 <= self.beta <= 1):
            raise ValueError("alpha must be in (0, 1], beta in [0, 1]")


@dataclass
class _Estimate:
    t: float  # capture time of the last measurement
    bearing: float
    rate: float


# Beyond this gap a new sighting starts a fresh estimate (her old speed no longer says much).
_RESET_AFTER_S = 1.0
# A jump this large between prediction and measurement is a different marker or a glitch.
_OUTLIER_DEG = 20.0
_MAX_RATE_DPS = 60.0
_SETTLED_RATE_DPS = 1.5
# The rate gain while the sightings say she is slower than predicted (down to zero at most).
# The estimated speed is never above what the plain filter says: the calm side.
_STOP_BETA = 0.9
# Lazy re-centring. Sightings within this of their running mean count as "standing still":
# far above the detector's jitter (a pixel is 0.034 deg at 1920 px, 66 deg), under a step.
_STEADY_DEG = 0.25
# A glide reaches its speed in this time (and stops in as long): no visible jerk.
_GLIDE_RAMP_S = 0.5
# Closer than this a glide is not worth it; it ends this close (about the servo's step).
_GLIDE_MIN_DEG = 0.15
_GLIDE_DONE_DEG = 0.05


@dataclass
class _Steady:
    """Sightings since her bearing last changed: when the run began, their mean."""

    since: float
    last: float
    total: float
    count: int

    @property
    def mean(self) -> float:
        return self.total / self.count


def braking_speed(distance: float, accel: float, dt: float) -> float:
    """Highest speed from which stepping at ``dt`` and braking at ``accel`` stops within
    ``distance``: the v with v^2 / (2a) + v dt = distance (0 at or past it)."""
    if distance <= 0:
        return 0.0
    return accel * (-dt + math.sqrt(dt * dt + 2.0 * distance / accel))


class PanController:
    """Turns timed bearing measurements into a smooth commanded pan angle.

    Call ``observe`` for every sighting and ``update(now)`` at the motion rate (e.g. 50 Hz);
    ``update`` returns the angle to command. Times are seconds on any monotonic clock.
    """

    def __init__(
        self, settings: ControllerSettings, now: float, start_deg: float | None = None
    ) -> None:
        self.settings = settings
        s = settings
        start = s.home_deg if start_deg is None else start_deg
        self.position_deg = min(max(start, s.min_deg), s.max_deg)
        self.velocity_dps = 0.0
        self.moving = False
        self._t = now
        self._estimate: _Estimate | None = None
        self._last_seen: float | None = None
        self._since = now  # not seen yet: hold where it was put, search, then home
        self._steady: _Steady | None = None
        self._walk_seen = 0  # sightings in a row that say she walks off
        self.recentring = False  # gliding to her (lazy re-centring)
        self._gliding = False  # the motion under way is a glide or its gentle stop
        self.state = TrackState.SEARCHING

    # -- inputs --

    def observe(self, t_capture: float, bearing_deg: float, offset_deg: float = 0.0) -> None:
        """The marker was at ``bearing_deg`` (room degrees) in a frame captured at
        ``t_capture``. ``offset_deg`` (its angle off the optical axis) is not needed here."""
        del offset_deg
        s = self.settings
        e = self._estimate
        if e is not None and t_capture <= e.t:
            return  # late or repeated frame: the estimate already knows better
        if e is None or t_capture - e.t > _RESET_AFTER_S:
            self._estimate = _Estimate(t_capture, bearing_deg, 0.0)
        else:
            dt = t_capture - e.t
            predicted = e.bearing + e.rate * dt
            residual = bearing_deg - predicted
            if abs(residual) > _OUTLIER_DEG:
                self._estimate = _Estimate(t_capture, bearing_deg, 0.0)
            else:
                rate = e.rate + s.beta * residual / dt
                if residual * e.rate < 0 and rate * e.rate > 0:
                    # She slows down (stops): believe it quickly, so the camera does not run on
                    # past her and swing back. Never past zero: a reversal (or the detector's
                    # jitter) is believed at the normal pace.
                    rate = max(0.0, 1.0 + _STOP_BETA * residual / (dt * e.rate)) * e.rate
                rate = min(max(rate, -_MAX_RATE_DPS), _MAX_RATE_DPS)
                self._estimate = _Estimate(t_capture, predicted + s.alpha * residual, rate)
        self._last_seen = t_capture
        st = self._steady
        if (
            st is None
            or t_capture - st.last > s.lock_timeout_s
            or abs(bearing_deg - st.mean) > _STEADY_DEG
        ):
            # She moved (or was unseen): the wait for standing still starts again.
            self._steady = _Steady(t_capture, t_capture, bearing_deg, 1)
            self.recentring = False
        else:
            st.last, st.total, st.count = t_capture, st.total + bearing_deg, st.count + 1
        if not self.moving:
            rate = self._estimate.rate
            ahead = bearing_deg + rate * s.trigger_lead_s - self.position_deg
            walking = abs(rate) > s.walk_trigger_dps and abs(ahead) > s.dead_band_deg
            # Two sightings in a row: a lean or a quick step inside the band is one jump that
            # the next sighting contradicts; walking off goes on.
            self._walk_seen = self._walk_seen + 1 if walking else 0
            if self._walk_seen >= 2 or abs(bearing_deg - self.position_deg) > s.dead_band_deg:
                self.moving = True
                self.recentring = self._gliding = False
                self._walk_seen = 0

    # -- output --

    def update(self, now: float) -> float:
        """Advance to ``now`` and return the pan angle to command."""
        s = self.settings
        while now - self._t > 1e-9:
            dt = min(s.max_step_s, now - self._t)
            self._t += dt
            self._step(dt)
        return self.position_deg

    def predicted_bearing(self, t: float) -> float | None:
        """Where the marker is expected at time ``t`` (None when never seen)."""
        e = self._estimate
        if e is None:
            return None
        return e.bearing + e.rate * min(t - e.t, self.settings.coast_s)

    # -- internals --

    def _goal(self) -> tuple[float | None, float, float]:
        """(goal angle or None to stop, feed-forward rate, speed cap) for the current state."""
        s = self.settings
        e = self._estimate
        age = self._t - (self._since if self._last_seen is None else self._last_seen)
        if self._last_seen is not None and age <= s.lock_timeout_s:
            self.state = TrackState.LOCKED
        elif age <= s.return_home_s:
            self.state = TrackState.SEARCHING
        else:
            self.state = TrackState.LOST
        if self.state is TrackState.LOST:
            self.moving = True
            return s.home_deg, 0.0, s.home_speed_dps
        if e is None:
            return None, 0.0, s.max_speed_dps  # never seen: hold
        if self._t - e.t > s.coast_s:
            return None, 0.0, s.max_speed_dps  # hold where we are
        goal = e.bearing + e.rate * (self._t - e.t + s.lookahead_s)
        return goal, e.rate, s.max_speed_dps

    def _glide_accel(self) -> float:
        s = self.settings
        return min(s.max_accel_dps2, s.recentre_speed_dps / _GLIDE_RAMP_S)

    def _recentre(self, dt: float) -> float:
        """Lazy re-centring at rest: the velocity wanted now (0: rest, or stop gently)."""
        s = self.settings
        st = self._steady
        if self.state is not TrackState.LOCKED or st is None or s.recentre_speed_dps <= 0:
            self.recentring = False
            return 0.0
        centre = min(max(st.mean, s.min_deg), s.max_deg)
        error = centre - self.position_deg
        if not self.recentring:
            steady = st.last - st.since >= s.recentre_after_s
            # Only from rest: a glide never takes over a motion it could not stop gently.
            at_rest = self.velocity_dps == 0.0
            if not (steady and at_rest and _GLIDE_MIN_DEG < abs(error) <= s.dead_band_deg):
                return 0.0
            self.recentring = self._gliding = True
        if abs(error) <= _GLIDE_DONE_DEG:
            self.recentring = False
            return 0.0
        speed = min(s.recentre_speed_dps, braking_speed(abs(error), self._glide_accel(), dt))
        return math.copysign(speed, error)

    def _step(self, dt: float) -> None:
        s = self.settings
        goal, rate, cap = self._goal()
        wanted = 0.0
        if goal is not None:
            goal = min(max(goal, s.min_deg), s.max_deg)
            error = goal - self.position_deg
            if self.moving and abs(error) < s.settle_deg and abs(rate) < _SETTLED_RATE_DPS:
                self.moving = False
            if self.moving:
                # Close the error no faster than braking allows (no overshoot), plus her speed.
                closing = min(
                    s.track_gain * abs(error), braking_speed(abs(error), s.max_accel_dps2, dt)
                )
                wanted = rate + math.copysign(closing, error)
        if self.moving:
            self.recentring = self._gliding = False  # tracking (or homing) takes over
        else:
            wanted = self._recentre(dt)
        wanted = min(max(wanted, -cap), cap)
        if self._gliding and not self.recentring and self.velocity_dps == 0.0:
            self._gliding = False  # the glide is over (or was stopped) and the camera rests
        # A glide, and its stop when she moves again inside the band, are gentle.
        a = self._glide_accel() if self._gliding else s.max_accel_dps2
        # Brake in time for the soft limits.
        wanted = min(wanted, braking_speed(s.max_deg - self.position_deg, a, dt))
        wanted = max(wanted, -braking_speed(self.position_deg - s.min_deg, a, dt))
        step = min(max(wanted - self.velocity_dps, -a * dt), a * dt)
        self.velocity_dps += step
        self.position_deg = min(
            max(self.position_deg + self.velocity_dps * dt, s.min_deg), s.max_deg
        )
