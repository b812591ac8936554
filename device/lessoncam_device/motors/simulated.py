"""A simulated pan motor with what matters about a real servo: it turns at a finite speed,
settles like a servo's own control loop, moves in steps (the pulse resolution), starts a
little after it is told to (the PWM frame), and stops at its mechanical end stops.

Time comes from ``poll(now)`` (or the clock given): the shaft angle is integrated up to then,
and an attached ``SimulatedCamera`` is turned to it, so the camera's view follows the motor.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Protocol

from .base import MotorError, MotorLimits, PanMotor


class PannableCamera(Protocol):
    """What the motor turns: ``SimulatedCamera.set_pan``."""

    def set_pan(self, deg: float, velocity_dps: float = 0.0) -> None: ...


class Monotonic(Protocol):
    def monotonic(self) -> float: ...


@dataclass(frozen=True)
class SimulatedMotorSettings:
    """A hobby servo's behaviour; the defaults are a metal-gear servo on a 1 us pulse clock."""

    slew_dps: float = 400.0  # top speed
    time_constant_s: float = 0.05  # the servo's own loop: ~63% of a small step in this time
    step_deg: float = 0.09  # resolution: 1 us of pulse on a 2000 us / 180 deg servo
    latency_s: float = 0.02  # one PWM frame before a command takes effect
    end_stops_deg: tuple[float, float] = (-85.0, 85.0)  # where the mechanics stop it
    connected: bool = True  # False: behaves as an unplugged motor (for tests of bad input)

    def __post_init__(self) -> None:
        if self.slew_dps <= 0 or self.time_constant_s <= 0:
            raise ValueError("slew_dps and time_constant_s must be > 0")
        if self.step_deg < 0 or self.latency_s < 0:
            raise ValueError("step_deg and latency_s must be >= 0")


_SUBSTEP_S = 0.002


class SimulatedPanMotor(PanMotor):
    """A servo in software; ``angle_deg`` is where the shaft (and the camera) points."""

    kind = "simulated"

    def __init__(
        self,
        limits: MotorLimits,
        clock: Monotonic,
        settings: SimulatedMotorSettings | None = None,
        *,
        camera: PannableCamera | None = None,
        start_deg: float = 0.0,
    ) -> None:
        super().__init__(limits)
        self.settings = settings or SimulatedMotorSettings()
        if not self.settings.connected:
            raise MotorError("no motor answers (simulated: connected = false)")
        self.clock = clock
        self.camera = camera
        self.angle_deg = limits.clamp(start_deg)
        self.velocity_dps = 0.0
        self._t = clock.monotonic()
        # Commands as (time they take effect, quantised angle), in time order.
        self._times: list[float] = []
        self._targets: list[float] = []
        self._target = self.angle_deg
        self.highest_deg = self.lowest_deg = self.angle_deg  # the extremes the shaft reached
        self._show()

    def attach(self, camera: PannableCamera | None) -> None:
        """Turn ``camera`` with the shaft from now on (None: detach)."""
        self.camera = camera
        self._show()

    def _drive(self, angle_deg: float) -> None:
        s = self.settings
        step = s.step_deg
        target = round(angle_deg / step) * step if step > 0 else angle_deg
        at = self.clock.monotonic() + s.latency_s
        # A newer command replaces any queued one that would take effect later.
        cut = bisect.bisect_left(self._times, at)
        del self._times[cut:], self._targets[cut:]
        self._times.append(at)
        self._targets.append(target)

    def poll(self, now: float | None = None) -> None:
        """Integrate the shaft up to ``now`` (default: the clock's now)."""
        now = self.clock.monotonic() if now is None else now
        s = self.settings
        lo, hi = s.end_stops_deg
        while self._t < now - 1e-12:
            while self._times and self._times[0] <= self._t + 1e-12:
                self._target = self._targets.pop(0)
                self._times.pop(0)
            h = min(_SUBSTEP_S, now - self._t)
            if self._times:  # end the substep where the next command takes effect
                h = max(1e-6, min(h, self._times[0] - self._t))
            self._t += h
            change = (self._target - self.angle_deg) * -math.expm1(-h / s.time_constant_s)
            change = min(max(change, -s.slew_dps * h), s.slew_dps * h)
            new = min(max(self.angle_deg + change, lo), hi)
            self.velocity_dps = (new - self.angle_deg) / h
            self.angle_deg = new
            self.highest_deg = max(self.highest_deg, new)
            self.lowest_deg = min(self.lowest_deg, new)
        self._show()

    def _show(self) -> None:
        if self.camera is not None:
            self.camera.set_pan(self.angle_deg, self.velocity_dps)

    def _release(self) -> None:
        self._times.clear()
        self._targets.clear()
