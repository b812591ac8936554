"""No device test may leave a non-daemon thread running.

Python waits for every non-daemon thread at exit, so one left running hangs pytest after its
last verdict: ``make pi-rehearsal`` hung so for its whole time-out, because a test that failed
mid-lesson never stopped its recorder, whose splitter thread (non-daemon, so a unit that is
shut down closes its last segment) then waits for a stop forever. Checked after each test, a
leak fails the test that made it, by the thread's name.
"""

from __future__ import annotations

import concurrent.futures.thread
import threading
import time
from collections.abc import Collection

#: How long a test's threads get to end after it (a recorder's threads end at its stop).
GRACE_S = 10.0


def _pool_worker(thread: threading.Thread) -> bool:
    # concurrent.futures' (and asyncio's) workers are told to end at exit: they never hang it.
    target = getattr(thread, "_target", None)
    return target is concurrent.futures.thread._worker


def lingering(before: Collection[threading.Thread], grace_s: float) -> list[threading.Thread]:
    """Non-daemon threads not in ``before`` that are still running after ``grace_s``."""
    deadline = time.monotonic() + grace_s
    new = [
        t
        for t in threading.enumerate()
        if t not in before
        and t is not threading.current_thread()
        and not t.daemon
        and not _pool_worker(t)
        and t.is_alive()
    ]
    for thread in new:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [t for t in new if t.is_alive()]


def described(threads: list[threading.Thread]) -> str:
    return ", ".join(sorted(t.name for t in threads))
