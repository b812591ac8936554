"""What the server finds after a crash, and how its start-up recovery and sweeps deal with it.

Each test builds the state a ``kill -9`` leaves at one moment (found by the server crash test,
``test_server_crash.py``) in the real app, then runs the recovery the server runs.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from lessoncam_server.app import init_app
from lessoncam_server.config import ServerConfig
from lessoncam_server.services import Services
from lessoncam_server.uploads.tus.endpoint import TUS_ENDPOINT, UPLOAD_STORE
from lessoncam_server.uploads.tus.protocol import TUS_VERSION, encode_metadata

from .helpers import FakeClock, UnitClient, manifest, segment_metadata, upload_segment
from .lesson_fixtures import ready_lesson, record

RID = "01JDCRASHREC0VERY000000001"


async def _register(unit: UnitClient, clock: FakeClock) -> None:
    await unit.json(
        "PUT", f"/api/v1/recordings/{RID}", 201, json=manifest(RID, clock.now, ("main",))
    )


async def _create_upload(unit: UnitClient, path: Path, sequence: int, start_s: float) -> str:
    """A POST whose answer the unit never saw (the server died before sending it)."""
    data = path.read_bytes()
    metadata = {
        key: value.decode()
        for key, value in segment_metadata(RID, "main", sequence, data, start_s, 10.0).items()
        if value is not None
    }
    response = await unit.request(
        "POST",
        "/api/v1/uploads/",
        headers={
            "Tus-Resumable": TUS_VERSION,
            "Upload-Length": str(len(data)),
            "Upload-Metadata": encode_metadata(metadata),
        },
    )
    assert response.status == 201, await response.text()
    return response.headers["Location"].rsplit("/", 1)[-1]


@pytest.mark.slow
async def test_an_upload_whose_creation_answer_was_lost_is_removed_once_its_segment_arrived(
    unit: UnitClient, server: TestServer, services: Services, clock: FakeClock, tmp_path: Path
) -> None:
    segments = record(tmp_path, seconds=20)["main"]
    await _register(unit, clock)
    lost = await _create_upload(unit, segments[0].path, 0, 0.0)
    waiting = await _create_upload(unit, segments[1].path, 1, 10.0)  # its segment is still due
    # The unit made a new upload of segment 0 and sent it all.
    seg = segments[0]
    await upload_segment(unit, RID, "main", 0, seg.path, seg.start_s, seg.duration_s)
    store = server.app[UPLOAD_STORE]
    endpoint = server.app[TUS_ENDPOINT]
    await endpoint.sweep()
    assert store.get(lost) is not None, "written to just now: perhaps between two PATCHes"

    idle = time.time() - endpoint.stall_timeout_s - 1
    for upload in (lost, waiting):
        os.utime(store.data_path(upload), (idle, idle))
    await endpoint.sweep()

    assert store.get(lost) is None
    assert not store.data_path(lost).exists()
    assert store.get(waiting) is not None, "an upload still of use stays"


async def test_start_up_recovery_removes_uploads_of_a_deleted_lesson(
    unit: UnitClient, server: TestServer, services: Services, clock: FakeClock, tmp_path: Path
) -> None:
    segments = record(tmp_path, seconds=10)["main"]
    await _register(unit, clock)
    orphan = await _create_upload(unit, segments[0].path, 0, 0.0)
    services.db.execute("DELETE FROM recordings WHERE id = ?", [RID])

    await server.app[TUS_ENDPOINT].recover()

    store = server.app[UPLOAD_STORE]
    assert store.get(orphan) is None
    assert not store.data_path(orphan).exists()


async def test_start_up_removes_what_interrupted_assemblies_left(
    unit: UnitClient,
    services: Services,
    clock: FakeClock,
    config: ServerConfig,
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    tmp_path: Path,
) -> None:
    await ready_lesson(unit, services, clock.now, tmp_path, RID, seconds=10)
    receiving = "01JDCRASHREC0VERY000000002"
    await unit.json(
        "PUT", f"/api/v1/recordings/{receiving}", 201, json=manifest(receiving, clock.now)
    )
    paths = services.paths
    ready_files = sorted(p.name for p in paths.recording_dir(RID).iterdir())
    # A kill during a live or full assembly leaves its temporary file; a kill between
    # publishing version 1 and tidying up leaves what came before it.
    leftovers = [
        paths.recording_dir(RID) / f".main.v1.mp4.{'a' * 32}.tmp",
        paths.recording_dir(RID) / "main.v0.mp4",
        paths.recording_dir(receiving) / f".main.v1.mp4.{'b' * 32}.tmp",
    ]
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half a file")

    restarted = await aiohttp_server(init_app(config, clock=clock))  # the server starts again

    assert not [p for p in leftovers if p.exists()]
    assert sorted(p.name for p in paths.recording_dir(RID).iterdir()) == ready_files
    assert paths.segment(RID, "main", 0).exists()
    await restarted.close()


async def test_start_up_removes_half_written_unit_snapshots(
    unit: UnitClient,
    services: Services,
    clock: FakeClock,
    config: ServerConfig,
    aiohttp_server: Callable[..., Awaitable[TestServer]],
) -> None:
    jpeg = b"\xff\xd8\xff\xe0" + b"\0" * 64
    beat = {"state": "idle", "snapshot_jpeg_base64": base64.b64encode(jpeg).decode()}
    await unit.json("POST", "/api/v1/unit/heartbeat", 204, json=beat)
    snapshot = services.paths.snapshot(unit.unit_id)
    # A kill while the next snapshot was being written leaves its temporary file.
    half = snapshot.with_name(f".{snapshot.name}.{'c' * 32}.tmp")
    half.write_bytes(jpeg[:10])

    restarted = await aiohttp_server(init_app(config, clock=clock))

    assert not half.exists()
    assert snapshot.read_bytes() == jpeg
    await restarted.close()
