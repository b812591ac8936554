"""What every pan motor is: an angle in, never past its limits.

Angles are degrees from the camera's straight-ahead position, positive to the right (as the
room's bearings are). ``PanMotor.move_to`` clamps every command to the motor's limits before an
adapter sees it, so no code path can drive a motor past them.
"""

from __future__ import annotations

import abc
import logging
import math
from dataclasses import dataclass

log = logging.getLogger(__name__)


class MotorError(Exception):
    """The motor cannot be used (not connected, library missing, limits wrong); the message
    says what to check."""


@dataclass(frozen=True)
class MotorLimits:
    """How far the motor may turn each way, and where its centre is."""

    min_deg: float = -80.0
    max_deg: float = 80.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.min_deg) and math.isfinite(self.max_deg)):
            raise MotorError("motor limits must be numbers")
        if not self.min_deg < 0 < self.max_deg:
            raise MotorError(
                f"motor limits [{self.min_deg}, {self.max_deg}] must contain the centre (0): "
                "min_deg below 0, max_deg above 0"
            )

    def clamp(self, angle_deg: float) -> float:
        if not math.isfinite(angle_deg):
            raise MotorError(f"refusing to drive the motor to {angle_deg}")
        return min(max(angle_deg, self.min_deg), self.max_deg)


@dataclass(frozen=True)
class ServoCalibration:
    """A hobby servo: the pulse widths of its two ends and the angle between them."""

    min_pulse_us: float = 500.0
    max_pulse_us: float = 2500.0
    travel_deg: float = 180.0
    trim_deg: float = 0.0  # where "straight ahead" is, from the servo's middle
    invert: bool = False  # mounted upside down: larger pulses turn left

    def __post_init__(self) -> None:
        if not 300.0 <= self.min_pulse_us < self.max_pulse_us <= 3000.0:
            raise MotorError(
                "servo pulse widths must satisfy 300 <= min_pulse_us < max_pulse_us <= 3000"
            )
        if not 10.0 <= self.travel_deg <= 360.0:
            raise MotorError("servo travel_deg must be between 10 and 360")

    @property
    def centre_us(self) -> float:
        return (self.min_pulse_us + self.max_pulse_us) / 2.0

    @property
    def us_per_deg(self) -> float:
        return (self.max_pulse_us - self.min_pulse_us) / self.travel_deg

    def check(self, limits: MotorLimits) -> None:
        """Raise ``MotorError`` when the limits ask for more than the servo can turn."""
        half = self.travel_deg / 2.0
        lo, hi = -half - self.trim_deg, half - self.trim_deg
        if limits.min_deg < lo - 1e-9 or limits.max_deg > hi + 1e-9:
            raise MotorError(
                f"motor limits [{limits.min_deg:g}, {limits.max_deg:g}] deg are beyond what "
                f"this servo turns ([{lo:g}, {hi:g}] with travel_deg {self.travel_deg:g} and "
                f"trim_deg {self.trim_deg:g}); narrow min_deg/max_deg in [motor]"
            )

    def pulse_us(self, angle_deg: float) -> float:
        """The pulse width for a pan angle (within the servo's travel)."""
        servo_deg = (angle_deg + self.trim_deg) * (-1.0 if self.invert else 1.0)
        pulse = self.centre_us + servo_deg * self.us_per_deg
        return min(max(pulse, self.min_pulse_us), self.max_pulse_us)

    def servo_value(self, angle_deg: float) -> float:
        """The angle as -1..1 across the servo's travel (gpiozero's ``Servo.value``)."""
        return (self.pulse_us(angle_deg) - self.centre_us) / (self.max_pulse_us - self.centre_us)


class PanMotor(abc.ABC):
    """A pan motor. Subclasses implement ``_drive`` (and ``_release``/``_close``)."""

    #: Short name for logs and the heartbeat.
    kind = "motor"

    def __init__(self, limits: MotorLimits) -> None:
        self.limits = limits
        self.commanded_deg: float | None = None

    def move_to(self, angle_deg: float) -> float:
        """Command ``angle_deg`` (clamped to the limits); returns the angle commanded."""
        angle = self.limits.clamp(angle_deg)
        if angle != angle_deg and (self.commanded_deg is None or self.commanded_deg != angle):
            log.debug("%s: %.1f deg clamped to %.1f", self.kind, angle_deg, angle)
        self._drive(angle)
        self.commanded_deg = angle
        return angle

    def poll(self, now: float) -> None:
        """Let a simulated motor catch up with time; real motors move on their own."""
        del now

    def release(self) -> None:
        """Stop driving the motor (a servo goes limp and quiet); ``move_to`` drives it again."""
        self._release()

    def close(self) -> None:
        """Release the motor and its pins or bus."""
        try:
            self._release()
        finally:
            self._close()

    @abc.abstractmethod
    def _drive(self, angle_deg: float) -> None: ...

    def _release(self) -> None:
        return None

    def _close(self) -> None:
        return None
