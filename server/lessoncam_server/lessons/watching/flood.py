"""Message floods: each connection gets a token bucket, so one person (or a script with her
cookie) cannot drown the session; the others go on undisturbed."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Bucket:
    """``burst`` messages at once, then ``per_second``. ``strikes`` counts messages refused
    in a row; past ``max_strikes`` the connection is closed."""

    burst: float = 30.0
    per_second: float = 15.0
    max_strikes: int = 200
    tokens: float = field(default=-1.0)
    last_s: float | None = None
    strikes: int = 0

    def allow(self, now_s: float) -> bool:
        """Take one token at ``now_s`` (a monotonic time in seconds) if there is one."""
        if self.tokens < 0:
            self.tokens = self.burst
        if self.last_s is not None:
            self.tokens = min(self.burst, self.tokens + (now_s - self.last_s) * self.per_second)
        self.last_s = now_s
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            self.strikes = 0
            return True
        self.strikes += 1
        return False

    @property
    def exhausted(self) -> bool:
        """Refused so often in a row that this is no person at a keyboard."""
        return self.strikes > self.max_strikes
