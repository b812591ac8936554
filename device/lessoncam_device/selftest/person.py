"""The person at the unit during a self-test, and the checks only a person can make: whether
the light blinks, and a press of the button."""

from __future__ import annotations

import asyncio
import sys
import threading
from typing import Protocol

from ..config import ControlsConfig
from ..controls import Controls
from ..states import Blink, Event
from .report import Check, failed, passed, skipped

NOBODY = "nobody to ask (--yes, or not run in a terminal)"
NO_PINS = 'this unit has no GPIO pins (not a Pi, or [unit] hardware = "simulated")'


class Person(Protocol):
    """Someone at the unit: told what to do, and asked yes-or-no questions."""

    def tell(self, text: str) -> None: ...

    def ask(self, question: str) -> bool:
        """Blocks until answered (run it in a thread)."""
        ...


class TerminalPerson:
    """ICT at the unit's terminal; prompts go to stderr, so ``--json`` stays clean."""

    def tell(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def ask(self, question: str) -> bool:
        print(f"{question} [y/n] ", end="", file=sys.stderr, flush=True)
        return sys.stdin.readline().strip().lower().startswith("y")


class Presses:
    """The button's presses, from gpiozero's thread."""

    def __init__(self) -> None:
        self.pressed = threading.Event()

    def __call__(self, event: Event) -> None:
        if event in (Event.SHORT_PRESS, Event.LONG_PRESS):
            self.pressed.set()


def open_controls(config: ControlsConfig, presses: Presses, pin_factory: object) -> Controls:
    return Controls(
        presses,
        button_pin=config.button_pin,
        led_pin=config.led_pin,
        long_press_s=config.long_press_s,
        bounce_s=config.bounce_s,
        pin_factory=pin_factory,
    )


async def check_light(
    controls: Controls | None, config: ControlsConfig, person: Person | None
) -> Check:
    """The LED blinks when told to, as a person sees it."""
    if config.led_pin is None:
        return skipped("light", "no status light configured ([controls] led_pin)")
    if controls is None:
        return skipped("light", NO_PINS)
    if controls.led_problem is not None:
        return failed("light", "the light cannot be driven", controls.led_problem)
    if person is None:
        return skipped("light", f"a person must look at it: {NOBODY}")
    controls.show(Blink(0.15, 0.15))
    try:
        seen = await asyncio.to_thread(person.ask, "Is the unit's light blinking quickly?")
    finally:
        controls.show(Blink(0.0, 1.0))
    if not seen:
        return failed(
            "light",
            "the light did not blink",
            f"check the LED's wiring (BCM pin {config.led_pin}, a resistor, the LED, ground; "
            "the LED's long leg towards the pin) and [controls] led_pin",
        )
    return passed("light", f"the light on BCM pin {config.led_pin} blinks")


async def check_button(
    controls: Controls | None,
    presses: Presses,
    config: ControlsConfig,
    person: Person | None,
    timeout_s: float,
) -> Check:
    """A person presses the button within ``timeout_s``."""
    if config.button_pin is None:
        return skipped("button", "no button configured ([controls] button_pin)")
    if controls is None:
        return skipped("button", NO_PINS)
    if controls.button_problem is not None:
        return failed("button", "the button cannot be read", controls.button_problem)
    if person is None:
        return skipped("button", f"a person must press it: {NOBODY}")
    presses.pressed.clear()
    person.tell(f"Press the unit's button now (within {timeout_s:g} s).")
    # A person's time is real time, whatever clock the unit runs on.
    if not await asyncio.to_thread(presses.pressed.wait, timeout_s):
        return failed(
            "button",
            f"no press of the button on BCM pin {config.button_pin} within {timeout_s:g} s",
            "check the button's wiring (between the pin and ground) and [controls] button_pin",
        )
    return passed("button", f"the button on BCM pin {config.button_pin} was pressed")
