"""The button and the status LED through gpiozero (real pins on a Pi, MockFactory in tests).

Each is opened on its own: a button that cannot be read (no GPIO, the wrong pin, lgpio unable
to write its notification pipe) or an LED that cannot be driven is said in ``button_problem``
/ ``led_problem`` with what to do, never raised, so the daemon can show it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

from .states import Blink, Event

log = logging.getLogger(__name__)


def _working_dir_hint() -> str:
    """gpiozero's lgpio pins write notification pipes into the working directory
    (gpiozero issue 1106): under systemd that is / unless the unit sets one."""
    cwd = os.getcwd()
    if os.access(cwd, os.W_OK):
        return ""
    return (
        f"; the working directory {cwd} is not writable, which gpiozero's lgpio pins need "
        "(set WorkingDirectory= in the lessoncam-device service to a writable folder)"
    )


class Controls:
    """Turns presses into ``Event.SHORT_PRESS`` / ``Event.LONG_PRESS``; shows LED patterns.

    Debounced: a press shorter than ``bounce_s`` (contact bounce, on pressing or releasing)
    is not a press. gpiozero gets ``bounce_time`` too, which pins that filter in hardware use
    (lgpio); its mock pins do not, so the filter here is what tests see.

    gpiozero calls back from its own thread; ``on_event`` must be thread-safe (the daemon passes
    ``loop.call_soon_threadsafe``-wrapped callables).
    """

    def __init__(
        self,
        on_event: Callable[[Event], None],
        *,
        button_pin: int | None,
        led_pin: int | None,
        long_press_s: float,
        bounce_s: float = 0.05,
        pin_factory: Any = None,
    ) -> None:
        self._on_event = on_event
        self._bounce_s = bounce_s
        self._held = False
        self._down_at: float | None = None
        self._pattern: Blink | None = None
        self.button: Any = None
        self.led: Any = None
        self.button_problem: str | None = None  # why the button cannot be read
        self.led_problem: str | None = None  # why the light cannot be driven
        if button_pin is not None:
            self._open_button(button_pin, long_press_s, pin_factory)
        if led_pin is not None:
            try:
                from gpiozero import LED  # gpiozero picks its pin factory on first use

                self.led = LED(led_pin, pin_factory=pin_factory)
            except Exception as exc:
                self.led_problem = (
                    f"the status light on BCM pin {led_pin} cannot be driven ({exc})"
                    f"{_working_dir_hint()}; check [controls] led_pin and its wiring"
                )

    def _open_button(self, pin: int, long_press_s: float, pin_factory: Any) -> None:
        try:
            from gpiozero import Button

            self.button = Button(
                pin,
                hold_time=long_press_s,
                bounce_time=self._bounce_s or None,
                pin_factory=pin_factory,
            )
        except Exception as exc:
            self.button_problem = (
                f"the button on BCM pin {pin} cannot be read ({exc}){_working_dir_hint()}; "
                "check [controls] button_pin and its wiring (meanwhile "
                "`systemctl kill -s USR1 lessoncam-device` starts a lesson, USR2 stops it)"
            )
            return
        self.button.when_pressed = self._pressed
        self.button.when_held = self._long
        self.button.when_released = self._released

    def _pressed(self) -> None:
        self._down_at = time.monotonic()
        self._held = False

    def _long(self) -> None:
        self._held = True
        self._on_event(Event.LONG_PRESS)

    def _released(self) -> None:
        down_at, self._down_at = self._down_at, None
        if down_at is None or self._held:
            self._held = False
            return
        if time.monotonic() - down_at < self._bounce_s:
            return  # contact bounce, not a press
        self._on_event(Event.SHORT_PRESS)

    @property
    def pattern(self) -> Blink | None:
        """What the LED shows (None: nothing yet, or no LED)."""
        return self._pattern

    def show(self, pattern: Blink) -> None:
        """Show ``pattern`` on the LED (no-op when it already shows it)."""
        if self.led is None or pattern == self._pattern:
            return
        self._pattern = pattern
        if pattern.on_s <= 0:
            self.led.off()
        elif pattern.off_s <= 0:
            self.led.on()
        else:
            self.led.blink(on_time=pattern.on_s, off_time=pattern.off_s, background=True)

    def close(self) -> None:
        for device in (self.button, self.led):
            if device is not None:
                device.close()
