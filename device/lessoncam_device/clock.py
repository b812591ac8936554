"""The unit's clock: monotonic time for pts and deadlines, UTC wall time for people.

Everything that waits or stamps takes a ``Clock``, so the simulator can swap in virtual time
(``sim/clock.py``) without production code knowing about it.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Monotonic seconds (for pts and deadlines) and UTC wall time (for timestamps people read)."""

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps (CLOCK_MONOTONIC on the unit)."""
        ...

    def time(self) -> float:
        """UTC wall time, seconds since the epoch."""
        ...

    def now(self) -> datetime:
        """UTC wall time as an aware datetime."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


class RealClock:
    """The machine's clocks; ``sleep`` really waits."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
