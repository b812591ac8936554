"""The Pimoroni Pan-Tilt HAT (its own microcontroller drives the servos), via ``pantilthat``.

The HAT takes angles from -90 to 90; we only use its pan servo (servo one). Enable I2C first.
"""

from __future__ import annotations

from typing import Any

from .base import MotorError, MotorLimits, PanMotor


class PanTiltHat(PanMotor):
    """The HAT's pan servo."""

    kind = "pantilt_hat"

    def __init__(self, limits: MotorLimits, *, invert: bool = False, hat: Any = None) -> None:
        super().__init__(limits)
        if limits.min_deg < -90 or limits.max_deg > 90:
            raise MotorError("the Pan-Tilt HAT turns -90..90 deg: narrow min_deg/max_deg")
        self.invert = invert
        if hat is None:
            try:
                import pantilthat  # only on a Pi (lessoncam[pi])
            except ImportError as exc:
                raise MotorError(
                    "kind 'pantilt_hat' needs the pantilthat package: install lessoncam[pi]"
                ) from exc
            hat = pantilthat
        self.hat = hat
        try:
            self.hat.servo_enable(1, True)
        except Exception as exc:  # OSError from the I2C bus, or no HAT
            raise MotorError(f"the Pan-Tilt HAT does not answer on I2C ({exc})") from exc

    def _drive(self, angle_deg: float) -> None:
        self.hat.pan(-angle_deg if self.invert else angle_deg)  # pulses in 1 us steps

    def _release(self) -> None:
        self.hat.servo_enable(1, False)
