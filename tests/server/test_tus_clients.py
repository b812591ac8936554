"""Unmodified tus clients (tuspy, aiotus) against the endpoint on a real loopback port."""

from __future__ import annotations

import asyncio
import hashlib
import io
import random
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import aiotus
import pytest
import yarl
from aiohttp import web
from aiohttp.test_utils import TestServer
from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError
from tusclient.storage.interface import Storage
from tusclient.uploader.uploader import Uploader

from ..faultproxy import Proxy
from .tus_helpers import COLLECTION, MIB, RecordingHooks, make_app

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]
AUTH = {"Authorization": "Bearer unit-a"}


def payload(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


class MemoryUrlStorage(Storage):
    """tuspy's URL store (fingerprint -> upload URL), kept in memory."""

    def __init__(self) -> None:
        self.urls: dict[str, str] = {}

    def get_item(self, key: str) -> str | None:
        return self.urls.get(key)

    def set_item(self, key: str, url: str) -> None:
        self.urls[key] = url

    def remove_item(self, key: str) -> None:
        self.urls.pop(key, None)


class KeptOpen(io.BytesIO):
    """A stream tuspy cannot close: it closes the stream after fingerprinting it."""

    def close(self) -> None:
        pass


class Served:
    def __init__(self, server: TestServer, hooks: RecordingHooks) -> None:
        self.server = server
        self.hooks = hooks

    def url(self, port: int | None = None) -> str:
        return f"http://127.0.0.1:{port or self.server.port}{COLLECTION}"

    def assert_received(self, data: bytes, *, uploads: int = 1) -> None:
        assert len(self.hooks.completed) == uploads
        assert self.hooks.completed[-1][3] == hashlib.sha256(data).hexdigest()


@pytest.fixture
async def served(tmp_path: Path, aiohttp_server: ServerFactory) -> Served:
    hooks = RecordingHooks()
    app, _, _ = make_app(tmp_path / "uploads", hooks=hooks, max_size=64 * MIB)
    return Served(await aiohttp_server(app), hooks)


async def test_tuspy_uploads_with_checksums(served: Served) -> None:
    data = payload(6 * MIB + 123, seed=1)
    client = TusClient(served.url(), headers=AUTH)
    uploader = client.uploader(
        file_stream=io.BytesIO(data),
        chunk_size=MIB,
        metadata={"recording": "01JD-lesson", "filename": "cam0/000001.ts"},
        upload_checksum=True,
    )
    await asyncio.to_thread(uploader.upload)
    served.assert_received(data)
    key, _, metadata, _ = served.hooks.completed[0]
    assert key == "unit:a"
    assert metadata == {"recording": "01JD-lesson", "filename": "cam0/000001.ts"}
    assert str(uploader.url).startswith("http://127.0.0.1:")


async def test_tuspy_async_uploader(served: Served) -> None:
    data = payload(3 * MIB, seed=2)
    client = TusClient(served.url(), headers=AUTH)
    # Chunks above 1 MiB make aiohttp (inside tuspy) warn about sending large raw bytes.
    uploader = client.async_uploader(file_stream=io.BytesIO(data), chunk_size=MIB)
    await uploader.upload()
    served.assert_received(data)


async def test_aiotus_upload_and_metadata(served: Served) -> None:
    data = payload(5 * MIB, seed=3)
    location = await aiotus.upload(
        served.url(),
        io.BytesIO(data),
        {"recording": b"01JD-lesson", "final": None},
        headers=AUTH,
        chunksize=MIB,
    )
    assert location is not None
    served.assert_received(data)
    assert await aiotus.metadata(location, headers=AUTH) == {
        "recording": b"01JD-lesson",
        "final": None,
    }
    async with aiohttp.ClientSession() as session:
        config = await aiotus.core.configuration(session, yarl.URL(served.url()))
    assert "checksum" in config.protocol_extensions
    assert config.max_size == 64 * MIB


async def test_tuspy_resumes_from_its_stored_url_after_a_cut(served: Served) -> None:
    data = payload(5 * MIB, seed=4)
    urls = MemoryUrlStorage()
    async with Proxy(served.server.port or 0, cut_after=2 * MIB + MIB // 2) as proxy:
        client = TusClient(served.url(proxy.port), headers=AUTH)

        def first_attempt() -> None:
            uploader = client.uploader(
                file_stream=KeptOpen(data),
                chunk_size=MIB,
                store_url=True,
                url_storage=urls,
            )
            uploader.upload()

        with pytest.raises(TusCommunicationError):
            await asyncio.to_thread(first_attempt)
        assert proxy.cuts == 1
        assert served.hooks.completed == []
        assert len(urls.urls) == 1

        def resume() -> int:
            uploader = client.uploader(
                file_stream=KeptOpen(data),
                chunk_size=MIB,
                store_url=True,
                url_storage=urls,
            )
            start = int(uploader.offset)  # tuspy asked the server (HEAD) where to go on
            uploader.upload()
            return start

        resumed_at = await asyncio.to_thread(resume)
    assert 2 * MIB <= resumed_at < 5 * MIB
    served.assert_received(data)


async def test_tuspy_retries_through_a_cut(served: Served) -> None:
    data = payload(4 * MIB, seed=5)
    async with Proxy(served.server.port or 0, cut_after=MIB + MIB // 3) as proxy:
        client = TusClient(served.url(proxy.port), headers=AUTH)
        uploader: Uploader = client.uploader(
            file_stream=io.BytesIO(data),
            chunk_size=MIB,
            retries=3,
            retry_delay=0,
            upload_checksum=True,
        )
        await asyncio.to_thread(uploader.upload)
        assert proxy.cuts == 1
    served.assert_received(data)


async def test_aiotus_retries_through_a_cut(served: Served) -> None:
    data = payload(4 * MIB + 7, seed=6)
    async with Proxy(served.server.port or 0, cut_after=2 * MIB + 1000) as proxy:
        location = await aiotus.upload(
            served.url(proxy.port),
            io.BytesIO(data),
            headers=AUTH,
            chunksize=MIB,
            config=aiotus.RetryConfiguration(retry_attempts=3, max_retry_period_seconds=0),
        )
        assert proxy.cuts == 1
    assert location is not None
    served.assert_received(data)
