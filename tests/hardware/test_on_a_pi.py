"""On a real unit only: ``LESSONCAM_HARDWARE=1 pytest tests/hardware`` on the Raspberry Pi.

Uses the unit's own config (``/etc/lessoncam/device.toml``, or ``LESSONCAM_HARDWARE_CONFIG``),
records a short lesson from its real cameras and microphone without uploading it, and checks
that the segments are real video (and sound). Stop the service first: the camera has one owner.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import av
import pytest

from lessoncam_device import devices
from lessoncam_device.clock import RealClock
from lessoncam_device.config import DEFAULT_PATH, DeviceConfig, load_config
from lessoncam_device.daemon import Daemon
from lessoncam_device.hardware import sources_for
from lessoncam_device.states import Event, State

pytestmark = pytest.mark.hardware


def unit_config() -> DeviceConfig:
    return load_config(Path(os.environ.get("LESSONCAM_HARDWARE_CONFIG", DEFAULT_PATH)))


def test_the_configured_cameras_are_found() -> None:
    config = unit_config()
    found = "\n".join(devices.cameras())
    for name, camera in config.cameras.items():
        if camera.source == "picamera2":
            assert f"picamera2 camera {camera.device}:" in found, (name, found)
        elif camera.source == "v4l2":
            assert camera.device in found or f"/dev/video{camera.device}" in found, (name, found)


async def test_a_short_lesson_from_the_real_cameras(tmp_path: Path) -> None:
    config = unit_config()
    config = config.model_copy(
        update={
            "unit": config.unit.model_copy(update={"state_dir": tmp_path}),
            "recording": config.recording.model_copy(
                update={"segment_seconds": 4.0, "storage_reserve_mib": 64}
            ),
        }
    )
    daemon = Daemon(config, RealClock(), sources_for, None, use_pins=False)
    task = asyncio.create_task(daemon.run())
    try:
        await asyncio.wait_for(daemon.ready.wait(), 60)
        daemon.post(Event.SHORT_PRESS)
        await asyncio.sleep(12)
        assert daemon.status.state is State.RECORDING, daemon.last_error
        daemon.post(Event.LONG_PRESS)
        async with asyncio.timeout(60):
            while daemon.status.state is not State.IDLE:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 60)
    (recording_id,) = daemon.finished_recordings
    for name in config.cameras:
        segments = sorted((tmp_path / "recordings" / recording_id / name).glob("*.ts"))
        assert len(segments) >= 2, name
        with av.open(str(segments[0])) as container:
            assert container.streams.video, name
            want_audio = name == "main" and config.audio.source == "alsa"
            assert bool(container.streams.audio) == want_audio, name
