"""Scripted teacher paths as pure data, and where the teacher is at any moment.

Positions are (bearing in degrees from the room's centre line, positive to the camera's right;
horizontal distance from the camera in metres). Walks are straight lines across the floor with a
smooth start and stop; the peak speed never exceeds a brisk walk (1.4 m/s). The named scenarios
are laid out for the default room in ``scene.py``: camera at the back on the centre line, desks
in three rows 4-7 m away, the whiteboard ~9 m away, the door in the right wall ~7 m away.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass, field

MAX_WALK_SPEED_MPS = 1.4
# People reach walking speed in about a second; this shapes starts and stops.
WALK_ACCEL_MPS2 = 1.0
# Standing and sitting: how far the lanyard marker drops when the teacher sits down.
SITTING_DROP_M = 0.30


def polar(x_m: float, y_m: float) -> tuple[float, float]:
    """Floor coordinates (x right, y away from the camera) to (bearing_deg, distance_m)."""
    return math.degrees(math.atan2(x_m, y_m)), math.hypot(x_m, y_m)


def cartesian(bearing_deg: float, distance_m: float) -> tuple[float, float]:
    """(bearing_deg, distance_m) to floor coordinates (x right, y away from the camera)."""
    b = math.radians(bearing_deg)
    return distance_m * math.sin(b), distance_m * math.cos(b)


@dataclass(frozen=True)
class Walk:
    """Walk in a straight line to a position, starting and stopping smoothly.

    ``speed_mps`` is the cruising (peak) speed; ``hidden`` means a pupil blocks the marker for
    the whole walk.
    """

    bearing_deg: float
    distance_m: float
    speed_mps: float = 1.0
    hidden: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.speed_mps <= MAX_WALK_SPEED_MPS:
            raise ValueError(f"walking speed must be in (0, {MAX_WALK_SPEED_MPS}] m/s")
        if self.distance_m <= 0:
            raise ValueError("distance must be positive")

    @classmethod
    def to_xy(cls, x_m: float, y_m: float, speed_mps: float = 1.0, hidden: bool = False) -> Walk:
        """A walk to floor coordinates (x right, y away from the camera)."""
        bearing, distance = polar(x_m, y_m)
        return cls(bearing, distance, speed_mps, hidden)


@dataclass(frozen=True)
class Pause:
    """Stay where she is for a while.

    ``hidden``: a pupil stands in front of her; ``turned_away``: she faces the board, so the
    marker on her chest faces away; ``in_view=False``: she has left the room's view (the door).
    """

    seconds: float
    hidden: bool = False
    turned_away: bool = False
    sitting: bool = False
    in_view: bool = True

    def __post_init__(self) -> None:
        if self.seconds < 0:
            raise ValueError("a pause cannot be negative")


Leg = Walk | Pause


@dataclass(frozen=True)
class TeacherPose:
    """Where the teacher is and whether her marker can be seen.

    ``hidden`` is the scripted occlusion (a pupil in front, or she faces away). The scene may
    also hide a sitting teacher's marker behind seated pupils; ``Scene.marker_corners`` is the
    ground truth for what a camera actually sees.
    """

    bearing_deg: float
    distance_m: float
    hidden: bool = False
    visible_in_room: bool = True
    sitting: bool = False
    turned_away: bool = False

    @property
    def marker_visible(self) -> bool:
        """In the room, facing the camera and not behind a pupil."""
        return self.visible_in_room and not self.hidden


@dataclass(frozen=True)
class Waypoint:
    """The moment a walk arrives at its target."""

    t_s: float
    bearing_deg: float
    distance_m: float


@dataclass(frozen=True)
class _Span:
    start_s: float
    end_s: float
    start_xy: tuple[float, float]
    end_xy: tuple[float, float]
    leg: Leg


def walk_duration_s(length_m: float, speed_mps: float, accel: float = WALK_ACCEL_MPS2) -> float:
    """Time to walk ``length_m`` with a trapezoidal speed profile (triangular when short)."""
    if length_m <= 0:
        return 0.0
    if length_m >= speed_mps**2 / accel:
        return length_m / speed_mps + speed_mps / accel
    return 2.0 * math.sqrt(length_m / accel)


def _walked_m(length_m: float, speed_mps: float, t: float, accel: float = WALK_ACCEL_MPS2) -> float:
    """Distance covered after ``t`` seconds of a walk of ``length_m`` (trapezoidal profile)."""
    total = walk_duration_s(length_m, speed_mps, accel)
    if t <= 0:
        return 0.0
    if t >= total:
        return length_m
    peak = min(speed_mps, math.sqrt(accel * length_m))
    t_acc = peak / accel
    if t < t_acc:
        return 0.5 * accel * t * t
    if t <= total - t_acc:
        return 0.5 * accel * t_acc * t_acc + peak * (t - t_acc)
    left = total - t
    return length_m - 0.5 * accel * left * left


def _plan(start_xy: tuple[float, float], legs: tuple[Leg, ...]) -> tuple[_Span, ...]:
    spans: list[_Span] = []
    t = 0.0
    here = start_xy
    for leg in legs:
        if isinstance(leg, Walk):
            there = cartesian(leg.bearing_deg, leg.distance_m)
            length = math.dist(here, there)
            end = t + walk_duration_s(length, leg.speed_mps)
        else:
            there = here
            end = t + leg.seconds
        spans.append(_Span(t, end, here, there, leg))
        t, here = end, there
    return tuple(spans)


@dataclass(frozen=True)
class TeacherPath:
    """A named script: a start position and a sequence of walks and pauses."""

    name: str
    start_bearing_deg: float
    start_distance_m: float
    legs: tuple[Leg, ...]
    _spans: tuple[_Span, ...] = field(init=False, repr=False, compare=False)
    _starts: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Precomputed once so position_at is a bisect, even for a 50-minute lesson.
        spans = _plan(cartesian(self.start_bearing_deg, self.start_distance_m), self.legs)
        object.__setattr__(self, "_spans", spans)
        object.__setattr__(self, "_starts", tuple(s.start_s for s in spans))

    @classmethod
    def from_xy(cls, name: str, x_m: float, y_m: float, legs: tuple[Leg, ...]) -> TeacherPath:
        """A path starting at floor coordinates (x right, y away from the camera)."""
        bearing, distance = polar(x_m, y_m)
        return cls(name, bearing, distance, legs)

    @property
    def duration_s(self) -> float:
        """When the script ends; afterwards she stays where she stopped."""
        return self._spans[-1].end_s if self._spans else 0.0

    def waypoints(self) -> tuple[Waypoint, ...]:
        """Arrival time and target of every walk, in order."""
        return tuple(
            Waypoint(s.end_s, s.leg.bearing_deg, s.leg.distance_m)
            for s in self._spans
            if isinstance(s.leg, Walk)
        )


def position_at(path: TeacherPath, t_s: float) -> TeacherPose:
    """Where the teacher is ``t_s`` seconds into the path (clamped to its start and end)."""
    spans = path._spans
    if not spans:
        return TeacherPose(path.start_bearing_deg, path.start_distance_m)
    i = max(0, bisect.bisect_right(path._starts, t_s) - 1)
    span = spans[i]
    if t_s >= span.end_s and i == len(spans) - 1:
        # After the script: standing where the last leg left her, in plain view.
        bearing, distance = polar(*span.end_xy)
        return TeacherPose(bearing, distance)
    leg = span.leg
    if isinstance(leg, Walk):
        length = math.dist(span.start_xy, span.end_xy)
        s = _walked_m(length, leg.speed_mps, t_s - span.start_s)
        f = s / length if length > 0 else 1.0
        x = span.start_xy[0] + f * (span.end_xy[0] - span.start_xy[0])
        y = span.start_xy[1] + f * (span.end_xy[1] - span.start_xy[1])
        bearing, distance = polar(x, y)
        return TeacherPose(bearing, distance, hidden=leg.hidden)
    bearing, distance = polar(*span.start_xy)
    return TeacherPose(
        bearing,
        distance,
        hidden=leg.hidden or leg.turned_away,
        visible_in_room=leg.in_view,
        sitting=leg.sitting,
        turned_away=leg.turned_away,
    )


# --- named scenarios -------------------------------------------------------------------------

_W = Walk.to_xy


def _scenarios() -> dict[str, TeacherPath]:
    back_and_forth: list[Leg] = []
    for _ in range(3):
        back_and_forth += [_W(2.5, 7.3, 1.3), Pause(0.4), _W(-2.5, 7.3, 1.3), Pause(0.4)]
    # A change of mind halfway: turn back without stopping first.
    back_and_forth += [_W(0.5, 7.3, 1.0), _W(-1.0, 7.3, 1.0), Pause(1.0)]
    paths = [
        TeacherPath.from_xy("walk_front", -3.0, 7.4, (Pause(1.0), _W(3.0, 7.4, 1.2), Pause(2.0))),
        # Crossing right behind the back row at ~3 m: the fastest bearing change (~27 deg/s).
        TeacherPath.from_xy("walk_near", -3.0, 3.0, (Pause(1.0), _W(3.0, 3.0, 1.4), Pause(2.0))),
        TeacherPath.from_xy(
            "walk_and_stop",
            0.0,
            7.6,
            (
                Pause(1.0),
                _W(-2.5, 7.4, 1.0),
                Pause(5.0),
                _W(1.5, 7.2, 1.2),
                Pause(4.0),
                _W(2.6, 7.4, 0.8),
                Pause(6.0),
            ),
        ),
        TeacherPath.from_xy("back_and_forth", -2.5, 7.3, (Pause(1.0), *back_and_forth)),
        # Down the centre aisle, sits beside a pupil in the middle row, then the front row.
        TeacherPath.from_xy(
            "visit_tables",
            0.0,
            7.4,
            (
                Pause(2.0),
                _W(0.0, 5.3, 1.0),
                _W(0.2, 4.85, 0.5),
                Pause(8.0, sitting=True),
                _W(0.0, 4.3, 0.6),
                _W(-0.2, 3.65, 0.5),
                Pause(6.0, sitting=True),
                _W(0.0, 4.2, 0.6),
                _W(0.0, 7.4, 1.1),
                Pause(2.0),
            ),
        ),
        TeacherPath.from_xy(
            "hidden_2s",
            -2.0,
            7.4,
            (
                Pause(1.0),
                _W(0.0, 7.4, 1.0),
                Pause(1.0),
                Pause(2.0, hidden=True),
                Pause(1.0),
                _W(2.0, 7.4, 1.0),
                Pause(1.0),
            ),
        ),
        # Out through the door in the right wall, back ten seconds later.
        TeacherPath.from_xy(
            "leave_and_return",
            0.0,
            7.4,
            (
                Pause(1.0),
                _W(3.0, 7.2, 1.2),
                _W(3.75, 6.1, 1.0),
                Pause(10.0, in_view=False),
                Pause(0.5),
                _W(3.0, 7.2, 1.0),
                _W(1.0, 7.3, 1.2),
                Pause(2.0),
            ),
        ),
        TeacherPath.from_xy(
            "board_work",
            -1.5,
            7.4,
            (Pause(1.0), _W(0.5, 7.9, 0.8), Pause(6.0, turned_away=True), Pause(3.0)),
        ),
    ]
    return {p.name: p for p in paths}


SCENARIOS: dict[str, TeacherPath] = _scenarios()


def scenario(name: str) -> TeacherPath:
    """A named scenario; ``KeyError`` lists the names."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise KeyError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}") from None


# --- a whole lesson --------------------------------------------------------------------------

# Places in the default room (floor x, y): the front zone, the board, aisles beside desks.
_FRONT_X = (-2.8, 2.8)
_FRONT_Y = (7.0, 7.4)
_BOARD_Y = 7.9
_AISLE_XS = (-1.9, 0.0, 1.9)
_AISLE_TOP_Y = 6.9
_PUPIL_YS = (3.65, 4.85, 5.95)
_DOOR_XY = (3.75, 6.1)


class _Script:
    """Accumulates legs while tracking time and position, for ``lesson_path``."""

    def __init__(self, x: float, y: float) -> None:
        self.legs: list[Leg] = []
        self.t = 0.0
        self.xy = (x, y)

    def walk(self, x: float, y: float, speed: float) -> None:
        self.t += walk_duration_s(math.dist(self.xy, (x, y)), speed)
        self.legs.append(_W(x, y, speed))
        self.xy = (x, y)

    def pause(self, seconds: float, **flags: bool) -> None:
        self.t += seconds
        self.legs.append(Pause(seconds, **flags))


def lesson_path(minutes: float, seed: int = 0) -> TeacherPath:
    """A plausible lesson of exactly ``minutes``: mostly teaching at the front, some board work,
    table visits (standing and sitting), brief occlusions by pupils, now and then leaving the
    room for a moment. Deterministic for a given seed."""
    rng = random.Random(seed)
    total = minutes * 60.0
    s = _Script(0.0, 7.4)

    def front() -> None:
        s.walk(rng.uniform(*_FRONT_X), rng.uniform(*_FRONT_Y), rng.uniform(0.6, 1.3))
        s.pause(rng.uniform(5.0, 45.0))
        if rng.random() < 0.5:  # a small shuffle while talking
            x = min(max(s.xy[0] + rng.uniform(-1.0, 1.0), _FRONT_X[0]), _FRONT_X[1])
            s.walk(x, s.xy[1], rng.uniform(0.4, 0.8))
            s.pause(rng.uniform(3.0, 20.0))

    def board() -> None:
        s.walk(rng.uniform(-1.2, 1.2), _BOARD_Y, rng.uniform(0.6, 1.0))
        s.pause(rng.uniform(4.0, 20.0), turned_away=True)
        s.pause(rng.uniform(2.0, 6.0))

    def visit() -> None:
        aisle = rng.choice(_AISLE_XS)
        s.walk(aisle, _AISLE_TOP_Y, rng.uniform(0.8, 1.2))
        row_y = rng.choice(_PUPIL_YS)
        s.walk(aisle, row_y + 0.4, rng.uniform(0.6, 1.0))
        side = rng.choice((-0.2, 0.2))
        s.walk(aisle + side, row_y, 0.5)
        s.pause(rng.uniform(15.0, 60.0), sitting=rng.random() < 0.5)
        s.walk(aisle, row_y + 0.4, 0.5)
        s.walk(aisle, _AISLE_TOP_Y, rng.uniform(0.8, 1.2))

    def occluded() -> None:
        s.pause(rng.uniform(1.0, 4.0), hidden=True)

    def leave() -> None:
        s.walk(3.0, 7.2, 1.2)
        s.walk(*_DOOR_XY, 1.0)
        s.pause(rng.uniform(10.0, 60.0), in_view=False)
        s.pause(0.5)
        s.walk(3.0, 7.2, 1.0)

    activities = (front, board, visit, occluded, leave)
    weights = (0.50, 0.18, 0.20, 0.09, 0.03)
    while s.t < total - 120.0:
        rng.choices(activities, weights)[0]()
    # Wind down at the front until the bell, whatever time is left.
    if s.t < total - 10.0:
        s.walk(0.0, 7.4, 1.0)
    s.pause(max(0.0, total - s.t))
    return TeacherPath(f"lesson_{minutes:g}min_seed{seed}", *polar(0.0, 7.4), tuple(s.legs))
