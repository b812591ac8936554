"""The self-test's short recording: the unit's own sources and recorder for a few seconds,
with the marker looked for and the motor swept while it runs; what it left is measured
afterwards (``media_checks.py``)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..clock import Clock, RealClock
from ..config import DeviceConfig
from ..hardware import lesson_plan
from ..motors.base import MotorError, PanMotor
from ..recorder import LessonRecorder, RecorderOptions, RecordingStats
from ..segments import RecordingPlan, SegmentInfo
from ..sources import SourcesFactory
from ..tracking.detector import DetectorSettings, MarkerDetector
from ..tracking.frames import TrackingFrames
from ..tracking.marker import MIN_MARKER_PX
from .motion import expected_shift_px, picture_shift_px
from .report import Check, failed, passed, skipped

log = logging.getLogger(__name__)

STEP_S = 0.25  # how often the run lets the recorder catch up
MARKER_LOOK_S = 3.0  # how long to look for the marker
TURN_DEG = 10.0  # the motor check's turn
SETTLE_S = 0.8  # for the motor and the newest frame to follow a turn


@dataclass
class Sample:
    """What the short recording gave."""

    plan: RecordingPlan
    segments: dict[str, list[Path]] = field(default_factory=dict)
    stats: RecordingStats | None = None
    seconds: float = 0.0  # clock time from start to stop
    start_error: str | None = None
    without_sound: str | None = None
    marker: Check | None = None
    motor: Check | None = None


class _Run:
    """Passing time while the recorder records: the clock, the encoders, the motor."""

    def __init__(self, clock: Clock, recorder: LessonRecorder, motor: PanMotor | None) -> None:
        self.clock, self.recorder, self.motor = clock, recorder, motor
        # Only virtual time needs the recorder pulled along. In real time it keeps pace or
        # falls behind by itself, and waiting for it to catch up at every step compounds
        # the lag: on a CPU slower than the frame rate each wait was longer than the last
        # (an emulated arm64 run never finished).
        self.catch_up = not isinstance(clock, RealClock)

    async def wait(self, seconds: float) -> None:
        end = self.clock.monotonic() + seconds
        while (left := end - self.clock.monotonic()) > 1e-9:
            await self.clock.sleep(min(STEP_S, left))
            if self.motor is not None:
                self.motor.poll(self.clock.monotonic())
            sync: Callable[[], Awaitable[None]] | None = getattr(self.recorder, "sync", None)
            if sync is not None and self.catch_up:
                await sync()  # a recorder pulled on a virtual clock catches up


async def record_sample(
    config: DeviceConfig,
    clock: Clock,
    sources: SourcesFactory,
    work_dir: Path,
    seconds: float,
    motor: PanMotor | None,
    options: RecorderOptions | None = None,
) -> Sample:
    """Record ``seconds`` from the configured sources into ``work_dir``; look for the marker
    and sweep ``motor`` (None: none fitted, or it did not open) meanwhile."""
    plan = lesson_plan(config, clock)
    sample = Sample(plan)

    def keep(info: SegmentInfo) -> None:
        sample.segments.setdefault(info.camera, []).append(info.path)

    try:
        capture = sources(config, plan, clock).capture(plan, work_dir, clock, keep, options)
        recorder = capture.recorder
        await recorder.start()
    except Exception as exc:
        log.exception("selftest: the recording did not start")
        sample.start_error = str(exc) or repr(exc)
        return sample
    started = clock.monotonic()
    run = _Run(clock, recorder, motor)
    try:
        await run.wait(1.0)  # pictures flowing
        frames = capture.frames
        sample.marker = await _look_for_marker(config, frames, run)
        sample.motor = await _sweep(config, frames, motor, run)
        await run.wait(max(0.0, seconds - (clock.monotonic() - started)))
    finally:
        await recorder.stop()
        sample.seconds = clock.monotonic() - started
        sample.stats = recorder.stats()
        sample.without_sound = getattr(recorder, "without_sound", None)
    for paths in sample.segments.values():
        paths.sort()
    return sample


async def _look_for_marker(config: DeviceConfig, frames: TrackingFrames | None, run: _Run) -> Check:
    t = config.tracking
    if frames is None:
        return skipped("marker", "this camera gives the tracker no pictures")
    detector = MarkerDetector(
        DetectorSettings(dictionary=t.dictionary, ids=tuple(t.marker_ids), reacquire_hz=1000.0)
    )
    deadline = run.clock.monotonic() + MARKER_LOOK_S
    seen = False
    while True:
        latest = await asyncio.to_thread(frames.latest)
        if latest is not None:
            seen = True
            found = await asyncio.to_thread(detector.detect, latest[1], time.monotonic())
            if found.detection is not None:
                side = found.detection.side_px
                x, _ = found.detection.centre
                said = (
                    f"marker {found.detection.marker_id} found, {side:.0f} px wide, "
                    f"{x / frames.geometry.width:.0%} across the picture"
                )
                if side < MIN_MARKER_PX:
                    return failed(
                        "marker",
                        said,
                        f"it must be at least {MIN_MARKER_PX:g} px to be followed: print a "
                        "bigger one (`lessoncam-device marker`) or hold it nearer",
                        side_px=round(side, 1),
                    )
                return passed("marker", said, side_px=round(side, 1))
        if run.clock.monotonic() >= deadline:
            if not seen:
                return skipped("marker", "the main camera gave no pictures to look in")
            return failed(
                "marker",
                f"no marker {', '.join(map(str, t.marker_ids))} ({t.dictionary}) in the "
                f"picture for {MARKER_LOOK_S:g} s",
                "hold the teacher's marker at the front of the room, facing the camera, "
                "during the test; check [tracking] marker_ids and dictionary",
            )
        await run.wait(0.2)


async def _sweep(
    config: DeviceConfig, frames: TrackingFrames | None, motor: PanMotor | None, run: _Run
) -> Check | None:
    """Turn the motor and measure the picture move (None: no motor, said elsewhere)."""
    if motor is None:
        return None
    if frames is None:
        return skipped("motor", "this camera gives no pictures to see the turn in")
    width, hfov = frames.geometry.width, frames.geometry.hfov_deg
    home = motor.limits.clamp(config.tracking.home_deg)
    turn = min(TURN_DEG, motor.limits.max_deg - home)
    frames.mount(motor)
    try:
        motor.move_to(home)
        await run.wait(SETTLE_S)
        before = await asyncio.to_thread(frames.latest)
        motor.move_to(home + turn)
        await run.wait(SETTLE_S)
        after = await asyncio.to_thread(frames.latest)
        motor.move_to(home)
        await run.wait(SETTLE_S)
    except MotorError as exc:
        return failed("motor", f"the motor failed while turning ({exc})", "see the motor's wiring")
    finally:
        frames.mount(None)
    if before is None or after is None:
        return skipped("motor", "no pictures to see the turn in")
    moved = await asyncio.to_thread(picture_shift_px, before[1], after[1])
    expected = expected_shift_px(turn, width, hfov)
    ratio = moved / expected
    figures = {"turn_deg": turn, "moved_px": round(moved, 1), "expected_px": round(expected, 1)}
    said = (
        f"a {turn:g} deg turn moved the picture {abs(moved):.0f} px "
        f"({abs(expected):.0f} px expected)"
    )
    if abs(ratio) < 0.2:
        return failed(
            "motor",
            f"the motor was driven {turn:g} deg but the picture did not move ({moved:.0f} px)",
            "check that the camera sits on the motor, the motor's power and wiring, and "
            f"[motor] kind = {config.motor.kind!r}",
            **figures,
        )
    if ratio < 0:
        return failed(
            "motor",
            said + ", the wrong way",
            "the motor is mounted the other way round: set [motor] invert",
            **figures,
        )
    if not 0.5 <= ratio <= 2.0:
        return failed(
            "motor",
            said,
            "the motor turns further or less than commanded: check [motor] travel_deg and the "
            "pulse widths, then run `lessoncam-device calibrate`",
            **figures,
        )
    return passed("motor", said, **figures)
