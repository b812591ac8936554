"""The simulated camera (and the clocks it runs on): frames, pan, flashes, real-time delivery."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest

from lessoncam_device.clock import RealClock
from lessoncam_device.sim.camera import (
    CameraConfig,
    FlashSchedule,
    SimulatedCamera,
    pupil_camera,
    to_i420,
)
from lessoncam_device.sim.clock import VirtualClock
from lessoncam_device.sim.teacher_path import scenario

from .sim_helpers import detect, shared_scene

SMALL = CameraConfig(width=320, height=180)


def test_frames_have_the_right_shape_dtype_and_pts() -> None:
    camera = SimulatedCamera(shared_scene(), scenario("walk_front"))
    pts, image = camera.frame_at(0)
    assert pts == 1234.5
    assert image.shape == (720, 1280, 3) and image.dtype == np.uint8
    pts, image = camera.frame_at(45)
    assert pts == pytest.approx(1234.5 + 45 / 30)
    pts_yuv, yuv = camera.i420_at(45)
    assert pts_yuv == pts and yuv.shape == (1080, 1280) and yuv.dtype == np.uint8
    assert to_i420(np.full((4, 6, 3), 255, np.uint8)).shape == (6, 6)
    small = SimulatedCamera(shared_scene(), None, SMALL)
    assert small.frame_at(3)[1].shape == (180, 320, 3)
    assert camera.index_at(camera.pts_of(1000)) == 1000
    with pytest.raises(ValueError):
        SimulatedCamera(shared_scene(), None, CameraConfig(width=321))


def test_pan_decides_whether_the_marker_is_in_view() -> None:
    path = scenario("walk_front")
    camera = SimulatedCamera(shared_scene(), path)
    index = 90  # 3 s in: walking across the front
    pose = camera.pose_at(index)
    assert pose is not None and pose.marker_visible

    camera.pan_deg = pose.bearing_deg + 60.0
    assert detect(camera.frame_at(index)[1]) is None
    assert camera.marker_corners(index) is None

    camera.pan_deg = pose.bearing_deg
    found = detect(camera.frame_at(index)[1])
    assert found is not None
    x, y = found.centre
    assert abs(x - camera.optics.cx) < 0.02 * camera.config.width
    assert abs(y - camera.optics.cy) < 0.2 * camera.config.height


def test_flash_frames_are_white_on_schedule() -> None:
    config = CameraConfig(width=320, height=180, fps=25.0, flash_every_s=2.0)
    camera = SimulatedCamera(shared_scene(), scenario("walk_front"), config)
    flashes = camera.flashes
    assert flashes is not None and flashes == FlashSchedule(1234.5, 25.0, 50)
    for index in (0, 49, 51, 99):
        assert camera.frame_at(index)[1].min() < 255
    for k in (1, 2, 3):
        pts, image = camera.frame_at(flashes.frame_index(k))
        assert pts == flashes.pts(k) == 1234.5 + 2.0 * k
        assert image.min() == 255
    assert list(flashes.between(1236.0, 1240.0)) == [1, 2]
    assert list(flashes.between(0.0, 1236.6)) == [1]


def test_the_pupil_camera_is_fixed_and_sees_the_teacher_only_when_she_walks_in() -> None:
    path = scenario("walk_front")
    main = SimulatedCamera(shared_scene(), path)
    pupils = pupil_camera(shared_scene(), path)
    assert pupils.pan_deg == -30.0
    start, end = 0, round(path.duration_s * 30) - 1
    assert detect(pupils.frame_at(start)[1]) is not None  # she starts on the left
    assert detect(pupils.frame_at(end)[1]) is None  # and walks out of its view
    assert not np.array_equal(pupils.frame_at(end)[1], main.frame_at(end)[1])


def test_panning_blurs_the_room() -> None:
    camera = SimulatedCamera(shared_scene(), None, SMALL)
    still = camera.frame_at(0)[1]
    camera.set_pan(0.0, velocity_dps=200.0)
    moving = camera.frame_at(0)[1]
    assert camera.pan_velocity_dps == 200.0

    def sharpness(image: np.ndarray) -> float:
        return float(np.abs(np.diff(image.astype(np.int16), axis=1)).mean())

    assert sharpness(moving) < 0.8 * sharpness(still)


def test_sensor_noise_changes_from_frame_to_frame() -> None:
    camera = SimulatedCamera(
        shared_scene(), None, CameraConfig(width=320, height=180, noise_sigma=3)
    )
    a, b = camera.frame_at(0)[1], camera.frame_at(1)[1]
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
    assert 1.5 < diff.mean() < 6.0


@pytest.mark.slow
def test_closed_loop_pan_follows_the_teacher() -> None:
    """A naive proportional tracker on real ArUco detections keeps her in view at 3 m."""
    path = scenario("walk_near")
    config = CameraConfig(width=960, height=540, fps=10.0)
    camera = SimulatedCamera(shared_scene(), path, config)
    first = camera.pose_at(0)
    assert first is not None
    camera.pan_deg = first.bearing_deg
    seen = 0
    frames = round(path.duration_s * config.fps)
    for index in range(frames):
        found = detect(camera.frame_at(index)[1])
        if found is not None:
            seen += 1
            error = camera.optics.bearing_offset_deg(found.centre[0])
            step = max(-6.0, min(6.0, 0.8 * error))  # a 60 deg/s motor
            camera.set_pan(camera.pan_deg + step, step * config.fps)
    assert seen >= 0.95 * frames
    last = camera.pose_at(frames - 1)
    assert last is not None and abs(camera.pan_deg - last.bearing_deg) < 2.0


async def test_stream_runs_minutes_of_virtual_time_in_a_moment() -> None:
    clock = VirtualClock(monotonic_s=1234.0)
    config = CameraConfig(width=64, height=36, fps=5.0, start_pts_s=1234.5)
    camera = SimulatedCamera(shared_scene(), scenario("walk_front"), config)
    frames: list[tuple[float, float]] = []
    async for pts, image in camera.stream(clock):
        assert image.shape == (36, 64, 3)
        frames.append((pts, clock.monotonic()))
        if len(frames) == 900:  # three minutes
            break
    assert [p for p, _ in frames] == [camera.pts_of(i) for i in range(900)]
    # Each frame arrives one frame time after its pts (sensor readout), not earlier.
    assert all(now == pytest.approx(pts + 0.2) for pts, now in frames)
    assert clock.monotonic() == pytest.approx(1234.5 + 899 / 5 + 0.2)


async def test_a_slow_consumer_loses_old_frames_like_a_real_camera() -> None:
    clock = VirtualClock(monotonic_s=1234.5)
    camera = SimulatedCamera(shared_scene(), None, CameraConfig(width=64, height=36, fps=10.0))
    indices: list[int] = []
    async for pts, _ in camera.stream(clock, max_lag_frames=4):
        indices.append(round((pts - 1234.5) * 10))
        if len(indices) == 1:
            clock.advance(2.0)  # busy for two seconds
        if len(indices) == 4:
            break
    # At t = 2.1 s frames 17..20 are still buffered; 1..16 are gone.
    assert indices == [0, 17, 18, 19]


async def test_virtual_clock_wakes_concurrent_sleepers_in_time_order() -> None:
    clock = VirtualClock(monotonic_s=10.0, wall_s=1_793_608_200.0)
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, period: float, count: int) -> None:
        for _ in range(count):
            await clock.sleep(period)
            woke.append((name, clock.monotonic()))

    await asyncio.gather(sleeper("a", 0.3, 4), sleeper("b", 0.5, 3))
    times = [t for _, t in woke]
    assert times == sorted(times)
    assert woke[0][0] == "a" and woke[0][1] == pytest.approx(10.3)
    assert clock.monotonic() == pytest.approx(11.5)
    assert clock.time() - clock.monotonic() == pytest.approx(1_793_608_200.0 - 10.0)
    assert clock.now().isoformat().startswith("2026-11-02T08:30:01.5")
    with pytest.raises(ValueError):
        clock.advance(-1.0)


async def test_virtual_clock_advance_wakes_sleepers_that_are_due() -> None:
    clock = VirtualClock(monotonic_s=0.0)
    task = asyncio.create_task(clock.sleep(5.0))
    await asyncio.sleep(0)
    task.cancel()  # a cancelled sleep does not hold time back
    await asyncio.gather(task, return_exceptions=True)
    woken = asyncio.create_task(clock.sleep(1.0))
    await asyncio.sleep(0)
    clock.advance(1.0)
    await asyncio.wait_for(woken, timeout=1.0)
    assert clock.monotonic() == 1.0


async def test_real_clock_really_waits() -> None:
    clock = RealClock()
    before = clock.monotonic()
    await clock.sleep(0.01)
    assert clock.monotonic() - before >= 0.009
    assert math.isclose(clock.time(), clock.now().timestamp(), abs_tol=1.0)
