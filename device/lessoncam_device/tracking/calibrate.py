"""Calibration for the installer: how far the pan really turns, where the centre is, and how big
the marker looks from the camera.

- Limits: the motor steps out from the centre while consecutive pictures are compared (phase
  correlation). Where the picture stops moving although the motor is told to go on, the
  mechanics (or the mount's cable) stop it: that is the real limit.
- Centre: the pan angle at which the marker, held at the front centre of the room (or any spot
  the installer chooses), sits in the middle of the picture.
- Size: the marker's side in pixels there; below 24 px it will not be found reliably.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from ..motors.base import PanMotor
from .detector import Detection, Gray, MarkerDetector
from .frames import TrackingFrames
from .marker import MIN_MARKER_PX

_COMPARE_WIDTH = 480  # pictures are compared at this width: plenty for a shift of degrees
_STALL_FRACTION = 0.3  # moved less than this share of the expected shift: not moving
_MARGIN_DEG = 5.0  # suggested soft limits stay this far inside the found ones


@dataclass(frozen=True)
class CalibrationRig:
    """What ``calibrate`` works on: the motor, the main camera's frames, a way to let time
    pass, and one line saying what it is (the CLI is handed one; today the simulated unit's,
    ``sim/calibration.py``)."""

    motor: PanMotor
    frames: TrackingFrames
    wait: Callable[[float], None]
    description: str


@dataclass(frozen=True)
class CalibrationReport:
    """What calibration found."""

    left_deg: float
    left_stalled: bool  # False: the motor's configured limit came first
    right_deg: float
    right_stalled: bool
    centre_deg: float | None
    marker_px: float | None
    marker_id: int | None

    def suggestion(self) -> dict[str, float]:
        """``[tracking]`` values that keep the pan inside what was found."""
        lo = math.floor(self.left_deg + _MARGIN_DEG)
        hi = math.ceil(self.right_deg - _MARGIN_DEG)
        home = 0.0 if self.centre_deg is None else round(self.centre_deg, 1)
        return {"min_deg": lo, "max_deg": hi, "home_deg": min(max(home, lo), hi)}

    def lines(self) -> list[str]:
        """The report as the installer reads it."""

        def side(name: str, deg: float, stalled: bool) -> str:
            why = "the mechanics stop it there" if stalled else "the [motor] limit; it turned on"
            return f"{name} limit: {deg:.0f} deg ({why})"

        out = [side("left", self.left_deg, self.left_stalled)]
        out.append(side("right", self.right_deg, self.right_stalled))
        if self.centre_deg is None or self.marker_px is None:
            out.append("marker: not found; hold it facing the camera in good light, try again")
        else:
            verdict = (
                "fine"
                if self.marker_px >= MIN_MARKER_PX
                else f"TOO SMALL (needs {MIN_MARKER_PX:g} px): print a bigger marker"
            )
            out.append(
                f"centre: marker {self.marker_id} is straight ahead at {self.centre_deg:.1f} deg"
            )
            out.append(f"marker size there: {self.marker_px:.0f} px ({verdict})")
        s = self.suggestion()
        out.append(
            f"suggested [tracking]: min_deg = {s['min_deg']:g}, max_deg = {s['max_deg']:g}, "
            f"home_deg = {s['home_deg']:g}"
        )
        return out


def _small(gray: Gray) -> np.ndarray:
    h, w = gray.shape
    size = (_COMPARE_WIDTH, max(8, round(h * _COMPARE_WIDTH / w)))
    return np.asarray(cv2.resize(gray, size, interpolation=cv2.INTER_AREA), np.float32)


class Calibrator:
    """Runs the steps with a motor, a frame source and a way to wait (real or simulated).

    Give it a detector whose ``reacquire_hz`` allows a full-frame search at every picture.
    """

    def __init__(
        self,
        motor: PanMotor,
        frames: TrackingFrames,
        detector: MarkerDetector,
        wait: Callable[[float], None],
        *,
        step_deg: float = 2.0,
        settle_s: float = 0.4,
    ) -> None:
        if not 0.5 <= step_deg <= 10.0:
            raise ValueError("step_deg must be between 0.5 and 10")
        self.motor = motor
        self.frames = frames
        self.detector = detector
        self.wait = wait
        self.step_deg = step_deg
        self.settle_s = settle_s
        g = frames.geometry
        self._px_per_deg = (
            (_COMPARE_WIDTH / 2) / math.tan(math.radians(g.hfov_deg) / 2) * (math.pi / 180)
        )

    def _look(self) -> tuple[float, Gray]:
        frame = self.frames.latest()
        if frame is None:
            raise RuntimeError("the camera gives no pictures")
        return frame

    def _go(self, angle: float) -> tuple[float, Gray]:
        self.motor.move_to(angle)
        self.wait(self.settle_s)
        return self._look()

    def find_limit(self, direction: int) -> tuple[float, bool]:
        """Step out from the centre until the picture stops moving (or the motor's limit)."""
        end = self.motor.limits.max_deg if direction > 0 else self.motor.limits.min_deg
        angle = 0.0
        _, frame = self._go(angle)
        previous = _small(frame)
        moving_at = 0.0
        still = 0
        while abs(angle) < abs(end) - 1e-9:
            angle = angle + direction * self.step_deg
            angle = max(end, angle) if direction < 0 else min(end, angle)
            _, frame = self._go(angle)
            current = _small(frame)
            (dx, _), _ = cv2.phaseCorrelate(previous, current)
            moved = abs(dx) / self._px_per_deg  # degrees the picture really turned
            if moved < _STALL_FRACTION * self.step_deg:
                still += 1
                if still >= 2:
                    self.motor.move_to(moving_at - direction * self.step_deg)  # off the stop
                    self.wait(self.settle_s)
                    return moving_at, True
            else:
                still = 0
                # A partial step: the end stop lies between the two commands.
                moving_at = angle if moved > 0.9 * self.step_deg else moving_at + direction * moved
            previous = current
        return moving_at, False

    def find_centre(self, left: float, right: float) -> tuple[float | None, Detection | None]:
        """Point at the marker; returns (pan angle, detection there)."""
        g = self.frames.geometry
        half = g.hfov_deg / 2
        candidates = [0.0]
        a = 0.0
        while a + half < right:
            a += half
            candidates.append(a)
        a = 0.0
        while a - half > left:
            a -= half
            candidates.append(a)
        for pan in candidates:
            t, frame = self._go(pan)
            found = self.detector.detect(frame, t).detection
            if found is None:
                continue
            centre = pan
            for _ in range(3):  # turn to it, look again: converges in a step or two
                centre = min(max(centre + g.offset_deg(found.centre[0]), left), right)
                t, frame = self._go(centre)
                again = self.detector.detect(frame, t).detection
                if again is None:
                    break
                found = again
            return centre + g.offset_deg(found.centre[0]), found
        return None, None

    def run(self) -> CalibrationReport:
        right, right_stalled = self.find_limit(+1)
        left, left_stalled = self.find_limit(-1)
        centre, found = self.find_centre(left, right)
        self.motor.move_to(0.0 if centre is None else min(max(centre, left), right))
        self.wait(self.settle_s)
        return CalibrationReport(
            left_deg=left,
            left_stalled=left_stalled,
            right_deg=right,
            right_stalled=right_stalled,
            centre_deg=centre,
            marker_px=None if found is None else found.side_px,
            marker_id=None if found is None else found.marker_id,
        )
