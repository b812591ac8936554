"""A servo on one of the Pi 5's hardware PWM channels, through the kernel's PWM sysfs.

Needs ``dtoverlay=pwm-2chan`` (GPIO 18 and 19) in ``/boot/firmware/config.txt``; on a Pi 5
those are channels 2 and 3 of the RP1's ``pwmchip`` (its number depends on the kernel: see
``ls /sys/class/pwm``). The pulses come from hardware, jitter-free, with nanosecond steps.
"""

from __future__ import annotations

import time
from pathlib import Path

from .base import MotorError, MotorLimits, PanMotor, ServoCalibration

SYSFS_PWM = Path("/sys/class/pwm")


class HardwarePwmServo(PanMotor):
    """Writes ``period``, ``duty_cycle`` (ns) and ``enable`` of one PWM channel."""

    kind = "hardware_pwm"

    def __init__(
        self,
        chip: int,
        channel: int,
        limits: MotorLimits,
        calibration: ServoCalibration | None = None,
        *,
        root: Path = SYSFS_PWM,
        period_us: float = 20000.0,
        export_wait_s: float = 1.0,
    ) -> None:
        super().__init__(limits)
        self.calibration = calibration or ServoCalibration()
        self.calibration.check(limits)
        self.chip_dir = root / f"pwmchip{chip}"
        self.dir = self.chip_dir / f"pwm{channel}"
        if not self.chip_dir.is_dir():
            raise MotorError(
                f"{self.chip_dir} does not exist: add dtoverlay=pwm-2chan to "
                "/boot/firmware/config.txt, reboot, and check `ls /sys/class/pwm`"
            )
        try:
            if not self.dir.is_dir():
                (self.chip_dir / "export").write_text(f"{channel}\n")
                deadline = time.monotonic() + export_wait_s
                # udev makes the new files writable a moment after the export.
                while not (self.dir / "period").exists() and time.monotonic() < deadline:
                    time.sleep(0.01)
            self._write("period", round(period_us * 1000))
        except OSError as exc:
            raise MotorError(
                f"cannot use PWM channel {channel} of {self.chip_dir} ({exc}); is the user "
                "in the gpio group?"
            ) from exc
        self._enabled = False

    def _write(self, name: str, value: int) -> None:
        (self.dir / name).write_text(f"{value}\n")

    def _drive(self, angle_deg: float) -> None:
        self._write("duty_cycle", round(self.calibration.pulse_us(angle_deg) * 1000))
        if not self._enabled:
            self._write("enable", 1)
            self._enabled = True

    def _release(self) -> None:
        if self._enabled:
            self._write("enable", 0)
            self._enabled = False
