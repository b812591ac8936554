"""Pan motors: pulse widths through gpiozero's own mock pins, the kernel's PWM files, the
simulated servo's dynamics, and motors that are missing or configured wrong (the I2C boards:
test_motor_boards.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from lessoncam_device.config import MotorConfig
from lessoncam_device.motors.base import MotorError, MotorLimits, ServoCalibration
from lessoncam_device.motors.factory import open_motor
from lessoncam_device.motors.hardware_pwm import HardwarePwmServo
from lessoncam_device.motors.servo import GpioServoMotor
from lessoncam_device.motors.simulated import SimulatedMotorSettings, SimulatedPanMotor
from lessoncam_device.sim.clock import VirtualClock

PIN = 18
FRAME_S = 0.02


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    made = MockFactory(pin_class=MockPWMPin)
    yield made
    made.reset()


def pulse_us(factory: MockFactory) -> float:
    """The pulse width on the pin, from its PWM duty cycle (MockPWMPin.state)."""
    return float(factory.pin(PIN).state) * FRAME_S * 1e6


def test_servo_pulses_at_the_centre_and_the_limits(factory: MockFactory) -> None:
    motor = GpioServoMotor(PIN, MotorLimits(-80, 80), ServoCalibration(), pin_factory=factory)
    assert factory.pin(PIN).state == 0  # not driven until told
    motor.move_to(0)
    assert pulse_us(factory) == pytest.approx(1500, abs=0.5)
    motor.move_to(80)
    assert pulse_us(factory) == pytest.approx(1500 + 80 * 2000 / 180, abs=0.5)
    motor.move_to(-80)
    assert pulse_us(factory) == pytest.approx(1500 - 80 * 2000 / 180, abs=0.5)
    motor.release()
    assert factory.pin(PIN).state == 0
    motor.close()


def test_servo_is_never_driven_past_its_limits(factory: MockFactory) -> None:
    motor = GpioServoMotor(PIN, MotorLimits(-30, 45), pin_factory=factory)
    assert motor.move_to(200) == 45
    assert pulse_us(factory) == pytest.approx(1500 + 45 * 2000 / 180, abs=0.5)
    assert motor.move_to(-1e9) == -30
    assert pulse_us(factory) == pytest.approx(1500 - 30 * 2000 / 180, abs=0.5)
    with pytest.raises(MotorError, match="refusing"):
        motor.move_to(float("nan"))
    assert pulse_us(factory) == pytest.approx(1500 - 30 * 2000 / 180, abs=0.5)
    motor.close()


def test_inverted_trimmed_servo(factory: MockFactory) -> None:
    calibration = ServoCalibration(1000, 2000, 90, trim_deg=5, invert=True)
    motor = GpioServoMotor(PIN, MotorLimits(-40, 40), calibration, pin_factory=factory)
    motor.move_to(0)
    assert pulse_us(factory) == pytest.approx(1500 - 5 * 1000 / 90, abs=0.5)
    motor.move_to(40)  # right, upside down: shorter pulses
    assert pulse_us(factory) == pytest.approx(1000, abs=0.5)
    motor.close()


@pytest.mark.parametrize(
    ("limits", "calibration", "message"),
    [
        ((-100, 100), ServoCalibration(), "beyond what this servo turns"),
        ((-80, 80), ServoCalibration(travel_deg=120), "narrow min_deg/max_deg"),
    ],
)
def test_limits_set_wrong_are_refused(
    factory: MockFactory,
    limits: tuple[float, float],
    calibration: ServoCalibration,
    message: str,
) -> None:
    with pytest.raises(MotorError, match=message):
        GpioServoMotor(PIN, MotorLimits(*limits), calibration, pin_factory=factory)


@pytest.mark.parametrize(("lo", "hi"), [(10, 80), (-80, -5), (0, 0)])
def test_limits_must_contain_the_centre(lo: float, hi: float) -> None:
    with pytest.raises(MotorError, match="must contain the centre"):
        MotorLimits(lo, hi)


def test_missing_motors_say_what_to_install_or_check() -> None:
    clock = VirtualClock()
    with pytest.raises(MotorError, match="pigpio"):
        open_motor(MotorConfig(kind="gpio_servo", pin_factory="pigpio"), clock)
    with pytest.raises(MotorError, match="dtoverlay=pwm-2chan"):
        open_motor(MotorConfig(kind="hardware_pwm", pwm_chip=9), clock)
    assert open_motor(MotorConfig(kind="none"), clock) is None


def test_hardware_pwm_writes_the_kernel_pwm_files(tmp_path: Path) -> None:
    chip = tmp_path / "pwmchip2"
    chip.mkdir()
    (chip / "export").write_text("")
    channel = chip / "pwm2"
    channel.mkdir()  # what the kernel makes on export
    motor = HardwarePwmServo(2, 2, MotorLimits(-60, 60), root=tmp_path)
    assert (channel / "period").read_text() == "20000000\n"
    motor.move_to(0)
    assert (channel / "duty_cycle").read_text() == "1500000\n"
    assert (channel / "enable").read_text() == "1\n"
    motor.move_to(90)  # past the limit: clamped to 60
    assert (channel / "duty_cycle").read_text() == f"{round((1500 + 60 * 2000 / 180) * 1000)}\n"
    motor.close()
    assert (channel / "enable").read_text() == "0\n"


def test_simulated_servo_latency_slew_and_steps() -> None:
    clock = VirtualClock(monotonic_s=0.0)
    settings = SimulatedMotorSettings(
        slew_dps=300, time_constant_s=0.05, step_deg=0.5, latency_s=0.02
    )
    motor = SimulatedPanMotor(MotorLimits(), clock, settings)
    motor.move_to(60.2)  # lands on a 0.5 deg step
    motor.poll(0.02)
    assert motor.angle_deg == 0.0  # not yet: one PWM frame of latency
    motor.poll(0.1)
    assert 0 < motor.angle_deg <= 300 * 0.08 + 1e-9  # no faster than the slew rate
    motor.poll(1.0)
    assert motor.angle_deg == pytest.approx(60.0, abs=1e-3)
    assert motor.highest_deg <= 60.0 + 1e-9  # a first-order servo does not overshoot


def test_simulated_servo_stops_at_its_end_stops() -> None:
    clock = VirtualClock(monotonic_s=0.0)
    motor = SimulatedPanMotor(
        MotorLimits(), clock, SimulatedMotorSettings(end_stops_deg=(-50.0, 40.0))
    )
    motor.move_to(80)
    motor.poll(2.0)
    assert motor.angle_deg == 40.0


def test_unplugged_simulated_motor_is_an_error() -> None:
    with pytest.raises(MotorError, match="no motor answers"):
        SimulatedPanMotor(MotorLimits(), VirtualClock(), SimulatedMotorSettings(connected=False))
