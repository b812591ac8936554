"""A full disk on the server: its data directory on a small tmpfs, a real unit uploading.

The unit's own daemon records a lesson while uploading it to the server, whose disk fills
(another program's file takes the rest). Uploads are answered 507 with words ICT can act
on; the unit backs off and keeps every segment; the server's database stays sound. When the
disk grows (remounted bigger), uploads resume from their offsets, assembly runs, and the
lesson is ready with every segment byte-identical to the unit's. One fill in ``make test``,
more fill-and-return cycles under ``make reliability``.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from lessoncam_common.hashing import sha256_file
from lessoncam_device.enrolment import Credentials
from lessoncam_device.sim.clock import SteppedClock
from lessoncam_device.states import Event, State
from lessoncam_server.media.assembly import WAITING_FOR_SPACE
from lessoncam_server.media.remux import LiveAssembly, RemuxError, SegmentFile
from lessoncam_server.services import Services
from lessoncam_server.uploads.tus.protocol import RESULT_HEADER

from .. import reliability
from ..device.daemon_helpers import record_for, running, simulated_daemon, unit_config, until
from ..small_disk import MIB, SmallDisk, small_disk
from .helpers import Person, UnitClient, manifest, upload_segment
from .lesson_fixtures import record
from .tus_helpers import COLLECTION, RecordingHooks, make_app, tus_headers

SERVER_DISK = 16 * MIB


@pytest.fixture
def server_disk() -> Iterator[SmallDisk]:
    with small_disk(SERVER_DISK) as disk:
        yield disk


@pytest.fixture
def config_data(server_disk: SmallDisk) -> dict[str, Any]:
    return {"storage": {"data_dir": str(server_disk.path / "data")}}


@pytest.fixture
def credentials(server: TestServer, unit: UnitClient) -> Credentials:
    return Credentials(str(server.make_url("/")).rstrip("/"), unit.unit_id, unit.token)


async def lesson_state(person: Person, recording_id: str) -> dict[str, Any]:
    response = await person.request("GET", f"/api/v1/lessons/{recording_id}")
    return dict(await response.json()) if response.status == 200 else {"state": None}


async def lesson_when(
    person: Person, recording_id: str, ok: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The lesson as its owner sees it, once ``ok`` says so."""
    async with asyncio.timeout(60):
        while True:
            lesson = await lesson_state(person, recording_id)
            if ok(lesson):
                return lesson
            await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_a_full_server_disk_holds_uploads_back_and_loses_nothing(
    anna: Person,
    credentials: Credentials,
    services: Services,
    server_disk: SmallDisk,
    tmp_path: Path,
) -> None:
    cycles = reliability.sized(2, 12)
    lost = 0
    assert services.assembler is not None
    services.assembler.disk_retry_s = 0.2
    clock = SteppedClock()
    state_dir = tmp_path / "unit"
    config = unit_config(state_dir, segment_seconds=2, keep="keep_all")
    config = config.model_copy(
        update={"uploads": config.uploads.model_copy(update={"retry_cap_s": 4.0})}
    )
    daemon = simulated_daemon(config, clock, credentials)
    async with running(daemon, stop_within_s=60):
        queue = daemon.queue
        assert queue is not None
        for cycle in range(cycles):
            daemon.post(Event.SHORT_PRESS)
            await until(lambda: daemon.status.state is State.RECORDING)
            recorder = daemon.recorder
            assert recorder is not None
            recording_id = recorder.plan.recording_id
            await record_for(daemon, clock, 4)
            server_disk.fill(leave=[300_000, 0][cycle % 2])  # mid-lesson: the server fills up
            await record_for(daemon, clock, 16)
            daemon.post(Event.LONG_PRESS)
            await until(lambda: daemon.status.state is State.IDLE, clock)
            # The unit waits with every segment; the server says why.
            await until(lambda: "disk is full" in (queue.last_error() or ""), clock)
            assert daemon.queue_length() > 0
            held = queue.segments(recording_id)
            assert all(seg.path.exists() and sha256_file(seg.path) == seg.sha256 for seg in held)
            state = await lesson_state(anna, recording_id)
            assert state["state"] != "ready"
            with sqlite3.connect(services.paths.database) as db:
                assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            # ICT gives the server room (a bigger disk, or a big file deleted): everything
            # resumes by itself.
            if cycle % 2 == 0:
                server_disk.grow(server_disk.size * 2)
            else:
                server_disk.free_filler()
            async with asyncio.timeout(120):
                while (await lesson_state(anna, recording_id))["state"] != "ready":
                    clock.advance(0.5)
                    await asyncio.sleep(0.02)
            received = services.db.execute(
                "SELECT camera, sequence, sha256 FROM segments WHERE recording_id = ?",
                [recording_id],
            ).fetchall()
            on_unit = {(s.camera, s.sequence): s.sha256 for s in queue.segments(recording_id)}
            on_server = {(cam, seq): sha for cam, seq, sha in received}
            lost += len(set(on_unit) - set(on_server))
            assert on_server == on_unit
            for (camera, sequence), sha in on_unit.items():
                assert sha256_file(services.paths.segment(recording_id, camera, sequence)) == sha
            server_disk.free_filler()
    reliability.add("disk_full_cases", cycles)
    reliability.add("disk_full_lost_segments", lost)


@pytest.mark.slow
async def test_an_assembly_that_runs_out_of_space_waits_and_is_made_when_there_is_room(
    unit: UnitClient, anna: Person, services: Services, server_disk: SmallDisk, tmp_path: Path
) -> None:
    """No half-made file is shown as ready: the lesson waits, saying why, then is made."""
    assert services.assembler is not None
    services.assembler.disk_retry_s = 0.2
    recording_id = "01FULLDISKASSEMBLY000000000"
    segments = record(tmp_path / "lesson", seconds=20.0, cameras=("main", "pupils"))
    started = services.now()
    await unit.json(
        "PUT",
        f"/api/v1/recordings/{recording_id}",
        201,
        json=manifest(recording_id, started, tuple(segments)),
    )
    for cam, segs in segments.items():
        for seg in segs:
            await upload_segment(
                unit, recording_id, cam, seg.sequence, seg.path, seg.start_s, seg.duration_s
            )
    await asyncio.sleep(1)  # the live assembly has appended them
    server_disk.fill(leave=64_000)
    response = await unit.request(
        "POST",
        f"/api/v1/recordings/{recording_id}/complete",
        json={"segments": {cam: len(segs) for cam, segs in segments.items()}, "missing": {}},
    )
    assert response.status == 200
    # The assembly meets the full disk and says so.
    lesson = await lesson_when(anna, recording_id, lambda got: got.get("state_reason") is not None)
    assert lesson["state"] == "assembling" and lesson["state_reason"] == WAITING_FOR_SPACE
    # Nothing half-made is left or shown: only the segments are in the lesson's folder.
    folder = services.paths.recording_dir(recording_id)
    assert sorted(p.name for p in folder.iterdir()) == ["segments"]
    server_disk.grow(SERVER_DISK * 4)
    lesson = await lesson_when(anna, recording_id, lambda got: got["state"] == "ready")
    for camera in lesson["cameras"]:
        assert camera["duration_s"] == pytest.approx(20.0, abs=0.1) and camera["gaps"] == []
    reliability.add("disk_full_cases", 1)


def test_a_live_assembly_that_meets_a_full_disk_gives_up_at_once(
    tmp_path: Path, server_disk: SmallDisk
) -> None:
    """A failed write of the output is not a segment that cannot be read: the live file is
    given up at that segment (not cut short and the segments after it taken for broken), and
    the assembler makes the lesson in full once there is room."""
    segments = record(tmp_path / "lesson", seconds=30.0)["main"]
    live = LiveAssembly(server_disk.path / "main.v1.mp4", with_audio=True)
    live.add(SegmentFile(0, segments[0].start_s, segments[0].duration_s, segments[0].path))
    server_disk.fill(0)
    live.add(SegmentFile(1, segments[1].start_s, segments[1].duration_s, segments[1].path))
    assert live.broken is not None and "No space left" in live.broken
    server_disk.free_filler()
    live.add(SegmentFile(2, segments[2].start_s, segments[2].duration_s, segments[2].path))
    with pytest.raises(RemuxError, match="unusable"):
        live.finish(3)


async def test_an_upload_whose_record_could_not_be_written_completes_once_there_is_room(
    aiohttp_client: Callable[
        [web.Application], Awaitable[TestClient[web.Request, web.Application]]
    ],
) -> None:
    """Every byte arrived but the disk had no room to note it: 507, and the next HEAD (once
    there is room) completes the upload instead of leaving it unfinished until it expires."""
    with small_disk(4 * MIB) as disk:
        hooks = RecordingHooks()
        app, _, _ = make_app(disk.path / "uploads", hooks=hooks)
        client = await aiohttp_client(app)
        created = await client.post(COLLECTION, headers=tus_headers(Upload_Length="8192"))
        assert created.status == 201
        path = URL(created.headers["Location"]).path
        disk.fill(leave=8192)  # room for the bytes, not for the upload's record
        headers = tus_headers(Upload_Offset="0", Content_Type="application/offset+octet-stream")
        patched = await client.patch(path, headers=headers, data=bytes(range(256)) * 32)
        assert patched.status == 507 and "disk is full" in await patched.text()
        assert hooks.completed == []
        disk.free_filler()
        head = await client.head(path, headers=tus_headers())
        assert head.status == 200 and head.headers["Upload-Offset"] == "8192"
        assert RESULT_HEADER in head.headers and len(hooks.completed) == 1
    reliability.add("disk_full_cases", 1)
