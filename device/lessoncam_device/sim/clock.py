"""Virtual clocks for the simulator: ``sleep`` moves time instead of waiting.

They implement :class:`lessoncam_device.clock.Clock`; the real clock lives there.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import UTC, datetime

# Loop iterations to wait before time jumps, so tasks woken by the last jump (and tasks they
# wake in turn) can run up to their next sleep first and time only moves once all are waiting.
_SETTLE_ROUNDS = 8


class VirtualClock:
    """Time that moves only when advanced or slept on; minutes of recording take milliseconds.

    Concurrent sleepers wake in time order: each ``sleep`` registers a deadline and the clock
    jumps to the earliest one. Work done in threads takes no virtual time.
    """

    def __init__(self, monotonic_s: float = 1000.0, wall_s: float = 1_793_608_200.0) -> None:
        # The default wall time is 2026-11-02 08:30 UTC: a Monday morning lesson.
        self._mono = monotonic_s
        self._wall_minus_mono = wall_s - monotonic_s
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._jump_pending = False

    def monotonic(self) -> float:
        return self._mono

    def time(self) -> float:
        return self._mono + self._wall_minus_mono

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    def advance(self, seconds: float) -> None:
        """Move time forward by hand, waking every sleeper whose deadline has come."""
        if seconds < 0:
            raise ValueError("a monotonic clock does not go back")
        self._mono += seconds
        self._wake_due()

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._sleepers, (self._mono + seconds, next(self._seq), fut))
        self._schedule_jump(loop)
        await fut

    def _schedule_jump(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._jump_pending:
            self._jump_pending = True
            loop.call_soon(self._settle, loop, _SETTLE_ROUNDS)

    def _settle(self, loop: asyncio.AbstractEventLoop, rounds: int) -> None:
        if rounds > 0:
            loop.call_soon(self._settle, loop, rounds - 1)
            return
        self._jump_pending = False
        while self._sleepers and self._sleepers[0][2].done():  # cancelled sleeps
            heapq.heappop(self._sleepers)
        if not self._sleepers:
            return
        self._mono = max(self._mono, self._sleepers[0][0])
        self._wake_due()
        if self._sleepers:
            self._schedule_jump(loop)

    def _wake_due(self) -> None:
        while self._sleepers and self._sleepers[0][0] <= self._mono:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)


class SteppedClock(VirtualClock):
    """Virtual time that moves only by :meth:`advance`: sleepers never make it jump.

    For a driver that decides how fast the lesson goes (a test stepping through a power cut,
    a benchmark letting uploads keep pace with recording).
    """

    def _schedule_jump(self, loop: asyncio.AbstractEventLoop) -> None:
        pass
