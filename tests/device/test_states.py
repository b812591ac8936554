"""The unit's state machine and LED patterns, as pure functions."""

from __future__ import annotations

from lessoncam_device.states import (
    ALL_FINE,
    BUTTON_DEAD,
    MICROPHONE_DID_NOT_START,
    Action,
    Blink,
    Event,
    Facts,
    State,
    Status,
    led_pattern,
    step,
)

IDLE = Status()


def run(*events: Event, facts: Facts = ALL_FINE) -> tuple[Status, list[Action]]:
    status, actions = IDLE, []
    for event in events:
        status, done = step(status, event, facts)
        actions += done
    return status, actions


def test_short_press_starts_long_press_stops() -> None:
    status, actions = run(Event.SHORT_PRESS, Event.STARTED)
    assert status.state is State.RECORDING and actions == [Action.START_RECORDING]
    status, actions = run(Event.SHORT_PRESS, Event.STARTED, Event.LONG_PRESS, Event.FINISHED)
    assert status == IDLE and actions == [Action.START_RECORDING, Action.STOP_RECORDING]


def test_a_short_press_never_stops_a_lesson() -> None:
    status, actions = run(Event.SHORT_PRESS, Event.STARTED, *[Event.SHORT_PRESS] * 5)
    assert status.state is State.RECORDING and actions == [Action.START_RECORDING]


def test_refuses_to_start_without_storage() -> None:
    status, actions = run(Event.SHORT_PRESS, facts=Facts(storage_ok=False))
    assert status.state is State.ERROR and "storage" in (status.reason or "") and actions == []


def test_stops_cleanly_at_the_storage_reserve_and_the_maximum_length() -> None:
    for reason_event in (Event.STORAGE_LOW, Event.MAX_LENGTH, Event.CAMERA_FAILED):
        status, actions = run(Event.SHORT_PRESS, Event.STARTED, reason_event, Event.FINISHED)
        assert actions[-1] is Action.STOP_RECORDING
        expected = State.IDLE if reason_event is Event.MAX_LENGTH else State.ERROR
        assert status.state is expected, reason_event


def test_a_camera_that_does_not_start_is_an_error_that_a_press_retries() -> None:
    status, _ = run(Event.SHORT_PRESS, Event.CAMERA_FAILED)
    assert status.state is State.ERROR and "camera" in (status.reason or "")
    status, actions = step(status, Event.SHORT_PRESS, Facts())
    assert status.state is State.STARTING and actions == [Action.START_RECORDING]


def test_a_microphone_that_does_not_start_is_said_as_the_microphone() -> None:
    status, _ = run(Event.SHORT_PRESS, Event.MICROPHONE_FAILED)
    assert status == Status(State.ERROR, MICROPHONE_DID_NOT_START)
    assert "camera" not in MICROPHONE_DID_NOT_START
    status, actions = step(status, Event.SHORT_PRESS, Facts())
    assert status.state is State.STARTING and actions == [Action.START_RECORDING]


def test_without_a_button_the_unit_is_never_shown_ready() -> None:
    dead = Facts(button_ok=False)
    status, _ = run(Event.BUTTON_FAILED, facts=dead)
    assert status == Status(State.ERROR, BUTTON_DEAD)
    # A lesson started some other way (a signal) ends in the attention state again.
    status, actions = run(
        Event.BUTTON_FAILED, Event.SHORT_PRESS, Event.STARTED, Event.LONG_PRESS, facts=dead
    )
    assert status.state is State.FINISHING and actions[0] is Action.START_RECORDING
    status, _ = step(status, Event.FINISHED, dead)
    assert status == Status(State.ERROR, BUTTON_DEAD)


def test_led_patterns_are_distinct() -> None:
    patterns = {
        led_pattern(Status(State.IDLE), uploading=False),
        led_pattern(Status(State.IDLE), uploading=True),
        led_pattern(Status(State.RECORDING), uploading=True),
        led_pattern(Status(State.FINISHING), uploading=False),
        led_pattern(Status(State.ERROR, "x"), uploading=False),
    }
    assert len(patterns) == 5
    assert led_pattern(Status(State.RECORDING), uploading=False) == Blink(1.0, 0.0)
