"""A lesson's videos sent to the bucket while they are assembled (``store/live_upload.py``),
against moto's S3 server with the fault proxy between our server and the bucket.

The bytes sent during the lesson must be the finished file's (only its head is rewritten at
the end); a failure falls back to sending the whole file after the assembly; nothing is left
half uploaded, not after a fault nor after a restart.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from pathlib import Path
from typing import Any

import aiotus
import pytest
from aiohttp.test_utils import TestClient, TestServer

from lessoncam_server.app import init_app
from lessoncam_server.config import ServerConfig
from lessoncam_server.media.remux import LiveAssembly, SegmentFile
from lessoncam_server.media.store.live_upload import LiveUpload, LiveUploads
from lessoncam_server.media.store.s3 import S3Store
from lessoncam_server.services import SERVICES, Services

from ..faultproxy import Proxy
from ..mediagen import GeneratedSegment, NoisePainter, make_segments
from .helpers import UnitClient, manifest, segment_metadata
from .lesson_fixtures import assembled
from .s3_fixtures import (  # noqa: F401 (fixtures)
    BucketWorld,
    bucket_fixture,
    config_data_fixture,
    direct_store_fixture,
    media_files,
    media_size,
    object_sha256,
    observer,
    open_uploads,
    proxy_fixture,
    s3_port_fixture,
    store_extra_fixture,
    until,
    world_fixture,
)

pytestmark = pytest.mark.slow

RID = "01JD0000000000000000000001"


def big_segments(folder: Path, *, audio: bool = True, count: int = 4) -> list[GeneratedSegment]:
    """2 s segments of about 9 MB each: the file outgrows several 11 MiB parts."""
    return make_segments(
        folder,
        seconds=2.0 * count,
        segment_s=2.0,
        audio=audio,
        painter=NoisePainter(320, 240),
        video_options={"qp": "0"},
    )


def _segment(seg: GeneratedSegment) -> SegmentFile:
    return SegmentFile(seg.sequence, seg.start_s, seg.duration_s, seg.path)


def test_only_the_head_of_a_live_file_changes_when_it_is_finished(tmp_path: Path) -> None:
    segments = make_segments(tmp_path / "segments", seconds=30, segment_s=10)
    live = LiveAssembly(tmp_path / "main.v1.mp4", with_audio=True)
    assert live.stable_from() is None  # nothing written yet
    midway: list[tuple[int, bytes]] = []
    for seg in segments:
        live.add(_segment(seg))
        stable = live.stable_from()
        assert stable is not None
        midway.append((stable, live.working_path.read_bytes()))
    final = live.finish(len(segments)).path.read_bytes()
    for stable, seen in midway:
        # Every byte from ``stable`` on was final when it was written; the last one before
        # it (the low byte of the media data's size) is written only at the end.
        assert seen[stable:] == final[stable : len(seen)]
        assert seen[stable - 5] != final[stable - 5] and final[stable - 4 : stable] == b"mdat"


async def _write_and_send(store: S3Store, folder: Path) -> tuple[LiveUpload, Path, int]:
    """A live assembly of large segments sent while written: the upload, the finished file,
    and the bytes sent before it was finished."""
    segments = big_segments(folder / "segments")
    live = LiveAssembly(folder / "lesson" / "main.v1.mp4", with_audio=True)
    upload = LiveUploads().start(store, RID, "main.v1.mp4", live.working_path, 1.0)
    for seg in segments:
        await asyncio.to_thread(live.add, _segment(seg))
        upload.grew(await asyncio.to_thread(live.stable_from))
    full_parts = live.working_path.stat().st_size // upload.part_size

    async def parts_sent() -> bool:
        return upload.sent_bytes == (full_parts - 1) * upload.part_size

    await until(parts_sent)
    video = await asyncio.to_thread(live.finish, len(segments))
    return upload, video.path, upload.sent_bytes


async def test_a_file_sent_while_written_is_the_finished_file_byte_for_byte(
    direct_store: S3Store, s3_port: int, bucket: str, tmp_path: Path
) -> None:
    upload, path, sent_before = await _write_and_send(direct_store, tmp_path)
    assert sent_before >= 2 * upload.part_size  # parts 2 and 3 at least went before the end
    held = await upload.complete(path)
    data = path.read_bytes()
    assert held.size == len(data) and held.etag.endswith(f"-{-(-len(data) // upload.part_size)}")
    key = f"lessoncam/recordings/{RID}/main.v1.mp4"
    assert object_sha256(s3_port, bucket, key) == hashlib.sha256(data).hexdigest()
    assert open_uploads(s3_port, bucket) == []


async def test_a_part_cut_while_the_lesson_goes_on_is_sent_again(
    direct_store: S3Store, proxy: Proxy, s3_port: int, bucket: str, tmp_path: Path
) -> None:
    # Inside a part sent during the lesson: the client sends it again, checked by its MD5.
    proxy.cut_after = 16 * 1024 * 1024
    upload, path, _ = await _write_and_send(direct_store, tmp_path)
    held = await upload.complete(path)
    assert proxy.cuts == 1 and upload.failed is None
    key = f"lessoncam/recordings/{RID}/main.v1.mp4"
    assert held.size == path.stat().st_size
    assert object_sha256(s3_port, bucket, key) == hashlib.sha256(path.read_bytes()).hexdigest()


async def _register(unit: UnitClient, world: BucketWorld, cameras: tuple[str, ...]) -> None:
    await unit.json(
        "PUT",
        f"/api/v1/recordings/{RID}",
        201,
        json=manifest(RID, world.clock.now, cameras),
    )


async def _send(unit: UnitClient, camera: str, segments: list[GeneratedSegment]) -> None:
    """Upload segments as the unit does (tus, in 1 MiB requests: these are large)."""
    for seg in segments:
        data = seg.path.read_bytes()
        meta = segment_metadata(RID, camera, seg.sequence, data, seg.start_s, seg.duration_s)
        url = await aiotus.upload(
            unit.client.make_url("/api/v1/uploads/"),
            io.BytesIO(data),
            meta,
            client_session=unit.client.session,
            headers=unit.headers,
            config=aiotus.RetryConfiguration(retry_attempts=1, max_retry_period_seconds=1),
            chunksize=1 << 20,
        )
        assert url is not None, f"upload of {camera}/{seg.sequence} failed"


async def _complete(unit: UnitClient, counts: dict[str, int]) -> None:
    await unit.json(
        "POST",
        f"/api/v1/recordings/{RID}/complete",
        json={"segments": counts, "missing": {}},
    )


async def _sent_while_recorded(services: Services, cameras: int) -> None:
    """Wait until every camera's upload has parts in the bucket."""

    async def sent() -> bool:
        active = services.stores.live.active
        return len(active) == cameras and all(u.sent_bytes > 0 for u in active)

    await until(sent)


async def _served_is_stored(world: BucketWorld, rid: str) -> None:
    """Every camera's video as the player gets it is the object in the bucket, whole."""
    lesson = await world.anna.json("GET", f"/api/v1/lessons/{rid}")
    assert lesson["state"] == "ready"
    for camera in lesson["cameras"]:
        response = await world.anna.request("GET", camera["video_url"])
        data = await response.read()
        assert response.status == 200
        assert len(data) == media_size(world.services, rid, camera["id"])
        name = f"{camera['id']}.v{lesson_version(world.services, rid)}.mp4"
        assert hashlib.sha256(data).hexdigest() == world.sha256(rid, name)


def lesson_version(services: Services, rid: str) -> int:
    row = services.db.execute("SELECT media_version FROM recordings WHERE id = ?", [rid])
    return int(row.fetchone()[0])


async def test_a_lesson_reaches_the_bucket_while_it_is_recorded(
    world: BucketWorld, tmp_path: Path
) -> None:
    cameras = {
        "main": big_segments(tmp_path / "main"),
        "pupils": big_segments(tmp_path / "pupils", audio=False),
    }
    await _register(world.unit, world, tuple(cameras))
    for camera, segments in cameras.items():
        await _send(world.unit, camera, segments)
    # Before the stop: both videos have parts in the bucket, and no object yet.
    await _sent_while_recorded(world.services, 2)
    assert len(world.open_uploads()) == 2 and world.keys(RID) == {}

    await _complete(world.unit, {camera: len(segs) for camera, segs in cameras.items()})
    await assembled(world.services)
    live = world.services.stores.live
    assert live.completed == 2 and live.abandoned == 0
    await _served_is_stored(world, RID)
    assert world.open_uploads() == [] and media_files(world.services, RID) == []


async def test_a_bucket_failing_mid_lesson_falls_back_to_the_whole_file(
    world: BucketWorld, tmp_path: Path
) -> None:
    segments = big_segments(tmp_path / "main")
    await _register(world.unit, world, ("main",))
    await _send(world.unit, "main", segments[:2])
    await _sent_while_recorded(world.services, 1)

    # The bucket goes away (open connections too): the next part cannot go, the upload is
    # abandoned.
    world.proxy.down = True
    world.proxy.cut_after = world.proxy.forwarded + 1
    await _send(world.unit, "main", segments[2:3])
    live = world.services.stores.live

    async def abandoned() -> bool:
        return live.abandoned == 1

    await until(abandoned)
    world.proxy.down = False
    await _send(world.unit, "main", segments[3:])
    await _complete(world.unit, {"main": len(segments)})
    await assembled(world.services)
    await live.settled()  # the abort was retried until the bucket took it
    assert live.completed == 0
    await _served_is_stored(world, RID)
    assert world.open_uploads() == [] and media_files(world.services, RID) == []


async def test_a_restart_mid_lesson_leaves_no_upload_behind(
    world: BucketWorld,
    tmp_path: Path,
    server: TestServer,
    config: ServerConfig,
    aiohttp_server: Any,
) -> None:
    segments = big_segments(tmp_path / "main")
    await _register(world.unit, world, ("main",))
    await _send(world.unit, "main", segments[:2])
    await _sent_while_recorded(world.services, 1)
    assert len(world.open_uploads()) == 1

    await server.close()  # a server that stops aborts what it was sending
    assert world.open_uploads() == []

    # One that crashed could not: its upload is aborted when the server starts again.
    key = f"lessoncam/recordings/{RID}/main.v1.mp4"
    left = observer(world.s3_port).create_multipart_upload(Bucket=world.bucket, Key=key)
    observer(world.s3_port).upload_part(
        Bucket=world.bucket, Key=key, UploadId=left["UploadId"], PartNumber=1, Body=b"x" * 1024
    )
    second = await aiohttp_server(init_app(config, clock=world.clock))
    services = second.app[SERVICES]

    async def cleared() -> bool:
        return not [u for u in world.open_uploads() if u["UploadId"] == left["UploadId"]]

    await until(cleared)
    client = TestClient(second)  # closing it closes the second server too
    await client.start_server()
    try:
        unit = UnitClient(client, world.unit.unit_id, world.unit.token)
        await _send(unit, "main", segments[2:])
        await _complete(unit, {"main": len(segments)})
        await assembled(services)
        row = services.db.execute("SELECT state, media_store FROM recordings WHERE id = ?", [RID])
        assert tuple(row.fetchone()) == ("ready", "s3")
        held = world.keys(RID)[f"lessoncam/recordings/{RID}/main.v1.mp4"]
        assert held == media_size(services, RID, "main")
        assert world.open_uploads() == [] and media_files(services, RID) == []
    finally:
        await client.close()
