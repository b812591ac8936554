"""On a real unit only: ``sudo tests/hardware/run-on-unit.sh`` (see the README).

Uses the unit's own config (``/etc/lessoncam/device.toml``, or ``LESSONCAM_HARDWARE_CONFIG``),
records from its real cameras and microphone without uploading anything, and measures what
was recorded with the self-test's own readers and checks: frames delivered at the configured
size and rate, a recording as long as the lesson, sound that is not silence. The service must
be stopped (the camera has one owner); the script does that and starts it again.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from lessoncam_device import devices
from lessoncam_device.cli import unit_sources
from lessoncam_device.clock import RealClock
from lessoncam_device.config import DEFAULT_PATH, DeviceConfig, load_config
from lessoncam_device.daemon import Daemon
from lessoncam_device.recorder import read_record, recording_dir
from lessoncam_device.selftest.media import sound_level, video_figures
from lessoncam_device.selftest.media_checks import QUIET_DBFS
from lessoncam_device.selftest.runner import SelftestSettings, run_selftest
from lessoncam_device.states import Event, State

pytestmark = pytest.mark.hardware

LESSON_S = 12.0


def unit_config(state_dir: Path) -> DeviceConfig:
    """The unit's config, recording into ``state_dir`` in short segments."""
    config = load_config(Path(os.environ.get("LESSONCAM_HARDWARE_CONFIG", DEFAULT_PATH)))
    return config.model_copy(
        update={
            "unit": config.unit.model_copy(update={"state_dir": state_dir}),
            "recording": config.recording.model_copy(
                update={"segment_seconds": 4.0, "storage_reserve_mib": 64}
            ),
        }
    )


def test_the_configured_cameras_are_found() -> None:
    config = unit_config(Path("/nonexistent"))
    found = "\n".join(devices.cameras())
    for name, camera in config.cameras.items():
        if camera.source == "picamera2":
            assert f"picamera2 camera {camera.device}:" in found, (name, found)
        elif camera.source == "v4l2":
            assert camera.device in found or f"/dev/video{camera.device}" in found, (name, found)


async def test_the_selftest_recording_passes(tmp_path: Path) -> None:
    """The self-test's cameras, encoder and microphone checks, without a person."""
    config = unit_config(tmp_path)
    settings = SelftestSettings(seconds=10.0, use_pins=False)
    report = await run_selftest(config, RealClock(), unit_sources, None, None, settings)
    print("\n".join(report.lines()))
    wanted = [f"camera {name}" for name in config.cameras] + ["encoder", "microphone"]
    for name in wanted:
        check = report.named(name)
        assert check.status in ("pass", "skip"), (name, check.said, check.fix)
    for name in config.cameras:
        assert report.named(f"camera {name}").status == "pass"


async def test_a_lesson_delivers_its_frames_its_length_and_its_sound(tmp_path: Path) -> None:
    """A lesson through the daemon, as a press would make one, measured afterwards."""
    config = unit_config(tmp_path)
    daemon = Daemon(config, RealClock(), unit_sources, None, use_pins=False)
    task = asyncio.create_task(daemon.run())
    try:
        await asyncio.wait_for(daemon.ready.wait(), 60)
        daemon.post(Event.SHORT_PRESS)
        async with asyncio.timeout(30):
            while daemon.status.state is not State.RECORDING:
                assert daemon.status.state is not State.ERROR, daemon.last_error
                await asyncio.sleep(0.05)
        started = time.monotonic()
        await asyncio.sleep(LESSON_S)
        assert daemon.status.state is State.RECORDING, daemon.last_error
        daemon.post(Event.LONG_PRESS)
        lesson_s = time.monotonic() - started
        async with asyncio.timeout(60):
            while daemon.status.state is not State.IDLE:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 60)
    (recording_id,) = daemon.finished_recordings
    folder = recording_dir(tmp_path, recording_id)
    record = read_record(folder)
    assert record.closed is not None and not record.closed.interrupted
    for name, camera in config.cameras.items():
        found = video_figures(sorted((folder / name).glob("*.ts")))
        assert found is not None, f"no pictures from camera {name}"
        assert (found.width, found.height) == (camera.width, camera.height), name
        assert found.frames >= 0.9 * camera.fps * (lesson_s - 1.0), (name, found)
        assert abs(found.span_s - lesson_s) < 1.5, (name, found.span_s, lesson_s)
    level = sound_level(sorted((folder / "main").glob("*.ts")))
    if config.audio.source == "none":
        assert level is None
    else:
        assert level is not None and level.rms_dbfs > QUIET_DBFS, level
        assert level.seconds > lesson_s - 1.5, level
