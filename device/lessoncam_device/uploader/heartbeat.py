"""The heartbeat: every few seconds the unit tells the server how it is.

State, software version, free disk in the state dir, CPU temperature, upload queue length and
last error, tracking state and an optional small JPEG for aiming the camera. A failed beat is
logged and the next one comes on time; nothing here ever stops the daemon.
"""

from __future__ import annotations

import base64
import inspect
import logging
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

from ..clock import Clock
from .client import ServerClient, UploadError

log = logging.getLogger(__name__)

THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")
SNAPSHOT_MAX_BYTES = 512 * 1024  # the server's default limit
# The server's field limits: longer values would make it refuse the whole beat.
_MAX_ERROR = 500
_MAX_WORD = 32

Snapshot = Callable[[], bytes | Awaitable[bytes | None] | None]


class QueueFigures(Protocol):
    """What the heartbeat reads from the upload queue."""

    def queue_length(self) -> int:
        """Segments not yet confirmed by the server."""
        ...

    def last_error(self) -> str | None:
        """What holds uploads up, if anything."""
        ...


def cpu_temperature(path: Path = THERMAL_ZONE) -> float | None:
    """The SoC temperature in degrees C from the kernel's thermal zone, None if unreadable."""
    try:
        millidegrees = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    celsius = millidegrees / 1000.0
    return round(celsius, 1) if -50.0 <= celsius <= 150.0 else None


def _short(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    return value if len(value) <= limit else value[: limit - 1] + "…"


class Heartbeat:
    """Posts ``/api/v1/unit/heartbeat`` every ``interval_s`` seconds of ``clock``.

    ``state`` (e.g. "idle", "recording"), ``tracking`` (e.g. "locked", may be None),
    ``problem`` (the unit's last error, may be None) and ``snapshot`` (JPEG bytes or None, may
    be async) are callables from the daemon.
    """

    def __init__(
        self,
        client: ServerClient,
        queue: QueueFigures,
        clock: Clock,
        *,
        state: Callable[[], str],
        version: str,
        state_dir: Path,
        interval_s: float = 30.0,
        tracking: Callable[[], str | None] | None = None,
        problem: Callable[[], str | None] | None = None,
        snapshot: Snapshot | None = None,
        snapshot_max_bytes: int = SNAPSHOT_MAX_BYTES,
        thermal_path: Path = THERMAL_ZONE,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be > 0")
        self.client = client
        self.queue = queue
        self.clock = clock
        self.state = state
        self.version = version
        self.state_dir = state_dir
        self.interval_s = interval_s
        self.tracking = tracking
        self.problem = problem
        self.snapshot = snapshot
        self.snapshot_max_bytes = snapshot_max_bytes
        self.thermal_path = thermal_path
        self.sent = 0  # beats the server accepted
        self.failed = 0  # beats that did not get through

    def _free_disk(self) -> int | None:
        try:
            return shutil.disk_usage(self.state_dir).free
        except OSError:
            return None

    async def _snapshot(self) -> str | None:
        if self.snapshot is None:
            return None
        result = self.snapshot()
        jpeg = await result if inspect.isawaitable(result) else result
        if not jpeg:
            return None
        if len(jpeg) > self.snapshot_max_bytes:
            # Better a beat without a picture than no beat (the server refuses it whole).
            log.warning(
                "snapshot of %d bytes left out (limit %d)", len(jpeg), self.snapshot_max_bytes
            )
            return None
        return base64.b64encode(jpeg).decode("ascii")

    async def figures(self) -> dict[str, Any]:
        """The heartbeat body; a figure that cannot be had is sent as null."""
        body: dict[str, Any] = {"version": self.version}
        try:
            body["state"] = _short(self.state(), _MAX_WORD) or "unknown"
        except Exception:
            log.exception("heartbeat: the state callable failed")
            body["state"] = "unknown"
        body["free_disk_bytes"] = self._free_disk()
        body["temperature_c"] = cpu_temperature(self.thermal_path)
        try:
            body["queue_length"] = self.queue.queue_length()
            # The unit's own trouble (a camera, the microphone) first, else the uploads'.
            problem = self.problem() if self.problem is not None else None
            body["last_error"] = _short(problem or self.queue.last_error(), _MAX_ERROR)
        except Exception:
            log.exception("heartbeat: reading the upload queue failed")
            body["queue_length"] = None
            body["last_error"] = "the upload queue cannot be read"
        try:
            body["tracking"] = _short(self.tracking(), _MAX_WORD) if self.tracking else None
        except Exception:
            log.exception("heartbeat: the tracking callable failed")
            body["tracking"] = None
        try:
            body["snapshot_jpeg_base64"] = await self._snapshot()
        except Exception:
            log.exception("heartbeat: the snapshot callable failed")
            body["snapshot_jpeg_base64"] = None
        return body

    async def beat(self) -> bool:
        """Send one heartbeat; True if the server stored it. Never raises (but cancels)."""
        try:
            await self.client.heartbeat(await self.figures())
        except UploadError as exc:
            self.failed += 1
            log.warning("heartbeat not delivered: %s", exc.message)
            return False
        except Exception:
            self.failed += 1
            log.exception("heartbeat failed")
            return False
        self.sent += 1
        return True

    async def run(self) -> None:
        """Beat every ``interval_s`` seconds until cancelled."""
        while True:
            await self.beat()
            await self.clock.sleep(self.interval_s)


def jpeg_snapshot(image: NDArray[np.uint8], max_width: int = 480, quality: int = 70) -> bytes:
    """A small JPEG of a BGR picture, for aiming the camera from the fleet view."""
    height, width = image.shape[:2]
    if width > max_width:
        size = (max_width, max(1, round(height * max_width / width)))
        image = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("the picture cannot be encoded as JPEG")
    return bytes(data)
