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
