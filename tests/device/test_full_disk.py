"""A full disk on the unit: its state folder on a small tmpfs, the simulated classroom recording,
uploads to a real server on a real port.

The disk fills two ways: slowly, so the storage reserve check stops the lesson; and at once
(another program's file takes the last byte between two checks), so the encoder's own write
meets ENOSPC. Either way the lesson stops cleanly, the unit says "storage full", the queue
database stays sound, every segment on the disk is whole and reaches the server, and once
space returns the unit records the next lesson. One cycle of each in ``make test``, more
under ``make reliability``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import av
import pytest
from gpiozero.pins.mock import MockFactory

from lessoncam_device.daemon import Daemon
from lessoncam_device.enrolment import Credentials
from lessoncam_device.recorder import Recorder, read_record, recording_dir
from lessoncam_device.recorder.recovery import readable_length, salvage_partial
from lessoncam_device.recorder.storage import PARTIAL_SUFFIX
from lessoncam_device.sim.clock import SteppedClock
from lessoncam_device.states import NO_ROOM_TO_START, STORAGE_FULL, Event, State
from lessoncam_device.uploader.queue import DB_FILE
from lessoncam_server.services import Services

from .. import reliability
from ..server.helpers import Person
from ..small_disk import MIB, SmallDisk, small_disk
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

__all__ = ["credentials"]  # the fixture, shared with the daemon's tests

# The reserve may not be set below 64 MiB: a disk a little larger than that fills quickly
# (with room for what earlier cycles leave: salvaged .orig files, the queue database).
DISK_BYTES = 96 * MIB


def segment_is_whole(path: Path) -> bool:
    """Every packet of the file demuxes and it holds video frames."""
    with av.open(str(path)) as container:
        frames = sum(1 for p in container.demux(container.streams.video[0]) if p.size)
    return frames > 0


def closed_counts(
    daemon: Daemon, state_dir: Path, recording_id: str, interrupted: bool
) -> dict[str, int]:
    """The segment counts the lesson was closed with: from its folder, or, once everything
    was uploaded and the folder removed, from the upload queue."""
    try:
        record = read_record(recording_dir(state_dir, recording_id))
    except FileNotFoundError:
        assert daemon.queue is not None
        queued = daemon.queue.recording(recording_id)
        assert queued is not None and queued.completed and queued.counts is not None
        assert queued.interrupted is interrupted
        return queued.counts
    assert record.closed is not None
    assert record.closed.interrupted is interrupted
    return record.closed.segments


def queue_is_sound(state_dir: Path) -> bool:
    with sqlite3.connect(state_dir / DB_FILE) as db:
        return db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


async def fill_during_lesson(
    daemon: Daemon, clock: SteppedClock, disk: SmallDisk, at_once: bool
) -> float:
    """Record until the full disk stops the lesson; returns the seconds on the disk when it
    filled (with the reserve check: when the lesson stopped)."""
    await record_for(daemon, clock, 11)
    recorder = daemon.recorder
    assert isinstance(recorder, Recorder)
    written_s = recorder.stats().cameras["main"].seconds
    if at_once:
        disk.fill(0)  # to the last byte, between two of the daemon's checks
    else:
        disk.fill(leave=daemon.config.recording.storage_reserve_mib * MIB + 300_000)
    async with asyncio.timeout(60):
        while daemon.status.state is State.RECORDING:
            clock.advance(0.25)
            await asyncio.sleep(0)
            await recorder.sync()
    await until(lambda: daemon.status.state is State.ERROR, clock)
    assert recorder.t0 is not None and recorder.stop_at is not None
    if at_once:
        assert recorder.stats().disk_full  # the writer itself met ENOSPC
        return written_s
    assert recorder.error is None  # the reserve check stopped it in time
    return recorder.stop_at - recorder.t0


@pytest.mark.slow
@pytest.mark.server_assembles
async def test_a_full_disk_stops_the_lesson_cleanly_and_loses_nothing(
    anna: Person, credentials: Credentials, services: Services
) -> None:
    cycles = reliability.sized(2, 12)
    lost_segments = 0
    worst_loss_s = 0.0
    with small_disk(DISK_BYTES) as disk:
        state_dir = disk.path / "unit"
        clock = SteppedClock()
        pins = MockFactory()
        daemon = simulated_daemon(
            unit_config(state_dir, segment_seconds=4), clock, credentials, pins
        )
        async with running(daemon, stop_within_s=60) as task:
            assert daemon.spare_room.held
            button = pins.pin(17)
            for cycle in range(cycles):
                at_once = cycle % 2 == 0
                await tap(button)
                await until(lambda: daemon.status.state is State.RECORDING)
                recorder = daemon.recorder
                assert recorder is not None
                recording_id = recorder.plan.recording_id
                recorded_s = await fill_during_lesson(daemon, clock, disk, at_once)
                # Uploaded segments are deleted, which would free the reserve again: the
                # disk stays full (to its last byte) while the unit is looked at.
                disk.fill(0)

                # A clear state: attention on the LED, and words ICT can act on.
                assert daemon.status.reason == STORAGE_FULL
                assert (daemon.last_error or "").startswith("storage full")
                assert not task.done()
                # A press while the disk is full says so again, and nothing crashes.
                await tap(button)
                await until(lambda: daemon.status.reason == NO_ROOM_TO_START)
                assert daemon.recorder is None and not task.done()
                # The heartbeat tells the server.
                await until(lambda: _unit_error(services).startswith("storage full"), clock)

                # What was recorded is closed and whole, and the queue is sound. (Uploads go
                # on meanwhile: a confirmed segment's file, and at the end the recording's
                # folder, may already be gone.)
                sent_counts = closed_counts(daemon, state_dir, recording_id, at_once)
                folder = recording_dir(state_dir, recording_id)
                assert not list(folder.glob("*/*" + PARTIAL_SUFFIX))
                for path in sorted(folder.glob("*/*.ts")):
                    with contextlib.suppress(FileNotFoundError):
                        assert segment_is_whole(path), path
                assert queue_is_sound(state_dir)

                # Space returns: the unit is ready again by itself and the lesson arrives.
                disk.free_filler()
                await until(lambda: daemon.status.state is State.IDLE, clock)
                assert daemon.spare_room.held
                lesson = await ready_lesson_advancing(anna, recording_id, clock)
                main = lesson["cameras"][0]
                # At most the write that failed is lost (a frame or two).
                loss_s = max(0.0, recorded_s - main["duration_s"])
                worst_loss_s = max(worst_loss_s, loss_s)
                assert loss_s <= (0.25 if at_once else 1 / 15), (main, recorded_s)
                assert main["gaps"] == []
                sent = sum(sent_counts.values())
                held = services.db.execute(
                    "SELECT count(*) FROM segments WHERE recording_id = ?", [recording_id]
                ).fetchone()[0]
                lost_segments += sent - held
                assert held == sent
                await until(lambda: daemon.queue_length() == 0, clock)
                assert queue_is_sound(state_dir)
    reliability.add("disk_full_cases", cycles)
    reliability.add("disk_full_lost_segments", lost_segments)
    reliability.peak("disk_full_max_loss_s", round(worst_loss_s, 3))


async def ready_lesson_advancing(
    person: Person, recording_id: str, clock: SteppedClock
) -> dict[str, Any]:
    """``ready_lesson``, lesson time moving meanwhile (the uploader may be backing off)."""
    waiting = asyncio.create_task(ready_lesson(person, recording_id))
    while not waiting.done():
        clock.advance(0.5)
        await asyncio.sleep(0.02)
    return await waiting


def _unit_error(services: Services) -> str:
    row = services.db.execute("SELECT last_error FROM units").fetchone()
    return str(row[0] or "") if row else ""


async def test_a_press_on_a_full_disk_says_so_and_records_once_space_returns(
    tmp_path: Path,
) -> None:
    """The disk is full before the lesson: no crash, the storage state; then a lesson."""
    with small_disk(DISK_BYTES) as disk:
        clock = SteppedClock()
        daemon = simulated_daemon(unit_config(disk.path / "unit"), clock)
        async with running(daemon, stop_within_s=60):
            disk.fill(0)
            daemon.post(Event.SHORT_PRESS)
            await until(lambda: daemon.status.state is State.ERROR)
            assert daemon.status.reason == NO_ROOM_TO_START
            assert "MiB free" in (daemon.last_error or "")
            disk.free_filler()
            await until(lambda: daemon.status.state is State.IDLE, clock)
            assert daemon.last_error is None
            daemon.post(Event.SHORT_PRESS)
            await until(lambda: daemon.status.state is State.RECORDING)
            await record_for(daemon, clock, 3)
            daemon.post(Event.LONG_PRESS)
            await until(lambda: daemon.status.state is State.IDLE, clock)
            assert len(daemon.finished_recordings) == 1
            reliability.add("disk_full_cases", 1)


def test_a_partial_segment_is_salvaged_in_place_when_there_is_no_room_for_a_copy(
    tmp_path: Path,
) -> None:
    """Salvage copies the readable prefix; on a full disk it cuts the file itself instead."""
    source = _a_segment(tmp_path)
    with small_disk(4 * MIB) as disk:
        partial = disk.path / ("000000.ts" + PARTIAL_SUFFIX)
        data = source.read_bytes()
        partial.write_bytes(data + data[188 * 3 : 188 * 3 + 100])  # a torn last packet
        readable = readable_length(partial)
        assert len(data) - 20_000 < readable < len(data)  # the last frame is cut with it
        disk.fill(0)
        salvaged = salvage_partial(
            partial,
            recording_id="01TESTRECORDING0000000000",
            camera="main",
            sequence=0,
            pts_to_recording_s=-10.0,
            fps=15,
        )
        assert salvaged is not None
        final = disk.path / "000000.ts"
        assert final.read_bytes() == data[:readable] and not partial.exists()
        assert salvaged.info.size == readable and segment_is_whole(final)
        assert salvaged.info.duration_s == pytest.approx(2.0 - 1 / 15, abs=0.01)


def _a_segment(folder: Path) -> Path:
    """A 2 s MPEG-TS segment, as the recorder writes them."""
    import numpy as np

    path = folder / "a.ts"
    with av.open(str(path), "w", format="mpegts") as container:
        stream = container.add_stream("libx264", rate=15, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(30):
            image = np.full((120, 160, 3), i * 8, np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


@pytest.mark.slow
async def test_a_disk_full_for_a_moment_is_said_as_storage_not_as_a_camera_failure(
    tmp_path: Path,
) -> None:
    """The writer met ENOSPC but the space was back before the daemon looked: still "storage
    full" (the cameras are fine), and the lesson is closed with what reached the disk."""
    with small_disk(DISK_BYTES) as disk:
        clock = SteppedClock()
        daemon = simulated_daemon(unit_config(disk.path / "unit"), clock)
        async with running(daemon, stop_within_s=60):
            daemon.post(Event.SHORT_PRESS)
            await until(lambda: daemon.status.state is State.RECORDING)
            recorder = daemon.recorder
            assert isinstance(recorder, Recorder)
            await record_for(daemon, clock, 5.2)
            disk.fill(0)
            async with asyncio.timeout(30):
                while not recorder.stats().disk_full:
                    clock.advance(1 / 15)
                    await asyncio.sleep(0)
                    await recorder.sync()
            disk.free_filler()
            await until(lambda: daemon.status.state is State.ERROR, clock)
            assert daemon.status.reason == STORAGE_FULL
            (recording_id,) = daemon.finished_recordings
            record = read_record(recording_dir(disk.path / "unit", recording_id))
            assert record.closed is not None and record.closed.interrupted
            reliability.add("disk_full_cases", 1)
