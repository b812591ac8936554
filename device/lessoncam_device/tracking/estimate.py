"""Where the teacher is and how fast her bearing changes, from timed sightings. Pure.

A small alpha-beta filter. It believes a slow-down at once (down to standing, never beyond), so
the camera does not run on past her when she stops, and a speed-up or a turn back at the
normal pace, which keeps the detector's jitter from moving the camera. Unseen, her predicted
walk slows down over ``decay_s``: people stop, turn and sit; they do not walk on for ever.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

# Beyond this gap a new sighting starts a fresh estimate (her old speed no longer says much).
RESET_AFTER_S = 1.0
# A jump this large between prediction and sighting is a different marker or a glitch.
_OUTLIER_DEG = 20.0
MAX_RATE_DPS = 60.0
# The rate gain while the sightings say she is slower than predicted (down to zero at most).
_STOP_BETA = 0.9
# Her deceleration is read from a parabola through the sightings of this long.
_FIT_WINDOW_S = 0.5
# ... and believed only when it is clearly there (the fit's noise is ~1-3 deg/s^2).
_MIN_DECEL_DPS2 = 4.0


def fit_motion(points: Sequence[tuple[float, float]], t_ref: float) -> tuple[float, float, float]:
    """Least-squares parabola through (t, bearing) points: (bearing, rate, acceleration) at
    ``t_ref``. With fewer than three points or too short a span, a line (or a point)."""
    n = len(points)
    if n == 0:
        raise ValueError("no points to fit")
    xs = [t - t_ref for t, _ in points]
    ys = [b for _, b in points]
    span = max(xs) - min(xs)
    if n == 1 or span <= 1e-6:
        return sum(ys) / n, 0.0, 0.0
    degree = 2 if n >= 4 else 1
    # Normal equations of the polynomial fit (at most 3x3), solved by Cramer's rule.
    m = degree + 1
    sums = [sum(x**k for x in xs) for k in range(2 * m - 1)]
    rhs = [sum(y * x**k for x, y in zip(xs, ys, strict=True)) for k in range(m)]
    a = [[sums[i + j] for j in range(m)] for i in range(m)]

    def det(mat: list[list[float]]) -> float:
        if len(mat) == 2:
            return mat[0][0] * mat[1][1] - mat[0][1] * mat[1][0]
        return (
            mat[0][0] * (mat[1][1] * mat[2][2] - mat[1][2] * mat[2][1])
            - mat[0][1] * (mat[1][0] * mat[2][2] - mat[1][2] * mat[2][0])
            + mat[0][2] * (mat[1][0] * mat[2][1] - mat[1][1] * mat[2][0])
        )

    d = det(a)
    if abs(d) < 1e-18:
        return sum(ys) / n, 0.0, 0.0
    coef = []
    for k in range(m):
        mk = [[rhs[i] if j == k else a[i][j] for j in range(m)] for i in range(m)]
        coef.append(det(mk) / d)
    if degree == 1:
        return coef[0], coef[1], 0.0
    return coef[0], coef[1], 2.0 * coef[2]


@dataclass(frozen=True)
class FilterSettings:
    """Gains of the filter and how her unseen walk is predicted."""

    alpha: float = 0.8  # gain for the bearing
    beta: float = 0.4  # gain for the rate
    # Unseen: her walk goes on unchanged this long, then slows down with this time constant.
    straight_s: float = 0.3
    decay_s: float = 1.2

    def __post_init__(self) -> None:
        if not (0 < self.alpha <= 1 and 0 <= self.beta <= 1):
            raise ValueError("alpha must be in (0, 1], beta in [0, 1]")
        if self.straight_s < 0 or self.decay_s <= 0:
            raise ValueError("straight_s must be >= 0 and decay_s > 0")


class BearingFilter:
    """Bearing and rate of the marker at the last sighting, and predictions from them."""

    def __init__(self, settings: FilterSettings | None = None) -> None:
        self.settings = settings or FilterSettings()
        self.t: float | None = None  # capture time of the last sighting
        self.bearing = 0.0
        self.rate = 0.0
        self.decel = 0.0  # how fast she is slowing down (>= 0), when the sightings show it
        self._recent: deque[tuple[float, float]] = deque()

    @property
    def seen(self) -> bool:
        return self.t is not None

    def observe(self, t: float, bearing: float) -> bool:
        """Take a sighting; False if it is older than the last one (and ignored)."""
        s = self.settings
        if self.t is not None and t <= self.t:
            return False
        if self.t is None or t - self.t > RESET_AFTER_S:
            self._reset(t, bearing)
            return True
        dt = t - self.t
        predicted = self.bearing + self.rate * dt
        residual = bearing - predicted
        if abs(residual) > _OUTLIER_DEG:
            self._reset(t, bearing)
            return True
        rate = self.rate + s.beta * residual / dt
        if residual * self.rate < 0 and rate * self.rate > 0:
            # She slows down: believe it quickly, never past zero (a reversal, or the
            # detector's jitter, is believed at the normal pace).
            rate = max(0.0, 1.0 + _STOP_BETA * residual / (dt * self.rate)) * self.rate
        self.rate = min(max(rate, -MAX_RATE_DPS), MAX_RATE_DPS)
        self.bearing = predicted + s.alpha * residual
        self.t = t
        self._recent.append((t, bearing))
        while self._recent[0][0] < t - _FIT_WINDOW_S:
            self._recent.popleft()
        self.decel = 0.0
        if len(self._recent) >= 5:
            _, _, accel = fit_motion(self._recent, t)
            if accel * self.rate < 0 and abs(accel) >= _MIN_DECEL_DPS2:
                self.decel = abs(accel)
        return True

    def _reset(self, t: float, bearing: float) -> None:
        self.t, self.bearing, self.rate, self.decel = t, bearing, 0.0, 0.0
        self._recent.clear()
        self._recent.append((t, bearing))

    def travel(self, age_s: float) -> float:
        """How far (in units of her rate) she is predicted to walk in ``age_s`` unseen."""
        s = self.settings
        age = max(0.0, age_s)
        if self.decel > 0 and self.rate != 0:
            # Slowing down: she stops where her deceleration takes her.
            stop_s = abs(self.rate) / self.decel
            t = min(age, stop_s)
            return t - t * t / (2.0 * stop_s)
        if age <= s.straight_s:
            return age
        return s.straight_s + s.decay_s * -math.expm1(-(age - s.straight_s) / s.decay_s)

    def rate_at(self, t: float) -> float:
        """Her predicted rate at time ``t`` (slowing down once unseen for a while)."""
        if self.t is None:
            return 0.0
        s = self.settings
        age = max(0.0, t - self.t)
        if self.decel > 0 and self.rate != 0:
            return self.rate * max(0.0, 1.0 - age * self.decel / abs(self.rate))
        if age <= s.straight_s:
            return self.rate
        return self.rate * math.exp(-(age - s.straight_s) / s.decay_s)

    def stop_point(self) -> float | None:
        """Where she stops if she goes on slowing down as the sightings show (None when they
        do not show her slowing down)."""
        if self.t is None or self.decel <= 0 or self.rate == 0:
            return None
        return self.bearing + self.rate * abs(self.rate) / (2.0 * self.decel)

    def bearing_at(self, t: float) -> float | None:
        """Her predicted bearing at time ``t`` (None before the first sighting)."""
        if self.t is None:
            return None
        return self.bearing + self.rate * self.travel(t - self.t)
