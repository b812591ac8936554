"""The baseline the benchmark compares with: a proportional controller on the pixel error.

What a first pan-follow usually is: at every sighting, turn by a fraction of the marker's angle
off the centre of the picture, and let the servo get there as fast as it can. No prediction, no
acceleration limit; it holds when the marker is lost. Not used on a unit.
"""

from __future__ import annotations

from .controller import TrackState


class ProportionalController:
    """Commanded pan += ``gain`` x the marker's offset from the picture centre, per sighting."""

    def __init__(
        self,
        now: float,
        *,
        gain: float = 0.35,
        min_deg: float = -60.0,
        max_deg: float = 60.0,
        start_deg: float = 0.0,
        lock_timeout_s: float = 0.5,
    ) -> None:
        if not 0 < gain <= 1:
            raise ValueError("gain must be in (0, 1]")
        self.gain = gain
        self.min_deg, self.max_deg = min_deg, max_deg
        self.position_deg = min(max(start_deg, min_deg), max_deg)
        self.lock_timeout_s = lock_timeout_s
        self._last_seen: float | None = None
        self._t = now
        self.state = TrackState.LOST

    def observe(
        self,
        t_capture: float,
        bearing_deg: float,
        offset_deg: float = 0.0,
        marker_deg: float | None = None,
    ) -> None:
        """A sighting: ``offset_deg`` is the marker's angle off the optical axis (pixel error)."""
        del bearing_deg, marker_deg
        target = self.position_deg + self.gain * offset_deg
        self.position_deg = min(max(target, self.min_deg), self.max_deg)
        self._last_seen = t_capture

    def update(self, now: float) -> float:
        """The angle to command (changes only at sightings)."""
        self._t = now
        seen = self._last_seen is not None and now - self._last_seen <= self.lock_timeout_s
        self.state = TrackState.LOCKED if seen else TrackState.SEARCHING
        return self.position_deg

    def predicted_bearing(self, t: float) -> float | None:
        """The baseline does not predict: it searches where it points."""
        del t
        return None
