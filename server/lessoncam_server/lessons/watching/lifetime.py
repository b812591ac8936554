"""When a watch-together session ends by itself: the last person left (after a grace period,
so a reload or a dropped connection does not end it), nobody came, or it ran too long."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Lifetime:
    """``empty_grace_s``: how long a session waits with nobody connected; ``unjoined_grace_s``:
    how long it waits for its first person (who may still be choosing whom to invite);
    ``max_s``: the longest a session lasts at all."""

    empty_grace_s: float = 60.0
    unjoined_grace_s: float = 900.0
    max_s: float = 4 * 3600.0

    def ended(
        self, *, now_s: float, started_s: float, empty_since_s: float | None, joined: bool = True
    ) -> str | None:
        """Why the session ends at ``now_s`` (``time_out`` or ``empty``), or None while it
        goes on. ``empty_since_s`` is when the last person left (None while anyone is
        connected), ``joined`` whether anyone ever joined; times are monotonic seconds."""
        if now_s - started_s >= self.max_s:
            return "time_out"
        grace = self.empty_grace_s if joined else self.unjoined_grace_s
        if empty_since_s is not None and now_s - empty_since_s >= grace:
            return "empty"
        return None
