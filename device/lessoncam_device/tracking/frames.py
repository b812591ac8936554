"""Frames for the tracker: the newest picture, as luma, with its capture time.

A source has ``geometry`` (size and lens of the frames it gives) and ``latest()``. The simulated
camera renders the current view at the current time; with real cameras the recorder's newest
frame is used (a webcam's picture, or a Pi camera's low-resolution stream).
"""

from __future__ import annotations

from typing import Any, Protocol

import cv2
import numpy as np

from ..clock import Clock
from ..sim.camera import SimulatedCamera
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


class RecorderFrames:
    """The newest frame the recorder has seen (a webcam's, or a Pi camera's lores stream),
    as luma scaled to ``width`` x ``height``; stamped when it is taken."""

    def __init__(
        self, recorder: Any, clock: Clock, width: int, height: int, hfov_deg: float
    ) -> None:
        self.recorder = recorder
        self.clock = clock
        self.geometry = CameraGeometry(width, height, hfov_deg)

    def latest(self) -> tuple[float, Gray] | None:
        image = self.recorder.latest_frame()
        if image is None:
            return None
        taken = self.clock.monotonic()
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        size = (self.geometry.width, self.geometry.height)
        if gray.shape[1::-1] != size:
            gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
        return taken, np.asarray(gray, np.uint8)


def frames_for(
    camera: Any, clock: Clock, stream: str = "main", lores_width: int = 960
) -> TrackingFrames | None:
    """The tracking frames a recording camera can give, or None if it gives none."""
    if isinstance(camera, SimulatedCamera):
        return SimulatedFrames(camera, clock, stream, lores_width)
    if isinstance(camera, RecorderFrames):
        return camera
    return None
