"""What a media store is: the place a lesson's made media (videos, poster, thumbnail strips)
lives once it is ready. Two kinds: the data directory (``local.py``, the default) and an
S3-compatible bucket (``s3.py``). Each lesson row names its store (``recordings.media_store``),
so lessons can move one at a time (``migrate.py``) while the server serves them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

StoreKind = Literal["local", "s3"]

#: The lesson's state reason while its media waits for the bucket.
WAITING_FOR_STORE = "waiting for the media store; it is stored as soon as the store answers"


class StoreUnavailable(Exception):
    """The store did not do what was asked (down, slow, refused, throttled, wrong credentials,
    bucket gone). The message never holds the bucket's URL: it is logged and shown."""


class ObjectMissing(Exception):
    """The object asked for is not in the store."""


class ObjectDamaged(StoreUnavailable):
    """A copy's size or checksum differs from the original's: nothing is switched or deleted,
    and it is tried again like any other failure of the store."""


@dataclass(frozen=True)
class StoredObject:
    """One object as the store holds it: its size and an entity tag that changes with it."""

    size: int
    etag: str


class RangeNotSatisfiable(Exception):
    """The range asked for lies outside the object (416); ``size`` is the object's."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


@dataclass
class OpenedRange:
    """An object's bytes on their way: ``start``..``end`` (inclusive) of ``size``."""

    size: int
    start: int
    end: int
    etag: str
    partial: bool
    body: AsyncIterator[bytes]
    close: Callable[[], Awaitable[None]]


class MediaStore(Protocol):
    """A place for lesson media, addressed by recording id and file name (``main.v2.mp4``)."""

    kind: StoreKind

    async def put(self, recording_id: str, name: str, source: Path) -> StoredObject:
        """Store ``source`` under ``name``, verified (size and checksum) before returning."""

    async def head(self, recording_id: str, name: str) -> StoredObject:
        """The object's size and tag; ObjectMissing when it is not there."""

    async def open_range(
        self, recording_id: str, name: str, first: int | None, last: int | None
    ) -> OpenedRange:
        """Start reading the object: whole (both None), ``first`` to ``last`` (inclusive;
        ``last`` None: to the end) or its last ``last`` bytes (``first`` None). Raises
        RangeNotSatisfiable for a range past the end, ObjectMissing, StoreUnavailable."""

    async def fetch(self, recording_id: str, name: str, dest: Path) -> StoredObject:
        """Copy the object to the local file ``dest`` (written under a temporary name and
        renamed), verified against the store's size and checksum."""

    async def names(self, recording_id: str) -> dict[str, int]:
        """The objects of one lesson: name -> size."""

    async def lessons(self) -> set[str]:
        """Every recording id that has at least one object in the store."""

    async def delete_lesson(self, recording_id: str) -> None:
        """Remove every object of the lesson; returns only when the store holds none."""

    async def presign(
        self, recording_id: str, name: str, content_type: str, disposition: str | None
    ) -> str | None:
        """A short-lived URL that serves the object directly, or None (not offered)."""

    async def probe(self) -> None:
        """Raise StoreUnavailable when the store cannot be reached or used now."""


@dataclass(frozen=True)
class SentPart:
    """One part of a multipart upload the bucket took: its number, the MD5 of the bytes sent
    (the bucket checked them against it) and the ETag it answered."""

    number: int
    size: int
    digest: bytes
    etag: str


@runtime_checkable
class MultipartStore(MediaStore, Protocol):
    """A store that takes an object in parts sent one by one (the bucket): an object can be
    sent while its file is still being written (``live_upload.py``)."""

    #: The part size configured for the store (a caller may use larger parts).
    part_size: int

    async def begin_upload(self, recording_id: str, name: str, part_size: int) -> str:
        """Start a multipart upload of ``name`` in parts of ``part_size``; its upload id."""

    async def send_part(
        self, recording_id: str, name: str, upload_id: str, number: int, data: bytes
    ) -> SentPart:
        """Send part ``number`` (1-based) with its Content-MD5; the bucket refuses damage."""

    async def finish_upload(
        self, recording_id: str, name: str, upload_id: str, parts: Sequence[SentPart]
    ) -> StoredObject:
        """Complete the upload from ``parts`` and verify the object (ETag from the parts'
        digests, size their sum); ObjectDamaged when it differs. The caller aborts on error."""

    async def abort_upload(self, recording_id: str, name: str, upload_id: str) -> None:
        """Drop an unfinished upload and its parts (no object appears); done when gone."""

    async def abort_stale_uploads(self, before: datetime) -> int:
        """Abort every unfinished upload under our prefix begun before ``before`` (left by a
        server that stopped mid-upload); how many went."""
