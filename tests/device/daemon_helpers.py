"""The unit daemon in tests: simulated cameras and microphone, a small config, gpiozero's mock
pins, a clock the test moves, and the real server of the server fixtures to upload to."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from gpiozero.pins.mock import MockFactory

from lessoncam_device.clock import Clock
from lessoncam_device.config import DeviceConfig, parse_config
from lessoncam_device.daemon import Daemon
from lessoncam_device.enrolment import Credentials
from lessoncam_device.recorder import AudioSettings, Recorder, RecorderOptions
from lessoncam_device.sim.clock import SteppedClock
from lessoncam_device.sim.sources import simulated_sources

from ..server.helpers import Person, UnitClient

FAST = RecorderOptions(
    mode="pull", x264_preset="ultrafast", encoder_threads=1, audio=AudioSettings(coder="fast")
)


def unit_config(state_dir: Path, **extra: Any) -> DeviceConfig:
    """Two small cameras (320x240 at 15 fps), a short long-press; ``extra`` goes into
    ``[recording]``."""
    small = {"width": 320, "height": 240, "fps": 15}
    return parse_config(
        {
            "unit": {"state_dir": str(state_dir)},
            "cameras": {"main": small, "pupils": small},
            "recording": {"storage_reserve_mib": 64, **extra},
            "controls": {"long_press_s": 0.5},
            "uploads": {"heartbeat_s": 5},
        }
    )


def simulated_daemon(
    config: DeviceConfig,
    clock: Clock,
    credentials: Credentials | None = None,
    pins: MockFactory | None = None,
) -> Daemon:
    """A daemon on the simulated sources with :data:`FAST` encoding; with ``pins`` its button
    and LED are gpiozero's mock pins, without them it has none (events are posted)."""
    return Daemon(
        config,
        clock,
        simulated_sources,
        credentials,
        recorder_options=FAST,
        pin_factory=pins,
        use_pins=pins is not None,
    )


@asynccontextmanager
async def running(
    daemon: Daemon, *, ready_within_s: float = 30, stop_within_s: float = 30
) -> AsyncIterator[asyncio.Task[None]]:
    """Run ``daemon`` for the block (ready inside it), then stop it as systemd does and wait
    for it to finish; mock pins are reset. Yields the daemon's task."""
    task = asyncio.create_task(daemon.run())
    try:
        await asyncio.wait_for(daemon.ready.wait(), ready_within_s)
        yield task
    finally:
        daemon.stop()
        await asyncio.wait_for(task, stop_within_s)
        if isinstance(daemon.pin_factory, MockFactory):
            daemon.pin_factory.reset()


async def until(predicate: Callable[[], bool], clock: SteppedClock | None = None) -> None:
    """Wait (real time) for ``predicate``; with ``clock``, lesson time moves 0.1 s per look."""
    async with asyncio.timeout(60):
        while not predicate():
            if clock is not None:
                clock.advance(0.1)
            await asyncio.sleep(0.01)


async def tap(pin: Any) -> None:
    """A finger's tap on a mock button pin: down a tenth of a second (longer than bounce)."""
    pin.drive_low()
    await asyncio.sleep(0.1)
    pin.drive_high()


async def record_for(daemon: Daemon, clock: SteppedClock, seconds: float) -> None:
    """Let ``seconds`` of lesson pass, the encoders keeping up (so nothing races ahead)."""
    for _ in range(round(seconds / 0.5)):
        clock.advance(0.5)
        await asyncio.sleep(0)
        if isinstance(daemon.recorder, Recorder):
            await daemon.recorder.sync()


async def ready_lesson(person: Person, recording_id: str) -> dict[str, Any]:
    """The lesson as its owner sees it, once the server has assembled it."""
    async with asyncio.timeout(60):
        while True:
            response = await person.request("GET", f"/api/v1/lessons/{recording_id}")
            lesson: dict[str, Any] = await response.json()
            if response.status == 200 and lesson["state"] == "ready":
                return lesson
            assert response.status in (200, 404), lesson  # 404 until the unit registered it
            await asyncio.sleep(0.05)


@pytest.fixture
def credentials(server: TestServer, unit: UnitClient) -> Credentials:
    """The enrolled unit's credentials for the server fixture."""
    return Credentials(str(server.make_url("/")).rstrip("/"), unit.unit_id, unit.token)
