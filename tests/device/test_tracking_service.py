"""Tracking inside the unit: its loops beside the recorder, its state for the heartbeat, and a
missing motor that leaves the recording alone."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from lessoncam_device.config import parse_config
from lessoncam_device.daemon import Daemon
from lessoncam_device.motors.base import MotorLimits
from lessoncam_device.motors.servo import GpioServoMotor
from lessoncam_device.motors.simulated import SimulatedPanMotor
from lessoncam_device.sim.camera import CameraConfig, SimulatedCamera
from lessoncam_device.sim.clock import SteppedClock, VirtualClock
from lessoncam_device.sim.frames import SimulatedFrames
from lessoncam_device.sim.sources import simulated_sources
from lessoncam_device.sim.teacher_path import scenario
from lessoncam_device.states import Event, State
from lessoncam_device.tracking.detector import DetectorSettings, MarkerDetector
from lessoncam_device.tracking.frames import RecorderFrames
from lessoncam_device.tracking.service import TrackingService

from .daemon_helpers import FAST, until
from .sim_helpers import shared_scene


async def run_for(
    clock: SteppedClock,
    seconds: float,
    each: Callable[[], object] | None = None,
    service: TrackingService | None = None,
) -> None:
    """Virtual time in 20 ms steps; after each, the frame search it started is waited for
    (however long the machine takes), so the loop sees what a unit would."""
    for _ in range(round(seconds / 0.02)):
        clock.advance(0.02)
        for _ in range(3):
            await asyncio.sleep(0)  # woken loops run up to their next wait
        async with asyncio.timeout(30):
            while service is not None and service.busy:  # noqa: ASYNC110
                await asyncio.sleep(0.001)
        if each is not None:
            each()


def config(**tracking: Any) -> Any:
    return parse_config(
        {
            "cameras": {"main": {"width": 1280, "height": 720}},
            "tracking": tracking,
            "motor": {"kind": "simulated"},
        }
    )


@pytest.mark.slow
async def test_follows_the_teacher_on_the_simulated_camera() -> None:
    clock = SteppedClock(monotonic_s=500.0)
    path = scenario("walk_front")  # from -22 deg to +22 deg at 7.4 m
    camera = SimulatedCamera(
        shared_scene(), path, CameraConfig(width=1280, height=720, start_pts_s=500.0)
    )
    cfg = config()
    service = TrackingService(cfg, clock)
    service.open()
    assert service.state() == "idle"
    await service.start(
        SimulatedFrames(camera, clock, cfg.tracking.stream, cfg.tracking.lores_width)
    )
    seen: set[str | None] = set()
    try:
        await run_for(clock, path.duration_s, lambda: seen.add(service.state()), service)
        assert service.state() == "locked"
        end = path.waypoints()[-1].bearing_deg
        assert abs(camera.pan_deg - end) < 3.0  # the simulated motor turned the camera to her
    finally:
        await service.stop()
        service.close()
    assert "locked" in seen
    assert service.state() == "idle"
    assert isinstance(service.motor, SimulatedPanMotor)
    assert service.motor.camera is None  # let go of the camera with the lesson


def test_lores_frames_are_smaller_and_still_show_her_near() -> None:
    clock = VirtualClock(monotonic_s=0.0)
    camera = SimulatedCamera(
        shared_scene(),
        scenario("walk_near"),  # 4.2 m away: ~35 px on a 960 px picture
        CameraConfig(width=1920, height=1080, start_pts_s=0.0, pan_deg=-45.0),
    )
    frames = SimulatedFrames(camera, clock, stream="lores", lores_width=960)
    assert (frames.geometry.width, frames.geometry.height) == (960, 540)
    frame = frames.latest()
    assert frame is not None and frame[1].shape == (540, 960)
    found = MarkerDetector(DetectorSettings()).detect(frame[1], frame[0]).detection
    assert found is not None and 30 < found.side_px < 40
    assert abs(frames.geometry.offset_deg(found.centre[0])) < 1.0


def test_soft_limits_beyond_the_motor_are_narrowed_and_said(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cfg = parse_config(
        {"tracking": {"min_deg": -120, "max_deg": 100}, "motor": {"min_deg": -70, "max_deg": 75}}
    )
    service = TrackingService(cfg, VirtualClock())
    service.open()
    assert isinstance(service.motor, SimulatedPanMotor)
    from lessoncam_device.tracking.service import controller_settings

    with caplog.at_level(logging.ERROR):
        settings = controller_settings(cfg.tracking, service.motor)
    assert (settings.min_deg, settings.max_deg) == (-70, 75)
    assert "reach beyond the motor's limits" in caplog.text


def test_lazy_recentring_settings_reach_the_controller() -> None:
    from lessoncam_device.tracking.service import controller_settings

    cfg = parse_config({"tracking": {"recentre_after_s": 2.5, "recentre_speed_dps": 0}})
    service = TrackingService(cfg, VirtualClock())
    service.open()
    assert service.motor is not None
    settings = controller_settings(cfg.tracking, service.motor)
    assert (settings.recentre_after_s, settings.recentre_speed_dps) == (2.5, 0.0)


def test_tracking_off_and_unknown_camera() -> None:
    off = TrackingService(parse_config({"tracking": {"enabled": False}}), VirtualClock())
    off.open()
    assert off.state() == "off" and off.motor is None
    none = TrackingService(parse_config({"motor": {"kind": "none"}}), VirtualClock())
    none.open()
    assert none.state() == "off"


async def test_a_camera_without_tracking_frames_is_said() -> None:
    service = TrackingService(config(), VirtualClock())
    service.open()
    await service.start(None)
    assert service.state() == "no-frames"
    await service.stop()


async def test_no_motor_the_unit_still_records(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    small = {"width": 320, "height": 240, "fps": 15}
    cfg = parse_config(
        {
            "unit": {"state_dir": str(tmp_path / "unit")},
            "cameras": {"main": small},
            "recording": {"storage_reserve_mib": 64},
            # pigpio is not installed here: exactly what a unit without its motor library sees
            "motor": {"kind": "gpio_servo", "pin_factory": "pigpio"},
        }
    )
    clock = SteppedClock()
    daemon = Daemon(cfg, clock, simulated_sources, None, recorder_options=FAST, use_pins=False)
    task = asyncio.create_task(daemon.run())
    try:
        with caplog.at_level(logging.ERROR):
            await asyncio.wait_for(daemon.ready.wait(), 30)
        assert "tracking off, the unit records without panning" in caplog.text
        assert daemon.tracking.state() == "no-motor"
        daemon.post(Event.SHORT_PRESS)
        await until(lambda: daemon.status.state is State.RECORDING)
        await run_for(clock, 4.0)
        daemon.post(Event.LONG_PRESS)
        await run_for(clock, 2.0)
        await until(lambda: daemon.status.state is State.IDLE)
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 60)
    (recording_id,) = daemon.finished_recordings
    assert recording_id


async def test_the_daemon_tracks_while_it_records(tmp_path: Path) -> None:
    small = {"width": 640, "height": 360, "fps": 15}
    cfg = parse_config(
        {
            "unit": {"state_dir": str(tmp_path / "unit")},
            "cameras": {"main": small},
            "audio": {"source": "none"},
            "recording": {"storage_reserve_mib": 64},
        }
    )
    clock = SteppedClock()
    daemon = Daemon(cfg, clock, simulated_sources, None, recorder_options=FAST, use_pins=False)
    task = asyncio.create_task(daemon.run())
    try:
        await asyncio.wait_for(daemon.ready.wait(), 30)
        assert daemon.tracking.state() == "idle"
        daemon.post(Event.SHORT_PRESS)
        await until(lambda: daemon.status.state is State.RECORDING)
        states: set[str | None] = set()
        await run_for(clock, 3.0, lambda: states.add(daemon.tracking.state()), daemon.tracking)
        assert "locked" in states  # she is at the front, in view: found and followed
        daemon.post(Event.LONG_PRESS)
        await run_for(clock, 2.0)
        await until(lambda: daemon.status.state is State.IDLE)
        assert daemon.tracking.state() == "idle"
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 60)


class StillRecorder:
    """A real camera's recorder as the tracker sees it: its newest picture, which no motor of
    ours turns (here the teacher at the front, in view)."""

    def __init__(self) -> None:
        camera = SimulatedCamera(
            shared_scene(), scenario("walk_front"), CameraConfig(width=1280, height=720)
        )
        self.picture = camera.frame_at(0)[1]

    def latest_frame(self) -> Any:
        return self.picture


async def test_a_motor_that_does_not_turn_the_picture_is_never_locked() -> None:
    clock = SteppedClock(monotonic_s=500.0)
    service = TrackingService(config(), clock)  # the simulated motor...
    service.open()
    assert isinstance(service.motor, SimulatedPanMotor)
    frames = RecorderFrames(StillRecorder(), clock, 1280, 720, 66.0)  # ...and a real camera
    seen: set[str | None] = set()
    await service.start(frames)
    try:
        await run_for(clock, 3.0, lambda: seen.add(service.state()), service)
    finally:
        await service.stop()
    assert seen == {"no-motor"}
    assert service.motor.commanded_deg == 0.0  # never chased her to a limit
    assert "does not turn this camera" in (service.problem or "")
    service.close()


async def test_a_real_motor_does_not_turn_the_simulated_picture() -> None:
    factory = MockFactory(pin_class=MockPWMPin)
    motor = GpioServoMotor(18, MotorLimits(), pin_factory=factory)
    clock = SteppedClock(monotonic_s=500.0)
    service = TrackingService(config(), clock, motor=motor)
    camera = SimulatedCamera(
        shared_scene(), scenario("walk_front"), CameraConfig(width=1280, height=720)
    )
    await service.start(SimulatedFrames(camera, clock))
    assert service.state() == "no-motor"
    await service.stop()
    service.close()
    factory.reset()
