"""``lessoncam-device simulate``'s lesson: its seconds count from when the unit records."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from lessoncam_device.cli import simulated_lesson
from lessoncam_device.states import Event, State, Status


@dataclass
class SlowStartingUnit:
    """A unit that needs ``start_s`` from the press to recording (an emulated arm64 unit)."""

    start_s: float
    status: Status = field(default_factory=Status)
    pressed: list[tuple[Event, State, float]] = field(default_factory=list)
    recording_since: float | None = None

    def post(self, event: Event) -> None:
        loop = asyncio.get_running_loop()
        self.pressed.append((event, self.status.state, loop.time()))
        if event is Event.SHORT_PRESS:
            self.status = Status(State.STARTING)
            loop.call_later(self.start_s, self._recording)
        elif event is Event.LONG_PRESS:
            self.status = Status(State.IDLE)

    def _recording(self) -> None:
        self.status = Status(State.RECORDING)
        self.recording_since = asyncio.get_running_loop().time()

    def queue_length(self) -> int:
        return 0


async def test_a_slow_start_does_not_eat_the_lesson() -> None:
    unit = SlowStartingUnit(start_s=0.3)
    await simulated_lesson(unit, seconds=0.2)  # type: ignore[arg-type]
    (_, _, _), (event, state, at) = unit.pressed
    # The long press stops a lesson that has recorded all its seconds.
    assert (event, state) == (Event.LONG_PRESS, State.RECORDING)
    assert unit.recording_since is not None and at - unit.recording_since >= 0.2


async def test_a_refused_press_is_waited_for_only_so_long() -> None:
    unit = SlowStartingUnit(start_s=3600.0)  # never records
    await simulated_lesson(unit, seconds=0.0, start_wait_s=0.2)  # type: ignore[arg-type]
    assert [event for event, _, _ in unit.pressed] == [Event.SHORT_PRESS, Event.LONG_PRESS]
