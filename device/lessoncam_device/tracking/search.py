"""Where to look while the teacher is lost. Pure: times and angles in, a pan target out.

What the camera does depends on how she was lost:

- *Walking* (her bearing was changing when the sightings stopped): follow her predicted walk
  (slowing down: people stop, turn, sit) until ``look_s`` after the last sighting, then
  sweep the rest of the reach.
- *Standing* (she turned to the board, a pupil stood in front of her, she bent down): she is
  most likely still there. Hold on her spot until ``hold_standing_s``, then widen the view
  towards home while keeping her spot in the picture until ``look_standing_s``, then sweep.
- *Out of reach* (she walked out past the edge of what any pan can see, e.g. round behind the
  camera): she can only come back in at an edge, this one or the other. Hold at this edge
  until ``look_s``, then wait at the other edge for ``other_edge_s``.

The sweep visits, in as few stops as cover it, the views (``view_deg`` wide: the part of the
picture a marker is found in) not seen yet: outwards on the side she was heading to first, then
the other side, holding still for ``stare_s`` at each (a moving camera smears the marker).
Afterwards the camera rests on a sensible view: the one nearest home that still shows where she
was lost (she usually comes back the way she went); after ``home_after_s`` unseen, home itself.
The controller follows the plan's targets and drops the plan the moment she is seen again.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Phase(StrEnum):
    """What the search is doing: all but REST and HOME are ``searching``, those ``lost``."""

    LOOK = "look"  # where she was, or where her walk was taking her
    WIDE = "wide"  # her spot still in the picture, and the room towards home
    SWEEP = "sweep"  # the rest of the reach, a view at a time
    OTHER_EDGE = "other-edge"  # she left the reach: the other way back in
    REST = "rest"
    HOME = "home"


@dataclass(frozen=True)
class SearchSettings:
    """The reach, the view, and how long to look."""

    min_deg: float = -60.0
    max_deg: float = 60.0
    home_deg: float = 0.0
    view_deg: float = 60.0  # width of the picture in which a marker is found
    look_s: float = 2.5  # after the last sighting, look where she is predicted to be
    hold_standing_s: float = 4.0  # lost while standing: hold on her spot this long ...
    look_standing_s: float = 12.0  # ... and keep it in view this long
    other_edge_s: float = 5.0  # out of reach: wait at the other edge this long
    stare_s: float = 0.35  # hold still this long at each view of the sweep
    rest_margin_deg: float = 8.0  # the resting view keeps her spot this far inside it
    # Widening by less than this uncovers too little of the room to be worth turning away
    # from her spot (she usually comes back where she went): hold on it instead.
    min_widen_deg: float = 8.0
    home_after_s: float = 15.0  # unseen this long: rest at home

    def __post_init__(self) -> None:
        if not self.min_deg < self.max_deg:
            raise ValueError("min_deg must be below max_deg")
        if not self.min_deg <= self.home_deg <= self.max_deg:
            raise ValueError("home_deg must lie within the pan limits")
        if not 0 < self.view_deg < 180 or self.rest_margin_deg * 2 >= self.view_deg:
            raise ValueError("view_deg must be in (0, 180) and wider than twice rest_margin_deg")
        times = (self.look_s, self.hold_standing_s, self.look_standing_s, self.other_edge_s)
        if min(*times, self.stare_s, self.home_after_s, self.min_widen_deg) < 0:
            raise ValueError("search times must be >= 0")

    def clamp(self, deg: float) -> float:
        return min(max(deg, self.min_deg), self.max_deg)

    @property
    def half_view(self) -> float:
        return self.view_deg / 2.0


def sweep_stops(
    settings: SearchSettings, seen: list[tuple[float, float]], heading: int, at: float
) -> list[float]:
    """Pan angles whose views cover what of the reach the ``seen`` intervals (of bearings) do
    not: outwards on the ``heading`` side of ``at`` first (+1 right, -1 left, 0: the nearer end
    first), then the other side."""
    s = settings
    half = s.half_view
    lo_seen = min([a for a, _ in seen], default=at)
    hi_seen = max([b for _, b in seen], default=at)

    def side(direction: int) -> list[float]:
        stops: list[float] = []
        edge = hi_seen if direction > 0 else lo_seen  # how far this side is covered
        end = s.max_deg if direction > 0 else s.min_deg
        while (end + direction * half - edge) * direction > 0.5:
            stop = end if abs(end - edge) <= half else edge + direction * half
            stop = s.clamp(stop)
            stops.append(stop)
            edge = stop + direction * half
        return stops

    if heading == 0:
        heading = 1 if s.max_deg - at <= at - s.min_deg else -1
    return side(heading) + side(-heading)


def resting_view(settings: SearchSettings, spot: float | None) -> float:
    """The pan nearest home whose picture still shows ``spot`` (home if there is none)."""
    s = settings
    if spot is None:
        return s.home_deg
    reach = s.half_view - s.rest_margin_deg
    return s.clamp(min(max(s.home_deg, spot - reach), spot + reach))


class SearchPlan:
    """One search, from the moment she was last seen (or the lesson began)."""

    def __init__(
        self,
        settings: SearchSettings,
        lost_at: float,
        last_seen_deg: float | None,
        heading: int = 0,
    ) -> None:
        s = settings
        self.settings = s
        self.lost_at = lost_at
        self.last_seen_deg = last_seen_deg
        self.heading = heading
        self.phase = Phase.LOOK
        self._stops: list[float] = []
        self._stare_from: float | None = None
        self.standing = heading == 0 and last_seen_deg is not None
        # Out of reach: last seen beyond what the pan limits can bring into view, going out.
        self.exit_side = 0
        if last_seen_deg is not None:
            if heading > 0 and last_seen_deg > s.max_deg + s.half_view - s.rest_margin_deg:
                self.exit_side = 1
            elif heading < 0 and last_seen_deg < s.min_deg - s.half_view + s.rest_margin_deg:
                self.exit_side = -1
        self.rest_deg = resting_view(s, last_seen_deg)

    @property
    def searching(self) -> bool:
        """True while the camera is actively looking (not resting on a view)."""
        return self.phase not in (Phase.REST, Phase.HOME)

    def target(self, now: float, looking_at: float, arrived: bool) -> float:
        """The pan to aim for at ``now``. ``looking_at`` is her predicted spot (used while
        looking for her there); ``arrived`` says the camera has come to rest on the target."""
        s = self.settings
        age = now - self.lost_at
        if self.phase is Phase.LOOK:
            if age < (s.hold_standing_s if self.standing else s.look_s):
                return s.clamp(looking_at)
            self._after_look(looking_at)
            arrived = False
        if self.phase is Phase.WIDE:
            if age < s.look_standing_s:
                return self.rest_deg
            self.phase = Phase.SWEEP
            arrived = False
        if self.phase is Phase.OTHER_EDGE:
            target = s.min_deg if self.exit_side > 0 else s.max_deg
            if not arrived:
                self._stare_from = None
                return target
            if self._stare_from is None:
                self._stare_from = now
            if now - self._stare_from < s.other_edge_s:
                return target
            self.phase = Phase.REST
        if self.phase is Phase.SWEEP:
            while self._stops:
                if not arrived:
                    self._stare_from = None
                    return self._stops[0]
                if self._stare_from is None:
                    self._stare_from = now
                if now - self._stare_from < s.stare_s:
                    return self._stops[0]
                self._stops.pop(0)
                self._stare_from = None
                arrived = False
            self.phase = Phase.REST
        if self.phase is Phase.REST and age >= s.home_after_s:
            self.phase = Phase.HOME
        return s.home_deg if self.phase is Phase.HOME else self.rest_deg

    def _after_look(self, looked_at: float) -> None:
        """LOOK is over at ``looked_at``: plan what comes next."""
        s = self.settings
        spot = s.clamp(looked_at)
        if self.exit_side:
            self.phase = Phase.OTHER_EDGE
            return
        if self.last_seen_deg is not None and not self.standing:
            self.rest_deg = resting_view(s, looked_at)  # where her walk was taking her
        seen = [(spot - s.half_view, spot + s.half_view)]
        if self.standing:
            if abs(self.rest_deg - spot) < s.min_widen_deg:
                self.rest_deg = spot
            seen.append((self.rest_deg - s.half_view, self.rest_deg + s.half_view))
            self.phase = Phase.WIDE
        else:
            self.phase = Phase.SWEEP
        self._stops = sweep_stops(s, seen, self.heading, spot)
