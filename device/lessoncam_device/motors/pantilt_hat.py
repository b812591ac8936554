"""The Pimoroni Pan-Tilt HAT (its own microcontroller at I2C 0x15 makes the pulses), through
Pimoroni's ``pantilthat`` library. Enable I2C first; only the pan servo (servo one) is used.

The HAT takes a pulse width in microseconds per servo. We drive our own ``PanTilt`` object with
the config's pulse range, trim and direction, and its idle timeout off: the library's default
starts a new timer thread on every move (50 a second while tracking), and ``release`` already
lets the servo go limp.
"""

from __future__ import annotations

import atexit
from typing import Any

from .base import MotorError, MotorLimits, PanMotor, ServoCalibration

HAT_ADDRESS = 0x15
#: Pimoroni's calibration of the HAT's servos (what ``pantilthat`` uses by default).
HAT_PULSE_US = (575.0, 2325.0)


def _smbus(bus: int) -> Any:
    """The Pi's I2C bus: apt's ``python3-smbus``, else the pure-Python ``smbus2``."""
    try:
        from smbus import SMBus  # python3-smbus (apt)
    except ImportError:
        try:
            from smbus2 import SMBus  # lessoncam[pi]
        except ImportError as exc:
            raise MotorError(
                "kind 'pantilt_hat' needs an SMBus library: `sudo apt install python3-smbus` "
                "or install lessoncam[pi]"
            ) from exc
    try:
        return SMBus(bus)
    except OSError as exc:
        raise MotorError(
            f"cannot open I2C bus {bus} ({exc}): enable I2C with `sudo raspi-config nonint "
            "do_i2c 0` and reboot"
        ) from exc


class PanTiltHat(PanMotor):
    """The HAT's pan servo."""

    kind = "pantilt_hat"

    def __init__(
        self, limits: MotorLimits, calibration: ServoCalibration | None = None, *, bus: int = 1
    ) -> None:
        super().__init__(limits)
        self.calibration = calibration or ServoCalibration(*HAT_PULSE_US)
        self.calibration.check(limits)
        try:
            from pantilthat import PanTilt  # only on a Pi (lessoncam[pi])
        except ImportError as exc:
            raise MotorError(
                "kind 'pantilt_hat' needs the pantilthat package: install lessoncam[pi]"
            ) from exc
        self.bus = _smbus(bus)
        c = self.calibration
        self.hat = PanTilt(
            idle_timeout=0,  # no timer thread per move
            servo1_min=round(c.min_pulse_us),
            servo1_max=round(c.max_pulse_us),
            address=HAT_ADDRESS,
            i2c_bus=self.bus,
        )
        try:
            self.hat.servo_enable(1, True)
        except Exception as exc:  # OSError from the I2C bus: no HAT answers
            raise MotorError(
                f"the Pan-Tilt HAT does not answer at I2C address {HAT_ADDRESS:#x} ({exc}); "
                "check it is seated and `i2cdetect -y 1` shows 15"
            ) from exc

    def _drive(self, angle_deg: float) -> None:
        # The library turns -90..90 into a pulse across its range, truncating to whole us:
        # aim half a microsecond up so the pulse sent is ours rounded to the nearest us.
        c = self.calibration
        span = round(c.max_pulse_us) - round(c.min_pulse_us)
        pulse = round(c.pulse_us(angle_deg)) + 0.5
        hat_deg = (pulse - round(c.min_pulse_us)) / span * 180.0 - 90.0
        self.hat.servo_one(min(max(hat_deg, -90.0), 90.0))

    def _release(self) -> None:
        self.hat.servo_enable(1, False)

    def _close(self) -> None:
        # pantilthat would write to the closed bus at exit to disable the servos: done here.
        atexit.unregister(self.hat._atexit)
        close = getattr(self.bus, "close", None)
        if close is not None:
            close()
