"""The tus 1.0.0 endpoint, status by status, against a real aiohttp server on loopback."""

from __future__ import annotations

import asyncio
import base64
import errno
import hashlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from yarl import URL

from lessoncam_server.access.principal import Unit, User
from lessoncam_server.uploads.store import UploadStore, is_valid_upload_id
from lessoncam_server.uploads.tus.endpoint import TUS_ENDPOINT
from lessoncam_server.uploads.tus.hooks import TusRejected
from lessoncam_server.uploads.tus.openapi import TUS_OPERATIONS
from lessoncam_server.uploads.tus.owners import principal_from_snapshot, principal_snapshot
from lessoncam_server.uploads.tus.protocol import encode_metadata, parse_metadata

from .tus_helpers import (
    COLLECTION,
    PREFIX,
    FakeClock,
    RawRequest,
    RecordingHooks,
    make_app,
    tus_headers,
    wait_until,
)

ClientFactory = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]
Client = TestClient[web.Request, web.Application]
OCTET = {"Content-Type": "application/offset+octet-stream"}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def checksum(algorithm: str, data: bytes) -> str:
    return f"{algorithm} {base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


class Env:
    """One running app plus the things tests poke at."""

    def __init__(
        self, client: Client, store: UploadStore, hooks: RecordingHooks, clock: FakeClock
    ) -> None:
        self.client = client
        self.store = store
        self.hooks = hooks
        self.clock = clock

    @property
    def port(self) -> int:
        port = self.client.port
        assert port is not None
        return port

    async def create(
        self, length: int, who: str = "unit-a", metadata: str | None = None
    ) -> tuple[str, str]:
        """Create an upload; returns (path, id)."""
        extra = {"Upload-Length": str(length)}
        if metadata is not None:
            extra["Upload-Metadata"] = metadata
        async with self.client.post(COLLECTION, headers=tus_headers(who, **extra)) as resp:
            assert resp.status == 201, await resp.text()
            path = URL(resp.headers["Location"]).path
        return path, path.rsplit("/", 1)[1]

    async def patch(
        self, path: str, offset: int, data: bytes, who: str = "unit-a", **extra: str
    ) -> tuple[int, dict[str, str], str]:
        headers = tus_headers(who, Upload_Offset=str(offset), **OCTET, **extra)
        async with self.client.patch(path, headers=headers, data=data) as resp:
            return resp.status, dict(resp.headers), await resp.text()

    async def head(self, path: str, who: str = "unit-a") -> tuple[int, dict[str, str]]:
        async with self.client.head(path, headers=tus_headers(who)) as resp:
            return resp.status, dict(resp.headers)

    async def offset(self, path: str) -> int:
        status, headers = await self.head(path)
        assert status == 200
        return int(headers["Upload-Offset"])


@pytest.fixture
async def env(tmp_path: Path, aiohttp_client: ClientFactory) -> AsyncIterator[Env]:
    clock = FakeClock()
    hooks = RecordingHooks()
    app, store, _ = make_app(tmp_path / "uploads", hooks=hooks, clock=clock, max_size=1_000_000)
    yield Env(await aiohttp_client(app), store, hooks, clock)


# --- OPTIONS and the version/auth gate ----------------------------------------------------------


async def test_options_describes_the_server(env: Env) -> None:
    async with env.client.options(COLLECTION) as resp:
        assert resp.status == 204
        assert resp.headers["Tus-Resumable"] == "1.0.0"
        assert resp.headers["Tus-Version"] == "1.0.0"
        assert resp.headers["Tus-Max-Size"] == "1000000"
        extensions = set(resp.headers["Tus-Extension"].split(","))
        assert {"creation", "creation-with-upload", "checksum", "termination", "expiration"} <= (
            extensions
        )
        assert set(resp.headers["Tus-Checksum-Algorithm"].split(",")) >= {"sha1", "sha256"}


@pytest.mark.parametrize("version", [None, "0.2.2", "2.0.0"])
async def test_unsupported_version_is_412(env: Env, version: str | None) -> None:
    headers = {"Authorization": "Bearer unit-a", "Upload-Length": "10"}
    if version is not None:
        headers["Tus-Resumable"] = version
    async with env.client.post(COLLECTION, headers=headers) as resp:
        assert resp.status == 412
        assert resp.headers["Tus-Version"] == "1.0.0"
        assert resp.headers["Tus-Resumable"] == "1.0.0"
        assert "Tus-Resumable" in await resp.text()
    path, _ = await env.create(10)
    headers.pop("Upload-Length")
    async with env.client.patch(path, headers={**headers, **OCTET, "Upload-Offset": "0"}) as resp:
        assert resp.status == 412


async def test_anonymous_is_401(env: Env) -> None:
    async with env.client.post(COLLECTION, headers=tus_headers(None, Upload_Length="5")) as resp:
        assert resp.status == 401
        assert "authentication" in await resp.text()
    path, _ = await env.create(5)
    status, _ = await env.head(path, who="nobody")
    assert status == 401


# --- creation -----------------------------------------------------------------------------------


async def test_create_then_head(env: Env) -> None:
    meta = f"recording {b64('01HX-lesson')},filename {b64('cam0/000001.ts')},is_final"
    async with env.client.post(
        COLLECTION, headers=tus_headers(Upload_Length="100", Upload_Metadata=meta)
    ) as resp:
        assert resp.status == 201
        location = URL(resp.headers["Location"])
        assert location.is_absolute()
        assert location.path.startswith(f"{PREFIX}/")
        upload_id = location.path.rsplit("/", 1)[1]
        assert is_valid_upload_id(upload_id)
        assert resp.headers["Upload-Offset"] == "0"
        expires = parsedate_to_datetime(resp.headers["Upload-Expires"])
        assert expires == env.clock.now + timedelta(hours=24)
    assert env.hooks.created == [
        (
            "unit:a",
            {"recording": "01HX-lesson", "filename": "cam0/000001.ts", "is_final": ""},
            100,
        )
    ]
    status, headers = await env.head(location.path)
    assert status == 200
    assert headers["Upload-Offset"] == "0"
    assert headers["Upload-Length"] == "100"
    assert headers["Cache-Control"] == "no-store"
    assert headers["Tus-Resumable"] == "1.0.0"
    assert parse_metadata(headers["Upload-Metadata"])["filename"] == "cam0/000001.ts"


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({}, "Upload-Length"),
        ({"Upload-Length": "ten"}, "Upload-Length"),
        ({"Upload-Length": "-1"}, "Upload-Length"),
        ({"Upload-Length": "1e3"}, "Upload-Length"),
        ({"Upload-Defer-Length": "1"}, "Defer"),
        ({"Upload-Length": "5", "Upload-Metadata": "name !!notbase64"}, "Upload-Metadata"),
        ({"Upload-Length": "5", "Upload-Metadata": f"name {b64('a')},name {b64('b')}"}, "twice"),
        ({"Upload-Length": "5", "Upload-Metadata": "name a b"}, "Upload-Metadata"),
        ({"Upload-Length": "5", "Upload-Metadata": "name /w=="}, "UTF-8"),
    ],
)
async def test_malformed_creation_is_400(env: Env, headers: dict[str, str], says: str) -> None:
    async with env.client.post(COLLECTION, headers=tus_headers(**headers)) as resp:
        assert resp.status == 400
        assert says in await resp.text()
    assert env.hooks.created == []


async def test_too_large_is_413(env: Env) -> None:
    async with env.client.post(COLLECTION, headers=tus_headers(Upload_Length="1000001")) as resp:
        assert resp.status == 413
        assert "Tus-Max-Size" in await resp.text()
    async with env.client.post(COLLECTION, headers=tus_headers(Upload_Length="1000000")) as resp:
        assert resp.status == 201


async def test_on_create_can_refuse(env: Env) -> None:
    env.hooks.reject_create = TusRejected(422, "no such recording")
    async with env.client.post(COLLECTION, headers=tus_headers(Upload_Length="5")) as resp:
        assert resp.status == 422
        assert await resp.text() == "no such recording"
    assert list(env.store.root.iterdir()) == []


async def test_creation_with_upload(env: Env) -> None:
    headers = tus_headers(Upload_Length="10", **OCTET)
    async with env.client.post(COLLECTION, headers=headers, data=b"01234") as resp:
        assert resp.status == 201
        assert resp.headers["Upload-Offset"] == "5"
        path = URL(resp.headers["Location"]).path
    status, headers_, _ = await env.patch(path, 5, b"56789")
    assert status == 204
    assert json.loads(headers_["Lessoncam-Upload-Result"])["bytes"] == 10


async def test_creation_with_whole_upload_completes(env: Env) -> None:
    data = os.urandom(1000)
    headers = tus_headers(Upload_Length="1000", Upload_Checksum=checksum("sha256", data), **OCTET)
    async with env.client.post(COLLECTION, headers=headers, data=data) as resp:
        assert resp.status == 201
        assert resp.headers["Upload-Offset"] == "1000"
        result = json.loads(resp.headers["Lessoncam-Upload-Result"])
    assert result["sha256"] == hashlib.sha256(data).hexdigest()


async def test_creation_with_upload_bad_checksum_keeps_the_upload(env: Env) -> None:
    headers = tus_headers(Upload_Length="10", Upload_Checksum=checksum("sha1", b"other"), **OCTET)
    async with env.client.post(COLLECTION, headers=headers, data=b"01234") as resp:
        assert resp.status == 460
        path = URL(resp.headers["Location"]).path
    assert await env.offset(path) == 0


async def test_creation_with_upload_wrong_type_is_415(env: Env) -> None:
    headers = tus_headers(Upload_Length="10", Content_Type="text/plain")
    async with env.client.post(COLLECTION, headers=headers, data=b"01234") as resp:
        assert resp.status == 415


async def test_zero_length_upload_completes_on_creation(env: Env) -> None:
    async with env.client.post(COLLECTION, headers=tus_headers(Upload_Length="0")) as resp:
        assert resp.status == 201
        assert "Upload-Expires" not in resp.headers
        assert json.loads(resp.headers["Lessoncam-Upload-Result"])["bytes"] == 0
    assert len(env.hooks.completed) == 1


# --- PATCH ----------------------------------------------------------------------------------


async def test_patch_in_chunks_and_complete(env: Env) -> None:
    data = os.urandom(3000)
    path, upload_id = await env.create(3000, metadata=f"recording {b64('r1')}")
    for offset in range(0, 3000, 1000):
        assert await env.offset(path) == offset
        status, headers, _ = await env.patch(path, offset, data[offset : offset + 1000])
        assert status == 204
        assert headers["Upload-Offset"] == str(offset + 1000)
        assert headers["Tus-Resumable"] == "1.0.0"
        if offset + 1000 < 3000:
            assert "Upload-Expires" in headers
            assert "Lessoncam-Upload-Result" not in headers
    result = json.loads(headers["Lessoncam-Upload-Result"])
    assert result == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": 3000}
    assert env.hooks.completed == [
        ("unit:a", upload_id, {"recording": "r1"}, hashlib.sha256(data).hexdigest())
    ]
    status, headers = await env.head(path)
    assert status == 200
    assert headers["Upload-Offset"] == "3000"
    assert json.loads(headers["Lessoncam-Upload-Result"]) == result
    # A retried final PATCH with no body is answered again, and the hook is not run twice.
    status, headers, _ = await env.patch(path, 3000, b"")
    assert status == 204
    assert json.loads(headers["Lessoncam-Upload-Result"]) == result
    assert len(env.hooks.completed) == 1


async def test_wrong_offset_is_409(env: Env) -> None:
    path, _ = await env.create(10)
    status, headers, text = await env.patch(path, 3, b"abc")
    assert status == 409
    assert headers["Upload-Offset"] == "0"
    assert "does not match" in text
    assert (await env.patch(path, 0, b"abc"))[0] == 204
    assert (await env.patch(path, 0, b"abc"))[0] == 409
    assert await env.offset(path) == 3


@pytest.mark.parametrize("content_type", ["application/octet-stream", "text/plain", None])
async def test_wrong_content_type_is_415(env: Env, content_type: str | None) -> None:
    path, _ = await env.create(10)
    headers = tus_headers(Upload_Offset="0")
    if content_type:
        headers["Content-Type"] = content_type
    async with env.client.patch(path, headers=headers, data=b"abc") as resp:
        assert resp.status == 415
        assert "application/offset+octet-stream" in await resp.text()
    assert await env.offset(path) == 0


@pytest.mark.parametrize("offset", ["", "-1", "abc", "1.0", "99999999999999999999"])
async def test_malformed_offset_is_400(env: Env, offset: str) -> None:
    path, _ = await env.create(10)
    headers = tus_headers(Upload_Offset=offset, **OCTET)
    async with env.client.patch(path, headers=headers, data=b"abc") as resp:
        assert resp.status == 400
        assert "Upload-Offset" in await resp.text()


async def test_missing_offset_is_400(env: Env) -> None:
    path, _ = await env.create(10)
    async with env.client.patch(path, headers=tus_headers(**OCTET), data=b"abc") as resp:
        assert resp.status == 400


async def test_patch_past_length_is_413(env: Env) -> None:
    path, _ = await env.create(10)
    status, _, text = await env.patch(path, 0, b"x" * 11)
    assert status == 413
    assert "Upload-Length" in text
    assert await env.offset(path) == 0


async def test_chunked_patch_past_length_is_413_and_discarded(env: Env) -> None:
    path, _ = await env.create(10)
    assert (await env.patch(path, 0, b"abc"))[0] == 204

    async def body() -> AsyncIterator[bytes]:
        yield b"defg"
        yield b"hijklmnop"

    headers = tus_headers(Upload_Offset="3", **OCTET)
    async with env.client.patch(path, headers=headers, data=body()) as resp:
        assert resp.status == 413
    assert await env.offset(path) == 3


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "md5"])
async def test_checksum_accepted(env: Env, algorithm: str) -> None:
    path, upload_id = await env.create(6)
    status, headers, _ = await env.patch(
        path, 0, b"abc", Upload_Checksum=checksum(algorithm, b"abc")
    )
    assert status == 204
    assert headers["Upload-Offset"] == "3"
    assert env.store.data_path(upload_id).read_bytes() == b"abc"


@pytest.mark.parametrize("algorithm", ["sha1", "sha256"])
async def test_checksum_mismatch_is_460_and_discards(env: Env, algorithm: str) -> None:
    path, upload_id = await env.create(6)
    assert (await env.patch(path, 0, b"ab"))[0] == 204
    status, headers, text = await env.patch(
        path, 2, b"cde", Upload_Checksum=checksum(algorithm, b"cdX")
    )
    assert status == 460
    assert "checksum" in text
    assert headers["Upload-Offset"] == "2"
    assert env.store.data_path(upload_id).read_bytes() == b"ab"
    assert await env.offset(path) == 2


@pytest.mark.parametrize(
    "value",
    ["crc32 AAAAAA==", "sha1", "sha1 not!base64", f"sha256 {base64.b64encode(b'short').decode()}"],
)
async def test_bad_checksum_header_is_400(env: Env, value: str) -> None:
    path, _ = await env.create(6)
    status, _, text = await env.patch(path, 0, b"abc", Upload_Checksum=value)
    assert status == 400
    assert "checksum" in text.lower()
    assert await env.offset(path) == 0


async def test_unsupported_algorithm_names_the_supported_ones(env: Env) -> None:
    path, _ = await env.create(6)
    _, _, text = await env.patch(path, 0, b"abc", Upload_Checksum="crc32 AAAAAA==")
    assert "sha1" in text


async def test_method_override(env: Env) -> None:
    path, _ = await env.create(3)
    headers = tus_headers(Upload_Offset="0", X_HTTP_Method_Override="PATCH", **OCTET)
    async with env.client.post(path, headers=headers, data=b"abc") as resp:
        assert resp.status == 204
    async with env.client.post(path, headers=tus_headers()) as resp:
        assert resp.status == 405


# --- ownership, unknown ids, termination ---------------------------------------------------


async def test_other_principals_get_404(env: Env) -> None:
    path, _ = await env.create(10)
    for who in ("unit-b", "user-3"):
        assert (await env.head(path, who=who))[0] == 404
        assert (await env.patch(path, 0, b"abc", who=who))[0] == 404
        async with env.client.delete(path, headers=tus_headers(who)) as resp:
            assert resp.status == 404
    assert await env.offset(path) == 0


@pytest.mark.parametrize(
    "upload_id", ["AAAAAAAAAAAAAAAAAAAAAA", "short", "..%2F..%2Fetc%2Fpasswd", "%2e%2e", "a.json"]
)
async def test_unknown_or_malformed_ids_are_404(env: Env, upload_id: str) -> None:
    path = f"{PREFIX}/{upload_id}"
    async with env.client.head(URL(path, encoded=True), headers=tus_headers()) as resp:
        assert resp.status == 404
    headers = tus_headers(Upload_Offset="0", **OCTET)
    async with env.client.patch(URL(path, encoded=True), headers=headers, data=b"x") as resp:
        assert resp.status == 404
        assert await resp.text() == "no such upload"


async def test_delete_terminates(env: Env) -> None:
    path, upload_id = await env.create(10)
    assert (await env.patch(path, 0, b"abc"))[0] == 204
    async with env.client.delete(path, headers=tus_headers()) as resp:
        assert resp.status == 204
        assert resp.headers["Tus-Resumable"] == "1.0.0"
    assert not env.store.data_path(upload_id).exists()
    assert (await env.head(path))[0] == 404
    assert (await env.patch(path, 3, b"abc"))[0] == 404
    async with env.client.delete(path, headers=tus_headers()) as resp:
        assert resp.status == 404


async def test_user_principal_can_upload(env: Env) -> None:
    path, _ = await env.create(3, who="user-3")
    assert (await env.patch(path, 0, b"abc", who="user-3"))[0] == 204
    assert env.hooks.completed[0][0] == "user:3"


# --- completion hook ------------------------------------------------------------------------


async def test_on_complete_refusal_deletes_the_upload(env: Env) -> None:
    env.hooks.reject_complete = TusRejected(460, "segment sha256 does not match the manifest")
    path, upload_id = await env.create(3)
    status, _, text = await env.patch(path, 0, b"abc")
    assert status == 460
    assert text == "segment sha256 does not match the manifest"
    assert (await env.head(path))[0] == 404
    assert not env.store.data_path(upload_id).exists()


async def test_on_complete_failure_is_retried_on_head(env: Env) -> None:
    env.hooks.fail_complete = 1
    path, _ = await env.create(3)
    status, headers, text = await env.patch(path, 0, b"abc")
    assert status == 500
    assert headers["Upload-Offset"] == "3"
    assert "HEAD" in text
    assert env.hooks.completed == []
    status, headers = await env.head(path)
    assert status == 200
    assert headers["Upload-Offset"] == "3"
    assert json.loads(headers["Lessoncam-Upload-Result"])["bytes"] == 3
    assert len(env.hooks.completed) == 1


async def test_on_complete_failure_is_retried_on_patch(env: Env) -> None:
    env.hooks.fail_complete = 1
    path, _ = await env.create(3)
    assert (await env.patch(path, 0, b"abc"))[0] == 500
    status, headers, _ = await env.patch(path, 3, b"")
    assert status == 204
    assert "Lessoncam-Upload-Result" in headers


# --- expiry ---------------------------------------------------------------------------------


async def test_expired_upload_is_410_and_swept(
    tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    clock = FakeClock()
    hooks = RecordingHooks()
    app, store, endpoint = make_app(tmp_path, hooks=hooks, clock=clock)
    env = Env(await aiohttp_client(app), store, hooks, clock)
    stale, stale_id = await env.create(10)
    assert (await env.patch(stale, 0, b"abc"))[0] == 204
    done, done_id = await env.create(3)
    assert (await env.patch(done, 0, b"abc"))[0] == 204
    fresh_clock_start = clock.now

    clock.advance(timedelta(hours=23))
    fresh, _ = await env.create(10)
    await endpoint.sweep()
    assert await env.offset(stale) == 3  # not yet

    clock.advance(timedelta(hours=1))
    assert (await env.head(stale))[0] == 410
    status, _, text = await env.patch(stale, 3, b"def")
    assert status == 410
    assert "expired" in text
    await endpoint.sweep()
    assert not store.data_path(stale_id).exists()
    assert (await env.head(stale))[0] == 410  # the tombstone still answers
    assert await env.offset(fresh) == 0
    assert (await env.head(done))[0] == 200  # completed records stay a while

    clock.now = fresh_clock_start + timedelta(hours=48, minutes=1)
    await endpoint.sweep()
    assert (await env.head(done))[0] == 404
    assert not store.data_path(done_id).exists()
    clock.now = fresh_clock_start + timedelta(hours=72, minutes=1)
    await endpoint.sweep()
    assert (await env.head(stale))[0] == 404


# --- locking, stalls and broken bodies ------------------------------------------------------


async def test_second_patch_gets_423_while_the_first_writes(env: Env) -> None:
    path, upload_id = await env.create(10)
    env.store.lock_wait_s = 0.2
    env.client.app[TUS_ENDPOINT].takeover_idle_s = 30  # the first writer is alive
    headers = tus_headers(Upload_Offset="0", Content_Length="10", **OCTET)
    first = await RawRequest.start(env.port, "PATCH", path, headers, b"01234")
    try:
        await wait_until(lambda: env.store.lock_users(upload_id) == 1)
        status, headers_, text = await env.patch(path, 0, b"01234")
        assert status == 423
        assert "retry" in text
        async with env.client.delete(path, headers=tus_headers()) as resp:
            assert resp.status == 423
        await first.send(b"56789")
        status, headers_ = await first.response()
        assert status == 204
        assert headers_["upload-offset"] == "10"
    finally:
        await first.close()
    assert len(env.hooks.completed) == 1


async def test_second_patch_waits_for_the_first(env: Env) -> None:
    path, upload_id = await env.create(15)
    env.store.lock_wait_s = 30
    env.client.app[TUS_ENDPOINT].takeover_idle_s = 30  # the first writer is alive
    headers = tus_headers(Upload_Offset="0", Content_Length="10", **OCTET)
    first = await RawRequest.start(env.port, "PATCH", path, headers, b"01234")
    try:
        await wait_until(lambda: env.store.lock_users(upload_id) == 1)
        second = asyncio.create_task(env.patch(path, 10, b"abcde"))
        await wait_until(lambda: env.store.lock_users(upload_id) == 2)
        await first.send(b"56789")
        assert (await first.response())[0] == 204
        status, headers_, _ = await second
        assert status == 204
        assert headers_["Upload-Offset"] == "15"
    finally:
        await first.close()
    assert env.store.data_path(upload_id).exists() or env.hooks.completed
    assert env.hooks.completed[0][3] == hashlib.sha256(b"0123456789abcde").hexdigest()


async def test_stalled_patch_is_cut_and_keeps_its_bytes(
    tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    app, store, _ = make_app(tmp_path, stall_timeout_s=0.2)
    env = Env(await aiohttp_client(app), store, RecordingHooks(), FakeClock())
    path, upload_id = await env.create(100)
    headers = tus_headers(Upload_Offset="0", Content_Length="100", **OCTET)
    stalled = await RawRequest.start(env.port, "PATCH", path, headers, b"x" * 40)
    try:
        status, headers_ = await stalled.response()
        assert status == 408
        assert headers_["upload-offset"] == "40"
        assert headers_.get("connection", "").lower() == "close"
    finally:
        await stalled.close()
    assert await env.offset(path) == 40
    assert store.lock_users(upload_id) == 0
    assert (await env.patch(path, 40, b"y" * 60))[0] == 204


async def test_slow_but_steady_patch_is_not_cut(
    tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    app, store, _ = make_app(tmp_path, stall_timeout_s=0.5)
    env = Env(await aiohttp_client(app), store, RecordingHooks(), FakeClock())
    path, _ = await env.create(70)
    headers = tus_headers(Upload_Offset="0", Content_Length="70", **OCTET)
    slow = await RawRequest.start(env.port, "PATCH", path, headers, b"s" * 10)
    try:
        # Longer than the stall timeout in total, but never idle that long.
        for _ in range(6):
            await asyncio.sleep(0.1)
            await slow.send(b"s" * 10)
        status, headers_ = await slow.response()
    finally:
        await slow.close()
    assert status == 204
    assert headers_["upload-offset"] == "70"


async def test_stalled_patch_with_checksum_is_discarded(
    tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    app, store, _ = make_app(tmp_path, stall_timeout_s=0.2)
    env = Env(await aiohttp_client(app), store, RecordingHooks(), FakeClock())
    path, _ = await env.create(100)
    headers = tus_headers(
        Upload_Offset="0",
        Content_Length="100",
        Upload_Checksum=checksum("sha1", b"x" * 100),
        **OCTET,
    )
    stalled = await RawRequest.start(env.port, "PATCH", path, headers, b"x" * 40)
    try:
        assert (await stalled.response())[0] == 408
    finally:
        await stalled.close()
    assert await env.offset(path) == 0


async def test_a_resume_takes_over_from_a_patch_its_client_gave_up_on(
    tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    # The unit's request timed out on a dead connection (a stall); the server still waits for
    # the body. Its resume (HEAD, then PATCH) must not wait for the 30 s stall timeout.
    app, store, endpoint = make_app(tmp_path, stall_timeout_s=30, lock_wait_s=3)
    endpoint.takeover_idle_s = 0.3
    env = Env(await aiohttp_client(app), store, RecordingHooks(), FakeClock())
    data = b"x" * 100
    path, upload_id = await env.create(len(data))
    headers = tus_headers(
        Upload_Offset="0", Content_Length="100", Upload_Checksum=checksum("sha1", data), **OCTET
    )
    dead = await RawRequest.start(env.port, "PATCH", path, headers, data[:40])
    try:
        await wait_until(lambda: store.lock_users(upload_id) == 1)
        assert await env.offset(path) == 0  # settled: the unverifiable part was dropped
        # The taken-over handler lets go of the lock as it unwinds: on a loaded machine that
        # came a moment after the HEAD's answer (a full run failed on it once).
        await wait_until(lambda: store.lock_users(upload_id) == 0)
        status, headers_, _ = await env.patch(path, 0, data)
        assert (status, headers_["Upload-Offset"]) == (204, "100")
        assert (await dead.response())[0] == 408
    finally:
        await dead.close()


async def test_broken_off_patch_keeps_what_arrived(env: Env) -> None:
    data = os.urandom(900 * 1024)
    path, upload_id = await env.create(len(data))
    headers = tus_headers(Upload_Offset="0", Content_Length=str(len(data)), **OCTET)
    broken = await RawRequest.start(env.port, "PATCH", path, headers, data[: 600 * 1024])
    data_file = env.store.data_path(upload_id)
    # The test app writes in 256 KiB batches: wait until the server is visibly consuming.
    await wait_until(lambda: data_file.stat().st_size > 0)
    await broken.close(abort=True)
    await wait_until(lambda: env.store.lock_users(upload_id) == 0)
    kept = await env.offset(path)
    assert 256 * 1024 <= kept <= 600 * 1024
    assert data_file.read_bytes() == data[:kept]
    assert (await env.patch(path, kept, data[kept:]))[0] == 204
    assert env.hooks.completed[0][3] == hashlib.sha256(data).hexdigest()


async def test_disk_full_is_507_and_discards(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    path, upload_id = await env.create(10)
    assert (await env.patch(path, 0, b"abc"))[0] == 204

    def full(*args: Any) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "pwritev", full)
    status, _, text = await env.patch(path, 3, b"defg")
    assert status == 507
    assert "disk is full" in text
    monkeypatch.undo()
    assert env.store.data_path(upload_id).read_bytes() == b"abc"
    assert (await env.patch(path, 3, b"defghij"))[0] == 204


async def test_head_reports_a_settled_offset_while_a_patch_is_stuck(env: Env) -> None:
    path, upload_id = await env.create(10)
    env.store.lock_wait_s = 0.1
    headers = tus_headers(Upload_Offset="0", Content_Length="10", **OCTET)
    stuck = await RawRequest.start(env.port, "PATCH", path, headers, b"")
    try:
        await wait_until(lambda: env.store.lock_users(upload_id) == 1)
        status, headers_ = await env.head(path)
        assert status == 200
        assert headers_["Upload-Offset"] == "0"
    finally:
        await stuck.close(abort=True)


# --- recovery after a crash ---------------------------------------------------------------


async def test_recover_after_crash(tmp_path: Path, aiohttp_client: ClientFactory) -> None:
    root = tmp_path / "uploads"
    hooks = RecordingHooks()
    store = UploadStore(root)
    # Crash 1: all bytes fsync'd but the info file still says "receiving".
    full = await store.create(owner="unit:a", owner_info=_unit_a(), length=4, metadata={})
    store.data_path(full.id).write_bytes(b"abcd")
    # Crash 2: marked received, completion hook never finished.
    received = await store.create(owner="unit:a", owner_info=_unit_a(), length=2, metadata={})
    store.data_path(received.id).write_bytes(b"ef")
    await store.mark_received(received)
    # Crash 3: half an upload; its offset is simply the bytes on disk.
    partial = await store.create(owner="unit:a", owner_info=_unit_a(), length=8, metadata={})
    store.data_path(partial.id).write_bytes(b"ghi")
    # Debris: a temp file and a data file without a record.
    (root / ".x.json.abc.tmp").write_bytes(b"{")
    orphan = root / ("B" * 22 + ".bin")
    orphan.write_bytes(b"orphan")

    app, _, _ = make_app(root, hooks=hooks)
    env = Env(await aiohttp_client(app), store, hooks, FakeClock())

    done = {upload_id for _, upload_id, _, _ in hooks.completed}
    assert done == {full.id, received.id}
    assert not orphan.exists()
    assert not list(root.glob(".*.tmp"))
    status, headers = await env.head(f"{PREFIX}/{full.id}")
    assert status == 200
    assert json.loads(headers["Lessoncam-Upload-Result"])["bytes"] == 4
    assert await env.offset(f"{PREFIX}/{partial.id}") == 3
    assert (await env.patch(f"{PREFIX}/{partial.id}", 3, b"jklmn"))[0] == 204


async def test_completion_retried_by_sweep(tmp_path: Path, aiohttp_client: ClientFactory) -> None:
    hooks = RecordingHooks(fail_complete=2)
    app, store, endpoint = make_app(tmp_path, hooks=hooks)
    info = await store.create(owner="unit:a", owner_info=_unit_a(), length=1, metadata={})
    store.data_path(info.id).write_bytes(b"x")
    await store.mark_received(info)
    await aiohttp_client(app)  # start-up recover fails once
    assert hooks.completed == []
    await endpoint.sweep()  # fails again
    await endpoint.sweep()
    assert [c[1] for c in hooks.completed] == [info.id]
    info_after = store.get(info.id)
    assert info_after is not None and info_after.completed


async def test_recover_keeps_a_lost_data_file_resumable(tmp_path: Path) -> None:
    store = UploadStore(tmp_path)
    info = await store.create(owner="unit:a", length=5, metadata={})
    store.data_path(info.id).unlink()
    assert await store.recover() == []
    assert store.offset(info) == 0
    assert store.data_path(info.id).exists()


async def test_unreadable_info_is_unknown(tmp_path: Path) -> None:
    store = UploadStore(tmp_path)
    info = await store.create(owner="unit:a", length=5, metadata={})
    (tmp_path / f"{info.id}.json").write_text("{not json")
    assert store.get(info.id) is None
    await store.save(replace(info, metadata={"k": "v"}))
    got = store.get(info.id)
    assert got is not None and got.metadata == {"k": "v"}


# --- small pieces -------------------------------------------------------------------------


def test_metadata_round_trip() -> None:
    metadata = {"filename": "cam0/0001.ts", "empty": "", "unicode": "caf\u00e9 \u2192 groep 5"}
    assert parse_metadata(encode_metadata(metadata)) == metadata
    assert parse_metadata("") == {}
    assert parse_metadata(" a ,b " + b64("x")) == {"a": "", "b": "x"}


def test_ids_are_strict() -> None:
    assert not is_valid_upload_id("../../../etc/passwd")
    assert not is_valid_upload_id("A" * 21)
    assert not is_valid_upload_id("A" * 22 + "\n")
    assert is_valid_upload_id("Ab-_" * 5 + "zz")
    with pytest.raises(ValueError, match="malformed"):
        UploadStore(Path("/nonexistent")).data_path("../x")


def test_principal_snapshot_round_trip() -> None:
    user = User(id=3, username="t3", display_name="T", role="coach", csrf_token="secret")
    snapshot = principal_snapshot(user)
    assert "secret" not in json.dumps(snapshot)
    assert principal_from_snapshot(snapshot) == replace(user, csrf_token="")
    unit = Unit(id="a", name="A", teacher_id=7)
    assert principal_from_snapshot(principal_snapshot(unit)) == unit
    assert principal_from_snapshot({"kind": "robot"}) is None
    assert principal_from_snapshot({"kind": "user", "id": "x", "role": "teacher"}) is None


def test_operations_for_openapi() -> None:
    seen = {(op["method"], op["path"]) for op in TUS_OPERATIONS}
    assert ("POST", f"{PREFIX}/") in seen
    for method in ("HEAD", "PATCH", "DELETE", "OPTIONS"):
        assert (method, f"{PREFIX}/{{upload_id}}") in seen
    for op in TUS_OPERATIONS:
        assert op["summary"]
        assert all(code.isdigit() for code in op["responses"])


def _unit_a() -> dict[str, Any]:
    return {"kind": "unit", "id": "a", "name": "A", "teacher_id": None}
