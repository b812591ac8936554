"""A USB webcam through OpenCV's V4L2 backend, as a real-time camera for the recorder."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from ..clock import Clock

log = logging.getLogger(__name__)


class CameraLost(RuntimeError):
    """The webcam stopped delivering frames (unplugged, or its driver gave up)."""


def _open_v4l2(device: str) -> Any:
    # "0" means /dev/video0; a path is used as it is.
    target: int | str = int(device) if device.isdigit() else device
    return cv2.VideoCapture(target, cv2.CAP_V4L2)


class V4L2Camera:
    """Frames from ``device`` (``/dev/videoN`` or ``N``) at the configured size and rate.

    Frames are stamped on the clock when OpenCV hands them over, less one frame interval
    (roughly when they were exposed); the recorder resizes any frame that arrives at another
    size. ``opener`` makes the ``cv2.VideoCapture`` (tests open a video file instead).
    """

    def __init__(
        self,
        device: str,
        width: int,
        height: int,
        fps: float,
        *,
        opener: Callable[[str], Any] = _open_v4l2,
    ) -> None:
        self.device = device
        self.width = width
        self.height = height
        self.fps = fps
        self._opener = opener
        self.frames = 0

    def open(self) -> Any:
        """Open and configure the device; raises ``CameraLost`` with the reason if it can't."""
        capture = self._opener(self.device)
        if not capture.isOpened():
            capture.release()
            raise CameraLost(
                f"webcam {self.device!r} cannot be opened: check the cable and "
                "`lessoncam-device devices`"
            )
        # MJPEG is what lets most USB 2 webcams deliver 1080p at 30 fps.
        capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*"MJPG"))
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        capture.set(cv2.CAP_PROP_FPS, self.fps)
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 2)  # keep latency low: stale frames are useless
        return capture

    async def stream(self, clock: Clock) -> AsyncIterator[tuple[float, NDArray[np.uint8]]]:
        """(pts on ``clock.monotonic()``, BGR image) for every frame, until the camera stops."""
        capture = await asyncio.to_thread(self.open)
        interval = 1.0 / self.fps
        try:
            while True:
                ok, image = await asyncio.to_thread(capture.read)
                if not ok or image is None:
                    raise CameraLost(
                        f"webcam {self.device!r} stopped delivering frames after "
                        f"{self.frames}; the recording keeps what it has"
                    )
                self.frames += 1
                yield clock.monotonic() - interval, image
        finally:
            await asyncio.to_thread(capture.release)
