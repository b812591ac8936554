"""The tracker's frames from the simulated camera, and the simulated motor that turns it."""

from __future__ import annotations

import cv2
import numpy as np

from ..clock import Clock
from ..motors.base import PanMotor
from ..motors.simulated import SimulatedPanMotor
from ..tracking.detector import Gray
from ..tracking.tracker import CameraGeometry
from .camera import SimulatedCamera


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
        self._motor: SimulatedPanMotor | None = None

    def latest(self) -> tuple[float, Gray] | None:
        index = self.camera.index_at(self.clock.monotonic())
        if index < 0:
            return None
        pts, bgr = self.camera.frame_at(index)
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        if self.size is not None:
            gray = cv2.resize(gray, self.size, interpolation=cv2.INTER_AREA)
        return pts, np.asarray(gray, np.uint8)

    def mount(self, motor: PanMotor | None) -> bool:
        """A simulated motor turns this camera from now on (None: let go of the last one);
        a real motor cannot turn a simulated camera (False)."""
        if self._motor is not None:
            self._motor.attach(None)
        self._motor = motor if isinstance(motor, SimulatedPanMotor) else None
        if self._motor is not None:
            self._motor.attach(self.camera)
        return self._motor is not None
