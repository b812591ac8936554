"""An S3-compatible bucket as a media store (MinIO, Ceph RGW, a cloud bucket), through
aiobotocore: asynchronous, on the server's own event loop, maintained with botocore.

Every object is written with its parts' Content-MD5 (the bucket refuses a damaged part), and
the ETag the bucket answers is compared with the one computed from our file before the caller
may treat it as stored. Errors leave here as ``StoreUnavailable`` with a message that names
what went wrong but never the bucket's URL (it ends up in logs and on pages).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import stat
import tomllib
from collections.abc import AsyncIterator, Awaitable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from lessoncam_common.durable import fsync_path

from ...config import S3StoreConfig
from ...infra.paths import RECORDING_ID
from .base import (
    ObjectDamaged,
    ObjectMissing,
    OpenedRange,
    RangeNotSatisfiable,
    SentPart,
    StoredObject,
    StoreKind,
    StoreUnavailable,
)
from .checksums import bare, content_md5, etag_of, part_md5s
from .names import checked_name

log = logging.getLogger(__name__)

T = TypeVar("T")
_MISSING = {"NoSuchKey", "404", "NotFound"}
_PIECE = 1024 * 1024
PART_SIZE_META = "lessoncam-part-size"


def read_credentials(path: Path) -> dict[str, str]:
    """The keys in ``credentials_file`` (TOML: access_key_id, secret_access_key, optional
    session_token); refused when others than the server's account may read it."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise StoreUnavailable(f"{path} may be read by others: chmod 600 it")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    try:
        keys = {
            "aws_access_key_id": str(data["access_key_id"]),
            "aws_secret_access_key": str(data["secret_access_key"]),
        }
    except KeyError as exc:
        raise StoreUnavailable(f"{path} has no {exc.args[0]}") from None
    if "session_token" in data:
        keys["aws_session_token"] = str(data["session_token"])
    return keys


def _md5(data: bytes) -> bytes:
    return hashlib.md5(data, usedforsecurity=False).digest()


def describe(exc: BaseException) -> str:
    """What went wrong, in words for ICT and without the bucket's URL."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = err.get("Code", "?")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
        hints = {
            "NoSuchBucket": "the bucket does not exist",
            "AccessDenied": "access denied: check the key's policy",
            "InvalidAccessKeyId": "the access key is not known to the bucket service",
            "SignatureDoesNotMatch": "the secret key is wrong",
            "SlowDown": "the bucket asks us to slow down",
            "BadDigest": "a part arrived damaged",
        }
        return f"{hints.get(code, 'the bucket refused the request')} ({code}, HTTP {status})"
    if isinstance(exc, TimeoutError):
        return "the bucket did not answer in time"
    # botocore's own messages may carry the endpoint URL: name the kind of failure only.
    return f"the bucket could not be reached ({type(exc).__name__})"


class S3Store:
    """Lesson media as objects ``<prefix>recordings/<id>/<name>`` in one bucket."""

    kind: StoreKind = "s3"

    def __init__(self, config: S3StoreConfig, client: Any) -> None:
        self.config = config
        self.client = client
        self.part_size = config.part_size_mib * 1024 * 1024

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, config: S3StoreConfig) -> AsyncIterator[S3Store]:
        """A store with its client open for the block (connections are pooled)."""
        keys = read_credentials(config.credentials_file) if config.credentials_file else {}
        boto_config = AioConfig(
            s3={"addressing_style": "path" if config.path_style else "virtual"},
            signature_version="s3v4",
            connect_timeout=config.timeout_s,
            read_timeout=config.timeout_s,
            retries={"max_attempts": 3, "mode": "standard"},
            # Only what S3-compatible servers all know: no default CRC trailers.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            max_pool_connections=32,
        )
        kwargs: dict[str, Any] = {
            "region_name": config.region,
            "config": boto_config,
            **keys,
        }
        if config.endpoint:
            kwargs["endpoint_url"] = config.endpoint
        if config.ca_file is not None:
            kwargs["verify"] = str(config.ca_file)
        async with get_session().create_client("s3", **kwargs) as client:
            yield cls(config, client)

    def key(self, recording_id: str, name: str) -> str:
        return f"{self.lesson_prefix(recording_id)}{checked_name(name)}"

    def lesson_prefix(self, recording_id: str) -> str:
        if not RECORDING_ID.fullmatch(recording_id):
            raise ValueError(f"not a valid recording id: {recording_id!r}")
        return f"{self.config.prefix}recordings/{recording_id}/"

    async def _call(self, what: str, coro: Awaitable[T]) -> T:
        try:
            return await coro
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _MISSING:
                raise ObjectMissing(what) from None
            raise StoreUnavailable(f"{what}: {describe(exc)}") from None
        except (BotoCoreError, OSError, TimeoutError) as exc:
            raise StoreUnavailable(f"{what}: {describe(exc)}") from None
        except Exception as exc:  # aiohttp's own errors under aiobotocore
            if type(exc).__module__.startswith("aiohttp"):
                raise StoreUnavailable(f"{what}: {describe(exc)}") from None
            raise

    def _sse(self) -> dict[str, str]:
        if self.config.sse == "none":
            return {}
        args: dict[str, str] = {"ServerSideEncryption": self.config.sse}
        if self.config.sse == "aws:kms" and self.config.sse_kms_key_id:
            args["SSEKMSKeyId"] = self.config.sse_kms_key_id
        return args

    def _etag_is_md5(self) -> bool:
        return self.config.sse != "aws:kms"

    async def put(self, recording_id: str, name: str, source: Path) -> StoredObject:
        size = source.stat().st_size
        if size > self.part_size:
            return await self._put_parts(recording_id, name, source, size)
        data = await asyncio.to_thread(source.read_bytes)
        digest = await asyncio.to_thread(_md5, data)  # up to a part: not on the event loop
        answer = await self._call(
            name,
            self.client.put_object(
                Bucket=self.config.bucket,
                Key=self.key(recording_id, name),
                Body=data,
                ContentMD5=content_md5(digest),
                **self._meta(self.part_size),
            ),
        )
        return await self._verify(recording_id, name, answer, etag_of([digest], False), size)

    async def _verify(
        self, recording_id: str, name: str, answer: dict[str, Any], expected: str, size: int
    ) -> StoredObject:
        """The bucket's answer must name the ETag computed from our bytes, and it must hold
        ``size`` bytes under ``name``."""
        got = bare(answer.get("ETag", ""))
        if self._etag_is_md5() and got != expected:
            raise ObjectDamaged(f"{name}: the bucket holds other bytes than were sent")
        held = await self.head(recording_id, name)
        if held.size != size:
            raise ObjectDamaged(f"{name}: the bucket holds {held.size} bytes, not {size}")
        return held

    def _meta(self, part_size: int) -> dict[str, Any]:
        # The part size goes with the object, so a copy fetched back is checked against it.
        return {"Metadata": {PART_SIZE_META: str(part_size)}, **self._sse()}

    async def _put_parts(
        self, recording_id: str, name: str, source: Path, size: int
    ) -> StoredObject:
        upload_id = await self.begin_upload(recording_id, name, self.part_size)
        count = -(-size // self.part_size)
        parts: list[SentPart | None] = [None] * count
        room = asyncio.Semaphore(self.config.parallel_parts)

        def read_part(number: int) -> bytes:
            with source.open("rb") as f:
                f.seek((number - 1) * self.part_size)
                return f.read(self.part_size)

        async def send(number: int) -> None:
            async with room:
                data = await asyncio.to_thread(read_part, number)
                parts[number - 1] = await self.send_part(
                    recording_id, name, upload_id, number, data
                )

        try:
            await asyncio.gather(*(send(n) for n in range(1, count + 1)))
            return await self.finish_upload(
                recording_id, name, upload_id, [p for p in parts if p is not None]
            )
        except BaseException:
            # A half-sent object never becomes visible; drop its parts (best effort: the
            # bucket's lifecycle rule for incomplete uploads, and the clean-up at the next
            # start, catch what this misses).
            with contextlib.suppress(Exception):
                await asyncio.shield(self.abort_upload(recording_id, name, upload_id))
            raise

    async def begin_upload(self, recording_id: str, name: str, part_size: int) -> str:
        created = await self._call(
            name,
            self.client.create_multipart_upload(
                Bucket=self.config.bucket,
                Key=self.key(recording_id, name),
                **self._meta(part_size),
            ),
        )
        return str(created["UploadId"])

    async def send_part(
        self, recording_id: str, name: str, upload_id: str, number: int, data: bytes
    ) -> SentPart:
        digest = await asyncio.to_thread(_md5, data)
        answer = await self._call(
            name,
            self.client.upload_part(
                Bucket=self.config.bucket,
                Key=self.key(recording_id, name),
                UploadId=upload_id,
                PartNumber=number,
                Body=data,
                ContentMD5=content_md5(digest),
            ),
        )
        return SentPart(number, len(data), digest, str(answer["ETag"]))

    async def finish_upload(
        self, recording_id: str, name: str, upload_id: str, parts: Sequence[SentPart]
    ) -> StoredObject:
        ordered = sorted(parts, key=lambda p: p.number)
        if [p.number for p in ordered] != list(range(1, len(ordered) + 1)):
            raise ObjectDamaged(f"{name}: parts missing from the upload")
        answer = await self._call(
            name,
            self.client.complete_multipart_upload(
                Bucket=self.config.bucket,
                Key=self.key(recording_id, name),
                UploadId=upload_id,
                MultipartUpload={
                    "Parts": [{"ETag": p.etag, "PartNumber": p.number} for p in ordered]
                },
            ),
        )
        expected = etag_of((p.digest for p in ordered), multipart=True)
        return await self._verify(
            recording_id, name, answer, expected, sum(p.size for p in ordered)
        )

    async def abort_upload(self, recording_id: str, name: str, upload_id: str) -> None:
        await self._abort(name, self.key(recording_id, name), upload_id)

    async def _abort(self, what: str, key: str, upload_id: str) -> None:
        async def abort() -> None:
            try:
                await self.client.abort_multipart_upload(
                    Bucket=self.config.bucket, Key=key, UploadId=upload_id
                )
            except ClientError as exc:  # gone already: aborted, or completed
                if exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
                    raise

        await self._call(what, abort())

    async def abort_stale_uploads(self, before: datetime) -> int:
        args: dict[str, Any] = {
            "Bucket": self.config.bucket,
            "Prefix": f"{self.config.prefix}recordings/",
        }
        stale: list[dict[str, Any]] = []
        while True:
            page = await self._call("uploads", self.client.list_multipart_uploads(**args))
            stale += [u for u in page.get("Uploads", []) if u["Initiated"] < before]
            if not page.get("IsTruncated"):
                break
            args["KeyMarker"] = page.get("NextKeyMarker", "")
            args["UploadIdMarker"] = page.get("NextUploadIdMarker", "")
        for upload in stale:
            await self._abort("uploads", upload["Key"], upload["UploadId"])
        return len(stale)

    async def head(self, recording_id: str, name: str) -> StoredObject:
        answer = await self._call(
            name,
            self.client.head_object(Bucket=self.config.bucket, Key=self.key(recording_id, name)),
        )
        return StoredObject(int(answer["ContentLength"]), bare(answer["ETag"]))

    async def open_range(
        self, recording_id: str, name: str, first: int | None, last: int | None
    ) -> OpenedRange:
        """Start reading the object: whole (both None), from ``first`` to ``last``
        (inclusive; ``last`` None: to the end) or its last ``last`` bytes (``first`` None).
        One request to the bucket, so the first byte comes as fast as the bucket's."""
        args: dict[str, Any] = {"Bucket": self.config.bucket, "Key": self.key(recording_id, name)}
        if first is not None or last is not None:
            args["Range"] = f"bytes={'' if first is None else first}-{'' if last is None else last}"
        try:
            answer = await self._call(name, self.client.get_object(**args))
        except StoreUnavailable as exc:
            if "InvalidRange" in str(exc):
                held = await self.head(recording_id, name)
                raise RangeNotSatisfiable(held.size) from None
            raise
        length = int(answer["ContentLength"])
        content_range = answer.get("ContentRange")
        if content_range:  # "bytes 0-99/1234"
            span, total = content_range.split(" ", 1)[1].split("/")
            start, end = (int(v) for v in span.split("-"))
            size = int(total)
        else:
            start, end, size = 0, length - 1, length
        body = answer["Body"]

        async def pieces() -> AsyncIterator[bytes]:
            try:
                async for chunk in body.iter_chunks(_PIECE):
                    yield chunk
            except Exception as exc:
                raise StoreUnavailable(f"{name}: {describe(exc)}") from None

        async def close() -> None:
            body.close()

        return OpenedRange(
            size=size,
            start=start,
            end=end,
            etag=bare(answer.get("ETag", "")),
            partial=bool(content_range),
            body=pieces(),
            close=close,
        )

    async def fetch(self, recording_id: str, name: str, dest: Path) -> StoredObject:
        key = self.key(recording_id, name)
        head = await self._call(name, self.client.head_object(Bucket=self.config.bucket, Key=key))
        size, etag = int(head["ContentLength"]), bare(head["ETag"])
        part_size = int(head.get("Metadata", {}).get(PART_SIZE_META, self.part_size))
        temp = dest.with_name(f".{dest.name}.fetch.tmp")
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            opened = await self.open_range(recording_id, name, None, None)
            try:
                with temp.open("wb") as f:
                    async for chunk in opened.body:
                        await asyncio.to_thread(f.write, chunk)
                    await asyncio.to_thread(os.fsync, f.fileno())
            finally:
                await opened.close()
            got_size = temp.stat().st_size
            if got_size != size:
                raise ObjectDamaged(f"{name}: {got_size} bytes came, the bucket holds {size}")
            if self._etag_is_md5():
                digests = await asyncio.to_thread(part_md5s, temp, part_size)
                if etag_of(digests, multipart="-" in etag) != etag:
                    raise ObjectDamaged(f"{name}: the copy's checksum differs from the bucket's")
            os.replace(temp, dest)
            fsync_path(dest.parent)
        finally:
            temp.unlink(missing_ok=True)
        return StoredObject(size, etag)

    async def _list(self, prefix: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            args: dict[str, Any] = {"Bucket": self.config.bucket, "Prefix": prefix}
            if token:
                args["ContinuationToken"] = token
            page = await self._call("list", self.client.list_objects_v2(**args))
            found.extend(page.get("Contents", []))
            if not page.get("IsTruncated"):
                return found
            token = page["NextContinuationToken"]

    async def names(self, recording_id: str) -> dict[str, int]:
        prefix = self.lesson_prefix(recording_id)
        return {o["Key"][len(prefix) :]: int(o["Size"]) for o in await self._list(prefix)}

    async def lessons(self) -> set[str]:
        prefix = f"{self.config.prefix}recordings/"
        return {o["Key"][len(prefix) :].split("/", 1)[0] for o in await self._list(prefix)}

    async def delete_lesson(self, recording_id: str) -> None:
        prefix = self.lesson_prefix(recording_id)
        while objects := await self._list(prefix):
            answer = await self._call(
                "delete",
                self.client.delete_objects(
                    Bucket=self.config.bucket,
                    Delete={"Objects": [{"Key": o["Key"]} for o in objects[:1000]], "Quiet": True},
                ),
            )
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise StoreUnavailable(f"delete: the bucket kept objects ({first.get('Code')})")

    async def presign(
        self, recording_id: str, name: str, content_type: str, disposition: str | None
    ) -> str | None:
        if not self.config.presigned:
            return None
        params = {
            "Bucket": self.config.bucket,
            "Key": self.key(recording_id, name),
            "ResponseContentType": content_type,
            "ResponseCacheControl": "no-store",
        }
        if disposition:
            params["ResponseContentDisposition"] = disposition
        url: str = await self._call(
            name,
            self.client.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=min(60, self.config.presigned_seconds)
            ),
        )
        return url

    async def probe(self) -> None:
        try:
            await self._call(
                "bucket",
                asyncio.wait_for(
                    self.client.head_bucket(Bucket=self.config.bucket),
                    timeout=min(5.0, self.config.timeout_s),
                ),
            )
        except ObjectMissing:
            raise StoreUnavailable("bucket: the bucket does not exist") from None
