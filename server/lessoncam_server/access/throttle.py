"""Login throttling: a pure policy over recent failures per account and per client address."""

from __future__ import annotations

from collections import defaultdict, deque
from datetime import datetime, timedelta

MAX_TRACKED_KEYS = 10_000


class LoginThrottle:
    """Counts failed logins in a sliding window; refuses further tries once a limit is reached.

    Kept in memory: a restart forgives, which is acceptable for a single-process server and
    avoids a database write per failed attempt (which would itself be a denial-of-service lever).
    """

    def __init__(self, per_account: int, per_address: int, window: timedelta) -> None:
        self.per_account = per_account
        self.per_address = per_address
        self.window = window
        self._failures: dict[str, deque[datetime]] = defaultdict(deque)

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        times = self._failures[key]
        while times and now - times[0] >= self.window:
            times.popleft()
        if not times:
            del self._failures[key]
            return deque()
        return times

    def retry_after(self, username: str, address: str, now: datetime) -> float | None:
        """Seconds to wait before another try is allowed, or None when one is allowed now."""
        waits = []
        for key, limit in (
            (f"account:{username.casefold()}", self.per_account),
            (f"address:{address}", self.per_address),
        ):
            times = self._recent(key, now)
            if len(times) >= limit:
                waits.append((times[-limit] + self.window - now).total_seconds())
        return max(waits) if waits else None

    def failed(self, username: str, address: str, now: datetime) -> None:
        if len(self._failures) > MAX_TRACKED_KEYS:
            # Guessing many usernames must not grow memory without bound: forget stale keys.
            for key in list(self._failures):
                self._recent(key, now)
        self._failures[f"account:{username.casefold()}"].append(now)
        self._failures[f"address:{address}"].append(now)

    @property
    def tracked(self) -> int:
        """How many accounts and addresses have failures on record (bounded by pruning)."""
        return len(self._failures)

    def succeeded(self, username: str) -> None:
        self._failures.pop(f"account:{username.casefold()}", None)
