"""Pan-follow inside the daemon: its own loops, never in the recorder's way.

The perception loop takes the newest frame ``rate_hz`` times a second and searches it in a
worker thread; the motion loop ticks the controller and the motor at ``MOTION_HZ`` on the event
loop (microseconds of work). A motor that cannot be opened, a camera that gives no frames, or
a tracking error is logged and shown in the heartbeat; the recording goes on regardless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ..clock import Clock
from ..config import DeviceConfig, TrackingConfig
from ..motors.base import MotorError, PanMotor
from ..motors.factory import open_motor
from .controller import ControllerSettings, PanController
from .detection_stream import tracking_problems
from .detector import DetectorSettings, MarkerDetector
from .frames import TrackingFrames
from .tracker import Tracker

log = logging.getLogger(__name__)

MOTION_HZ = 50.0


def controller_settings(config: TrackingConfig, motor: PanMotor | None) -> ControllerSettings:
    """The controller's settings from the config, its limits kept inside the motor's."""
    lo, hi = config.min_deg, config.max_deg
    if motor is not None:
        m = motor.limits
        if lo < m.min_deg or hi > m.max_deg:
            log.error(
                "tracking: [tracking] min_deg/max_deg [%g, %g] reach beyond the motor's "
                "limits [%g, %g]; using the motor's. Fix the config (see `calibrate`).",
                lo,
                hi,
                m.min_deg,
                m.max_deg,
            )
            lo, hi = max(lo, m.min_deg), min(hi, m.max_deg)
    home = min(max(config.home_deg, lo), hi)
    return ControllerSettings(
        min_deg=lo,
        max_deg=hi,
        home_deg=home,
        hfov_deg=config.hfov_deg,
        dead_band_deg=config.dead_band_deg,
        settle_deg=min(0.1, config.dead_band_deg / 2),
        max_speed_dps=config.max_speed_dps,
        max_accel_dps2=config.max_accel_dps2,
        lookahead_s=config.latency_s,
        lock_timeout_s=config.lost_after_s,
        return_home_s=config.return_home_s,
        home_speed_dps=config.home_speed_dps,
        recentre_after_s=config.recentre_after_s,
        recentre_speed_dps=config.recentre_speed_dps,
    )


def detector_settings(config: TrackingConfig) -> DetectorSettings:
    return DetectorSettings(
        dictionary=config.dictionary,
        ids=tuple(config.marker_ids),
        roi_px=config.roi_px,
        reacquire_hz=config.reacquire_hz,
    )


class TrackingService:
    """Opens the motor once; follows the teacher during each lesson (``start``/``stop``)."""

    def __init__(
        self, config: DeviceConfig, clock: Clock, *, motor: PanMotor | None = None
    ) -> None:
        self.config = config
        self.tracking = config.tracking
        self.clock = clock
        self.motor = motor
        self.problem: str | None = None  # what keeps tracking from working, for people
        self.tracker: Tracker | None = None
        self._frames: TrackingFrames | None = None  # this lesson's, while it is followed
        self._tasks: list[asyncio.Task[None]] = []
        self._opened = motor is not None
        self.busy = False  # a frame is being searched in the worker thread right now

    def open(self) -> None:
        """Open the configured motor; on failure say why and carry on without it."""
        if not self.tracking.enabled or self._opened:
            return
        self._opened = True
        for problem in tracking_problems(self.config):  # check-config refuses these
            log.warning("tracking: %s", problem)
        try:
            self.motor = open_motor(self.config.motor, self.clock)
        except MotorError as exc:
            self.problem = f"motor: {exc}"
            log.error("tracking off, the unit records without panning: %s", exc)
            return
        if self.motor is None:
            log.info('tracking off: [motor] kind = "none"')
        else:
            self.motor.move_to(
                min(
                    max(self.tracking.home_deg, self.motor.limits.min_deg),
                    self.motor.limits.max_deg,
                )
            )

    def state(self) -> str | None:
        """For the heartbeat: locked, searching, lost; or off, idle, no-motor, no-frames."""
        if not self.tracking.enabled or (self._opened and self.motor is None and not self.problem):
            return "off"
        if self.problem is not None:
            return {"motor": "no-motor", "picture": "no-motor", "frames": "no-frames"}.get(
                self.problem.split(":", 1)[0], "error"
            )
        if self.tracker is None:
            return "idle"
        return self.tracker.state.value

    async def start(self, frames: TrackingFrames | None) -> None:
        """Follow the marker in the main camera's ``frames`` until ``stop``; never raises.

        None: this lesson's camera gives the tracker no frames (said in the heartbeat).
        """
        try:
            await self._start(frames)
        except Exception as exc:
            self.problem = f"tracking: {exc}"
            log.exception("tracking off for this lesson; the recording goes on")

    async def _start(self, frames: TrackingFrames | None) -> None:
        if not self.tracking.enabled or self.motor is None or self.tracker is not None:
            return
        if frames is None:
            self.problem = "frames: this camera gives the tracker no frames"
            log.error("tracking off for this lesson: the camera gives the tracker no frames")
            return
        if self.problem is not None and self.problem.startswith(("frames", "picture")):
            self.problem = None  # this lesson's camera may be another
        if not frames.mount(self.motor):
            # Chasing a marker in a picture the motor does not turn ends at a limit, "locked".
            self.problem = f"picture: the {self.motor.kind} motor does not turn this camera"
            log.error("tracking off for this lesson: %s", self.problem)
            return
        self._frames = frames
        now = self.clock.monotonic()
        controller = PanController(
            controller_settings(self.tracking, self.motor),
            now,
            start_deg=self.motor.commanded_deg,
        )
        self.tracker = Tracker(
            MarkerDetector(detector_settings(self.tracking)),
            controller,
            self.motor,
            frames.geometry,
            now,
            motor_lag_s=self.tracking.motor_lag_s,
        )
        log.info(
            "tracking: following marker %s at %g Hz on %dx%d frames",
            ", ".join(map(str, self.tracking.marker_ids)),
            self.tracking.rate_hz,
            frames.geometry.width,
            frames.geometry.height,
        )
        self._tasks = [
            asyncio.create_task(self._perceive(self.tracker, frames), name="tracking-frames"),
            asyncio.create_task(self._move(self.tracker), name="tracking-motion"),
        ]

    async def stop(self) -> None:
        """Stop following; the camera stays where it is (the next lesson starts from there)."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        tracker, self.tracker = self.tracker, None
        frames, self._frames = self._frames, None
        if tracker is not None and self.motor is not None:
            log.info(
                "tracking: lesson over (%d frames searched, marker found in %d)",
                tracker.frames,
                tracker.sightings,
            )
            with contextlib.suppress(MotorError):
                self.motor.move_to(tracker.controller.position_deg)
        if frames is not None:
            frames.mount(None)

    def close(self) -> None:
        if self.motor is not None:
            try:
                self.motor.close()
            except Exception:
                log.exception("tracking: closing the motor failed")

    async def _perceive(self, tracker: Tracker, frames: TrackingFrames) -> None:
        period = 1.0 / self.tracking.rate_hz
        last_pts: float | None = None

        def look() -> float | None:
            frame = frames.latest()
            if frame is None or frame[0] == last_pts:
                return last_pts
            tracker.on_frame(*frame)
            return frame[0]

        while True:
            await self.clock.sleep(period)
            self.busy = True
            try:
                last_pts = await asyncio.to_thread(look)
            except Exception:
                # One bad frame must not end tracking, and never the recording.
                log.exception("tracking: searching a frame failed")
            finally:
                self.busy = False

    async def _move(self, tracker: Tracker) -> None:
        period = 1.0 / MOTION_HZ
        while True:
            await self.clock.sleep(period)
            try:
                tracker.tick(self.clock.monotonic())
            except MotorError as exc:
                self.problem = f"motor: {exc}"
                log.error("tracking stopped: %s", exc)
                return
