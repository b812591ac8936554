"""The pan controller: where the camera should point, moment by moment. Pure: no clock, no I/O.

Sightings are bearings of the marker in room degrees (the pan at capture time plus the marker's
angle off the optical axis), stamped with their capture time. ``estimate.py`` turns them into
her bearing and rate; three small policies decide what the camera does with them:

- ``motion.py`` moves the pan with speed, acceleration and jerk limits, never past the soft
  limits, and never so fast it would pass the point it closes on;
- ``rest.py`` keeps a resting camera still while she sways, gestures or leans (hysteresis:
  a wider band and sustained displacement to start than to stop) and re-centres lazily;
- ``search.py`` says where to look while she is lost.

The camera is in one of four modes: resting, tracking (following her predicted bearing),
gliding (lazy re-centring) or searching. While tracking, the pan never moves so fast that it
could not stop where she would stop if she stopped dead now (a person stops within
``stop_s``; a sighting that shows it takes ``react_s`` to arrive), plus ``overshoot_deg``: so
a dead stop ends with the camera on her, not past her. Each rule is checked by the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from .estimate import BearingFilter, FilterSettings
from .motion import MotionLimits, PanState, approach_speed, braking_speed, step
from .rest import RestPolicy, RestSettings
from .search import Phase, SearchPlan, SearchSettings


class TrackState(StrEnum):
    """What the tracker is doing, as the heartbeat and the log show it."""

    LOCKED = "locked"  # the marker was seen just now
    SEARCHING = "searching"  # not seen for a moment: the camera is looking for her
    LOST = "lost"  # the search is over: resting on a view (or home), still watching it


class Mode(StrEnum):
    """What the camera is doing."""

    REST = "rest"
    TRACK = "track"
    GLIDE = "glide"
    SEARCH = "search"


@dataclass(frozen=True)
class ControllerSettings:
    """Limits and tuning; the defaults suit a 66 deg lens in a classroom (3-8 m)."""

    min_deg: float = -60.0
    max_deg: float = 60.0
    home_deg: float = 0.0
    hfov_deg: float = 66.0  # the lens: what one view of the search covers
    dead_band_deg: float = 2.0  # at rest she may be this far off-centre, or a marker width
    settle_deg: float = 0.1  # once moving, the camera stops this close to her
    walk_trigger_dps: float = 2.0  # at rest, walking off this fast starts a move early
    max_speed_dps: float = 45.0
    max_accel_dps2: float = 60.0
    max_jerk_dps3: float = 600.0
    lookahead_s: float = 0.06  # motor latency: predict this far past "now"
    track_gain: float = 4.0  # 1/s: how fast a position error is closed (besides feed-forward)
    alpha: float = 0.8  # filter gain for the bearing
    beta: float = 0.4  # filter gain for the rate
    # Stopping: a person can stop dead within this time (2.5 m/s in 0.5 m), and a sighting
    # that shows it reaches the controller this much later than her stop began.
    stop_s: float = 0.4
    react_s: float = 0.1
    overshoot_deg: float = 1.3  # how far past such a stop the camera may end up
    lock_timeout_s: float = 0.5  # unseen this long: search
    look_s: float = 2.5  # look where she is predicted to be this long after the last sighting
    hold_standing_s: float = 4.0  # lost standing (at the board): hold on her spot so long ...
    look_standing_s: float = 12.0  # ... and keep it in the picture so long
    other_edge_s: float = 5.0  # walked out of reach: wait this long where she may come back
    stare_s: float = 0.35  # sweeping: hold still this long at each view
    calm_accel_share: float = 0.5  # searching, turning to a standing teacher: this much of it
    return_home_s: float = 15.0  # unseen this long: rest at home
    home_speed_dps: float = 12.0
    # Lazy re-centring: stood (sway allowed) this long, glide to the middle of her sway at
    # this speed (0: never; she may then stay up to ``dead_band_deg`` off-centre).
    recentre_after_s: float = 8.0
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
        for name in (
            "max_speed_dps",
            "max_accel_dps2",
            "max_jerk_dps3",
            "home_speed_dps",
            "max_step_s",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")
        if self.recentre_after_s < 0 or self.recentre_speed_dps < 0:
            raise ValueError("recentre_after_s and recentre_speed_dps must be >= 0")
        if not 0 <= self.settle_deg < self.dead_band_deg:
            raise ValueError("settle_deg must be >= 0 and below dead_band_deg")
        if not 0.0 < self.calm_accel_share <= 1.0:
            raise ValueError("calm_accel_share must be in (0, 1]")
        if not 20.0 <= self.hfov_deg < 180.0:
            raise ValueError("hfov_deg must be in [20, 180)")
        FilterSettings(self.alpha, self.beta)  # checks the gains

    @property
    def limits(self) -> MotionLimits:
        return MotionLimits(self.max_speed_dps, self.max_accel_dps2, self.max_jerk_dps3)

    @property
    def calm_limits(self) -> MotionLimits:
        """Searching, and turning to a teacher who stands: gentler."""
        accel = self.max_accel_dps2 * self.calm_accel_share
        return MotionLimits(self.max_speed_dps, accel, self.max_jerk_dps3)

    def rest_settings(self) -> RestSettings:
        return RestSettings(
            band_deg=self.dead_band_deg,
            walk_dps=self.walk_trigger_dps,
            recentre_after_s=self.recentre_after_s,
        )

    def search_settings(self) -> SearchSettings:
        # A marker is found once it is wholly in the picture: keep ~3 deg off each edge.
        return SearchSettings(
            min_deg=self.min_deg,
            max_deg=self.max_deg,
            home_deg=self.home_deg,
            view_deg=self.hfov_deg - 6.0,
            look_s=self.look_s,
            hold_standing_s=self.hold_standing_s,
            look_standing_s=self.look_standing_s,
            other_edge_s=self.other_edge_s,
            stare_s=self.stare_s,
            # Resting or widening, her spot stays half-way between the centre and the edge
            # (she usually comes back where she went): a short turn when she does.
            rest_margin_deg=(self.hfov_deg - 6.0) / 4.0,
            home_after_s=self.return_home_s,
        )


# She stands (for settling on her) when her rate is below this.
_SETTLED_RATE_DPS = 1.5
# Turning to a standing teacher is calm only from below this pan speed.
_CALM_FROM_DPS = 10.0
# A glide reaches its speed in this time (and stops in as long): no visible jerk.
_GLIDE_RAMP_S = 0.5
# A glide (and the search's arrival at a view) ends this close to its target.
_GLIDE_DONE_DEG = 0.05
_ARRIVED_DEG = 0.3
# Turning to a standing teacher aims at the middle of this many sightings or more.
_SPOT_MIN_SIGHTINGS = 4


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
        self._pan = PanState(min(max(start, s.min_deg), s.max_deg))
        self._t = now
        self._filter = BearingFilter(FilterSettings(s.alpha, s.beta))
        self._rest = RestPolicy(s.rest_settings())
        self._rest.start(now, self._pan.position_deg)
        self._search_settings = s.search_settings()
        self._limits = s.limits
        speed = max(s.recentre_speed_dps, 1e-6)
        self._glide_limits = MotionLimits(
            speed, min(s.max_accel_dps2, speed / _GLIDE_RAMP_S), s.max_jerk_dps3
        )
        self._search_limits = s.calm_limits
        self._home_limits = MotionLimits(
            min(s.home_speed_dps, s.max_speed_dps), self._search_limits.accel_dps2, s.max_jerk_dps3
        )
        self._last_seen: float | None = None
        self.mode = Mode.SEARCH
        # Not seen yet: look where the camera was put, then sweep, then rest at home.
        self._plan: SearchPlan | None = SearchPlan(self._search_settings, now, None)
        self._glide_to: float | None = None
        self._search_target: float | None = None
        self._calm = False  # the move under way turns to a standing teacher
        self._calm_sightings: list[float] = []  # her bearings seen during that turn
        self.state = TrackState.SEARCHING

    # -- what the tracker reads --

    @property
    def position_deg(self) -> float:
        return self._pan.position_deg

    @property
    def velocity_dps(self) -> float:
        return self._pan.velocity_dps

    @property
    def search_phase(self) -> Phase | None:
        """What the search is doing (None while she is followed or the camera rests on her)."""
        return self._plan.phase if self.mode is Mode.SEARCH and self._plan is not None else None

    # -- inputs --

    def observe(
        self,
        t_capture: float,
        bearing_deg: float,
        offset_deg: float = 0.0,
        marker_deg: float | None = None,
    ) -> None:
        """The marker was at ``bearing_deg`` (room degrees) in a frame captured at
        ``t_capture``; ``marker_deg`` is its width as an angle, if known (it scales how much a
        standing teacher may sway before the camera moves). ``offset_deg`` (its angle off the
        optical axis) is not needed here."""
        del offset_deg
        if not self._filter.observe(t_capture, bearing_deg):
            return  # late or repeated frame: the estimate already knows better
        self._last_seen = t_capture
        rest = self._rest
        if self.mode is Mode.SEARCH:
            self._plan = None  # seen: follow her at once (or stay, when she is in the middle)
            if marker_deg is not None and marker_deg > 0:
                rest.marker_deg = marker_deg
            if self._pan.at_rest and abs(bearing_deg - self.position_deg) <= rest.band:
                self._come_to_rest(self._t)
                rest.observe(t_capture, bearing_deg, marker_deg)
            else:
                self._start_tracking()
        elif self.mode is Mode.REST:
            if rest.observe(t_capture, bearing_deg, marker_deg):
                self._start_tracking()
        elif self.mode is Mode.GLIDE:
            if rest.observe(t_capture, bearing_deg, marker_deg):
                self._start_tracking()
            elif self._glide_to is not None and not rest.still_there(self._glide_to, bearing_deg):
                self._glide_to = None  # she moved: stop gently, rest, wait for her to stand
        else:
            if marker_deg is not None and marker_deg > 0:
                rest.marker_deg = marker_deg
            if self._calm:
                self._calm_sightings.append(bearing_deg)

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
        return self._filter.bearing_at(t)

    # -- internals --

    def _step(self, dt: float) -> None:
        s = self.settings
        t = self._t
        seen = self._last_seen
        if self.mode is not Mode.SEARCH and (seen is None or t - seen > s.lock_timeout_s):
            self._start_search(t)
        if self.mode is Mode.TRACK:
            self._track(dt)
        elif self.mode is Mode.REST:
            self._rest_step(t)
        elif self.mode is Mode.GLIDE:
            self._glide(t, dt)
        else:
            self._search(t, dt)
        if self.mode is Mode.SEARCH:
            plan = self._plan
            searching = plan is None or plan.searching
            self.state = TrackState.SEARCHING if searching else TrackState.LOST
        else:
            self.state = TrackState.LOCKED

    def _start_search(self, t: float) -> None:
        f = self._filter
        rate = f.rate
        heading = (rate > _SETTLED_RATE_DPS) - (rate < -_SETTLED_RATE_DPS)
        last = f.bearing_at(t) if f.seen else None
        lost_at = self._last_seen if self._last_seen is not None else t
        self._plan = SearchPlan(self._search_settings, lost_at, last, heading)
        self.mode = Mode.SEARCH
        self._glide_to = None
        self._search_target = None

    def _start_tracking(self) -> None:
        self.mode = Mode.TRACK
        # Turning to a standing teacher (found again, or a step aside): calmly. Walking
        # (now or later in this move): with everything the limits allow.
        # A camera already turning fast (found her mid-sweep) brakes with everything: at the
        # calm limits it would run far past her.
        self._calm = (
            abs(self._filter.rate) < _SETTLED_RATE_DPS
            and abs(self._pan.velocity_dps) < _CALM_FROM_DPS
        )
        self._calm_sightings = []

    def _bounds(self) -> tuple[float, float]:
        return self.settings.min_deg, self.settings.max_deg

    def _clamp(self, deg: float) -> float:
        return min(max(deg, self.settings.min_deg), self.settings.max_deg)

    def _come_to_rest(self, t: float) -> None:
        self.mode = Mode.REST
        self._glide_to = None
        self._rest.start(t, self.position_deg)

    def _track(self, dt: float) -> None:
        s = self.settings
        f = self._filter
        t = self._t
        goal_raw = f.bearing_at(t + s.lookahead_s)
        assert goal_raw is not None and f.t is not None
        rate = f.rate_at(t)
        spot = self._standing_spot()
        if spot is not None:
            goal_raw, rate = spot, 0.0
        her_rate = rate
        goal = self._clamp(goal_raw)
        if goal != goal_raw:
            rate = 0.0  # she is beyond a soft limit: wait there for her
        error = goal - self.position_deg
        pan = self._pan
        if abs(rate) >= _SETTLED_RATE_DPS:
            self._calm = False  # she walks: follow her with everything the limits allow
        # The approach is planned at the limits the step keeps: planned at the full ones, a
        # calm turn would brake too late and pass her.
        limits = self._search_limits if self._calm else self._limits
        if abs(error) < s.settle_deg and abs(rate) < _SETTLED_RATE_DPS:
            if pan.at_rest:
                self._come_to_rest(t)
                return
            wanted = 0.0
        else:
            wanted = rate + approach_speed(error, limits, s.track_gain, dt)
            # Her own rate, not the clamped goal's: walking towards a soft limit she may
            # still stop dead short of it, and the camera must be able to stop there too.
            wanted = self._stoppable(wanted, her_rate)
        self._pan = step(pan, wanted, limits, dt, self._bounds(), (goal, rate))

    def _standing_spot(self) -> float | None:
        """Turning to a teacher who stands and sways: the middle of her sightings since the
        turn began (None while too few, or when they spread wider than a sway). Aiming at
        the filter's bearing would stop the camera wherever her sway was as it arrived, and
        a lazy re-centring glide would follow in her stand."""
        seen = self._calm_sightings
        if not self._calm or len(seen) < _SPOT_MIN_SIGHTINGS:
            return None
        if max(seen) - min(seen) > self._rest.sway:
            return None
        return sum(seen) / len(seen)

    def _stoppable(self, wanted: float, rate: float) -> float:
        """``wanted`` capped so the camera could stop where she would if she stopped dead."""
        s = self.settings
        f = self._filter
        if abs(rate) < _SETTLED_RATE_DPS or wanted * rate <= 0:
            return wanted
        direction = math.copysign(1.0, rate)
        # Her stop point if she began to stop at the last sighting, and how far the camera
        # may go before it must have stopped.
        her_stop = f.bearing + f.rate * s.stop_s / 2.0
        slowing = f.stop_point()
        if slowing is not None and (slowing - her_stop) * direction < 0:
            her_stop = slowing  # she is slowing down already: she stops sooner
        room = (her_stop - self.position_deg) * direction + s.overshoot_deg
        cap = braking_speed(room, self._limits, s.react_s)
        return direction * min(abs(wanted), cap)

    def _rest_step(self, t: float) -> None:
        s = self.settings
        if self._rest.settle_target(t) is not None:
            # She stepped nearer or further and stopped: settle on her (calmly), then rest.
            self._start_tracking()
            return
        if s.recentre_speed_dps <= 0:
            return
        target = self._rest.recentre_target(t)
        if target is not None:
            self._glide_to = self._clamp(target)
            self.mode = Mode.GLIDE

    def _glide(self, t: float, dt: float) -> None:
        target = self._glide_to
        pan = self._pan
        if target is None:
            wanted = 0.0  # stopping gently
            goal = None
        else:
            error = target - self.position_deg
            if abs(error) <= _GLIDE_DONE_DEG:
                target = None
                self._glide_to = None
                wanted = 0.0
                goal = None
            else:
                wanted = approach_speed(error, self._glide_limits, 4.0, dt)
                goal = (target, 0.0)
        if target is None and pan.at_rest:
            self._come_to_rest(t)
            return
        self._pan = step(pan, wanted, self._glide_limits, dt, self._bounds(), goal)

    def _search(self, t: float, dt: float) -> None:
        s = self.settings
        plan = self._plan
        assert plan is not None
        f = self._filter
        pan = self._pan
        predicted = f.bearing_at(t)
        looking_at = pan.position_deg if predicted is None else predicted
        last = self._search_target
        arrived = pan.at_rest and last is not None and abs(last - pan.position_deg) < _ARRIVED_DEG
        target = self._clamp(plan.target(t, looking_at, arrived))
        self._search_target = target
        rate = 0.0
        limits = self._search_limits
        inside = predicted is not None and self._clamp(predicted) == predicted
        if plan.phase is Phase.LOOK:
            limits = self._limits
            if inside:
                rate = f.rate_at(t)  # follow her predicted walk
        elif plan.phase is Phase.HOME:
            limits = self._home_limits
        error = target - pan.position_deg
        if abs(error) < _ARRIVED_DEG and abs(rate) < _SETTLED_RATE_DPS:
            wanted = 0.0
        else:
            wanted = rate + approach_speed(error, limits, s.track_gain, dt)
        self._pan = step(pan, wanted, limits, dt, self._bounds(), (target, rate))
