"""The media store's small parts, without a bucket: retry waits, the checksums S3 answers,
object names, the config, the credentials file, error texts without the bucket's URL, and
the local store's ranges."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from botocore.exceptions import ClientError, EndpointConnectionError

from lessoncam_common.config_errors import ConfigError
from lessoncam_server.app import init_app
from lessoncam_server.config import parse_config
from lessoncam_server.infra.paths import DataPaths
from lessoncam_server.media.store import LocalStore, ObjectMissing, StoreUnavailable
from lessoncam_server.media.store.backoff import retry_delay
from lessoncam_server.media.store.base import RangeNotSatisfiable
from lessoncam_server.media.store.checksums import etag_of, part_md5s
from lessoncam_server.media.store.live_upload import part_size_for
from lessoncam_server.media.store.names import checked_name
from lessoncam_server.media.store.s3 import describe, read_credentials

RID = "01JD0000000000000000000001"


def _md5(data: bytes) -> bytes:
    return hashlib.md5(data, usedforsecurity=False).digest()


def test_a_live_upload_s_first_part_holds_every_byte_that_may_still_change() -> None:
    mib = 1024 * 1024
    assert part_size_for(16 * mib, 11_412_334) == 16 * mib  # the configured size suffices
    assert part_size_for(5 * mib, 11_412_334) == 11 * mib  # grown to whole MiB past the head
    assert part_size_for(5 * mib, 11 * mib) == 11 * mib
    assert part_size_for(1 * mib, 100) == 5 * mib  # never under S3's smallest part


def test_retry_waits_double_from_five_seconds_up_to_the_cap() -> None:
    assert [retry_delay(n, 300) for n in range(0, 8)] == [0, 5, 10, 20, 40, 80, 160, 300]
    assert retry_delay(10_000, 60) == 60


@pytest.mark.parametrize("size", [0, 1, 5, 10, 11, 25])
def test_the_etag_of_a_file_is_the_one_s3_computes(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = tmp_path / "f"
    path.write_bytes(data)
    digests = part_md5s(path, 5)
    assert len(digests) == max(1, -(-size // 5))
    if size <= 5:
        assert etag_of(digests, multipart=False) == _md5(data).hex()
    parts = [_md5(data[i : i + 5]) for i in range(0, max(size, 1), 5)]
    expected = _md5(b"".join(parts)).hex()
    assert etag_of(digests, multipart=True) == f"{expected}-{len(parts)}"


@pytest.mark.parametrize(
    "name", ["main.v1.mp4", "pupils.v12.thumbs.jpg", "poster.v3.jpg", "cam_2.v1.mp4"]
)
def test_media_names_are_accepted(name: str) -> None:
    assert checked_name(name) == name


@pytest.mark.parametrize(
    "name", ["../x.v1.mp4", "main.mp4", "segments/000001.ts", "original.upload", "a/b.v1.mp4"]
)
def test_anything_else_is_never_an_object_name(name: str) -> None:
    with pytest.raises(ValueError):
        checked_name(name)


def test_a_bucket_store_needs_a_bucket() -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config({"storage": {"media": "s3"}})
    assert "bucket" in str(refused.value.report())
    config = parse_config(
        {"storage": {"media": "s3", "s3": {"bucket": "lessons", "presigned": True}}}
    )
    assert config.storage.s3.presigned_seconds == 60
    with pytest.raises(ConfigError):  # a presigned URL lives a minute at most
        parse_config({"storage": {"s3": {"bucket": "b", "presigned_seconds": 3600}}})
    with pytest.raises(ConfigError):
        parse_config({"storage": {"s3": {"prefix": "no-slash"}}})


def test_the_credentials_file_must_be_private(tmp_path: Path) -> None:
    path = tmp_path / "keys.toml"
    path.write_text('access_key_id = "AK"\nsecret_access_key = "SK"\n')
    path.chmod(0o644)
    with pytest.raises(StoreUnavailable, match="chmod 600"):
        read_credentials(path)
    path.chmod(0o600)
    assert read_credentials(path) == {"aws_access_key_id": "AK", "aws_secret_access_key": "SK"}
    path.write_text('access_key_id = "AK"\n')
    with pytest.raises(StoreUnavailable, match="secret_access_key"):
        read_credentials(path)


def test_errors_never_carry_the_bucket_url() -> None:
    down = EndpointConnectionError(endpoint_url="https://s3.secret.example:9000/bucket")
    assert "secret" not in describe(down) and "EndpointConnectionError" in describe(down)
    denied = ClientError(
        {"Error": {"Code": "AccessDenied"}, "ResponseMetadata": {"HTTPStatusCode": 403}},
        "PutObject",
    )
    assert describe(denied) == "access denied: check the key's policy (AccessDenied, HTTP 403)"


async def test_the_local_store_reads_ranges_like_the_bucket(tmp_path: Path) -> None:
    paths = DataPaths(tmp_path)
    store = LocalStore(paths)
    data = os.urandom(3000)
    paths.recording_dir(RID).mkdir(parents=True)
    (paths.recording_dir(RID) / "main.v1.mp4").write_bytes(data)

    async def read(first: int | None, last: int | None) -> bytes:
        opened = await store.open_range(RID, "main.v1.mp4", first, last)
        try:
            return b"".join([chunk async for chunk in opened.body])
        finally:
            await opened.close()

    assert await read(None, None) == data
    assert await read(10, 19) == data[10:20]
    assert await read(None, 100) == data[-100:]
    assert await read(2990, None) == data[2990:]
    with pytest.raises(RangeNotSatisfiable):
        await read(3000, None)
    with pytest.raises(ObjectMissing):
        await store.open_range(RID, "poster.v1.jpg", None, None)
    assert await store.names(RID) == {"main.v1.mp4": 3000}
    assert await store.lessons() == {RID}
    await store.delete_lesson(RID)
    assert await store.lessons() == set()


async def test_a_credentials_file_others_may_read_stops_the_server_starting(
    tmp_path: Path, aiohttp_server: Callable[..., Awaitable[TestServer]]
) -> None:
    keys = tmp_path / "keys.toml"
    keys.write_text('access_key_id = "AK"\nsecret_access_key = "SK"\n')
    keys.chmod(0o640)
    config = parse_config(
        {
            "storage": {
                "data_dir": str(tmp_path / "data"),
                "s3": {"bucket": "lessons", "credentials_file": str(keys)},
            }
        }
    )
    with pytest.raises(ConfigError) as refused:
        await aiohttp_server(init_app(config))
    assert "chmod 600" in refused.value.report()
