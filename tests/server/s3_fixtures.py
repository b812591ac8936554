"""An S3-compatible server process for the bucket tests (moto's server mode, from PyPI), and
what the tests need around it: a fresh bucket per test, a credentials file, an observer client
that talks to the bucket directly (not through the fault proxy the server uses).

The fixtures at the end are shared by the bucket test modules: import them by their function
names (``# noqa: F401``); the tests use them by their fixture names.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from lessoncam_server.config import S3StoreConfig
from lessoncam_server.media.store.s3 import S3Store
from lessoncam_server.services import Services

from ..faultproxy import Proxy
from .helpers import FakeClock, Person, UnitClient

ACCESS_KEY = "lessoncam-test"
SECRET_KEY = "lessoncam-test-secret"
START_TIMEOUT_S = 30


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def s3_server() -> Iterator[int]:
    """Run ``moto_server`` on a free loopback port for the block; yields the port."""
    port = _free_port()
    binary = str(Path(sys.executable).parent / "moto_server")
    process = subprocess.Popen(
        [binary, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the S3 test server did not start") from None
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def observer(port: int) -> Any:
    """A plain boto3 client on the S3 server itself (to look at what the bucket holds)."""
    return boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


def new_bucket(port: int) -> str:
    name = f"lessons-{uuid.uuid4().hex[:12]}"
    observer(port).create_bucket(Bucket=name)
    return name


def credentials_file(folder: Path) -> Path:
    """The keys in the TOML file the server reads, private to its account."""
    path = folder / "s3-credentials.toml"
    path.write_text(f'access_key_id = "{ACCESS_KEY}"\nsecret_access_key = "{SECRET_KEY}"\n')
    os.chmod(path, 0o600)
    return path


def s3_settings(endpoint: str, bucket: str, creds: Path, **extra: Any) -> dict[str, Any]:
    """``[storage.s3]`` for a test: small parts, short timeouts and waits."""
    return {
        "endpoint": endpoint,
        "bucket": bucket,
        "path_style": True,
        "credentials_file": str(creds),
        "part_size_mib": 5,
        "timeout_s": 3.0,
        "retry_max_s": 1.0,
        **extra,
    }


def objects(port: int, bucket: str, prefix: str = "") -> dict[str, int]:
    """Every object in the bucket under ``prefix``: key -> size."""
    client = observer(port)
    found: dict[str, int] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            found[item["Key"]] = item["Size"]
    return found


def object_sha256(port: int, bucket: str, key: str) -> str:
    body = observer(port).get_object(Bucket=bucket, Key=key)["Body"].read()
    return hashlib.sha256(body).hexdigest()


def open_uploads(port: int, bucket: str) -> list[Any]:
    """Multipart uploads begun and neither completed nor aborted."""
    return list(observer(port).list_multipart_uploads(Bucket=bucket).get("Uploads", []))


def lesson_keys(port: int, bucket: str, rid: str) -> dict[str, int]:
    """The objects of one lesson: key -> size."""
    return objects(port, bucket, f"lessoncam/recordings/{rid}/")


def media_files(services: Services, rid: str) -> list[str]:
    """The files the server keeps of a lesson (none once the bucket holds it)."""
    folder = services.paths.recording_dir(rid)
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def media_size(services: Services, rid: str, camera: str) -> int:
    row = services.db.execute(
        "SELECT size FROM media WHERE recording_id = ? AND camera = ?", [rid, camera]
    ).fetchone()
    return int(row[0])


async def until(check: Callable[[], Awaitable[bool]], limit_s: float = 60.0) -> None:
    """Wait until ``check`` answers True (at most ``limit_s``)."""
    deadline = asyncio.get_running_loop().time() + limit_s
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.1)


@dataclass
class BucketWorld:
    """A server whose lessons go to a fresh bucket behind the fault proxy, with its teacher,
    unit and clock, and a view of the bucket itself."""

    anna: Person
    unit: UnitClient
    services: Services
    clock: FakeClock
    tmp_path: Path
    s3_port: int
    bucket: str
    proxy: Proxy

    def keys(self, rid: str) -> dict[str, int]:
        return lesson_keys(self.s3_port, self.bucket, rid)

    def sha256(self, rid: str, name: str) -> str:
        return object_sha256(self.s3_port, self.bucket, f"lessoncam/recordings/{rid}/{name}")

    def open_uploads(self) -> list[Any]:
        return open_uploads(self.s3_port, self.bucket)

    async def state(self, rid: str) -> str:
        return str((await self.anna.json("GET", f"/api/v1/lessons/{rid}"))["state"])


@pytest.fixture(scope="module", name="s3_port")
def s3_port_fixture() -> Iterator[int]:
    with s3_server() as port:
        yield port


@pytest.fixture(name="bucket")
def bucket_fixture(s3_port: int) -> str:
    return new_bucket(s3_port)


@pytest.fixture(name="proxy")
async def proxy_fixture(s3_port: int) -> AsyncIterator[Proxy]:
    async with Proxy(s3_port) as link:
        yield link


@pytest.fixture(name="store_extra")
def store_extra_fixture() -> dict[str, Any]:
    """What a test adds to [storage] (media, presigned...)."""
    return {"media": "s3"}


@pytest.fixture(name="config_data")
def config_data_fixture(
    tmp_path: Path, proxy: Proxy, bucket: str, store_extra: dict[str, Any]
) -> dict[str, Any]:
    extra = dict(store_extra)
    s3_extra = extra.pop("s3", {})
    creds = credentials_file(tmp_path)
    return {
        "storage": {
            "data_dir": str(tmp_path / "data"),
            "s3": s3_settings(proxy.url(), bucket, creds, **s3_extra),
            **extra,
        }
    }


@pytest.fixture(name="world")
def world_fixture(
    anna: Person,
    unit: UnitClient,
    services: Services,
    clock: FakeClock,
    tmp_path: Path,
    s3_port: int,
    bucket: str,
    proxy: Proxy,
) -> BucketWorld:
    return BucketWorld(anna, unit, services, clock, tmp_path, s3_port, bucket, proxy)


@pytest.fixture(name="direct_store")
async def direct_store_fixture(proxy: Proxy, bucket: str, tmp_path: Path) -> AsyncIterator[S3Store]:
    """The bucket as a store of its own (no server), behind the fault proxy."""
    config = S3StoreConfig.model_validate(
        s3_settings(proxy.url(), bucket, credentials_file(tmp_path), timeout_s=2.0)
    )
    async with S3Store.connect(config) as store:
        yield store
