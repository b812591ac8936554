"""The tracker: frames in, motor commands out. Ties the detector, the controller and a motor.

``on_frame`` (from a perception thread, at the tracking rate) finds the marker and turns its
position in the picture into a room bearing: the pan at the frame's capture time plus the
marker's angle off the optical axis. ``tick`` (from the motion loop, ~50 Hz) advances the
controller and commands the motor. Both may run on different threads.
"""

from __future__ import annotations

import bisect
import logging
import math
import threading
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from ..motors.base import PanMotor
from .controller import TrackState
from .detector import FrameResult, Gray, Hint, MarkerDetector

log = logging.getLogger(__name__)

# A note about foreign or duplicate markers is logged at most this often.
_NOTE_EVERY_S = 60.0
_HISTORY = 400  # commanded angles kept to answer "where did the camera point at time t"
_HINT_MAX_AGE_S = 2.0


@dataclass(frozen=True)
class CameraGeometry:
    """The frames the detector sees: their size and the lens's horizontal field of view."""

    width: int
    height: int
    hfov_deg: float

    @property
    def focal_px(self) -> float:
        return (self.width / 2.0) / math.tan(math.radians(self.hfov_deg) / 2.0)

    @property
    def cx(self) -> float:
        return (self.width - 1) / 2.0

    def offset_deg(self, x: float) -> float:
        """The angle of image column ``x`` off the optical axis (positive right)."""
        return math.degrees(math.atan((x - self.cx) / self.focal_px))

    def column(self, offset_deg: float) -> float:
        """The image column at ``offset_deg`` off the axis."""
        return self.cx + self.focal_px * math.tan(math.radians(offset_deg))


class Controller(Protocol):
    """A pan controller (``PanController``, or the benchmark's baseline)."""

    @property
    def state(self) -> TrackState: ...

    @property
    def position_deg(self) -> float: ...

    def observe(
        self,
        t_capture: float,
        bearing_deg: float,
        offset_deg: float = 0.0,
        marker_deg: float | None = None,
    ) -> None: ...

    def update(self, now: float) -> float: ...

    def predicted_bearing(self, t: float) -> float | None: ...


@dataclass(frozen=True)
class Sighting:
    """The last time the marker was found."""

    t: float
    bearing_deg: float
    x: float
    y: float
    side_px: float
    marker_id: int


class Tracker:
    """Detector + controller + motor. ``state`` is what the heartbeat reports."""

    def __init__(
        self,
        detector: MarkerDetector,
        controller: Controller,
        motor: PanMotor,
        geometry: CameraGeometry,
        now: float,
        *,
        motor_lag_s: float = 0.06,
    ) -> None:
        self.detector = detector
        self.controller = controller
        self.motor = motor
        self.geometry = geometry
        self.motor_lag_s = motor_lag_s
        self.last_sighting: Sighting | None = None
        self.frames = 0
        self.sightings = 0
        self._lock = threading.Lock()
        self._times: deque[float] = deque(maxlen=_HISTORY)
        self._angles: deque[float] = deque(maxlen=_HISTORY)
        self._state = controller.state
        self._noted_at = -math.inf
        start = motor.move_to(controller.update(now))
        self._remember(now, start)

    @property
    def state(self) -> TrackState:
        return self._state

    def _pan_at(self, t: float) -> float:
        times, angles = self._times, self._angles
        t -= self.motor_lag_s
        i = bisect.bisect_right(times, t)
        if i == 0:
            return angles[0]
        if i == len(times):
            return angles[-1]
        t0, t1 = times[i - 1], times[i]
        f = (t - t0) / (t1 - t0) if t1 > t0 else 1.0
        return angles[i - 1] + f * (angles[i] - angles[i - 1])

    def _remember(self, t: float, angle: float) -> None:
        if self._times and t <= self._times[-1]:
            return
        self._times.append(t)
        self._angles.append(angle)

    def hint(self, t_capture: float, pan_deg: float) -> Hint | None:
        """Where the marker should be in a frame captured at ``t_capture``."""
        seen = self.last_sighting
        if seen is None or t_capture - seen.t > _HINT_MAX_AGE_S:
            return None
        bearing = self.controller.predicted_bearing(t_capture)
        if bearing is None:
            bearing = seen.bearing_deg
        offset = bearing - pan_deg
        if abs(offset) >= 80.0:
            return None
        return Hint(self.geometry.column(offset), seen.y, seen.side_px)

    def on_frame(self, t_capture: float, gray: Gray) -> FrameResult:
        """Search a frame captured at ``t_capture`` and tell the controller what it shows."""
        with self._lock:
            pan = self._pan_at(t_capture)
            hint = self.hint(t_capture, pan)
        result = self.detector.detect(gray, t_capture, hint)
        self.frames += 1
        if result.foreign_ids or result.candidates > 1:
            self._note(t_capture, result)
        found = result.detection
        if found is None:
            return result
        x, y = found.centre
        offset = self.geometry.offset_deg(x)
        width = math.degrees(found.side_px / self.geometry.focal_px)
        with self._lock:
            self.controller.observe(t_capture, pan + offset, offset, width)
            self.last_sighting = Sighting(
                t_capture, pan + offset, x, y, found.side_px, found.marker_id
            )
        self.sightings += 1
        return result

    def tick(self, now: float) -> float:
        """Advance the controller to ``now`` and command the motor; returns the angle."""
        with self._lock:
            angle = self.controller.update(now)
            commanded = self.motor.move_to(angle)
            self._remember(now, commanded)
            state = self.controller.state
        self.motor.poll(now)
        if state is not self._state:
            self._log_change(self._state, state)
            self._state = state
        return commanded

    def _log_change(self, before: TrackState, after: TrackState) -> None:
        seen = self.last_sighting
        if after is TrackState.LOCKED and seen is not None:
            log.info(
                "tracking: %s -> locked on marker %d (%.0f px wide, at %.1f deg)",
                before.value,
                seen.marker_id,
                seen.side_px,
                seen.bearing_deg,
            )
        elif after is TrackState.SEARCHING:
            log.info("tracking: marker not seen; looking where she went, then over the whole reach")
        else:
            log.info("tracking: marker not found; resting on a view that shows where she was")

    def _note(self, t: float, result: FrameResult) -> None:
        if t - self._noted_at < _NOTE_EVERY_S:
            return
        self._noted_at = t
        if result.foreign_ids:
            log.warning(
                "tracking: ignoring marker id(s) %s in view (expected %s); another class's "
                "marker or a poster?",
                ", ".join(map(str, result.foreign_ids)),
                ", ".join(map(str, self.detector.settings.ids)),
            )
        if result.candidates > 1:
            log.warning(
                "tracking: %d of our markers in view at once; following the one nearest to "
                "where she was. Give each teacher one marker id.",
                result.candidates,
            )
