"""The unit daemon on simulated hardware and a virtual clock, uploading to a real server."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import av
import pytest
from gpiozero.pins.mock import MockFactory

from lessoncam_device.config import parse_config
from lessoncam_device.daemon import Daemon
from lessoncam_device.enrolment import Credentials
from lessoncam_device.hardware import sources_for
from lessoncam_device.recorder import (
    Recorder,
    read_record,
    recording_dir,
)
from lessoncam_device.sim.clock import SteppedClock, VirtualClock
from lessoncam_device.states import BUTTON_DEAD, Event, State, led_pattern
from lessoncam_device.uploader.queue import UploadQueue
from lessoncam_server.services import Services

from ..server.helpers import Person
from .daemon_helpers import (
    credentials,
    ready_lesson,
    record_for,
    running,
    simulated_daemon,
    tap,
    unit_config,
    until,
)

__all__ = ["credentials"]  # the fixture, for pytest


@pytest.mark.slow
@pytest.mark.server_assembles
async def test_button_to_ready_lesson(
    anna: Person, credentials: Credentials, services: Services, tmp_path: Path
) -> None:
    """Several minutes on the virtual clock, uploaded as they are recorded: each camera's
    assembled video lasts as long as the lesson (within one frame) and the main one has sound."""
    clock = SteppedClock()
    pins = MockFactory()
    daemon = simulated_daemon(unit_config(tmp_path / "unit"), clock, credentials, pins)
    async with running(daemon):
        button = pins.pin(17)
        await tap(button)  # starts the lesson
        await until(lambda: daemon.status.state is State.RECORDING)
        recorder = daemon.recorder
        assert isinstance(recorder, Recorder)
        daemon.post(Event.SHORT_PRESS)  # a pupil's tap changes nothing
        await record_for(daemon, clock, 185)
        assert daemon.status.state is State.RECORDING
        daemon.post(Event.LONG_PRESS)
        await until(lambda: daemon.status.state is State.IDLE, clock)
        (recording_id,) = daemon.finished_recordings
        assert recorder.t0 is not None and recorder.stop_at is not None
        lesson_s = recorder.stop_at - recorder.t0
        assert lesson_s > 180

        found = await ready_lesson(anna, recording_id)
        main, pupils = found["cameras"]
        assert main["has_audio"] and not pupils["has_audio"]
        for camera in (main, pupils):
            assert abs(camera["duration_s"] - lesson_s) <= 1 / 15, (camera, lesson_s)
            assert camera["gaps"] == []
        tracks = await media_tracks(anna, main["video_url"], tmp_path / "main.mp4")
        assert tracks["video"] == pytest.approx(lesson_s, abs=1 / 15)
        assert tracks["audio"] == pytest.approx(lesson_s, abs=0.05)
        assert "audio" not in await media_tracks(anna, pupils["video_url"], tmp_path / "p.mp4")
        # Heartbeats carried the unit's state and a picture to aim the camera by.
        state, snapshot_at = services.db.execute("SELECT state, snapshot_at FROM units").fetchone()
        assert state in ("idle", "recording") and snapshot_at is not None


async def media_tracks(person: Person, url: str, path: Path) -> dict[str, float]:
    """Download ``url`` and give each track's duration in seconds, as PyAV reads the file."""
    response = await person.request("GET", url)
    assert response.status == 200
    path.write_bytes(await response.read())
    with av.open(str(path)) as container:
        return {
            s.type: float(s.duration * s.time_base)
            for s in container.streams
            if s.duration is not None and s.time_base is not None
        }


async def test_refuses_to_start_below_the_storage_reserve(tmp_path: Path) -> None:
    config = unit_config(tmp_path / "unit", storage_reserve_mib=1024 * 1024 * 1024)
    daemon = simulated_daemon(config, VirtualClock())
    async with running(daemon):
        daemon.post(Event.SHORT_PRESS)
        await until(lambda: daemon.status.state is State.ERROR)
        assert "storage" in (daemon.status.reason or "")
        assert daemon.recorder is None


async def test_a_missing_camera_stops_the_lesson_and_says_why(tmp_path: Path) -> None:
    config = parse_config(
        {
            "unit": {"state_dir": str(tmp_path / "unit")},
            "cameras": {"main": {"source": "v4l2", "device": "/dev/video97"}},
            "audio": {"source": "none"},
            "recording": {"storage_reserve_mib": 64},
        }
    )
    clock = SteppedClock()
    daemon = Daemon(config, clock, sources_for, None, use_pins=False)
    async with running(daemon) as task:
        daemon.post(Event.SHORT_PRESS)
        await until(lambda: daemon.status.state is State.ERROR, clock)
        assert "camera failed" in (daemon.status.reason or "")
        assert "/dev/video97" in (daemon.last_error or "")
        (recording_id,) = daemon.finished_recordings
        record = read_record(recording_dir(tmp_path / "unit", recording_id))
        assert record.closed is not None and record.closed.interrupted
        # The daemon stays up: the next press tries again (and fails the same way).
        daemon.post(Event.SHORT_PRESS)
        await until(lambda: len(daemon.finished_recordings) == 2, clock)
        assert not task.done()


async def lesson_without_server(state_dir: Path, seconds: float) -> Daemon:
    """Start the daemon (no server), record ``seconds`` of lesson if any, then stop it as
    systemd does; returns the stopped daemon."""
    clock = SteppedClock()
    daemon = simulated_daemon(unit_config(state_dir), clock)
    async with running(daemon, stop_within_s=60):
        if seconds:
            daemon.post(Event.SHORT_PRESS)
            await until(lambda: daemon.status.state is State.RECORDING)
            await record_for(daemon, clock, seconds)
    return daemon


@pytest.mark.slow
async def test_a_stop_request_finishes_the_lesson_cleanly(tmp_path: Path) -> None:
    """systemd's SIGTERM mid-lesson: the recording is closed, not left for recovery."""
    daemon = await lesson_without_server(tmp_path / "unit", 12)
    (recording_id,) = daemon.finished_recordings
    record = read_record(recording_dir(tmp_path / "unit", recording_id))
    assert record.closed is not None and not record.closed.interrupted
    assert record.closed.segments["main"] >= 2


@pytest.mark.slow
async def test_a_crash_between_closing_on_disk_and_in_the_queue_loses_no_segment(
    tmp_path: Path,
) -> None:
    """The recording's closed marker is on disk but the queue never heard of the close, nor
    of segments it could not take (a full disk kept them in memory): a restart queues them."""
    state_dir = tmp_path / "unit"
    (recording_id,) = (await lesson_without_server(state_dir, 12)).finished_recordings
    closed = read_record(recording_dir(state_dir, recording_id)).closed
    assert closed is not None and sum(closed.segments.values()) >= 4
    # The state such a crash leaves: closed on disk, open in the queue, segments not queued.
    db = sqlite3.connect(state_dir / "uploads.sqlite3")
    with db:
        db.execute("DELETE FROM segments WHERE recording_id = ?", [recording_id])
        db.execute("UPDATE recordings SET state = 'recording', counts = NULL")
    db.close()

    await lesson_without_server(state_dir, 0)
    queue = UploadQueue.open(state_dir)
    try:
        rec = queue.recording(recording_id)
        assert rec is not None and rec.state != "recording" and rec.counts == closed.segments
        for camera, count in closed.segments.items():
            for sequence in range(count):
                seg = queue.segment((recording_id, camera, sequence))
                assert seg is not None and seg.status == "queued" and seg.path.exists()
    finally:
        queue.close()


@pytest.mark.slow
@pytest.mark.server_assembles
async def test_a_power_cut_mid_lesson_loses_at_most_2_s(
    anna: Person, credentials: Credentials, services: Services, tmp_path: Path
) -> None:
    """The disk as a power cut leaves it, then a fresh daemon: the lesson arrives, interrupted."""
    clock = SteppedClock()
    live = tmp_path / "live"
    daemon = simulated_daemon(unit_config(live), clock)
    async with running(daemon, stop_within_s=60):
        daemon.post(Event.SHORT_PRESS)
        await until(lambda: daemon.status.state is State.RECORDING)
        recorder = daemon.recorder
        assert recorder is not None
        recording_id = recorder.plan.recording_id
        for _ in range(16):
            clock.advance(1.0)
            await asyncio.sleep(0.01)
        await until(lambda: recorder.stats().cameras["main"].seconds >= 15.5)
        recorded_s = recorder.stats().cameras["main"].seconds
        disk = tmp_path / "disk"
        shutil.copytree(live, disk)  # what the power cut leaves (fsync'd at least every second)

    restarted = simulated_daemon(unit_config(disk), VirtualClock(), credentials)
    async with running(restarted, ready_within_s=60):
        lesson = await ready_lesson(anna, recording_id)
        assert lesson["interrupted"]
        assert lesson["duration_s"] >= recorded_s - 2.0
        assert restarted.queue_length() == 0


class DeadButtonPins(MockFactory):
    """Mock pins where the button's pin cannot be opened, as lgpio fails under systemd when
    it cannot write its notification pipe (gpiozero issue 1106); the LED's pin works."""

    def pin(self, name: Any, pin_class: Any = None, **kwargs: Any) -> Any:
        if name == 17:
            raise OSError("lgpio: can not open gpiochip (no notification pipe)")
        return super().pin(name, pin_class, **kwargs)


async def test_a_dead_button_is_an_attention_state_not_a_ready_unit(tmp_path: Path) -> None:
    """Defect 2 of issue 12: the unit must not look ready when a press would do nothing."""
    clock = SteppedClock()
    daemon = simulated_daemon(unit_config(tmp_path / "unit"), clock, pins=DeadButtonPins())
    async with running(daemon):
        await until(lambda: daemon.status.state is State.ERROR)
        assert daemon.status.reason == BUTTON_DEAD
        said = daemon.last_error or ""
        assert said.startswith(BUTTON_DEAD) and "button on BCM pin 17 cannot be read" in said
        assert "lgpio" in said  # the real cause, for ICT
        attention = led_pattern(daemon.status, uploading=False)
        controls = daemon._controls
        assert controls is not None
        await until(lambda: controls.pattern == attention, clock)  # the LED says so too
        # A signal still starts a lesson; after it the unit asks for attention again.
        daemon.post(Event.SHORT_PRESS)
        await until(lambda: daemon.status.state is State.RECORDING)
        await record_for(daemon, clock, 3)
        daemon.post(Event.LONG_PRESS)
        await until(lambda: daemon.status.reason == BUTTON_DEAD, clock)
        assert daemon.finished_recordings


async def test_presses_that_record_nothing_leave_no_lesson_and_no_queue(
    anna: Person, credentials: Credentials, services: Services, tmp_path: Path
) -> None:
    """The camera is missing: each press closes an empty recording. The unit sends it, the
    server keeps no empty "failed" lesson for the teacher, and the unit's queue empties."""
    config = parse_config(
        {
            "unit": {"state_dir": str(tmp_path / "unit")},
            "cameras": {"main": {"source": "v4l2", "device": "/dev/video97"}},
            "audio": {"source": "none"},
            "recording": {"storage_reserve_mib": 64},
        }
    )
    clock = SteppedClock()
    daemon = Daemon(config, clock, sources_for, credentials, use_pins=False)
    async with running(daemon):
        for press in (1, 2):
            daemon.post(Event.SHORT_PRESS)
            await until(lambda: len(daemon.finished_recordings) == press, clock)  # noqa: B023
        await until(lambda: daemon.queue_length() == 0, clock)
        await until(lambda: daemon.status.state is State.ERROR, clock)  # it says so still
    assert (await anna.json("GET", "/api/v1/lessons"))["lessons"] == []
    assert services.db.execute("SELECT COUNT(*) FROM recordings").fetchone()[0] == 0
