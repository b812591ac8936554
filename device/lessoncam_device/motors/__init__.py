"""Pan motors: a servo on a GPIO pin, the Pi 5's hardware PWM, a PCA9685 board, the Pimoroni
Pan-Tilt HAT, and a simulated servo. Pi-only libraries are imported inside their adapter."""

from .base import MotorError, MotorLimits, PanMotor, ServoCalibration
from .simulated import SimulatedMotorSettings, SimulatedPanMotor

__all__ = [
    "MotorError",
    "MotorLimits",
    "PanMotor",
    "ServoCalibration",
    "SimulatedMotorSettings",
    "SimulatedPanMotor",
]
