"""The shared timeline: where everyone in a session should be at a given moment.

The server keeps one ``Timeline``: the position at a server time, whether it plays and at what
rate. Each browser computes where it should be now from it and corrects its own video
(``static/watch.js``), so nothing needs sending while it simply plays on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

#: The player's speeds run from 0.5x to 2x; a little room either side for rounding.
MIN_RATE = 0.25
MAX_RATE = 2.0


@dataclass(frozen=True, slots=True)
class Timeline:
    """``position_s`` held at server time ``at_ms`` (ms since the epoch); ``version`` counts
    the changes, so a browser can tell a new state from one it has seen."""

    playing: bool = False
    position_s: float = 0.0
    rate: float = 1.0
    at_ms: float = 0.0
    version: int = 0

    def position_at(self, now_ms: float, duration_s: float) -> float:
        """Where the lesson is at ``now_ms``: it runs on while playing and stops at the end."""
        position = self.position_s
        if self.playing:
            position += max(0.0, now_ms - self.at_ms) / 1000.0 * self.rate
        return clamp(position, duration_s)

    def changed(
        self, *, playing: bool, position_s: float, rate: float, now_ms: float, duration_s: float
    ) -> Timeline:
        """The timeline after someone played, paused, sought or changed the speed at
        ``now_ms``."""
        return Timeline(
            playing=playing,
            position_s=clamp(position_s, duration_s),
            rate=rate,
            at_ms=now_ms,
            version=self.version + 1,
        )

    def settled(self, now_ms: float, duration_s: float) -> Timeline:
        """The same timeline restated at ``now_ms`` (for a late joiner, and at the end, where
        it stops playing)."""
        position = self.position_at(now_ms, duration_s)
        playing = self.playing and (duration_s <= 0 or position < duration_s)
        return replace(self, playing=playing, position_s=position, at_ms=now_ms)

    def as_message(self) -> dict[str, float | bool | int]:
        return {
            "playing": self.playing,
            "position_s": round(self.position_s, 3),
            "rate": self.rate,
            "at_ms": round(self.at_ms, 1),
            "version": self.version,
        }


def clamp(position_s: float, duration_s: float) -> float:
    """``position_s`` within the lesson (0 to its duration, when known)."""
    position = max(0.0, position_s)
    return min(position, duration_s) if duration_s > 0 else position


@dataclass(frozen=True, slots=True)
class Layout:
    """The camera layout: picture in picture or side by side, and the cameras swapped."""

    pip: bool = False
    swapped: bool = False

    def as_message(self) -> dict[str, bool]:
        return {"pip": self.pip, "swapped": self.swapped}
