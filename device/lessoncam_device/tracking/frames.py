"""Frames for the tracker: the newest picture, as luma, with its capture time.

A source has ``geometry`` (size and lens of the frames it gives) and ``latest()``. The simulated
camera renders the current view at the current time; a real camera adapter offers one through
a ``tracking_frames(stream, lores_width)`` method (picamera2 gives the Y plane of the main or the
low-resolution stream without a copy).
"""

from __future__ import annotations

from typing import Any, Protocol

import cv2
import numpy as np

from ..sim.camera import SimulatedCamera
from ..sim.clock import Clock
from .detector import Gray
from .tracker import CameraGeometry


class TrackingFrames(Protocol):
    """Where the tracker gets its pictures."""

    geometry: CameraGeometry

    def latest(self) -> tuple[float, Gray] | None:
        """The newest frame as (capture time on the monotonic clock, luma), or None."""
        ...


class SimulatedFrames:
    """The simulated camera's newest frame, rendered at its current pan (in the caller's
    thread), optionally scaled down as a low-resolution stream would be."""

    def __init__(
        self, camera: SimulatedCamera, clock: Clock, stream: str = "main", lores_width: int = 960
    ) -> None:
        self.camera = camera
        self.clock = clock
        c = camera.config
        width, height = c.width, c.height
        self.size: tuple[int, int] | None = None
        if stream == "lores" and lores_width < c.width:
            height = round(c.height * lores_width / c.width / 2) * 2
            width = lores_width
            self.size = (width, height)
        self.geometry = CameraGeometry(width, height, c.hfov_deg)

    def latest(self) -> tuple[float, Gray] | None:
        index = self.camera.index_at(self.clock.monotonic())
        if index < 0:
            return None
        pts, bgr = self.camera.frame_at(index)
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        if self.size is not None:
            gray = cv2.resize(gray, self.size, interpolation=cv2.INTER_AREA)
        return pts, np.asarray(gray, np.uint8)


def frames_for(
    camera: Any, clock: Clock, stream: str = "main", lores_width: int = 960
) -> TrackingFrames | None:
    """The tracking frames a recording camera can give, or None if it gives none."""
    if isinstance(camera, SimulatedCamera):
        return SimulatedFrames(camera, clock, stream, lores_width)
    offer = getattr(camera, "tracking_frames", None)
    if callable(offer):
        frames: TrackingFrames | None = offer(stream, lores_width)
        return frames
    return None
