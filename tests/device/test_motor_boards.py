"""The I2C servo boards through their vendors' own libraries: Adafruit's ServoKit/PCA9685 classes
on a bus that behaves like the PCA9685's registers (checked against its datasheet), and
Pimoroni's ``pantilthat`` on a stand-in ``smbus`` module."""

from __future__ import annotations

import sys
import threading

import pytest

from lessoncam_device.config import MotorConfig
from lessoncam_device.motors.base import MotorError, MotorLimits, ServoCalibration
from lessoncam_device.motors.factory import open_motor
from lessoncam_device.motors.pantilt_hat import PanTiltHat
from lessoncam_device.motors.pca9685 import Pca9685Servo
from lessoncam_device.sim.clock import VirtualClock

from .i2c_fakes import AUTO_INCREMENT, MODE1, OSC_HZ, SLEEP, Pca9685Bus, smbus_module

# The datasheet's equation 1: prescale = round(osc_clock / (4096 * update_rate)) - 1.
PRESCALE_50HZ = round(OSC_HZ / (4096 * 50)) - 1  # 121
FULL = 0x1000  # bit 4 of LEDn_ON_H / LEDn_OFF_H: full on / full off


def counts(pulse_us: float) -> int:
    """LEDn_OFF for a pulse starting at count 0: its share of the 4096 counts of a period."""
    period_us = 1e6 * 4096 * (PRESCALE_50HZ + 1) / OSC_HZ
    return round(pulse_us / period_us * 4096)


def test_pca9685_runs_at_50_hz_set_as_the_datasheet_says() -> None:
    bus = Pca9685Bus()
    motor = Pca9685Servo(3, MotorLimits(-80, 80), i2c=bus)
    assert PRESCALE_50HZ == 121
    assert bus.registers[0xFE] == PRESCALE_50HZ  # written while asleep, so it took
    assert bus.ignored_prescale_writes == 0
    assert bus.registers[MODE1] & SLEEP == 0  # the oscillator runs again
    assert bus.registers[MODE1] & AUTO_INCREMENT  # the 4-byte channel writes need it
    assert bus.frequency_hz == pytest.approx(50.03, abs=0.01)
    assert bus.channel(3) == (0, FULL)  # not driven until told
    motor.close()


@pytest.mark.parametrize(
    ("angle", "pulse_us"),
    [(0, 1500.0), (80, 1500 + 80 * 2000 / 180), (-80, 1500 - 80 * 2000 / 180), (200, 2388.9)],
)
def test_pca9685_pulse_widths_land_in_the_channel_registers(angle: float, pulse_us: float) -> None:
    bus = Pca9685Bus()
    motor = Pca9685Servo(3, MotorLimits(-80, 80), i2c=bus)
    motor.move_to(angle)  # 200 is past the limit: clamped to 80
    on, off = bus.channel(3)
    assert on == 0
    assert abs(off - counts(pulse_us)) <= 1  # 1 count = 4.9 us
    assert bus.channels_written() == {3}  # no other servo on the board moved
    motor.close()


def test_pca9685_trim_and_inversion_and_release() -> None:
    bus = Pca9685Bus()
    calibration = ServoCalibration(1000, 2000, 90, trim_deg=5, invert=True)
    motor = Pca9685Servo(0, MotorLimits(-40, 40), calibration, i2c=bus)
    motor.move_to(0)
    assert abs(bus.channel(0)[1] - counts(1500 - 5 * 1000 / 90)) <= 1
    motor.move_to(40)  # right, upside down: the short end
    assert abs(bus.channel(0)[1] - counts(1000)) <= 1
    motor.release()
    assert bus.channel(0)[1] & FULL  # full off: no pulses, the servo goes limp
    motor.move_to(-20)
    assert abs(bus.channel(0)[1] - counts(1500 + 15 * 1000 / 90)) <= 1
    motor.close()
    assert bus.channel(0)[1] & FULL


def test_pca9685_missing_board_or_library_is_said(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(MotorError, match=r"no PCA9685 answers at I2C address 0x41.*i2cdetect"):
        Pca9685Servo(0, MotorLimits(), address=0x41, i2c=Pca9685Bus(0x40))
    # No I2C bus here (not a Pi): Blinka has no board.I2C.
    with pytest.raises(MotorError, match="no PCA9685 answers at I2C address 0x40"):
        open_motor(MotorConfig(kind="pca9685"), VirtualClock())
    monkeypatch.setitem(sys.modules, "adafruit_servokit", None)
    with pytest.raises(MotorError, match="adafruit-circuitpython-servokit"):
        open_motor(MotorConfig(kind="pca9685"), VirtualClock())


@pytest.fixture
def smbus(monkeypatch: pytest.MonkeyPatch) -> object:
    module = smbus_module()
    monkeypatch.setitem(sys.modules, "smbus", module)
    return module


def test_pantilt_hat_pulses_honour_the_calibration_and_trim(smbus: object) -> None:
    config = MotorConfig(
        kind="pantilt_hat", min_pulse_us=575, max_pulse_us=2325, trim_deg=5, min_deg=-80
    )
    motor = open_motor(config, VirtualClock())
    assert isinstance(motor, PanTiltHat)
    (bus,) = smbus.buses  # type: ignore[attr-defined]
    assert bus.bus == 1
    assert bus.config & 0b1  # servo one enabled
    us_per_deg = (2325 - 575) / 180
    motor.move_to(0)  # straight ahead is 5 degrees off the servo's middle
    assert abs(bus.servo_us[0] - (1450 + 5 * us_per_deg)) <= 1
    motor.move_to(-80)
    assert abs(bus.servo_us[0] - (1450 - 75 * us_per_deg)) <= 1
    assert bus.servo_us[1] == 0  # the tilt servo is left alone
    motor.release()
    assert not bus.config & 0b1
    motor.close()
    assert bus.closed


def test_pantilt_hat_inverted_and_limits_beyond_the_servo(smbus: object) -> None:
    motor = PanTiltHat(MotorLimits(-60, 60), ServoCalibration(575, 2325, invert=True))
    (bus,) = smbus.buses  # type: ignore[attr-defined]
    motor.move_to(60)  # right, mounted upside down: shorter pulses
    assert abs(bus.servo_us[0] - (1450 - 60 * 1750 / 180)) <= 1
    assert [c for c in bus.calls if c[0] == "word"] == [("word", 0x01, bus.servo_us[0])]
    motor.close()
    with pytest.raises(MotorError, match="beyond what this servo turns"):
        PanTiltHat(MotorLimits(-100, 100), ServoCalibration(575, 2325))


def test_pantilt_hat_starts_no_thread_per_move(smbus: object) -> None:
    motor = PanTiltHat(MotorLimits(), ServoCalibration(575, 2325))
    before = set(threading.enumerate())
    for step in range(100):  # two seconds of tracking at 50 Hz
        motor.move_to(step * 0.5)
    assert set(threading.enumerate()) == before
    (bus,) = smbus.buses  # type: ignore[attr-defined]
    assert sum(1 for c in bus.calls if c[0] == "word") == 100
    motor.close()


def test_pantilt_hat_missing_board_or_library_is_said(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "smbus", smbus_module(address=None))
    with pytest.raises(MotorError, match=r"does not answer at I2C address 0x15"):
        PanTiltHat(MotorLimits())
    monkeypatch.setitem(sys.modules, "smbus", None)
    monkeypatch.setitem(sys.modules, "smbus2", None)
    with pytest.raises(MotorError, match="python3-smbus"):
        PanTiltHat(MotorLimits())
    monkeypatch.setitem(sys.modules, "pantilthat", None)
    with pytest.raises(MotorError, match="pantilthat"):
        open_motor(MotorConfig(kind="pantilt_hat"), VirtualClock())
