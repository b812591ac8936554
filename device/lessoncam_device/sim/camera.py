"""A simulated camera: renders the classroom at its current pan angle, frame by frame.

Frame ``i`` has the presentation timestamp ``start_pts_s + i / fps`` on the camera's own
monotonic clock (a sensor clock is not 0 when recording starts). Pull frames as fast as you like
with ``frame_at`` (virtual time), or in real time with ``stream`` on a clock.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from ..clock import Clock
from .geometry import Image, Optics
from .scene import Scene
from .teacher_path import TeacherPath, TeacherPose, companions_at, position_at


@dataclass(frozen=True)
class FlashSchedule:
    """White frames every ``period_frames`` frames, from frame ``period_frames`` on.

    The single source of truth for when flashes (and the microphone's beeps) happen: flash
    ``k`` (k >= 1) is frame ``k * period_frames`` at camera time ``pts(k)``.
    """

    start_pts_s: float
    fps: float
    period_frames: int

    @classmethod
    def every(cls, seconds: float, fps: float, start_pts_s: float) -> FlashSchedule:
        """A flash every ``seconds``, rounded to whole frames."""
        return cls(start_pts_s, fps, max(1, round(seconds * fps)))

    @property
    def period_s(self) -> float:
        return self.period_frames / self.fps

    def is_flash(self, index: int) -> bool:
        """Whether frame ``index`` is a flash frame."""
        return index > 0 and index % self.period_frames == 0

    def frame_index(self, k: int) -> int:
        """The frame index of flash ``k``."""
        return k * self.period_frames

    def pts(self, k: int) -> float:
        """Camera time of flash ``k``; the same float as that frame's pts."""
        return self.start_pts_s + self.frame_index(k) / self.fps

    def between(self, lo_s: float, hi_s: float) -> range:
        """Flashes whose camera time lies in ``[lo_s, hi_s)``."""
        k = max(1, math.floor((lo_s - self.start_pts_s) / self.period_s))
        while self.pts(k) < lo_s:
            k += 1
        end = k
        while self.pts(end) < hi_s:
            end += 1
        return range(k, end)


@dataclass(frozen=True)
class CameraConfig:
    """What the camera produces and how its sensor behaves."""

    width: int = 1280
    height: int = 720
    fps: float = 30.0
    hfov_deg: float = 66.0
    start_pts_s: float = 1234.5  # monotonic time of frame 0
    pan_deg: float = 0.0  # initial pan; a motor (or nobody, for a fixed camera) changes it
    flash_every_s: float | None = None  # a full white frame every N s, for A/V sync
    exposure_s: float = 0.01  # motion blur spans this much time
    motion_blur: bool = True
    brightness: float = 1.0  # exposure gain: < 1 a dark room, > 1 overexposed
    noise_sigma: float = 0.0  # sensor noise (grey levels); costs ~1-2 ms per frame
    latency_s: float | None = None  # frame i is delivered at pts + latency; None: one frame
    path_start_pts_s: float | None = None  # camera time at which the path's t=0 falls


class SimulatedCamera:
    """Renders the scene at its current pan, which a (simulated) pan motor may set any time."""

    def __init__(
        self, scene: Scene, path: TeacherPath | None = None, config: CameraConfig | None = None
    ) -> None:
        self.scene = scene
        self.path = path
        self.config = config or CameraConfig()
        c = self.config
        if c.width % 2 or c.height % 2:
            raise ValueError("width and height must be even (YUV420 has 2x2 chroma)")
        self.optics = Optics(c.width, c.height, c.hfov_deg)
        self.flashes = (
            FlashSchedule.every(c.flash_every_s, c.fps, c.start_pts_s) if c.flash_every_s else None
        )
        self._pan = c.pan_deg
        self._pan_velocity = 0.0
        self._noise: NDArray[np.int16] | None = None
        if c.noise_sigma > 0:
            # One noise field, sampled at a different offset each frame: cheap temporal noise.
            rng = np.random.default_rng(0)
            field = rng.normal(0.0, c.noise_sigma, (c.height + 16, c.width + 16, 3))
            self._noise = np.round(field).astype(np.int16)

    @property
    def pan_deg(self) -> float:
        """Where the camera points now (degrees from the room's centre line, positive right)."""
        return self._pan

    @pan_deg.setter
    def pan_deg(self, value: float) -> None:
        """Jump to an angle; the pan velocity (for blur) stays as last set by ``set_pan``."""
        self._pan = float(value)

    @property
    def pan_velocity_dps(self) -> float:
        """How fast the pan is turning (deg/s); only used for motion blur."""
        return self._pan_velocity

    def set_pan(self, deg: float, velocity_dps: float = 0.0) -> None:
        """What a pan motor does: set the angle, and the speed it is turning at."""
        self._pan = float(deg)
        self._pan_velocity = float(velocity_dps)

    def pts_of(self, index: int) -> float:
        """Presentation timestamp of frame ``index`` (seconds, camera clock)."""
        return self.config.start_pts_s + index / self.config.fps

    def index_at(self, pts_s: float) -> int:
        """The last frame whose pts is at or before ``pts_s``."""
        return math.floor((pts_s - self.config.start_pts_s) * self.config.fps + 1e-9)

    def pose_at(self, index: int) -> TeacherPose | None:
        """Ground truth: where the teacher is during frame ``index`` (None without a path)."""
        if self.path is None:
            return None
        return position_at(self.path, self._path_time(self.pts_of(index)))

    def marker_corners(self, index: int) -> NDArray[np.float32] | None:
        """Ground truth: the marker's corners in frame ``index`` at the current pan, or None."""
        if self.flashes is not None and self.flashes.is_flash(index):
            return None
        return self.scene.marker_corners(
            self.optics, self._pan, self.pose_at(index), self.others_at(index)
        )

    def others_at(self, index: int) -> list[tuple[TeacherPose, int]]:
        """Ground truth: other people wearing markers during frame ``index`` (pose, id)."""
        if self.path is None:
            return []
        return companions_at(self.path, self._path_time(self.pts_of(index)))

    def frame_at(self, index: int) -> tuple[float, Image]:
        """Frame ``index`` as (pts_s, BGR image), rendered at the current pan."""
        c = self.config
        pts = self.pts_of(index)
        if self.flashes is not None and self.flashes.is_flash(index):
            return pts, np.full((c.height, c.width, 3), 255, np.uint8)
        pose = self.pose_at(index)
        teacher_blur, pan_blur = self._blur_px(pts, pose)
        others = self.others_at(index)
        image = self.scene.render(
            self.optics,
            self._pan,
            pose,
            teacher_blur_px=teacher_blur,
            pan_blur_px=pan_blur,
            brightness=c.brightness,
            others=others,
        )
        if self._noise is not None:
            ox, oy = (index * 7) % 16, (index * 11) % 16
            window = self._noise[oy : oy + c.height, ox : ox + c.width]
            image = np.asarray(cv2.add(image, window, dtype=cv2.CV_8U), np.uint8)
        return pts, image

    def i420_at(self, index: int) -> tuple[float, NDArray[np.uint8]]:
        """Frame ``index`` as (pts_s, I420 planes), the layout the Pi's encoders take."""
        pts, image = self.frame_at(index)
        return pts, to_i420(image)

    async def stream(
        self, clock: Clock, start_index: int = 0, max_lag_frames: int | None = None
    ) -> AsyncIterator[tuple[float, Image]]:
        """Frames in real time on ``clock``: each one once it has been captured.

        The camera's pts are read as times on ``clock.monotonic()``, so give the camera a
        ``start_pts_s`` on that clock. With ``max_lag_frames`` a consumer that falls further
        behind loses the oldest frames, as a camera with that many buffers does (the pts jump);
        without it every frame is delivered, however late.
        """
        latency = self.config.latency_s
        if latency is None:
            latency = 1.0 / self.config.fps
        index = start_index
        while True:
            wait = self.pts_of(index) + latency - clock.monotonic()
            if wait > 0:
                await clock.sleep(wait)
            elif max_lag_frames is not None:
                newest = self.index_at(clock.monotonic() - latency)
                index = max(index, newest - max_lag_frames + 1)
            yield self.frame_at(index)
            index += 1

    def _path_time(self, pts_s: float) -> float:
        start = self.config.path_start_pts_s
        return pts_s - (self.config.start_pts_s if start is None else start)

    def _blur_px(self, pts_s: float, pose: TeacherPose | None) -> tuple[float, float]:
        """Horizontal smear (px) of the teacher and of the background over one exposure."""
        c = self.config
        if not c.motion_blur or c.exposure_s <= 0:
            return 0.0, 0.0
        f = self.optics.focal_px
        pan_blur = f * math.radians(abs(self._pan_velocity) * c.exposure_s)
        if pose is None or not pose.visible_in_room or self.path is None:
            return 0.0, pan_blur
        before = position_at(self.path, self._path_time(pts_s - c.exposure_s))
        pan_before = self._pan - self._pan_velocity * c.exposure_s
        z = self.scene.marker_height_m(pose)
        now = self.scene.project(self.optics, self._pan, pose.bearing_deg, pose.distance_m, z)
        then = self.scene.project(self.optics, pan_before, before.bearing_deg, before.distance_m, z)
        if now is None or then is None:
            return 0.0, pan_blur
        return abs(now[0] - then[0]), pan_blur


def to_i420(image: Image) -> NDArray[np.uint8]:
    """BGR (h, w, 3) to I420 (h * 3 / 2, w): the Y plane, then U and V at quarter size."""
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420), np.uint8)


# The second camera: same spot, fixed on the left front desks, nobody turns it.
PUPIL_CAMERA = CameraConfig(pan_deg=-30.0)


def pupil_camera(
    scene: Scene, path: TeacherPath | None = None, config: CameraConfig | None = None
) -> SimulatedCamera:
    """A camera that films a group of pupils; the teacher appears only if she walks into view."""
    return SimulatedCamera(scene, path, config or PUPIL_CAMERA)
