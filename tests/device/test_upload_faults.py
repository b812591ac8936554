"""The upload side when things go wrong: cut connections, restarts, a server that is down or
unwell, a revoked token, checksum failures and conflicts. Nothing is ever lost."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from lessoncam_device.enrolment import Credentials
from lessoncam_device.segments import SegmentInfo
from lessoncam_device.uploader import (
    REVOKED_MESSAGE,
    KeepPolicy,
    ServerClient,
    UploadSettings,
)
from lessoncam_server.services import Services
from lessoncam_server.uploads.tus.endpoint import UPLOAD_STORE

from ..faultproxy import Proxy
from ..server.helpers import Person, UnitClient, upload_segment
from .upload_helpers import Rig, fake_lesson, make_plan, make_rig, sha256_file, wait_until

RID = "01JD7Q3W9X4M2N8P5R6S7T8V9W"
KEEP_ALL = UploadSettings(keep=KeepPolicy("keep_all"), chunk_bytes=32 * 1024)

RigFactory = Callable[..., Awaitable[Rig]]


@pytest.fixture
async def rigs(tmp_path: Path, unit: UnitClient) -> AsyncIterator[RigFactory]:
    """Rigs on one state dir (a restart is a new rig), at ``url`` (default: the server)."""
    made: list[Rig] = []

    async def make(url: str, **kw: Any) -> Rig:
        rig = await make_rig(tmp_path / "state", url, unit.unit_id, unit.token, **kw)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        await rig.close()


@pytest.fixture
async def proxy(server: TestServer) -> AsyncIterator[Proxy]:
    async with Proxy(server.port or 0) as p:
        yield p


def server_url(server: TestServer) -> str:
    return str(server.make_url(""))


def queue_one(rig: Rig, tmp_path: Path, **kw: Any) -> SegmentInfo:
    info = fake_lesson(tmp_path / "recordings", RID, **kw)["main"][0]
    rig.queue.add_recording(make_plan(RID))
    rig.queue.add_segment(info)
    return info


def attempts(rig: Rig) -> int:
    rec = rig.queue.recording(RID)
    return rec.attempts if rec else 0


def upload_id(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


async def test_a_cut_connection_resumes_from_the_stored_url(
    rigs: RigFactory, proxy: Proxy, tmp_path: Path, services: Services, server: TestServer
) -> None:
    rig = await rigs(proxy.url(), settings=KEEP_ALL)
    info = queue_one(rig, tmp_path)
    proxy.cut_after = 100_000  # half-way through the segment

    assert (await rig.uploader.step()).outcome == "done"  # registered
    cut = await rig.uploader.step()
    assert cut.outcome == "retry" and proxy.cuts == 1
    seg = rig.queue.segment((RID, "main", 0))
    assert seg is not None and seg.status == "uploading" and seg.upload_url
    assert "cannot reach" in (rig.queue.last_error() or "")

    sent_before = proxy.forwarded
    await rig.drain()
    assert proxy.forwarded - sent_before < info.size  # resumed, not sent again from byte 0
    done = rig.queue.segment((RID, "main", 0))
    assert done is not None and done.status == "uploaded" and info.path.exists()
    stored = server.app[UPLOAD_STORE].get(upload_id(seg.upload_url))
    assert stored is not None and stored.completed  # the stored URL's upload is the one used
    assert sha256_file(services.paths.segment(RID, "main", 0)) == info.sha256
    assert rig.queue.last_error() is None


async def test_a_chunk_damaged_on_the_way_is_sent_again(
    rigs: RigFactory, proxy: Proxy, tmp_path: Path, services: Services
) -> None:
    rig = await rigs(proxy.url(), settings=KEEP_ALL)
    info = queue_one(rig, tmp_path)
    proxy.flip_at = 100_000
    steps = await rig.drain()
    assert proxy.flips == 1
    (damaged,) = [s for s in steps if s.outcome == "retry"]
    assert "checksum" in damaged.detail
    seg = rig.queue.segment((RID, "main", 0))
    assert seg is not None and seg.status == "uploaded"
    assert seg.checksum_failures == 0  # one chunk again, not the whole segment
    assert sha256_file(services.paths.segment(RID, "main", 0)) == info.sha256


async def test_a_daemon_restart_resumes_from_the_stored_url(
    rigs: RigFactory, proxy: Proxy, tmp_path: Path, services: Services, server: TestServer
) -> None:
    first = await rigs(proxy.url(), settings=KEEP_ALL)
    info = queue_one(first, tmp_path)
    proxy.cut_after = 120_000
    await first.uploader.step()
    assert (await first.uploader.step()).outcome == "retry"
    url = first.queue.segment((RID, "main", 0)).upload_url  # type: ignore[union-attr]
    assert url
    await first.close()  # the daemon stops

    again = await rigs(proxy.url(), settings=KEEP_ALL)  # a new process on the same database
    seg = again.queue.segment((RID, "main", 0))
    assert seg is not None and seg.status == "uploading" and seg.upload_url == url
    sent_before = proxy.forwarded
    await again.drain()
    assert proxy.forwarded - sent_before < info.size
    assert again.queue.segment((RID, "main", 0)).status == "uploaded"  # type: ignore[union-attr]
    stored = server.app[UPLOAD_STORE].get(upload_id(url))
    assert stored is not None and stored.completed
    assert sha256_file(services.paths.segment(RID, "main", 0)) == info.sha256


async def test_a_forgotten_upload_url_starts_a_new_upload(
    rigs: RigFactory, server: TestServer, tmp_path: Path, services: Services
) -> None:
    rig = await rigs(server_url(server))
    info = queue_one(rig, tmp_path)
    await rig.uploader.step()  # registered
    rig.queue.start_upload((RID, "main", 0), "/api/v1/uploads/0123456789abcdef0123456789abcdef")
    steps = await rig.drain()
    assert "forgot the upload" in steps[0].detail and steps[0].outcome == "failed"
    assert rig.queue.segment((RID, "main", 0)).status == "deleted"  # type: ignore[union-attr]
    assert sha256_file(services.paths.segment(RID, "main", 0)) == info.sha256


async def test_a_revoked_unit_stops_with_a_clear_error_and_keeps_every_file(
    rigs: RigFactory, server: TestServer, tmp_path: Path, admin: Person, unit: UnitClient
) -> None:
    rig = await rigs(server_url(server))
    lesson = fake_lesson(tmp_path / "recordings", RID)
    rig.queue.add_recording(make_plan(RID))
    for infos in lesson.values():
        for info in infos:
            rig.queue.add_segment(info)
    await rig.uploader.step()  # registered
    await rig.uploader.step()  # main/0 uploaded, confirmed and deleted
    await admin.json("POST", f"/api/v1/units/{unit.unit_id}/revoke", 204)

    steps = await rig.drain()
    assert steps[-1].outcome == "refused" and rig.uploader.refused
    assert rig.queue.last_error() == REVOKED_MESSAGE
    assert REVOKED_MESSAGE == "the server refused this unit's token; enrol it again"
    assert rig.queue.queue_length() == 3
    kept = [i for infos in lesson.values() for i in infos if (i.camera, i.sequence) != ("main", 0)]
    assert all(i.path.exists() for i in kept)
    assert {s.status for s in rig.queue.segments(RID)} == {"deleted", "queued"}
    assert (await rig.uploader.step()).outcome == "refused"  # and stays so


async def test_a_checksum_mismatch_uploads_again_from_scratch_and_counts(
    rigs: RigFactory, server: TestServer, tmp_path: Path, services: Services
) -> None:
    rig = await rigs(server_url(server), settings=replace(KEEP_ALL, quick_checksum_retries=1))
    info = queue_one(rig, tmp_path)
    good = info.path.read_bytes()
    bad = bytearray(good)
    bad[1000] ^= 0xFF  # as if a bit flipped on the way
    info.path.write_bytes(bytes(bad))

    await rig.uploader.step()  # registered
    step = await rig.uploader.step()
    assert step.outcome == "failed" and "sha256 differs" in step.detail
    seg = rig.queue.segment((RID, "main", 0))
    assert seg is not None and seg.status == "queued" and seg.upload_url is None
    assert seg.checksum_failures == 1 and seg.next_attempt_at is None  # again at once

    step = await rig.uploader.step()  # still damaged: the second failure backs off
    seg = rig.queue.segment((RID, "main", 0))
    assert seg is not None and seg.checksum_failures == 2 and seg.next_attempt_at is not None
    idle = await rig.uploader.step()
    assert idle.outcome == "idle" and idle.wait_s is not None and idle.wait_s > 0
    assert "sha256 differs" in (rig.queue.last_error() or "")
    assert info.path.exists()

    info.path.write_bytes(good)
    rig.clock.advance(idle.wait_s)
    await rig.drain()
    seg = rig.queue.segment((RID, "main", 0))
    assert seg is not None and seg.status == "uploaded" and seg.checksum_failures == 2
    assert sha256_file(services.paths.segment(RID, "main", 0)) == info.sha256


async def test_a_segment_the_server_holds_differently_is_never_deleted(
    rigs: RigFactory, server: TestServer, tmp_path: Path, unit: UnitClient
) -> None:
    rig = await rigs(server_url(server))
    info = queue_one(rig, tmp_path)
    await rig.uploader.step()  # registered
    other = tmp_path / "other.ts"
    other.write_bytes(b"not the unit's segment" * 1000)
    await upload_segment(unit, RID, "main", 0, other, 0.0, 10.0)

    steps = await rig.drain()
    assert steps[0].outcome == "failed" and "another sha256" in steps[0].detail
    assert steps[-1].outcome == "idle" and (steps[-1].wait_s or 0) > 0  # backs off
    seg = rig.queue.segment((RID, "main", 0))
    assert seg is not None and seg.status in ("queued", "uploading") and info.path.exists()
    assert "another sha256" in (rig.queue.last_error() or "")


async def test_a_server_that_is_down_is_retried_with_growing_jittered_waits(
    rigs: RigFactory, proxy: Proxy, tmp_path: Path
) -> None:
    rig = await rigs(proxy.url())  # rand() = 0.5: half the backoff ceiling
    queue_one(rig, tmp_path)
    proxy.down = True
    waits = []
    for _ in range(4):
        step = await rig.uploader.step()
        assert step.outcome == "retry"
        waits.append(step.wait_s)
    assert waits == [1.0, 2.0, 4.0, 8.0]  # base 2 s, factor 2, jitter 0.5
    assert "cannot reach" in (rig.queue.last_error() or "")
    rec = rig.queue.recording(RID)
    assert rec is not None and rec.attempts == 4 and not rec.registered

    proxy.down = False
    assert (await rig.uploader.step()).outcome == "done"
    assert rig.queue.last_error() is None


async def test_the_loop_sleeps_its_backoff_on_the_clock_and_wakes_for_new_work(
    rigs: RigFactory, proxy: Proxy, tmp_path: Path
) -> None:
    rig = await rigs(proxy.url())
    proxy.down = True
    task = asyncio.create_task(rig.uploader.run())
    try:
        start = rig.clock.monotonic()
        info = queue_one(rig, tmp_path)  # wakes the idle loop
        await wait_until(lambda: attempts(rig) >= 4)
        assert rig.clock.monotonic() - start >= 1.0 + 2.0 + 4.0  # slept between the attempts
        proxy.down = False
        await wait_until(lambda: not info.path.exists())
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_http_5xx_is_retried_later(
    rigs: RigFactory, aiohttp_server: Callable[..., Awaitable[TestServer]], tmp_path: Path
) -> None:
    async def unwell(request: web.Request) -> web.Response:
        return web.json_response({"error": "x", "message": "database is locked"}, status=503)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", unwell)
    stub = await aiohttp_server(app)
    rig = await rigs(server_url(stub))
    queue_one(rig, tmp_path)
    step = await rig.uploader.step()
    assert step.outcome == "retry" and step.wait_s == 1.0
    assert "HTTP 503: database is locked" in (rig.queue.last_error() or "")


async def test_a_refused_registration_backs_off_and_keeps_the_data(
    rigs: RigFactory, server: TestServer, tmp_path: Path
) -> None:
    rig = await rigs(server_url(server))
    info = fake_lesson(tmp_path / "recordings", RID)["main"][0]
    plan = make_plan(RID)
    bad = replace(plan, cameras=tuple({**c, "role": "main"} for c in plan.cameras))
    rig.queue.add_recording(bad)  # two main cameras: the server says 400
    rig.queue.add_segment(info)
    steps = await rig.drain()
    assert [s.outcome for s in steps] == ["failed", "idle"]
    assert steps[-1].wait_s == 1.0  # this recording backs off; others would go on
    assert "HTTP 400" in (rig.queue.last_error() or "")
    assert info.path.exists() and rig.queue.queue_length() == 1


async def test_a_server_that_does_not_answer_times_out_and_is_retried(
    aiohttp_server: Callable[..., Awaitable[TestServer]], tmp_path: Path, unit: UnitClient
) -> None:
    release = asyncio.Event()

    async def silent(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", silent)
    stub = await aiohttp_server(app)
    rig = await make_rig(tmp_path / "state", server_url(stub), unit.unit_id, unit.token)
    try:
        rig.client = ServerClient(  # a short request timeout instead of two minutes
            Credentials(server_url(stub), unit.unit_id, unit.token), request_timeout_s=0.2
        )
        rig.uploader.client = rig.client
        queue_one(rig, tmp_path)
        step = await rig.uploader.step()
        assert step.outcome == "retry"
        assert "did not answer in time" in (rig.queue.last_error() or "")
    finally:
        release.set()
        await rig.close()


# --- stalls and slow links ------------------------------------------------------------------

# Short enough to keep the tests quick; the server's takeover (1 s idle) is shorter still.
QUICK_TIMEOUT_S = 1.5


@pytest.mark.slow
async def test_a_stall_mid_body_times_out_and_resumes_from_the_servers_offset(
    rigs: RigFactory, proxy: Proxy, tmp_path: Path, services: Services, server: TestServer
) -> None:
    rig = await rigs(proxy.url(), settings=KEEP_ALL, request_timeout_s=QUICK_TIMEOUT_S)
    info = queue_one(rig, tmp_path)
    assert (await rig.uploader.step()).outcome == "done"  # registered
    proxy.stall_at = proxy.forwarded + 100_000  # in the middle of a chunk's body
    stalled = await rig.uploader.step()
    # The connection stays open and silent (until the end of the test): only a timeout helps.
    assert stalled.outcome == "retry" and proxy.stalls == 1 and proxy.frozen >= 1
    assert "did not answer in time" in (rig.queue.last_error() or "")
    seg = rig.queue.segment((RID, "main", 0))
    assert seg is not None and seg.status == "uploading" and seg.upload_url
    store = server.app[UPLOAD_STORE]
    stored = store.get(upload_id(seg.upload_url))
    assert stored is not None and 0 < store.offset(stored) < info.size

    sent_before = proxy.forwarded
    steps = await rig.drain()
    assert [s.outcome for s in steps] == ["done", "idle"]  # the server let go of the upload
    # Resumed at the server's offset: at most the stalled chunk again, plus request headers.
    resent = proxy.forwarded - sent_before - (info.size - 100_000)
    assert resent <= KEEP_ALL.chunk_bytes + 10 * 2048, resent
    assert sha256_file(services.paths.segment(RID, "main", 0)) == info.sha256
    assert rig.queue.last_error() is None


async def test_a_stall_shorter_than_the_timeout_costs_nothing(
    rigs: RigFactory, proxy: Proxy, tmp_path: Path, services: Services
) -> None:
    rig = await rigs(proxy.url(), settings=KEEP_ALL, request_timeout_s=QUICK_TIMEOUT_S)
    info = queue_one(rig, tmp_path)
    proxy.stall_at, proxy.stall_s = 100_000, 0.3
    steps = await rig.drain()
    assert proxy.stalls == 1 and proxy.frozen == 0
    assert {s.outcome for s in steps} == {"done", "idle"}  # no timeout, nothing sent again
    assert proxy.forwarded < info.size + 20 * 2048
    assert sha256_file(services.paths.segment(RID, "main", 0)) == info.sha256


@pytest.mark.slow
async def test_a_slow_link_finishes_without_false_timeouts(
    rigs: RigFactory, proxy: Proxy, tmp_path: Path, services: Services
) -> None:
    rig = await rigs(proxy.url(), settings=KEEP_ALL, request_timeout_s=QUICK_TIMEOUT_S)
    info = queue_one(rig, tmp_path)
    # 32 KiB chunks take ~0.1 s each; the whole segment takes longer than one request timeout.
    proxy.rate, proxy.latency_s = 320_000, 0.01
    steps = await rig.drain()
    assert {s.outcome for s in steps} == {"done", "idle"}, steps
    assert proxy.throttled >= info.size and proxy.forwarded < info.size + 20 * 2048
    assert rig.queue.last_error() is None
    assert sha256_file(services.paths.segment(RID, "main", 0)) == info.sha256


@pytest.mark.slow
async def test_a_link_too_slow_for_a_whole_chunk_gets_smaller_chunks(
    rigs: RigFactory, proxy: Proxy, tmp_path: Path, services: Services
) -> None:
    # 128 KiB chunks need 2 s at 64 kB/s, more than the 1.5 s a request may take: without
    # smaller chunks every PATCH times out and is sent again.
    settings = replace(KEEP_ALL, chunk_bytes=128 * 1024)
    rig = await rigs(proxy.url(), settings=settings, request_timeout_s=QUICK_TIMEOUT_S)
    info = queue_one(rig, tmp_path, size=300_000)
    assert (await rig.uploader.step()).outcome == "done"  # registered
    proxy.rate = 64_000
    steps = await rig.drain()
    timeouts = [s for s in steps if "did not answer in time" in s.detail]
    # Each time-out halves the chunk (one on an idle machine; a loaded one may need another).
    assert timeouts and rig.uploader.chunk_bytes == max(16 * 1024, (128 * 1024) >> len(timeouts))
    assert steps[-1].outcome == "idle" and rig.queue.last_error() is None
    assert sha256_file(services.paths.segment(RID, "main", 0)) == info.sha256
