"""A hobby servo on a GPIO pin through gpiozero.

On a Pi 4 use the pigpio pin factory (``pin_factory = "pigpio"``, with ``pigpiod`` running): it
times pulses with DMA to the microsecond, so the servo holds still. gpiozero's default lgpio
factory makes pulses in software with whole-percent steps and jitter: the camera would shiver.
On a Pi 5 (no pigpio) use ``kind = "hardware_pwm"``, or a PCA9685 board.
"""

from __future__ import annotations

from typing import Any

from .base import MotorError, MotorLimits, PanMotor, ServoCalibration


def pin_factory_named(name: str) -> Any:
    """A gpiozero pin factory by name: ``pigpio``, or ``default`` (None: gpiozero decides)."""
    if name == "default":
        return None
    if name == "pigpio":
        try:
            from gpiozero.pins.pigpio import PiGPIOFactory  # needs the pigpio package
        except ImportError as exc:
            raise MotorError(
                "pin_factory 'pigpio' needs the pigpio package: install lessoncam[pi] "
                "and start the daemon with `sudo systemctl enable --now pigpiod`"
            ) from exc
        try:
            return PiGPIOFactory()
        except Exception as exc:  # pigpio raises its own errors when pigpiod is not running
            raise MotorError(
                f"cannot reach pigpiod ({exc}); start it: `sudo systemctl enable --now pigpiod`"
            ) from exc
    raise MotorError(f"unknown pin factory {name!r}; use 'pigpio' or 'default'")


class GpioServoMotor(PanMotor):
    """A servo's signal wire on a BCM pin, driven by ``gpiozero.Servo``."""

    kind = "gpio_servo"

    def __init__(
        self,
        pin: int,
        limits: MotorLimits,
        calibration: ServoCalibration | None = None,
        *,
        pin_factory: Any = None,
        frame_us: float = 20000.0,
    ) -> None:
        super().__init__(limits)
        self.calibration = calibration or ServoCalibration()
        self.calibration.check(limits)
        from gpiozero import Servo  # imported here: gpiozero picks its pin factory on use

        c = self.calibration
        try:
            self.servo = Servo(
                pin,
                initial_value=None,
                min_pulse_width=c.min_pulse_us / 1e6,
                max_pulse_width=c.max_pulse_us / 1e6,
                frame_width=frame_us / 1e6,
                pin_factory=pin_factory,
            )
        except Exception as exc:
            raise MotorError(f"cannot drive a servo on BCM pin {pin}: {exc}") from exc

    def _drive(self, angle_deg: float) -> None:
        self.servo.value = self.calibration.servo_value(angle_deg)

    def _release(self) -> None:
        self.servo.value = None  # no pulses: the servo stops holding (and humming)

    def _close(self) -> None:
        self.servo.close()
