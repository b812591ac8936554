"""Lessons in an S3-compatible bucket: the whole flow against a real S3 server process
(moto's server mode), with the project's fault proxy between our server and the bucket.

Nothing may be lost (every byte served equals what was assembled) or half visible (a lesson is
ready only when the bucket holds all of it, verified; a cut upload leaves no object).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from lessoncam_server.config import S3StoreConfig
from lessoncam_server.lessons import housekeeping
from lessoncam_server.media.store import WAITING_FOR_STORE, StoreUnavailable
from lessoncam_server.media.store import deletions as bucket_deletions
from lessoncam_server.media.store.migrate import check, migrate
from lessoncam_server.media.store.s3 import S3Store
from lessoncam_server.services import Services

from ..faultproxy import Proxy
from ..mediagen import make_phone_video
from .helpers import Person
from .lesson_fixtures import assembled, ready_lesson, record, send_lesson
from .s3_fixtures import (  # noqa: F401 (fixtures)
    BucketWorld,
    bucket_fixture,
    config_data_fixture,
    credentials_file,
    direct_store_fixture,
    lesson_keys,
    media_files,
    media_size,
    new_bucket,
    object_sha256,
    objects,
    observer,
    open_uploads,
    proxy_fixture,
    s3_port_fixture,
    s3_settings,
    store_extra_fixture,
    until,
    world_fixture,
)
from .test_browser_upload import browser_headers, lesson_of, packets, upload

pytestmark = pytest.mark.slow

RID = "01JD0000000000000000000001"
OTHER = "01JD0000000000000000000002"


async def _bytes(person: Person, url: str, **headers: str) -> tuple[int, bytes, Any]:
    response = await person.request("GET", url, headers=headers)
    return response.status, await response.read(), response.headers


async def test_a_lesson_in_the_bucket_plays_like_one_on_disk(
    world: BucketWorld, sign_in: Callable[..., Awaitable[Person]]
) -> None:
    anna, services = world.anna, world.services
    await send_lesson(
        world.unit, RID, world.clock.now, record(world.tmp_path, 20, ("main", "pupils"))
    )
    await assembled(services)
    lesson = await anna.json("GET", f"/api/v1/lessons/{RID}")
    assert lesson["state"] == "ready"
    keys = world.keys(RID)
    assert sorted(k.rsplit("/", 1)[1] for k in keys) == [
        "main.v1.mp4",
        "main.v1.thumbs.jpg",
        "poster.v1.jpg",
        "pupils.v1.mp4",
        "pupils.v1.thumbs.jpg",
    ]
    # The bucket holds the verified copy: the server keeps neither media nor segments.
    assert media_files(services, RID) == []

    main = lesson["cameras"][0]
    key = f"lessoncam/recordings/{RID}/main.v1.mp4"
    status, whole, headers = await _bytes(anna, main["video_url"])
    etag = headers["ETag"]
    assert status == 200 and len(whole) == keys[key] == media_size(services, RID, "main")
    assert hashlib.sha256(whole).hexdigest() == world.sha256(RID, "main.v1.mp4")
    assert headers["Cache-Control"] == "no-store" and headers["Accept-Ranges"] == "bytes"

    status, part, headers = await _bytes(anna, main["video_url"], Range="bytes=1000-4999")
    assert status == 206 and part == whole[1000:5000]
    assert headers["Content-Range"] == f"bytes 1000-4999/{len(whole)}"
    status, tail, _ = await _bytes(anna, main["video_url"], Range="bytes=-700")
    assert status == 206 and tail == whole[-700:]
    status, rest, _ = await _bytes(anna, main["video_url"], Range=f"bytes={len(whole) - 10}-")
    assert status == 206 and rest == whole[-10:]
    # The same edge cases as the files on disk (media_response.py).
    status, _, headers = await _bytes(anna, main["video_url"], Range="bytes=-0")
    assert status == 416 and headers["Content-Range"] == f"bytes */{len(whole)}"
    status, _, headers = await _bytes(anna, main["video_url"], Range=f"bytes={len(whole)}-")
    assert status == 416 and headers["Content-Range"] == f"bytes */{len(whole)}"
    status, body, _ = await _bytes(anna, main["video_url"], Range="bytes=0-1,5-6")
    assert status == 200 and body == whole
    status, body, _ = await _bytes(
        anna, main["video_url"], Range="bytes=0-9", **{"If-Range": '"stale-tag"'}
    )
    assert status == 200 and body == whole
    status, body, _ = await _bytes(anna, main["video_url"], Range="bytes=0-9", **{"If-Range": etag})
    assert status == 206 and body == whole[:10]
    head = await anna.request("HEAD", main["video_url"])
    assert head.status == 200 and int(head.headers["Content-Length"]) == len(whole)

    status, saved, headers = await _bytes(anna, main["video_url"] + "?download=1")
    assert status == 200 and saved == whole
    assert headers["Content-Disposition"].startswith("attachment;")
    status, poster, _ = await _bytes(anna, lesson["poster_url"])
    assert status == 200 and poster.startswith(b"\xff\xd8")
    status, strip, _ = await _bytes(anna, main["thumbnails_url"])
    assert status == 200 and strip.startswith(b"\xff\xd8")

    # Every request is checked: someone the lesson is not shared with gets nothing.
    bram = await sign_in("bram")
    for url in (main["video_url"], lesson["poster_url"], main["thumbnails_url"]):
        assert (await bram.request("GET", url, headers={"Range": "bytes=0-9"})).status == 404
    # The bucket's address appears nowhere: not in pages, the API or the audit log.
    page = await (await anna.request("GET", f"/lessons/{RID}")).text()
    audit = json.dumps(services.db.execute("SELECT * FROM audit").fetchall())
    for text in (page, json.dumps(lesson), audit):
        assert str(world.proxy.port) not in text and world.bucket not in text
    health = await (await anna.request("GET", "/healthz")).json()
    assert health["media_store"] == {"kind": "s3", "ok": True}


async def test_clips_deletion_and_retention_empty_the_bucket(world: BucketWorld) -> None:
    anna, services, clock = world.anna, world.services, world.clock
    await ready_lesson(world.unit, services, clock.now, world.tmp_path, RID, seconds=30)
    clip = await anna.json(
        "POST", f"/api/v1/lessons/{RID}/clips", 202, json={"start_s": 10, "end_s": 20}
    )
    clip_id = clip["clip"]["id"]
    await assembled(services)
    made = await anna.json("GET", f"/api/v1/lessons/{clip_id}")
    assert made["state"] == "ready" and 9 <= made["duration_s"] <= 21
    assert world.keys(clip_id) and media_files(services, clip_id) == []
    status, data, _ = await _bytes(anna, made["cameras"][0]["video_url"])
    assert status == 200 and len(data) == media_size(services, clip_id, "main")

    await anna.json("DELETE", f"/api/v1/lessons/{clip_id}", 204)
    assert bucket_deletions.pending(services.db) == [clip_id]
    assert await bucket_deletions.sweep(services.stores, services.db) == 0
    assert world.keys(clip_id) == {}

    clock.advance(days=400)  # past the default retention of 365 days
    assert housekeeping.sweep(services) == [RID]
    assert await bucket_deletions.sweep(services.stores, services.db) == 0
    assert objects(world.s3_port, world.bucket) == {}


@pytest.mark.parametrize("store_extra", [{"media": "s3", "s3": {"presigned": True}}])
async def test_presigned_redirect_only_after_the_permission_check(
    world: BucketWorld, sign_in: Callable[..., Awaitable[Person]]
) -> None:
    anna, services = world.anna, world.services
    await ready_lesson(world.unit, services, world.clock.now, world.tmp_path, RID)
    lesson = await anna.json("GET", f"/api/v1/lessons/{RID}")
    url = lesson["cameras"][0]["video_url"]
    answer = await anna.request("GET", url, allow_redirects=False)
    assert answer.status == 307 and answer.headers["Cache-Control"] == "no-store"
    location = answer.headers["Location"]
    assert "X-Amz-Expires=60" in location and "X-Amz-Signature=" in location
    async with aiohttp.ClientSession() as browser, browser.get(location) as direct:
        assert direct.status == 200
        data = await direct.read()
    assert hashlib.sha256(data).hexdigest() == world.sha256(RID, "main.v1.mp4")
    bram = await sign_in("bram")
    assert (await bram.request("GET", url, allow_redirects=False)).status == 404
    audit = json.dumps(services.db.execute("SELECT * FROM audit").fetchall())
    assert "X-Amz" not in audit and world.bucket not in audit


async def test_a_bucket_that_is_down_makes_the_lesson_wait_then_ready(world: BucketWorld) -> None:
    anna, services, proxy = world.anna, world.services, world.proxy
    proxy.down = True
    await send_lesson(world.unit, RID, world.clock.now, record(world.tmp_path, 20))

    async def waiting() -> bool:
        lesson = await anna.json("GET", f"/api/v1/lessons/{RID}")
        return bool(lesson["state_reason"] == WAITING_FOR_STORE)

    await until(waiting)
    lesson = await anna.json("GET", f"/api/v1/lessons/{RID}")
    assert lesson["state"] == "assembling"
    page = await (await anna.request("GET", f"/lessons/{RID}")).text()
    assert "Waiting for the video store" in page or "Wacht op de videoopslag" in page
    assert (await anna.request("GET", f"/api/v1/lessons/{RID}/poster.jpg")).status == 404
    services.stores._health = None  # the health answer is cached for a few seconds
    health = await (await anna.request("GET", "/healthz")).json()
    assert health["media_store"] == {"kind": "s3", "ok": False}
    # Nothing is deleted locally, nothing is in the bucket.
    assert any(name.endswith(".ts") for name in media_files(services, RID))
    assert objects(world.s3_port, world.bucket) == {}

    proxy.down = False

    async def ready() -> bool:
        return await world.state(RID) == "ready"

    await until(ready)
    lesson = await anna.json("GET", f"/api/v1/lessons/{RID}")
    status, data, _ = await _bytes(anna, lesson["cameras"][0]["video_url"])
    assert status == 200 and len(data) == media_size(services, RID, "main")
    assert abs(lesson["duration_s"] - 20.0) < 0.1
    assert media_files(services, RID) == []


async def test_playback_while_the_bucket_is_down_is_a_clear_error(world: BucketWorld) -> None:
    anna, proxy = world.anna, world.proxy
    await ready_lesson(world.unit, world.services, world.clock.now, world.tmp_path, RID)
    lesson = await anna.json("GET", f"/api/v1/lessons/{RID}")
    proxy.down = True
    answer = await anna.request("GET", lesson["cameras"][0]["video_url"])
    body = await answer.text()
    assert answer.status == 503 and answer.headers["Retry-After"] == "30"
    assert json.loads(body)["error"] == "media_store_unavailable"
    assert str(proxy.port) not in body and world.bucket not in body
    proxy.down = False
    assert (await anna.request("GET", lesson["cameras"][0]["video_url"])).status == 200


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    path = tmp_path / "big.mp4"
    path.write_bytes(os.urandom(12 * 1024 * 1024 + 12345))  # three 5 MiB parts
    return path


async def test_a_part_cut_mid_way_is_sent_again_and_verified(
    direct_store: S3Store, proxy: Proxy, big_file: Path, s3_port: int, bucket: str
) -> None:
    proxy.cut_after = 7 * 1024 * 1024  # inside the second part
    held = await direct_store.put(RID, "main.v1.mp4", big_file)
    assert proxy.cuts == 1 and held.size == big_file.stat().st_size
    key = f"lessoncam/recordings/{RID}/main.v1.mp4"
    assert object_sha256(s3_port, bucket, key) == hashlib.sha256(big_file.read_bytes()).hexdigest()
    assert held.etag.endswith("-3")


async def test_an_upload_the_bucket_never_finishes_leaves_no_object(
    direct_store: S3Store, proxy: Proxy, big_file: Path, s3_port: int, bucket: str
) -> None:
    # Held inside the second part until the bucket is gone: watching the byte count instead
    # let a busy machine's upload finish between two looks (the CI run beside the rehearsal).
    proxy.stall_at = 7 * 1024 * 1024
    task = asyncio.create_task(direct_store.put(RID, "main.v1.mp4", big_file))

    async def second_part_held() -> bool:
        return proxy.stalls == 1

    await until(second_part_held)
    proxy.down = True
    proxy.cut_after = proxy.forwarded + 1
    proxy.release()  # the held connections move on into the cut
    with pytest.raises(StoreUnavailable) as failed:
        await task
    assert str(proxy.port) not in str(failed.value) and proxy.cuts == 1
    assert objects(s3_port, bucket) == {}  # nothing half visible
    proxy.down = False
    held = await direct_store.put(RID, "main.v1.mp4", big_file)  # the retry completes it
    assert held.size == big_file.stat().st_size
    for pending in open_uploads(s3_port, bucket):
        # The first try's parts: no object; the bucket's lifecycle rule ends them (README).
        assert pending["Key"].endswith("main.v1.mp4")


async def test_a_slow_link_still_stores_every_byte(
    direct_store: S3Store, proxy: Proxy, tmp_path: Path, s3_port: int, bucket: str
) -> None:
    path = tmp_path / "poster.jpg"
    path.write_bytes(os.urandom(300_000))
    proxy.rate = 1_000_000
    proxy.latency_s = 0.02
    held = await direct_store.put(RID, "poster.v1.jpg", path)
    assert held.size == 300_000 and proxy.throttled > 300_000
    key = f"lessoncam/recordings/{RID}/poster.v1.jpg"
    assert object_sha256(s3_port, bucket, key) == hashlib.sha256(path.read_bytes()).hexdigest()


async def _served(person: Person, rid: str) -> dict[str, str]:
    """sha256 of every camera's video and the poster, as the player gets them."""
    lesson = await person.json("GET", f"/api/v1/lessons/{rid}")
    urls = [c["video_url"] for c in lesson["cameras"]] + [lesson["poster_url"]]
    out = {}
    for url in urls:
        status, data, _ = await _bytes(person, url)
        assert status == 200, url
        out[url] = hashlib.sha256(data).hexdigest()
    return out


@pytest.mark.parametrize("store_extra", [{"media": "local"}])
async def test_migration_to_the_bucket_and_back_interrupted_and_resumed(
    world: BucketWorld,
) -> None:
    anna, unit, services, clock, proxy = (
        world.anna,
        world.unit,
        world.services,
        world.clock,
        world.proxy,
    )
    await ready_lesson(unit, services, clock.now, world.tmp_path, RID, cameras=("main", "pupils"))
    clock.advance(hours=1)
    await ready_lesson(unit, services, clock.now, world.tmp_path, OTHER)
    before = {rid: await _served(anna, rid) for rid in (RID, OTHER)}
    db, paths, stores = services.db, services.paths, services.stores

    def bucket_fails_after_the_first(rid: str, objects_: int, size: int) -> None:
        proxy.down = True

    # Interrupted: the bucket goes away after the first lesson switched.
    first = await migrate(db, paths, stores, "s3", on_lesson=bucket_fails_after_the_first)
    assert first.moved == [RID] and list(first.failed) == [OTHER]
    stores_now = dict(db.execute("SELECT id, media_store FROM recordings").fetchall())
    assert stores_now == {RID: "s3", OTHER: "local"}
    proxy.down = False
    assert {rid: await _served(anna, rid) for rid in (RID, OTHER)} == before

    second = await migrate(db, paths, stores, "s3")  # resumed: only what was left
    assert second.moved == [OTHER] and not second.failed
    assert all(media_files(services, rid) == [] for rid in (RID, OTHER))
    assert {rid: await _served(anna, rid) for rid in (RID, OTHER)} == before
    report = await check(db, paths, stores)
    assert report.clean, report

    back = await migrate(db, paths, stores, "local")
    assert sorted(back.moved) == sorted([RID, OTHER])
    assert objects(world.s3_port, world.bucket) == {}
    assert {rid: await _served(anna, rid) for rid in (RID, OTHER)} == before
    assert (await check(db, paths, stores)).clean


@pytest.mark.parametrize("store_extra", [{"media": "local"}])
async def test_storage_check_names_orphans_and_missing_objects(world: BucketWorld) -> None:
    services, s3_port, bucket = world.services, world.s3_port, world.bucket
    await ready_lesson(world.unit, services, world.clock.now, world.tmp_path, RID)
    await migrate(services.db, services.paths, services.stores, "s3")
    stray = "01JD00000000000000000000FF"
    observer(s3_port).put_object(
        Bucket=bucket, Key=f"lessoncam/recordings/{stray}/main.v1.mp4", Body=b"x"
    )
    observer(s3_port).delete_object(Bucket=bucket, Key=f"lessoncam/recordings/{RID}/poster.v1.jpg")
    report = await check(services.db, services.paths, services.stores)
    assert report.orphans["s3"] == [stray]
    assert report.incomplete == {RID: ["poster.v1.jpg"]}


def test_storage_commands_on_the_command_line(
    tmp_path: Path, s3_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    from lessoncam_server import cli

    bucket = new_bucket(s3_port)
    settings = s3_settings(f"http://127.0.0.1:{s3_port}", bucket, credentials_file(tmp_path))
    lines = [f"[storage]\ndata_dir = {json.dumps(str(tmp_path / 'data'))}\n", "[storage.s3]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    config = tmp_path / "server.toml"
    config.write_text("\n".join(lines) + "\n")
    assert cli.main(["storage", "check", "--config", str(config)]) == 0
    assert "storage OK" in capsys.readouterr().out
    observer(s3_port).put_object(
        Bucket=bucket, Key=f"lessoncam/recordings/{RID}/main.v1.mp4", Body=b"x"
    )
    assert cli.main(["storage", "check", "--config", str(config)]) == 1
    assert f"objects without a lesson in s3: {RID}" in capsys.readouterr().out
    assert cli.main(["storage", "migrate", "--to", "s3", "--config", str(config)]) == 0
    assert "0 lesson(s) moved to s3" in capsys.readouterr().out
    assert cli.main(["storage", "migrate", "--config", str(config)]) == 2


async def test_a_browser_upload_is_assembled_into_the_bucket(
    anna: Person,
    server: TestServer,
    services: Services,
    tmp_path: Path,
    s3_port: int,
    bucket: str,
) -> None:
    phone = make_phone_video(tmp_path / "IMG_0042.MOV", seconds=4)
    data = phone.read_bytes()
    metadata = {"filename": "IMG_0042.MOV", "filetype": "video/quicktime"}
    location = await asyncio.to_thread(upload, server, browser_headers(anna), data, metadata)
    await assembled(services)
    lesson = await lesson_of(anna, location)
    assert lesson["state"] == "ready" and lesson["kind"] == "upload"
    assert lesson_keys(s3_port, bucket, lesson["id"])
    assert media_files(services, lesson["id"]) == []  # the original went too
    mp4 = await (await anna.request("GET", lesson["cameras"][0]["video_url"])).read()
    assert packets(mp4) == packets(data)


async def test_a_bucket_that_was_deleted_is_named_as_such(
    proxy: Proxy, tmp_path: Path, big_file: Path
) -> None:
    settings = s3_settings(proxy.url(), "no-such-bucket-here", credentials_file(tmp_path))
    async with S3Store.connect(S3StoreConfig.model_validate(settings)) as store:
        with pytest.raises(StoreUnavailable, match="the bucket does not exist"):
            await store.probe()
        with pytest.raises(StoreUnavailable, match="NoSuchBucket"):
            await store.put(RID, "main.v1.mp4", big_file)
