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


def _cannot_try(
    part: str, pin: int | None, controls: Controls | None, problem: str | None, person: object
) -> Check | None:
    """Why the light or button cannot be tried (None: it can)."""
    if pin is None:
        return skipped(
            part, f"no {part} configured ([controls] {'led' if part == 'light' else 'button'}_pin)"
        )
    if controls is None:
        return skipped(part, NO_PINS)
    if problem is not None:
        return failed(part, f"the {part} cannot be used", problem)
    if person is None:
        return skipped(part, f"a person must try it: {NOBODY}")
    return None


async def check_light(
    controls: Controls | None, config: ControlsConfig, person: Person | None
) -> Check:
    """The LED blinks when told to, as a person sees it."""
    problem = controls.led_problem if controls is not None else None
    if refused := _cannot_try("light", config.led_pin, controls, problem, person):
        return refused
    assert controls is not None and person is not None
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
    problem = controls.button_problem if controls is not None else None
    if refused := _cannot_try("button", config.button_pin, controls, problem, person):
        return refused
    assert person is not None
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
