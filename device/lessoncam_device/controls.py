"""The button and the status LED through gpiozero (real pins on a Pi, MockFactory in tests)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .states import Blink, Event

log = logging.getLogger(__name__)


class Controls:
    """Turns presses into ``Event.SHORT_PRESS`` / ``Event.LONG_PRESS``; shows LED patterns.

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
        pin_factory: Any = None,
    ) -> None:
        from gpiozero import LED, Button  # imported here: gpiozero picks its pin factory on use

        self._on_event = on_event
        self._held = False
        self._pattern: Blink | None = None
        self.button = (
            Button(button_pin, hold_time=long_press_s, pin_factory=pin_factory)
            if button_pin is not None
            else None
        )
        self.led = LED(led_pin, pin_factory=pin_factory) if led_pin is not None else None
        if self.button is not None:
            self.button.when_pressed = self._pressed
            self.button.when_held = self._long
            self.button.when_released = self._released

    def _pressed(self) -> None:
        self._held = False

    def _long(self) -> None:
        self._held = True
        self._on_event(Event.LONG_PRESS)

    def _released(self) -> None:
        if not self._held:
            self._on_event(Event.SHORT_PRESS)
        self._held = False

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
