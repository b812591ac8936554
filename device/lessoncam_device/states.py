"""The unit's state machine: what a button press or an event does in each state. Pure.

A short press starts a lesson; only a long press stops it, so a pupil cannot end a lesson by
tapping the button. The daemon feeds events in and carries out the returned actions.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    IDLE = "idle"
    STARTING = "starting"
    RECORDING = "recording"
    FINISHING = "finishing"
    ERROR = "error"


class Event(StrEnum):
    SHORT_PRESS = "short_press"
    LONG_PRESS = "long_press"
    STARTED = "started"  # the recorder runs
    FINISHED = "finished"  # the recorder closed the recording
    MAX_LENGTH = "max_length"  # the lesson reached recording.max_minutes
    STORAGE_LOW = "storage_low"  # free space fell to the reserve, or a write found it full
    STORAGE_OK = "storage_ok"  # free space is above the reserve again
    CAMERA_FAILED = "camera_failed"
    MICROPHONE_FAILED = "microphone_failed"  # it cannot be opened and [audio] required = true
    BUTTON_FAILED = "button_failed"  # the button cannot be read (at start-up)
    STOP_REQUESTED = "stop_requested"  # service stop: finish cleanly


class Action(StrEnum):
    START_RECORDING = "start_recording"
    STOP_RECORDING = "stop_recording"


@dataclass(frozen=True)
class Status:
    """The state plus why the unit is in an error state (said in the log and the heartbeat)."""

    state: State = State.IDLE
    reason: str | None = None


@dataclass(frozen=True)
class Facts:
    """What the machine must know from outside to decide a start."""

    storage_ok: bool = True
    enrolled: bool = True
    button_ok: bool = True  # False: the unit is never just "ready" (attention instead)


ALL_FINE = Facts()

#: What the unit says when its disk is full: on the LED (attention), in the log and heartbeat.
NO_ROOM_TO_START = "storage full: not enough free space to record; free space on the unit"
STORAGE_FULL = (
    "storage full: the lesson was stopped and what was recorded is kept; "
    "free space on the unit (it uploads, then deletes, its recordings)"
)
STORAGE_REASONS = (NO_ROOM_TO_START, STORAGE_FULL)
BUTTON_DEAD = "the button does not work: lessons cannot be started at the unit"
MICROPHONE_DID_NOT_START = (
    "the microphone did not start, so no lesson was recorded; check it and [audio] device"
)


def step(status: Status, event: Event, facts: Facts = ALL_FINE) -> tuple[Status, list[Action]]:
    """The next status and the actions to carry out for ``event``.

    Without a working button the unit is never shown as ready: where it would be idle it is
    in the attention state (``BUTTON_DEAD``); a press (a signal) still starts a lesson.
    """
    new, actions = _step(status, event, facts)
    if new.state is State.IDLE and not facts.button_ok:
        return Status(State.ERROR, BUTTON_DEAD), actions
    return new, actions


def _step(status: Status, event: Event, facts: Facts) -> tuple[Status, list[Action]]:
    state = status.state
    if state in (State.IDLE, State.ERROR) and event is Event.SHORT_PRESS:
        if not facts.storage_ok:
            return Status(State.ERROR, NO_ROOM_TO_START), []
        return Status(State.STARTING), [Action.START_RECORDING]
    if state is State.STARTING:
        if event is Event.STARTED:
            return Status(State.RECORDING), []
        if event is Event.CAMERA_FAILED:
            return Status(State.ERROR, "the camera did not start; check its cable"), []
        if event is Event.MICROPHONE_FAILED:
            return Status(State.ERROR, MICROPHONE_DID_NOT_START), []
        if event is Event.STORAGE_LOW:  # the disk was too full to create the lesson's files
            return Status(State.ERROR, NO_ROOM_TO_START), []
        if event in (Event.LONG_PRESS, Event.STOP_REQUESTED):
            return Status(State.FINISHING), [Action.STOP_RECORDING]
    if state is State.RECORDING:
        if event in (Event.LONG_PRESS, Event.MAX_LENGTH, Event.STOP_REQUESTED):
            return Status(State.FINISHING), [Action.STOP_RECORDING]
        if event is Event.STORAGE_LOW:
            return Status(State.FINISHING, STORAGE_FULL), [Action.STOP_RECORDING]
        if event is Event.CAMERA_FAILED:
            return Status(State.FINISHING, "the camera failed: the lesson was stopped"), [
                Action.STOP_RECORDING
            ]
    if state is State.ERROR and event is Event.STORAGE_OK and status.reason in STORAGE_REASONS:
        return Status(State.IDLE), []  # space came back: ready for the next lesson
    if state is State.FINISHING and event is Event.FINISHED:
        if status.reason is not None:
            return Status(State.ERROR, status.reason), []
        return Status(State.IDLE), []
    return status, []  # everything else (a short press while recording) changes nothing


@dataclass(frozen=True)
class Blink:
    """An LED pattern: ``on_s`` lit, ``off_s`` dark, repeated; off_s = 0 means steady."""

    on_s: float
    off_s: float


LED_OFF = Blink(0.0, 1.0)


def led_pattern(status: Status, uploading: bool) -> Blink:
    """The documented LED patterns (README, "The button and the light")."""
    match status.state:
        case State.RECORDING:
            return Blink(1.0, 0.0)  # steady: recording
        case State.STARTING | State.FINISHING:
            return Blink(0.1, 0.1)  # fast flicker: wait
        case State.ERROR:
            return Blink(0.2, 0.8)  # short flash each second: needs attention
        case _ if uploading:
            return Blink(0.5, 0.5)  # slow blink: uploading
        case _:
            return Blink(0.05, 2.95)  # brief flash every 3 s: ready
