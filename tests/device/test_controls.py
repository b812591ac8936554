"""Button presses and the LED through gpiozero's own MockFactory pins."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from gpiozero.pins.mock import MockFactory

from lessoncam_device.controls import Controls
from lessoncam_device.states import Blink, Event

BUTTON, LED_PIN = 17, 27


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    made = MockFactory()
    yield made
    made.reset()


@pytest.fixture
def controls(factory: MockFactory) -> Iterator[tuple[Controls, list[Event], threading.Event]]:
    events: list[Event] = []
    seen = threading.Event()

    def on_event(event: Event) -> None:
        events.append(event)
        seen.set()

    made = Controls(
        on_event, button_pin=BUTTON, led_pin=LED_PIN, long_press_s=0.2, pin_factory=factory
    )
    yield made, events, seen
    made.close()


def test_a_tap_is_a_short_press(
    controls: tuple[Controls, list[Event], threading.Event], factory: MockFactory
) -> None:
    _, events, seen = controls
    pin = factory.pin(BUTTON)
    pin.drive_low()
    time.sleep(0.1)  # a finger's tap lasts longer than contact bounce (bounce_s = 0.05)
    pin.drive_high()
    assert seen.wait(2)
    assert events == [Event.SHORT_PRESS]


def test_holding_is_a_long_press_and_the_release_adds_nothing(
    controls: tuple[Controls, list[Event], threading.Event], factory: MockFactory
) -> None:
    _, events, seen = controls
    pin = factory.pin(BUTTON)
    pin.drive_low()
    assert seen.wait(2)  # gpiozero's hold timer fires after long_press_s
    pin.drive_high()
    time.sleep(0.05)
    assert events == [Event.LONG_PRESS]


def test_led_steady_off_and_blinking(
    controls: tuple[Controls, list[Event], threading.Event], factory: MockFactory
) -> None:
    made, _, _ = controls
    pin = factory.pin(LED_PIN)
    made.show(Blink(1.0, 0.0))
    assert pin.state
    made.show(Blink(0.0, 1.0))
    assert not pin.state
    made.show(Blink(0.02, 0.02))
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and sum(1 for _t, s in pin.states if s) < 3:
        time.sleep(0.02)
    assert sum(1 for _t, s in pin.states if s) >= 3  # it really blinks


def button(factory: MockFactory, events: list[Event], bounce_s: float) -> Controls:
    """A button alone, held far longer than any test holds it before it is a long press."""
    return Controls(
        events.append,
        button_pin=BUTTON,
        led_pin=None,
        long_press_s=5.0,
        bounce_s=bounce_s,
        pin_factory=factory,
    )


def test_contact_bounce_makes_no_extra_presses(factory: MockFactory) -> None:
    """A press whose contacts chatter on the way down and up is one press: edges closer than
    bounce_s are bounce (gpiozero's mock pins ignore bounce_time; the filter is ours)."""
    events: list[Event] = []
    made = button(factory, events, bounce_s=0.1)
    try:
        pin = factory.pin(BUTTON)
        for _ in range(3):  # chatter: three quick closes and opens, then held down
            pin.drive_low()
            pin.drive_high()
        pin.drive_low()
        time.sleep(0.3)  # a real press, longer than bounce_s
        pin.drive_high()
        for _ in range(3):  # chatter on release
            pin.drive_low()
            pin.drive_high()
        assert events == [Event.SHORT_PRESS]
    finally:
        made.close()


def test_without_debounce_the_same_chatter_is_many_presses(factory: MockFactory) -> None:
    events: list[Event] = []
    made = button(factory, events, bounce_s=0.0)
    try:
        pin = factory.pin(BUTTON)
        for _ in range(3):
            pin.drive_low()
            pin.drive_high()
        assert events == [Event.SHORT_PRESS] * 3
    finally:
        made.close()


def test_a_button_that_cannot_be_read_is_said_and_the_led_still_works(
    factory: MockFactory,
) -> None:
    from gpiozero import Button

    taken = Button(BUTTON, pin_factory=factory)  # another program holds the pin
    try:
        made = Controls(
            lambda _e: None,
            button_pin=BUTTON,
            led_pin=LED_PIN,
            long_press_s=1.0,
            pin_factory=factory,
        )
        assert made.button is None and made.led is not None
        assert made.button_problem is not None
        assert "button on BCM pin 17 cannot be read" in made.button_problem
        assert "[controls] button_pin" in made.button_problem
        made.show(Blink(1.0, 0.0))
        assert factory.pin(LED_PIN).state
        made.close()
    finally:
        taken.close()
