"""The heartbeat against the real server: its figures land in the admin's fleet view, and a
failed beat is never fatal."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from aiohttp.test_utils import TestServer

from lessoncam_device.enrolment import Credentials
from lessoncam_device.sim.clock import VirtualClock
from lessoncam_device.uploader import Heartbeat, ServerClient, UploadQueue, cpu_temperature

from ..faultproxy import Proxy
from ..server.helpers import Person, UnitClient
from .upload_helpers import make_plan, wait_until

RID = "01JD7Q3W9X4M2N8P5R6S7T8V9W"


def small_jpeg() -> bytes:
    ok, data = cv2.imencode(".jpg", np.full((48, 64, 3), 128, np.uint8))
    assert ok
    return bytes(data)


@pytest.fixture
def thermal(tmp_path: Path) -> Path:
    path = tmp_path / "temp"
    path.write_text("51500\n")  # millidegrees, as the kernel writes it
    return path


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[UploadQueue]:
    q = UploadQueue.open(tmp_path / "state")
    yield q
    q.close()


async def fleet_entry(admin: Person, unit_id: str) -> dict[str, Any]:
    fleet = await admin.json("GET", "/api/v1/units")
    (entry,) = [u for u in fleet["units"] if u["id"] == unit_id]
    return dict(entry)


def client_for(url: str, unit: UnitClient) -> ServerClient:
    return ServerClient(Credentials(url, unit.unit_id, unit.token))


async def test_the_heartbeat_stores_its_figures_on_the_server(
    server: TestServer,
    unit: UnitClient,
    admin: Person,
    queue: UploadQueue,
    thermal: Path,
    tmp_path: Path,
) -> None:
    queue.add_recording(make_plan(RID))
    queue.set_global_error("cannot reach the server at https://lessoncam.school")
    jpeg = small_jpeg()
    async with client_for(str(server.make_url("")), unit) as client:
        beat = Heartbeat(
            client,
            queue,
            VirtualClock(),
            state=lambda: "recording",
            version="0.1.0",
            state_dir=tmp_path,
            tracking=lambda: "locked",
            snapshot=lambda: jpeg,
            thermal_path=thermal,
        )
        assert await beat.beat()
    entry = await fleet_entry(admin, unit.unit_id)
    assert entry["state"] == "recording" and entry["version"] == "0.1.0"
    assert entry["temperature_c"] == 51.5 and entry["tracking"] == "locked"
    assert entry["queue_length"] == 0
    assert entry["last_error"] == "cannot reach the server at https://lessoncam.school"
    assert entry["free_disk_bytes"] > 0 and entry["online"] and entry["has_snapshot"]
    picture = await admin.request("GET", f"/api/v1/units/{unit.unit_id}/snapshot")
    assert await picture.read() == jpeg


async def test_missing_figures_are_sent_as_null_and_broken_callables_do_no_harm(
    server: TestServer, unit: UnitClient, admin: Person, queue: UploadQueue, tmp_path: Path
) -> None:
    def broken() -> str:
        raise RuntimeError("camera gone")

    async with client_for(str(server.make_url("")), unit) as client:
        beat = Heartbeat(
            client,
            queue,
            VirtualClock(),
            state=broken,
            version="0.1.0",
            state_dir=tmp_path,
            tracking=broken,
            snapshot=lambda: b"\xff\xd8\xff" + bytes(600 * 1024),  # over the limit: left out
            thermal_path=tmp_path / "no-such-zone",
        )
        body = await beat.figures()
        assert body["snapshot_jpeg_base64"] is None and body["temperature_c"] is None
        assert await beat.beat()
    entry = await fleet_entry(admin, unit.unit_id)
    assert entry["state"] == "unknown" and entry["tracking"] is None
    assert entry["temperature_c"] is None and not entry["has_snapshot"]


async def test_long_texts_are_shortened_to_what_the_server_takes(
    server: TestServer, unit: UnitClient, admin: Person, queue: UploadQueue, tmp_path: Path
) -> None:
    queue.set_global_error("x" * 2000)
    async with client_for(str(server.make_url("")), unit) as client:
        beat = Heartbeat(
            client, queue, VirtualClock(), state=lambda: "s" * 50, version="1", state_dir=tmp_path
        )
        assert await beat.beat()
    entry = await fleet_entry(admin, unit.unit_id)
    assert len(entry["last_error"]) == 500 and len(entry["state"]) == 32


async def test_failed_beats_are_logged_and_the_next_one_comes_on_time(
    server: TestServer, unit: UnitClient, admin: Person, queue: UploadQueue, tmp_path: Path
) -> None:
    clock = VirtualClock()
    async with (
        Proxy(server.port or 0) as proxy,
        client_for(proxy.url(), unit) as client,
    ):
        proxy.down = True
        beat = Heartbeat(
            client,
            queue,
            clock,
            state=lambda: "idle",
            version="0.1.0",
            state_dir=tmp_path,
            interval_s=30,
        )
        task = asyncio.create_task(beat.run())
        try:
            await wait_until(lambda: beat.failed >= 2)
            assert beat.sent == 0 and not task.done()
            proxy.down = False
            await wait_until(lambda: beat.sent >= 1)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert clock.monotonic() - 1000.0 >= 30 * (beat.failed + beat.sent - 1)
    assert (await fleet_entry(admin, unit.unit_id))["state"] == "idle"


async def test_a_revoked_unit_s_heartbeat_fails_quietly(
    server: TestServer, unit: UnitClient, admin: Person, queue: UploadQueue, tmp_path: Path
) -> None:
    await admin.json("POST", f"/api/v1/units/{unit.unit_id}/revoke", 204)
    async with client_for(str(server.make_url("")), unit) as client:
        beat = Heartbeat(
            client, queue, VirtualClock(), state=lambda: "idle", version="1", state_dir=tmp_path
        )
        assert not await beat.beat()
        assert beat.failed == 1


def test_cpu_temperature(tmp_path: Path) -> None:
    zone = tmp_path / "temp"
    zone.write_text("48312\n")
    assert cpu_temperature(zone) == 48.3
    zone.write_text("garbage")
    assert cpu_temperature(zone) is None
    zone.write_text("999999")  # a broken sensor, not a molten Pi
    assert cpu_temperature(zone) is None
    assert cpu_temperature(tmp_path / "absent") is None


async def test_an_async_snapshot_callable_is_awaited(queue: UploadQueue, tmp_path: Path) -> None:
    async def snap() -> bytes:
        return b"\xff\xd8\xffjpeg"

    async with ServerClient(Credentials("http://127.0.0.1:9", "u", "t")) as client:
        beat = Heartbeat(
            client, queue, VirtualClock(), state=lambda: "idle", version="1", state_dir=tmp_path,
            snapshot=snap,
        )  # fmt: skip
        assert (await beat.figures())["snapshot_jpeg_base64"] == "/9j/anBlZw=="
