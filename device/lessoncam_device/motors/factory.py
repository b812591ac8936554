"""The pan motor the config asks for."""

from __future__ import annotations

from typing import Any

from ..config import MotorConfig
from .base import MotorError, MotorLimits, PanMotor, ServoCalibration
from .simulated import Monotonic, SimulatedPanMotor


def calibration_of(config: MotorConfig) -> ServoCalibration:
    return ServoCalibration(
        min_pulse_us=config.min_pulse_us,
        max_pulse_us=config.max_pulse_us,
        travel_deg=config.travel_deg,
        trim_deg=config.trim_deg,
        invert=config.invert,
    )


def open_motor(
    config: MotorConfig, clock: Monotonic, *, pin_factory: Any = None
) -> PanMotor | None:
    """Open the configured motor (None for kind "none"); ``MotorError`` says what is wrong."""
    limits = MotorLimits(config.min_deg, config.max_deg)
    kind = config.kind
    if kind == "none":
        return None
    if kind == "simulated":
        return SimulatedPanMotor(limits, clock)
    if kind == "gpio_servo":
        from .servo import GpioServoMotor, pin_factory_named

        factory = pin_factory if pin_factory is not None else pin_factory_named(config.pin_factory)
        return GpioServoMotor(config.pin, limits, calibration_of(config), pin_factory=factory)
    if kind == "hardware_pwm":
        from .hardware_pwm import HardwarePwmServo

        return HardwarePwmServo(config.pwm_chip, config.pwm_channel, limits, calibration_of(config))
    if kind == "pca9685":
        from .pca9685 import Pca9685Servo

        return Pca9685Servo(
            config.pca9685_channel, limits, calibration_of(config), address=config.i2c_address
        )
    if kind == "pantilt_hat":
        from .pantilt_hat import PanTiltHat

        return PanTiltHat(limits, calibration_of(config))
    raise MotorError(f"unknown motor kind {kind!r}")
