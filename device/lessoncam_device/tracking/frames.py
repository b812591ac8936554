"""Frames for the tracker: the newest picture, as luma, with its capture time.

A source has ``geometry`` (size and lens of the frames it gives), ``latest()``, and ``mount``
(the motor that turns its camera). With real cameras the recorder's newest frame is used (a
webcam's picture, or a Pi camera's low-resolution stream); the simulated classroom gives its
own (``sim/frames.py``). Each kind of source hands the daemon its frames (``sources.Capture``).
"""

from __future__ import annotations

from typing import Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

from ..clock import Clock
from ..motors.base import PanMotor
from ..pictures import as_luma
from .detector import Gray
from .tracker import CameraGeometry


class TrackingFrames(Protocol):
    """Where the tracker gets its pictures."""

    geometry: CameraGeometry

    def latest(self) -> tuple[float, Gray] | None:
        """The newest frame as (capture time on the monotonic clock, luma), or None."""
        ...

    def mount(self, motor: PanMotor | None) -> bool:
        """The camera now sits on ``motor`` (None: the lesson is over); True when that motor
        really turns this picture. A real camera is bolted on a real motor by hand; a
        simulated one is turned by a simulated motor only."""
        ...


class LatestFrame(Protocol):
    """A recorder's newest picture (``LessonRecorder.latest_frame``)."""

    def latest_frame(self) -> NDArray[np.uint8] | None: ...


class RecorderFrames:
    """The newest frame the recorder has seen (a webcam's, or a Pi camera's lores stream),
    as luma scaled to ``width`` x ``height``; stamped when it is taken."""

    def __init__(
        self, recorder: LatestFrame, clock: Clock, width: int, height: int, hfov_deg: float
    ) -> None:
        self.recorder = recorder
        self.clock = clock
        self.geometry = CameraGeometry(width, height, hfov_deg)

    def latest(self) -> tuple[float, Gray] | None:
        image = self.recorder.latest_frame()
        if image is None:
            return None
        taken = self.clock.monotonic()
        luma = as_luma(image)
        size = (self.geometry.width, self.geometry.height)
        if luma.shape[1::-1] != size:
            return taken, np.asarray(cv2.resize(luma, size, interpolation=cv2.INTER_AREA), np.uint8)
        return taken, luma

    def mount(self, motor: PanMotor | None) -> bool:
        """Nothing to attach: the real camera sits on the real motor. A simulated motor turns
        no real picture (tracking it would chase the marker to a limit and say "locked")."""
        return motor is not None and motor.kind != "simulated"
