"""Upload policies: pure decisions with no I/O and no clock of their own (callers pass the time).

- ``Backoff``: exponential backoff with full jitter after failures.
- ``TokenBucket``: the bandwidth cap, in bytes per second.
- ``UploadWindows``: the local times of day at which segments may be uploaded.
- ``KeepPolicy``: when a segment the server has confirmed may be deleted locally.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Literal

MINUTES_PER_DAY = 24 * 60
_WINDOW_RE = re.compile(r"\A\s*([01]?\d|2[0-3]):([0-5]\d)\s*-\s*([01]?\d|2[0-3]):([0-5]\d)\s*\Z")


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: the n-th consecutive failure waits a uniformly
    random time in ``[0, min(cap_s, base_s * factor ** (n - 1)))``.

    Full jitter spreads the retries of a whole school's units after the server comes back.
    """

    base_s: float = 2.0
    factor: float = 2.0
    cap_s: float = 300.0

    def __post_init__(self) -> None:
        if self.base_s <= 0 or self.factor < 1 or self.cap_s < self.base_s:
            raise ValueError("backoff needs base_s > 0, factor >= 1 and cap_s >= base_s")

    def ceiling(self, attempt: int) -> float:
        """The longest wait after the ``attempt``-th consecutive failure (1-based; 0 -> 0)."""
        if attempt < 1:
            return 0.0
        # Compare exponents, not powers: factor ** attempt overflows a float after ~1000 tries.
        if self.factor > 1 and (attempt - 1) * math.log(self.factor) >= math.log(
            self.cap_s / self.base_s
        ):
            return self.cap_s
        return min(self.cap_s, self.base_s * self.factor ** (attempt - 1))

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """A jittered wait for the ``attempt``-th failure; ``rand`` returns a float in [0, 1)."""
        return rand() * self.ceiling(attempt)


@dataclass
class TokenBucket:
    """A token bucket of bytes: ``rate`` per second refill, at most ``capacity`` saved up.

    ``reserve`` takes tokens at once and may leave the bucket in debt; the caller then waits
    the returned time before sending. So a chunk larger than the capacity still goes out,
    and the average rate stays at ``rate``.
    """

    rate: float
    capacity: float
    tokens: float = field(default=-1.0)
    stamp: float | None = None  # the monotonic time of the last refill

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.capacity <= 0:
            raise ValueError("a token bucket needs rate > 0 and capacity > 0")
        if self.tokens < 0:
            self.tokens = self.capacity  # start full: the first chunk goes at once

    def _refill(self, now: float) -> None:
        if self.stamp is not None and now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        if self.stamp is None or now > self.stamp:
            self.stamp = now

    def reserve(self, amount: int, now: float) -> float:
        """Take ``amount`` bytes' worth of tokens at monotonic time ``now``.

        Returns the seconds to wait before sending them (0.0 when they were there).
        """
        if amount < 0:
            raise ValueError("amount must be >= 0")
        self._refill(now)
        self.tokens -= amount
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


@dataclass(frozen=True)
class TimeWindow:
    """Local minutes of the day ``start`` to ``end``, both whole minutes included.

    ``"15:30-23:59"`` runs to midnight; ``"16:00-07:00"`` crosses it.
    """

    start: int  # minutes since midnight
    end: int  # minutes since midnight; this whole minute is inside the window

    @classmethod
    def parse(cls, spec: str) -> TimeWindow:
        """Parse ``"HH:MM-HH:MM"``; raises ValueError naming the spec."""
        match = _WINDOW_RE.match(spec)
        if match is None:
            raise ValueError(f"upload window {spec!r} is not HH:MM-HH:MM (local time)")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        return cls(h1 * 60 + m1, h2 * 60 + m2)

    def contains_minute(self, minute: int) -> bool:
        """Whether the minute of the day ``minute`` (0-1439) lies in the window."""
        if self.start <= self.end:
            return self.start <= minute <= self.end
        return minute >= self.start or minute <= self.end


@dataclass(frozen=True)
class UploadWindows:
    """When segments may be uploaded; no windows at all means always."""

    windows: tuple[TimeWindow, ...] = ()

    @classmethod
    def parse(cls, specs: Iterable[str]) -> UploadWindows:
        """From config strings such as ``["07:00-08:15", "12:00-13:00", "15:30-23:59"]``."""
        return cls(tuple(TimeWindow.parse(spec) for spec in specs))

    def allows(self, local: datetime | time) -> bool:
        """Whether uploads may run at the local wall time ``local``."""
        if not self.windows:
            return True
        minute = local.hour * 60 + local.minute
        return any(w.contains_minute(minute) for w in self.windows)

    def seconds_until_open(self, local: datetime | time) -> float:
        """Seconds from ``local`` until a window opens (0.0 if one is open now).

        Counted in local wall minutes: across a daylight-saving change the answer is an hour
        off, so callers sleep at most a while and ask again.
        """
        if self.allows(local):
            return 0.0
        minute = local.hour * 60 + local.minute
        into_minute = local.second + local.microsecond / 1e6
        ahead = min((w.start - minute) % MINUTES_PER_DAY for w in self.windows)
        return ahead * 60.0 - into_minute


KeepMode = Literal["delete_after_upload", "keep_days", "keep_all"]
KEEP_MODES: tuple[KeepMode, ...] = ("delete_after_upload", "keep_days", "keep_all")


@dataclass(frozen=True)
class KeepPolicy:
    """What happens to a local segment file once the server has confirmed its sha256.

    Never consulted for a segment the server has not confirmed: those are always kept.
    """

    mode: KeepMode = "delete_after_upload"
    days: float = 7.0

    def __post_init__(self) -> None:
        if self.mode not in KEEP_MODES:
            raise ValueError(f"keep policy {self.mode!r}: use one of {', '.join(KEEP_MODES)}")
        if self.mode == "keep_days" and self.days < 0:
            raise ValueError("keep_days needs days >= 0")

    def delete_at(self, confirmed_at: datetime) -> datetime | None:
        """When a segment confirmed at ``confirmed_at`` may go; None: never."""
        if self.mode == "delete_after_upload":
            return confirmed_at
        if self.mode == "keep_days":
            return confirmed_at + timedelta(days=self.days)
        return None

    def confirmed_by(self, now: datetime) -> datetime | None:
        """Segments confirmed at or before this moment may be deleted at ``now``; None: none."""
        if self.mode == "delete_after_upload":
            return now
        if self.mode == "keep_days":
            return now - timedelta(days=self.days)
        return None

    def should_delete(self, confirmed_at: datetime, now: datetime) -> bool:
        """Whether a confirmed segment may be deleted at ``now``."""
        when = self.delete_at(confirmed_at)
        return when is not None and when <= now


def is_due(next_attempt_at: datetime | None, now: datetime, longest_wait_s: float) -> bool:
    """Whether an item that backs off until ``next_attempt_at`` may be tried at ``now``.

    A deadline further away than any backoff can make means the wall clock went back (a Pi
    without a real-time clock before NTP): try now rather than wait for a year.
    """
    if next_attempt_at is None or next_attempt_at <= now:
        return True
    return (next_attempt_at - now).total_seconds() > longest_wait_s
