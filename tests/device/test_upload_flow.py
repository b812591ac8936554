"""The unit's upload side against the real server on loopback: a lesson goes up while it is
recorded, in order, and the keep policy, upload windows and bandwidth cap are honoured."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from lessoncam_device.segments import SegmentInfo
from lessoncam_device.uploader import KeepPolicy, UploadQueue, UploadSettings
from lessoncam_device.uploader.policy import KeepMode
from lessoncam_server.services import Services

from ..server.helpers import UnitClient
from .upload_helpers import (
    CAMERAS,
    Rig,
    copy_lesson,
    fake_lesson,
    make_plan,
    make_pool,
    make_rig,
    sha256_file,
    wait_until,
)

RID = "01JD7Q3W9X4M2N8P5R6S7T8V9W"
RID2 = "01JD7Q3W9X4M2N8P5R6S7T8V9X"

RigFactory = Callable[..., Awaitable[Rig]]


@pytest.fixture(scope="session")
def pool(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    return make_pool(tmp_path_factory.mktemp("lesson-media"))


@pytest.fixture
async def rigs(tmp_path: Path, server: TestServer, unit: UnitClient) -> AsyncIterator[RigFactory]:
    made: list[Rig] = []

    async def make(**kw: Any) -> Rig:
        rig = await make_rig(
            tmp_path / "state", str(server.make_url("")), unit.unit_id, unit.token, **kw
        )
        made.append(rig)
        return rig

    yield make
    for rig in made:
        await rig.close()


def registered(queue: UploadQueue, rid: str) -> bool:
    rec = queue.recording(rid)
    return rec is not None and rec.registered


def completed(queue: UploadQueue, rid: str) -> bool:
    rec = queue.recording(rid)
    return rec is not None and rec.completed


def status_of(queue: UploadQueue, info: SegmentInfo) -> str | None:
    seg = queue.segment((info.recording_id, info.camera, info.sequence))
    return seg.status if seg else None


@pytest.mark.slow
@pytest.mark.server_assembles
async def test_a_lesson_uploads_while_recording_and_becomes_ready(
    rigs: RigFactory,
    pool: dict[str, list[Path]],
    tmp_path: Path,
    services: Services,
    unit: UnitClient,
) -> None:
    rig = await rigs()
    lesson = copy_lesson(pool, tmp_path / "recordings", RID)
    # What recovery keeps after a power cut goes with the recording once it is all uploaded.
    leftover = tmp_path / "recordings" / RID / "main" / "000002.ts.orig"
    leftover.write_bytes(b"original bytes of a salvaged segment")
    task = asyncio.create_task(rig.uploader.run())
    try:
        rig.queue.add_recording(make_plan(RID))
        await wait_until(lambda: registered(rig.queue, RID))
        for seq in range(2):
            for cam in CAMERAS:
                info = lesson[cam][seq]
                rig.queue.add_segment(info)  # as the recorder closes each file
                await wait_until(lambda info=info: status_of(rig.queue, info) == "deleted")
                # Confirmed by the server before the local file went (delete_after_upload).
                held = services.paths.segment(RID, cam, seq)
                assert sha256_file(held) == info.sha256
                assert not info.path.exists()
        assert rig.queue.queue_length() == 0
        assert leftover.exists()  # not while the lesson goes on
        rig.queue.close_recording(RID, {"main": 2, "pupils": 2})
        await wait_until(lambda: completed(rig.queue, RID))
        assert not (tmp_path / "recordings" / RID).exists()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert services.assembler is not None
    await asyncio.wait_for(services.assembler.idle.wait(), timeout=60)
    status = await unit.json("GET", f"/api/v1/recordings/{RID}")
    assert status["state"] == "ready", status
    assert status["received"] == status["expected"] == 4
    assert rig.queue.last_error() is None


async def test_oldest_recording_first_then_time_then_main_camera(
    rigs: RigFactory, pool: dict[str, list[Path]], tmp_path: Path, services: Services
) -> None:
    rig = await rigs(settings=UploadSettings(keep=KeepPolicy("keep_all")))
    # The later lesson is queued first, and its segments in reverse: order comes from the data.
    for rid, started in ((RID2, "08:40"), (RID, "08:30")):
        rig.queue.add_recording(make_plan(rid, f"2026-11-02T{started}:00.000000+00:00"))
        lesson = copy_lesson(pool, tmp_path / "recordings", rid)
        for cam in reversed(CAMERAS):
            for info in reversed(lesson[cam]):
                rig.queue.add_segment(info)
        rig.queue.close_recording(rid, {"main": 2, "pupils": 2})

    steps = await rig.drain()
    done = [step.detail for step in steps if step.outcome == "done"]
    order = [f"{cam}/{seq} of {{}}" for seq in range(2) for cam in CAMERAS]
    assert done == [
        RID,  # both registrations come first: they are small and make the server wait
        RID2,
        *(name.format(RID) for name in order),
        RID,  # completed as soon as its last segment is confirmed
        *(name.format(RID2) for name in order),
        RID2,
    ]
    assert steps[-1].outcome == "idle" and steps[-1].wait_s is None
    assert services.assembler is not None
    await asyncio.wait_for(services.assembler.idle.wait(), timeout=60)


@pytest.mark.parametrize("mode", ["keep_days", "keep_all"])
async def test_keep_policies_after_the_server_confirmed(
    rigs: RigFactory, tmp_path: Path, mode: KeepMode
) -> None:
    rig = await rigs(settings=UploadSettings(keep=KeepPolicy(mode, days=2)))
    info = fake_lesson(tmp_path / "recordings", RID)["main"][0]
    rig.queue.add_recording(make_plan(RID))
    rig.queue.add_segment(info)

    steps = await rig.drain()
    assert status_of(rig.queue, info) == "uploaded" and info.path.exists()
    if mode == "keep_days":
        assert steps[-1].wait_s == pytest.approx(2 * 86400)  # wakes for the deletion
    else:
        assert steps[-1].wait_s is None

    rig.clock.advance(timedelta(days=2, seconds=1).total_seconds())
    await rig.drain()
    if mode == "keep_days":
        assert status_of(rig.queue, info) == "deleted" and not info.path.exists()
    else:
        assert status_of(rig.queue, info) == "uploaded" and info.path.exists()


async def test_segments_wait_for_an_upload_window_and_pause_when_it_closes(
    rigs: RigFactory, tmp_path: Path, services: Services
) -> None:
    # The virtual clock starts at 08:30 UTC; one one-minute window at noon; a 2 kB/s cap, so a
    # 200 kB segment needs two windows.
    settings = UploadSettings(windows=("12:00-12:00",), bandwidth_bytes_per_s=2000)
    rig = await rigs(settings=settings)
    info = fake_lesson(tmp_path / "recordings", RID)["main"][0]
    rig.queue.add_recording(make_plan(RID))
    rig.queue.add_segment(info)

    steps = await rig.drain()
    assert [s.outcome for s in steps] == ["done", "idle"]  # registered outside the window
    assert steps[-1].wait_s == 3600.0  # 3.5 h to go; asks again hourly (daylight saving)
    assert status_of(rig.queue, info) == "queued"

    rig.clock.advance(3.5 * 3600)
    await rig.drain()
    seg = rig.queue.segment((RID, "main", 0))
    assert seg is not None and seg.status == "uploading" and seg.upload_url
    assert rig.clock.now().strftime("%H:%M") == "12:01"
    assert not services.paths.segment(RID, "main", 0).exists()  # part of it is on the server

    rig.clock.advance(23 * 3600 + 59 * 60)  # the next day's window
    await rig.drain(limit=200)
    assert status_of(rig.queue, info) == "deleted"
    assert sha256_file(services.paths.segment(RID, "main", 0)) == info.sha256


async def test_the_bandwidth_cap_spreads_the_bytes_over_time(
    rigs: RigFactory, tmp_path: Path
) -> None:
    rate = 50_000
    rig = await rigs(settings=UploadSettings(bandwidth_bytes_per_s=rate))
    info = fake_lesson(tmp_path / "recordings", RID, size=300_000)["main"][0]
    rig.queue.add_recording(make_plan(RID))
    await rig.drain()
    rig.queue.add_segment(info)
    before = rig.clock.monotonic()
    await rig.drain()
    elapsed = rig.clock.monotonic() - before
    assert status_of(rig.queue, info) == "deleted"
    # The bucket starts with one second's worth; the rest flows at the cap.
    assert elapsed >= (info.size - rate) / rate - 1e-6
    assert elapsed <= info.size / rate + 1
