"""Scripted teacher paths as pure data, and where the teacher is at any moment.

Positions are (bearing in degrees from the room's centre line, positive to the camera's right;
horizontal distance from the camera in metres). Walks are straight lines across the floor with
their own cruising speed (a stroll to a 2.5 m/s dash), acceleration and stop (smooth at
1 m/s^2, or a dead stop at up to 8 m/s^2). While she stands she sways and leans a little. Pupils
may walk between her and the camera (``Crossing``), and other people may wear markers with
other ids (``Companion``). The named scenarios are laid out for the default room in
``scene.py``: camera at the back on the centre line (1 m from the back wall), desks in three
rows 4-7 m away, the whiteboard ~9 m away, the door in the right wall ~7 m away.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from dataclasses import dataclass, field, replace

MAX_WALK_SPEED_MPS = 1.4  # a brisk walk: the lessons and the calm scenarios
MAX_SPEED_MPS = 2.5  # hurrying across the room
# People reach walking speed in about a second; this shapes starts and stops.
WALK_ACCEL_MPS2 = 1.0
# The hardest start or stop a person makes: 2.5 m/s to standing within 0.4 m.
MAX_ACCEL_MPS2 = 8.0
# Standing and sitting: how far the lanyard marker drops when the teacher sits down.
SITTING_DROP_M = 0.30
# The default room's camera and the marker's height (scene.py and geometry.py draw them so):
# which part of a crossing pupil covers the marker depends on them.
CAMERA_HEIGHT_M = 1.8
MARKER_HEIGHT_M = 1.22


def polar(x_m: float, y_m: float) -> tuple[float, float]:
    """Floor coordinates (x right, y away from the camera) to (bearing_deg, distance_m)."""
    return math.degrees(math.atan2(x_m, y_m)), math.hypot(x_m, y_m)


def cartesian(bearing_deg: float, distance_m: float) -> tuple[float, float]:
    """(bearing_deg, distance_m) to floor coordinates (x right, y away from the camera)."""
    b = math.radians(bearing_deg)
    return distance_m * math.sin(b), distance_m * math.cos(b)


def _check_accel(*values: float | None) -> None:
    for value in values:
        if value is not None and not 0 < value <= MAX_ACCEL_MPS2:
            raise ValueError(f"accelerations must be in (0, {MAX_ACCEL_MPS2}] m/s^2")


@dataclass(frozen=True)
class Walk:
    """Walk in a straight line to a position, starting and stopping smoothly.

    ``speed_mps`` is the cruising (peak) speed, reached at ``accel_mps2`` and lost at
    ``stop_mps2`` (default: the same; 6-8 is a dead stop). ``hidden`` means a pupil in front
    of her blocks the marker for the whole walk; ``turned_away`` that she walks with her back
    to the camera (along the board).
    """

    bearing_deg: float
    distance_m: float
    speed_mps: float = 1.0
    hidden: bool = False
    accel_mps2: float = WALK_ACCEL_MPS2
    stop_mps2: float | None = None
    turned_away: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.speed_mps <= MAX_SPEED_MPS:
            raise ValueError(f"walking speed must be in (0, {MAX_SPEED_MPS}] m/s")
        if self.distance_m <= 0:
            raise ValueError("distance must be positive")
        _check_accel(self.accel_mps2, self.stop_mps2)

    @property
    def decel_mps2(self) -> float:
        return self.accel_mps2 if self.stop_mps2 is None else self.stop_mps2

    @classmethod
    def to_xy(
        cls,
        x_m: float,
        y_m: float,
        speed_mps: float = 1.0,
        hidden: bool = False,
        *,
        accel_mps2: float = WALK_ACCEL_MPS2,
        stop_mps2: float | None = None,
        turned_away: bool = False,
    ) -> Walk:
        """A walk to floor coordinates (x right, y away from the camera)."""
        bearing, distance = polar(x_m, y_m)
        return cls(bearing, distance, speed_mps, hidden, accel_mps2, stop_mps2, turned_away)


@dataclass(frozen=True)
class Pause:
    """Stay where she is for a while.

    ``hidden``: a pupil stands in front of her; ``turned_away``: she faces the board, so the
    marker on her chest faces away; ``in_view=False``: she has left the room's view (the door).
    ``sway_m``: she sways sideways this much either way (people do: ~3 cm); ``lean_m``: she
    leans or steps this far sideways (positive to the camera's right) and back, easing in over
    the first and out over the last ``LEAN_EASE_S`` of the pause.
    """

    seconds: float
    hidden: bool = False
    turned_away: bool = False
    sitting: bool = False
    in_view: bool = True
    sway_m: float = 0.0
    lean_m: float = 0.0

    def __post_init__(self) -> None:
        if self.seconds < 0:
            raise ValueError("a pause cannot be negative")
        if not 0 <= self.sway_m <= 0.1 or abs(self.lean_m) > 0.3:
            raise ValueError("sway_m must be in [0, 0.1] m and lean_m within 0.3 m")


@dataclass(frozen=True)
class Crossing:
    """A pupil walks across between her and the camera, ``gap_m`` in front of her, starting
    ``start_m`` to one side of her line of sight (left, or right with ``from_right``) at
    ``at_s`` and walking to the same distance on the other side."""

    at_s: float
    speed_mps: float = 1.1
    gap_m: float = 1.5
    from_right: bool = False
    start_m: float = 1.5

    def __post_init__(self) -> None:
        if self.speed_mps <= 0 or self.gap_m <= 0 or self.start_m <= 0:
            raise ValueError("a crossing needs a positive speed, gap and start")

    @property
    def duration_s(self) -> float:
        return 2.0 * self.start_m / self.speed_mps


@dataclass(frozen=True)
class Companion:
    """Somebody else in the room wearing a marker with another id (a colleague, an assistant)."""

    path: TeacherPath
    marker_id: int


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
    pupil: tuple[float, float] | None = None  # (bearing, distance) of a pupil crossing
    standing: bool = True  # not walking (a pause: she may sway, lean or sit)
    # Where she stands (the pause's spot, without her sway and leans); None: ``bearing_deg``.
    stance_deg: float | None = None

    @property
    def stance(self) -> float:
        """The bearing of where she stands: her bearing, less any sway or lean."""
        return self.bearing_deg if self.stance_deg is None else self.stance_deg

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


@dataclass
class _Span:
    start_s: float
    end_s: float
    start_xy: tuple[float, float]
    end_xy: tuple[float, float]
    leg: Leg
    # A sway eases in (out) here unless the pause before (after) sways alike: no jumps.
    sway_in: bool = True
    sway_out: bool = True


def _profile(
    length_m: float, speed_mps: float, accel: float, decel: float
) -> tuple[float, float, float]:
    """(peak speed, time to reach it, total time) of a trapezoidal (or triangular) walk."""
    if length_m <= 0:
        return 0.0, 0.0, 0.0
    peak = min(speed_mps, math.sqrt(2.0 * length_m * accel * decel / (accel + decel)))
    t_acc, t_dec = peak / accel, peak / decel
    cruise = (length_m - peak * peak / (2 * accel) - peak * peak / (2 * decel)) / peak
    return peak, t_acc, t_acc + max(0.0, cruise) + t_dec


def walk_duration_s(
    length_m: float,
    speed_mps: float,
    accel: float = WALK_ACCEL_MPS2,
    decel: float | None = None,
) -> float:
    """Time to walk ``length_m`` with a trapezoidal speed profile (triangular when short)."""
    return _profile(length_m, speed_mps, accel, accel if decel is None else decel)[2]


def _walked_m(
    length_m: float, speed_mps: float, t: float, accel: float = WALK_ACCEL_MPS2, decel: float = 0.0
) -> float:
    """Distance covered after ``t`` seconds of a walk of ``length_m`` (trapezoidal profile)."""
    decel = decel or accel
    peak, t_acc, total = _profile(length_m, speed_mps, accel, decel)
    if t <= 0:
        return 0.0
    if t >= total:
        return length_m
    if t < t_acc:
        return 0.5 * accel * t * t
    left = total - t
    if left < peak / decel:
        return length_m - 0.5 * decel * left * left
    return 0.5 * accel * t_acc * t_acc + peak * (t - t_acc)


def _plan(start_xy: tuple[float, float], legs: tuple[Leg, ...]) -> tuple[_Span, ...]:
    spans: list[_Span] = []
    t = 0.0
    here = start_xy
    for leg in legs:
        if isinstance(leg, Walk):
            there = cartesian(leg.bearing_deg, leg.distance_m)
            length = math.dist(here, there)
            end = t + walk_duration_s(length, leg.speed_mps, leg.accel_mps2, leg.decel_mps2)
        else:
            there = here
            end = t + leg.seconds
        spans.append(_Span(t, end, here, there, leg))
        t, here = end, there
    for a, b in itertools.pairwise(spans):
        if isinstance(a.leg, Pause) and isinstance(b.leg, Pause) and a.leg.sway_m == b.leg.sway_m:
            a.sway_out = b.sway_in = False
    return tuple(spans)


@dataclass(frozen=True)
class TeacherPath:
    """A named script: a start position and a sequence of walks and pauses."""

    name: str
    start_bearing_deg: float
    start_distance_m: float
    legs: tuple[Leg, ...]
    crossings: tuple[Crossing, ...] = ()
    companions: tuple[Companion, ...] = ()
    _spans: tuple[_Span, ...] = field(init=False, repr=False, compare=False)
    _starts: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Precomputed once so position_at is a bisect, even for a 50-minute lesson.
        spans = _plan(cartesian(self.start_bearing_deg, self.start_distance_m), self.legs)
        object.__setattr__(self, "_spans", spans)
        object.__setattr__(self, "_starts", tuple(s.start_s for s in spans))

    @classmethod
    def from_xy(
        cls,
        name: str,
        x_m: float,
        y_m: float,
        legs: tuple[Leg, ...],
        crossings: tuple[Crossing, ...] = (),
        companions: tuple[Companion, ...] = (),
    ) -> TeacherPath:
        """A path starting at floor coordinates (x right, y away from the camera)."""
        bearing, distance = polar(x_m, y_m)
        return cls(name, bearing, distance, legs, crossings, companions)

    @property
    def duration_s(self) -> float:
        """When the script ends; afterwards she stays where she stopped."""
        return self._spans[-1].end_s if self._spans else 0.0

    def leg_at(self, t_s: float) -> int:
        """The index of the leg under way at ``t_s`` (``len(legs)`` after the end)."""
        if not self._spans or t_s >= self._spans[-1].end_s:
            return len(self._spans)
        return max(0, bisect.bisect_right(self._starts, t_s) - 1)

    def waypoints(self) -> tuple[Waypoint, ...]:
        """Arrival time and target of every walk, in order."""
        return tuple(
            Waypoint(s.end_s, s.leg.bearing_deg, s.leg.distance_m)
            for s in self._spans
            if isinstance(s.leg, Walk)
        )


# Sway: two slow sideways oscillations (about 4 s and 1.4 s), together at most ``sway_m``.
_SWAY_HZ = (0.27, 0.71)
_SWAY_SHARE = (0.65, 0.35)
LEAN_EASE_S = 0.6
# A pupil's half-width (hoodie, then neck and head) and the marker card's, with a margin: where
# a crossing pupil hides the marker.
_PUPIL_HALF_M = ((1.45, 0.22), (1.75, 0.11))
_CARD_HALF_M = 0.135 + 0.03


def _smoothstep(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3.0 - 2.0 * x)


def _sideways(span: _Span, t_s: float) -> float:
    """Her sideways offset (m, positive right of her line of sight) at ``t_s`` in a pause."""
    pause = span.leg
    assert isinstance(pause, Pause)
    t_in = t_s - span.start_s
    offset = 0.0
    if pause.sway_m > 0:
        # On the path's own clock, so consecutive pauses sway on without a jump.
        sway = pause.sway_m * sum(
            share * math.sin(2.0 * math.pi * hz * t_s + 1.3 * (k + 1))
            for k, (hz, share) in enumerate(zip(_SWAY_HZ, _SWAY_SHARE, strict=True))
        )
        if span.sway_in:
            sway *= _smoothstep(t_in / LEAN_EASE_S)
        if span.sway_out:
            sway *= _smoothstep((span.end_s - t_s) / LEAN_EASE_S)
        offset += sway
    if pause.lean_m:
        ease = min(LEAN_EASE_S, pause.seconds / 2.0)
        if ease > 0:
            offset += pause.lean_m * min(
                _smoothstep(t_in / ease), _smoothstep((pause.seconds - t_in) / ease)
            )
    return offset


def _offset(xy: tuple[float, float], sideways_m: float) -> tuple[float, float]:
    """``xy`` moved sideways (perpendicular to the camera's line of sight, positive right)."""
    d = math.hypot(*xy)
    if d == 0 or sideways_m == 0:
        return xy
    return xy[0] + sideways_m * xy[1] / d, xy[1] - sideways_m * xy[0] / d


def _crossing_pupil(
    crossings: tuple[Crossing, ...], t_s: float, bearing: float, distance: float
) -> tuple[tuple[float, float] | None, bool]:
    """The pupil crossing in front of her at ``t_s`` (bearing, distance), and whether it hides
    the marker."""
    for c in crossings:
        if not c.at_s <= t_s <= c.at_s + c.duration_s:
            continue
        gap = max(1.0, distance - c.gap_m)
        walked = c.speed_mps * (t_s - c.at_s)
        side = c.start_m - walked if c.from_right else walked - c.start_m
        x, y = _offset(cartesian(bearing, gap), side)
        pupil = polar(x, y)
        # Height at which the ray from the camera to the marker passes the pupil.
        ray_z = CAMERA_HEIGHT_M - (CAMERA_HEIGHT_M - MARKER_HEIGHT_M) * gap / distance
        half = next((w for top, w in _PUPIL_HALF_M if ray_z <= top), 0.0)
        if half <= 0:
            return pupil, False
        reach = math.degrees(math.atan(half / gap) + math.atan(_CARD_HALF_M / distance))
        return pupil, abs(pupil[0] - bearing) < reach
    return None, False


def position_at(path: TeacherPath, t_s: float) -> TeacherPose:
    """Where the teacher is ``t_s`` seconds into the path (clamped to its start and end)."""
    pose = _scripted_pose(path, t_s)
    if not path.crossings or not pose.visible_in_room or pose.hidden:
        return pose  # (hidden already: the pupil standing in front of her is what is seen)
    pupil, hides = _crossing_pupil(path.crossings, t_s, pose.bearing_deg, pose.distance_m)
    if pupil is None:
        return pose
    return replace(pose, pupil=pupil, hidden=pose.hidden or hides)


def _scripted_pose(path: TeacherPath, t_s: float) -> TeacherPose:
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
        s = _walked_m(length, leg.speed_mps, t_s - span.start_s, leg.accel_mps2, leg.decel_mps2)
        f = s / length if length > 0 else 1.0
        x = span.start_xy[0] + f * (span.end_xy[0] - span.start_xy[0])
        y = span.start_xy[1] + f * (span.end_xy[1] - span.start_xy[1])
        bearing, distance = polar(x, y)
        return TeacherPose(
            bearing,
            distance,
            hidden=leg.hidden or leg.turned_away,
            turned_away=leg.turned_away,
            standing=False,
        )
    xy = _offset(span.start_xy, _sideways(span, t_s))
    bearing, distance = polar(*xy)
    return TeacherPose(
        bearing,
        distance,
        stance_deg=polar(*span.start_xy)[0],
        hidden=leg.hidden or leg.turned_away,
        visible_in_room=leg.in_view,
        sitting=leg.sitting,
        turned_away=leg.turned_away,
    )


def companions_at(path: TeacherPath, t_s: float) -> list[tuple[TeacherPose, int]]:
    """Where the other marker wearers are at ``t_s``, with their marker ids."""
    return [(position_at(c.path, t_s), c.marker_id) for c in path.companions]


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
    return {p.name: p for p in [*paths, *_wild_scenarios()]}


# Standing people sway about this much either way.
_SWAY = 0.03
_DEAD_STOP = 6.25  # m/s^2: 2.5 m/s to standing within half a metre


def _stand(seconds: float, lean_m: float = 0.0, hidden: bool = False) -> Pause:
    return Pause(seconds, hidden=hidden, sway_m=_SWAY, lean_m=lean_m)


def _dash(x_m: float, y_m: float) -> Walk:
    """Hurry there at 2.5 m/s and stop dead."""
    return _W(x_m, y_m, 2.5, accel_mps2=3.0, stop_mps2=_DEAD_STOP)


def _wild_scenarios() -> list[TeacherPath]:
    """Classrooms as they are: hurrying and dead stops, swaying, hiding and reappearing far
    away, leaving the camera's reach, pupils in between, a second marker, dim light."""
    return [
        # Dashes across the front (7.3 m) and stops dead, twice.
        TeacherPath.from_xy(
            "sprint_far",
            -3.0,
            7.3,
            (
                _stand(1.5),
                _dash(2.4, 7.3),
                _stand(4.0),
                _dash(-2.2, 7.3),
                _stand(4.0),
            ),
        ),
        # The same behind the back row, 3 m from the camera: ~48 deg/s at its fastest.
        TeacherPath.from_xy(
            "sprint_near",
            -3.0,
            3.0,
            (_stand(1.5), _dash(2.6, 3.0), _stand(4.0)),
        ),
        # Stop and go along the aisles and the front (5-7 m): brisk walks, dead stops, short
        # pauses.
        TeacherPath.from_xy(
            "stop_and_go",
            -2.6,
            6.8,
            (
                _stand(1.0),
                _W(0.0, 7.0, 1.4, stop_mps2=4.0),
                _stand(1.2),
                _W(-1.9, 5.0, 1.3, stop_mps2=5.0),
                _stand(0.8),
                _W(-1.9, 6.9, 1.2, stop_mps2=4.0),
                _W(1.9, 6.9, 1.4, stop_mps2=5.0),
                _stand(1.5),
                _W(1.9, 4.8, 1.2, stop_mps2=5.0),
                _stand(1.0),
                _W(2.6, 7.1, 1.4, stop_mps2=4.0),
                _stand(3.0),
            ),
        ),
        # Standing near the camera (3.4 m), swaying, leaning twice, for a minute and a half.
        TeacherPath.from_xy(
            "sway_near",
            0.8,
            3.3,
            (
                _stand(30.0),
                _stand(3.0, lean_m=0.10),
                _stand(25.0),
                _stand(3.0, lean_m=-0.08),
                _stand(29.0),
            ),
        ),
        # Standing at the front (7.3 m) for a minute, swaying; one lean of 15 cm.
        TeacherPath.from_xy(
            "sway_far",
            -0.9,
            7.3,
            (_stand(25.0), _stand(4.0, lean_m=0.15), _stand(31.0)),
        ),
        # Walks behind a group of pupils (hidden) and reappears 42 deg away; later a pupil
        # stands in front of her and she slips away to reappear 26 deg further.
        TeacherPath.from_xy(
            "hidden_far",
            -2.6,
            5.6,
            (
                _stand(2.0),
                _W(-1.8, 5.0, 1.0),
                _W(1.8, 4.4, 1.1, hidden=True),
                _stand(4.0),
                _stand(2.5, hidden=True),
                _W(3.4, 5.6, 0.9, hidden=True),
                _stand(4.0),
            ),
        ),
        # Writes along the board with her back to the camera (32 deg), turns round, then walks
        # to the window side behind standing pupils (40 deg away).
        TeacherPath.from_xy(
            "turned_far",
            -2.0,
            7.9,
            (
                _stand(2.0),
                Pause(1.0, turned_away=True),
                _W(2.5, 7.9, 0.6, turned_away=True),
                Pause(2.0, turned_away=True),
                _stand(3.0),
                _W(-2.2, 5.4, 1.2, hidden=True),
                _stand(4.0),
            ),
        ),
        # Leaves the camera's reach on the right, walks round behind it and comes back in on
        # the left.
        TeacherPath.from_xy(
            "round_the_back",
            2.0,
            6.0,
            (
                _stand(1.5),
                _W(3.4, 2.0, 1.2),
                _W(3.4, -0.5, 1.2),
                _W(-3.4, -0.5, 1.2),
                _W(-3.4, 2.5, 1.2),
                _W(-1.5, 5.0, 1.2),
                _stand(3.0),
            ),
        ),
        # Pupils walk between her and the camera while she teaches and while she walks.
        TeacherPath.from_xy(
            "pupils_crossing",
            -1.5,
            6.8,
            (
                _stand(5.0),
                _W(1.5, 6.6, 0.9),
                _stand(6.0),
                _W(0.0, 5.9, 0.8),
                _stand(5.0),
            ),
            crossings=(
                Crossing(1.5, speed_mps=1.1, gap_m=2.0),
                Crossing(3.5, speed_mps=0.9, gap_m=3.0, from_right=True),
                Crossing(6.5, speed_mps=1.2, gap_m=1.5),
                Crossing(11.0, speed_mps=1.0, gap_m=2.5, from_right=True),
                Crossing(13.0, speed_mps=0.8, gap_m=1.2),
                Crossing(17.0, speed_mps=1.2, gap_m=2.0, from_right=True),
                Crossing(19.5, speed_mps=1.0, gap_m=1.8),
            ),
        ),
        # A colleague with marker id 3 walks about while she teaches; a pupil hides her for
        # three seconds while the colleague is in view.
        TeacherPath.from_xy(
            "other_marker",
            -0.5,
            7.2,
            (
                _stand(4.0),
                _W(1.0, 7.0, 0.8),
                _stand(2.0),
                _stand(3.0, hidden=True),
                _stand(4.0),
                _W(-1.5, 6.8, 1.0),
                _stand(5.0),
            ),
            companions=(
                Companion(
                    TeacherPath.from_xy(
                        "colleague",
                        2.6,
                        5.0,
                        (
                            Pause(2.0),
                            _W(-1.9, 6.0, 1.0),
                            Pause(3.0),
                            _W(2.0, 6.5, 0.9),
                            Pause(2.0),
                            _W(-2.8, 4.9, 1.1),
                            Pause(5.0),
                        ),
                    ),
                    3,
                ),
            ),
        ),
        # A short lesson stretch for the dim room (the benchmark runs it dark, with long
        # exposures): walks, a stop, a pupil crossing, a hiding.
        TeacherPath.from_xy(
            "dim_light",
            -2.2,
            7.2,
            (
                _stand(2.0),
                _W(1.8, 7.0, 1.3, stop_mps2=3.0),
                _stand(3.0),
                _stand(2.0, hidden=True),
                _W(-0.5, 5.6, 1.0),
                _stand(4.0),
                _W(-2.5, 7.1, 1.4),
                _stand(3.0),
            ),
            crossings=(Crossing(8.0, gap_m=2.0),),
        ),
    ]


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


# --- unscripted classroom stretches -----------------------------------------------------------


def wild_path(seed: int, seconds: float = 45.0) -> TeacherPath:
    """A random stretch of lesson with everything ``_wild_scenarios`` has, at random: walks at
    0.6-2.5 m/s with gentle or dead stops, standing with sway and leans, board work with her
    back turned (walking along the board), hiding behind pupils while walking on, pupils
    crossing, leaving through the door or round behind the camera, and sometimes a colleague
    wearing marker id 3. For checking the tracker on situations it was not tuned on;
    deterministic for a seed."""
    rng = random.Random(seed)
    s = _Script(rng.uniform(-2.5, 2.5), rng.uniform(6.5, 7.4))
    start = s.xy
    crossings: list[Crossing] = []

    def spot() -> tuple[float, float]:
        if rng.random() < 0.6:  # the front
            return rng.uniform(*_FRONT_X), rng.uniform(6.4, 7.4)
        return rng.choice(_AISLE_XS) + rng.uniform(-0.3, 0.3), rng.uniform(3.6, 6.9)

    def walk(hidden: bool = False) -> None:
        x, y = spot()
        speed = rng.choice((rng.uniform(0.6, 1.4), rng.uniform(1.4, 2.5)))
        stop = rng.choice((WALK_ACCEL_MPS2, rng.uniform(2.0, MAX_ACCEL_MPS2)))
        length = math.dist(s.xy, (x, y))
        s.t += walk_duration_s(length, speed, WALK_ACCEL_MPS2, stop)
        s.legs.append(_W(x, y, speed, hidden, stop_mps2=stop))
        s.xy = (x, y)

    def stand() -> None:
        seconds = rng.uniform(2.0, 8.0)
        if rng.random() < 0.3:
            crossings.append(Crossing(s.t + rng.uniform(0.0, seconds), gap_m=rng.uniform(1.2, 3)))
        lean = rng.uniform(-0.15, 0.15) if rng.random() < 0.3 else 0.0
        s.t += seconds
        s.legs.append(Pause(seconds, sway_m=rng.uniform(0.01, 0.04), lean_m=lean))

    def board() -> None:
        x = rng.uniform(-2.0, 2.0)
        s.walk(x, _BOARD_Y, rng.uniform(0.6, 1.2))
        s.pause(rng.uniform(1.0, 8.0), turned_away=True)
        if rng.random() < 0.5:
            x2 = min(max(x + rng.uniform(-2.5, 2.5), -2.8), 2.8)
            s.t += walk_duration_s(abs(x2 - x), 0.6)
            s.legs.append(_W(x2, _BOARD_Y, 0.6, turned_away=True))
            s.xy = (x2, _BOARD_Y)
        s.pause(rng.uniform(1.0, 3.0))

    def hide() -> None:
        if rng.random() < 0.5:
            s.pause(rng.uniform(1.0, 4.0), hidden=True)
        walk(hidden=True)

    def leave() -> None:
        if rng.random() < 0.5:
            s.walk(3.0, 7.2, 1.2)
            s.walk(*_DOOR_XY, 1.0)
            s.pause(rng.uniform(5.0, 20.0), in_view=False)
            s.pause(0.5)
            s.walk(3.0, 7.2, 1.0)
        else:  # round the back of the room, behind the camera
            side = rng.choice((-1.0, 1.0))
            s.walk(3.4 * side, 2.0, 1.2)
            s.walk(3.4 * side, -0.5, 1.2)
            s.walk(-3.4 * side, -0.5, 1.2)
            s.walk(-3.4 * side, 2.5, 1.2)

    activities = (walk, stand, board, hide, leave)
    weights = (0.35, 0.3, 0.15, 0.15, 0.05)
    while s.t < seconds:
        rng.choices(activities, weights)[0]()
        if not isinstance(s.legs[-1], Pause) or s.legs[-1].seconds < 2.0:
            stand()
    companions: tuple[Companion, ...] = ()
    if rng.random() < 0.5:
        other = _Script(*spot())
        colleague_start = other.xy
        while other.t < s.t:
            x, y = spot()
            other.walk(x, y, rng.uniform(0.6, 1.2))
            other.pause(rng.uniform(2.0, 8.0))
        companions = (
            Companion(TeacherPath.from_xy("colleague", *colleague_start, tuple(other.legs)), 3),
        )
    return TeacherPath.from_xy(
        f"wild_seed{seed}", *start, tuple(s.legs), tuple(crossings), companions
    )
