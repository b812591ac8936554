"""A servo on a PCA9685 16-channel PWM board (I2C), through adafruit-circuitpython-servokit.

The board times the pulses itself (12 bits per 20 ms frame, ~5 us steps): jitter-free on any
Pi. Enable I2C (``raspi-config nonint do_i2c 0``) and check the board with ``i2cdetect -y 1``.
ServoKit sets the board to 50 Hz; each pulse width is sent as the channel's LEDn_OFF count.
"""

from __future__ import annotations

from typing import Any

from .base import MotorError, MotorLimits, PanMotor, ServoCalibration


class Pca9685Servo(PanMotor):
    """One channel of a PCA9685 board."""

    kind = "pca9685"

    def __init__(
        self,
        channel: int,
        limits: MotorLimits,
        calibration: ServoCalibration | None = None,
        *,
        address: int = 0x40,
        i2c: Any = None,
    ) -> None:
        """``i2c``: a CircuitPython ``busio.I2C``-like bus (default: the Pi's, via Blinka)."""
        super().__init__(limits)
        self.calibration = calibration or ServoCalibration()
        self.calibration.check(limits)
        if not 0 <= channel <= 15:
            raise MotorError("PCA9685 channel must be 0-15")
        try:
            from adafruit_servokit import ServoKit  # only on a Pi (lessoncam[pi])
        except ImportError as exc:
            raise MotorError(
                "kind 'pca9685' needs adafruit-circuitpython-servokit: install lessoncam[pi]"
            ) from exc
        try:
            kit = ServoKit(channels=16, i2c=i2c, address=address)
        except Exception as exc:  # no I2C bus, or no board answering at that address
            raise MotorError(
                f"no PCA9685 answers at I2C address {address:#x} ({exc}); check the wiring "
                "and `i2cdetect -y 1`"
            ) from exc
        c = self.calibration
        self.servo = kit.servo[channel]
        self.servo.set_pulse_width_range(round(c.min_pulse_us), round(c.max_pulse_us))

    def _drive(self, angle_deg: float) -> None:
        # A fraction of the pulse range: servokit's angles would need the range in whole degrees.
        c = self.calibration
        fraction = (c.pulse_us(angle_deg) - c.min_pulse_us) / (c.max_pulse_us - c.min_pulse_us)
        self.servo.fraction = min(max(fraction, 0.0), 1.0)

    def _release(self) -> None:
        self.servo.fraction = None  # the channel's full-off bit: no pulses, the servo goes limp
