"""On-disk store of resumable uploads, independent of HTTP and of the database.

One directory holds, per upload, a data file ``<id>.bin`` and an info file ``<id>.json``.
The info file is small and always replaced atomically (temp file, fsync, ``os.replace``, fsync of
the directory). The upload offset is never stored: it is the data file's size on disk, which is
the truth after a crash. An upload goes through these states:

``receiving``  bytes are arriving; offset = size of the data file.
``received``   every byte is on disk (fsync'd); the completion hook has not confirmed it yet.
``completed``  the completion hook accepted it; ``result`` holds what the hook returned.
``expired``    a tombstone: the data is gone, the record stays a while so clients get 410.

Completed records and tombstones are removed ``keep_finished`` after they reached that state.
Writes to one upload are serialised by a per-upload asyncio lock (``locked``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Literal

from lessoncam_common.durable import TEMP_SUFFIX, write_json_atomic

from ..infra.timeutil import Clock, from_iso, to_iso, utc_now
from .writer import Digest, UploadWriter

log = logging.getLogger(__name__)

UploadState = Literal["receiving", "received", "completed", "expired"]

# secrets.token_urlsafe(16) is 22 characters of the URL-safe base64 alphabet (128 bits).
_ID_BYTES = 16
UPLOAD_ID_RE = re.compile(r"\A[A-Za-z0-9_-]{22}\Z")

_DATA_SUFFIX = ".bin"
_INFO_SUFFIX = ".json"


class UploadLocked(Exception):
    """Another request holds the upload's lock and did not let go in time."""

    def __init__(self, upload_id: str) -> None:
        super().__init__(f"upload {upload_id} is busy")
        self.upload_id = upload_id


class OffsetMismatch(Exception):
    """A write was asked to start somewhere other than the end of the data on disk."""

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"upload is at offset {actual}, not {expected}")
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True, slots=True)
class UploadInfo:
    """What the store knows about one upload (the contents of its info file)."""

    id: str
    owner: str
    length: int
    metadata: dict[str, str]
    created_at: datetime
    expires_at: datetime
    state: UploadState = "receiving"
    # Enough about the owner to call the completion hook again after a restart.
    owner_info: dict[str, Any] = field(default_factory=dict)
    finished_at: datetime | None = None
    result: dict[str, Any] | None = None

    @property
    def completed(self) -> bool:
        """True once the completion hook accepted the upload."""
        return self.state == "completed"

    def to_json(self) -> dict[str, Any]:
        """The info file's contents."""
        return {
            "id": self.id,
            "owner": self.owner,
            "owner_info": self.owner_info,
            "length": self.length,
            "metadata": self.metadata,
            "created_at": to_iso(self.created_at),
            "expires_at": to_iso(self.expires_at),
            "state": self.state,
            "completed": self.completed,
            "finished_at": to_iso(self.finished_at) if self.finished_at else None,
            "result": self.result,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UploadInfo:
        """Parse an info file's contents; raises ValueError/KeyError/TypeError if malformed."""
        state = data["state"]
        if state not in ("receiving", "received", "completed", "expired"):
            raise ValueError(f"unknown state {state!r}")
        length = data["length"]
        if not isinstance(length, int) or length < 0:
            raise ValueError(f"bad length {length!r}")
        metadata = data["metadata"]
        if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
        ):
            raise ValueError("metadata must map strings to strings")
        finished = data.get("finished_at")
        result = data.get("result")
        return cls(
            id=str(data["id"]),
            owner=str(data["owner"]),
            owner_info=dict(data.get("owner_info") or {}),
            length=length,
            metadata=dict(metadata),
            created_at=from_iso(data["created_at"]),
            expires_at=from_iso(data["expires_at"]),
            state=state,
            finished_at=from_iso(finished) if finished else None,
            result=dict(result) if isinstance(result, dict) else None,
        )


@dataclass(frozen=True, slots=True)
class SweepReport:
    """What one expiry sweep did."""

    expired: int = 0
    removed: int = 0
    # Uploads whose bytes all arrived but that still wait for the completion hook.
    pending: list[UploadInfo] = field(default_factory=list)


def is_valid_upload_id(upload_id: str) -> bool:
    """Whether ``upload_id`` has the exact shape of an id this store hands out."""
    return UPLOAD_ID_RE.match(upload_id) is not None


class _LockTable:
    """One asyncio lock per upload id, dropped again when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    def users(self, key: str) -> int:
        entry = self._locks.get(key)
        return entry[1] if entry is not None else 0

    @contextlib.asynccontextmanager
    async def hold(self, key: str, wait_s: float) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            try:
                async with asyncio.timeout(wait_s):
                    await lock.acquire()
            except TimeoutError:
                raise UploadLocked(key) from None
            try:
                yield
            finally:
                lock.release()
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


class UploadStore:
    """Uploads on disk under ``root``. All methods are for one event loop in one process."""

    def __init__(
        self,
        root: Path,
        *,
        clock: Clock = utc_now,
        expire_after: timedelta = timedelta(hours=24),
        keep_finished: timedelta = timedelta(hours=48),
        lock_wait_s: float = 3.0,
        write_batch_bytes: int = 256 * 1024,
        early_sync_bytes: int = 2 * 1024 * 1024,
    ) -> None:
        """``expire_after``: how long an unfinished upload lives after creation.
        ``keep_finished``: how long completed records and expiry tombstones are kept.
        ``lock_wait_s``: how long a request waits for a busy upload before ``UploadLocked``.
        ``write_batch_bytes``: bytes gathered per ``pwritev`` (done on the event loop).
        ``early_sync_bytes``: start writeback after this many bytes (0 = only at the end), so the
        fdatasync before each answer has little left to do (measured: ~1 ms instead of ~10 ms).
        """
        self._root = root
        self._clock: Callable[[], datetime] = clock
        self.expire_after = expire_after
        self.keep_finished = keep_finished
        self.lock_wait_s = lock_wait_s
        self._batch_bytes = write_batch_bytes
        self._sync_bytes = early_sync_bytes
        self._locks = _LockTable()

    @property
    def root(self) -> Path:
        """The directory holding the uploads."""
        return self._root

    def now(self) -> datetime:
        """The store's clock (UTC-aware)."""
        return self._clock()

    def data_path(self, upload_id: str) -> Path:
        """Where the bytes of ``upload_id`` are; raises ValueError for a malformed id."""
        self._check_id(upload_id)
        return self._root / f"{upload_id}{_DATA_SUFFIX}"

    def _info_path(self, upload_id: str) -> Path:
        self._check_id(upload_id)
        return self._root / f"{upload_id}{_INFO_SUFFIX}"

    @staticmethod
    def _check_id(upload_id: str) -> None:
        # Every path is built from a validated id, so nothing can point outside root.
        if not is_valid_upload_id(upload_id):
            raise ValueError("malformed upload id")

    # --- records ---------------------------------------------------------------------------

    async def create(
        self,
        *,
        owner: str,
        length: int,
        metadata: dict[str, str],
        owner_info: dict[str, Any] | None = None,
    ) -> UploadInfo:
        """Create an empty upload of ``length`` bytes owned by ``owner`` (a principal key)."""
        if length < 0:
            raise ValueError("length must not be negative")
        now = self.now()
        info = UploadInfo(
            id=secrets.token_urlsafe(_ID_BYTES),
            owner=owner,
            owner_info=dict(owner_info or {}),
            length=length,
            metadata=dict(metadata),
            created_at=now,
            expires_at=now + self.expire_after,
        )
        data_path = self.data_path(info.id)
        info_path = self._info_path(info.id)

        def make() -> None:
            self._root.mkdir(parents=True, exist_ok=True)
            # Data file first: a crash before the info file leaves an orphan that recover() drops.
            fd = os.open(data_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
            write_json_atomic(info_path, info.to_json(), compact=True)

        await asyncio.to_thread(make)
        log.info("upload %s created by %s (%s bytes)", info.id, owner, length)
        return info

    def get(self, upload_id: str) -> UploadInfo | None:
        """The upload with this id, or None if the id is malformed, unknown or unreadable."""
        if not is_valid_upload_id(upload_id):
            return None
        try:
            raw = self._info_path(upload_id).read_bytes()
        except FileNotFoundError:
            return None
        try:
            info = UploadInfo.from_json(json.loads(raw))
        except (ValueError, KeyError, TypeError) as exc:
            log.error("upload %s: unreadable info file: %s", upload_id, exc)
            return None
        return info if info.id == upload_id else None

    async def save(self, info: UploadInfo) -> None:
        """Write ``info`` atomically."""
        await asyncio.to_thread(
            partial(write_json_atomic, compact=True), self._info_path(info.id), info.to_json()
        )

    def offset(self, info: UploadInfo) -> int:
        """How many bytes of the upload the server holds."""
        if info.state in ("received", "completed"):
            return info.length
        if info.state == "expired":
            return 0
        try:
            return self.data_path(info.id).stat().st_size
        except FileNotFoundError:
            return 0

    def idle_s(self, info: UploadInfo) -> float:
        """Seconds since the upload's data was last written (by the file system's clock)."""
        try:
            written = self.data_path(info.id).stat().st_mtime
        except FileNotFoundError:
            return math.inf
        return max(0.0, time.time() - written)

    def is_expired(self, info: UploadInfo) -> bool:
        """Whether the upload is an expiry tombstone or an unfinished upload past its expiry."""
        return info.state == "expired" or (
            info.state == "receiving" and self.now() >= info.expires_at
        )

    async def mark_received(self, info: UploadInfo) -> UploadInfo:
        """Record that every byte is on disk (call after the data file was fsync'd)."""
        updated = replace(info, state="received")
        await self.save(updated)
        return updated

    async def mark_completed(self, info: UploadInfo, result: dict[str, Any]) -> UploadInfo:
        """Record the completion hook's result."""
        updated = replace(info, state="completed", finished_at=self.now(), result=dict(result))
        await self.save(updated)
        log.info("upload %s completed", info.id)
        return updated

    async def mark_expired(self, info: UploadInfo) -> UploadInfo:
        """Delete the data of an unfinished upload and keep a tombstone (so clients get 410)."""
        updated = replace(info, state="expired", finished_at=self.now())
        await self.save(updated)
        await asyncio.to_thread(_unlink, self.data_path(info.id))
        log.info("upload %s expired; its data is deleted", info.id)
        return updated

    async def delete(self, upload_id: str) -> bool:
        """Remove the upload's data and record; returns whether a record existed."""
        data_path, info_path = self.data_path(upload_id), self._info_path(upload_id)

        def remove() -> bool:
            _unlink(data_path)
            return _unlink(info_path)

        existed = await asyncio.to_thread(remove)
        if existed:
            log.info("upload %s deleted", upload_id)
        return existed

    # --- writing ---------------------------------------------------------------------------

    def locked(self, upload_id: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold the upload's lock; raises UploadLocked after ``lock_wait_s`` of waiting."""
        self._check_id(upload_id)
        return self._locks.hold(upload_id, self.lock_wait_s)

    def lock_users(self, upload_id: str) -> int:
        """How many requests hold or wait for the upload's lock (for monitoring and tests)."""
        return self._locks.users(upload_id)

    async def open_writer(
        self, info: UploadInfo, offset: int, *, digest: Digest | None = None
    ) -> UploadWriter:
        """A writer appending at ``offset``, which must be the current end of the data.

        Hold the upload's lock while the writer is open.
        """
        path = self.data_path(info.id)

        def open_at_end() -> int:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
            size = os.fstat(fd).st_size
            if size != offset:
                os.close(fd)
                raise OffsetMismatch(offset, size)
            return fd

        fd = await asyncio.to_thread(open_at_end)
        return UploadWriter(
            fd,
            offset,
            digest=digest,
            batch_bytes=self._batch_bytes,
            sync_bytes=self._sync_bytes,
        )

    # --- maintenance -----------------------------------------------------------------------

    def _all_infos(self) -> list[UploadInfo]:
        infos = []
        for path in sorted(self._root.glob(f"*{_INFO_SUFFIX}")):
            info = self.get(path.name.removesuffix(_INFO_SUFFIX))
            if info is not None:
                infos.append(info)
        return infos

    def unfinished(self) -> list[UploadInfo]:
        """Every upload still receiving bytes (expired ones too, until a sweep marks them)."""
        if not self._root.is_dir():
            return []
        return [info for info in self._all_infos() if info.state == "receiving"]

    async def sweep(self) -> SweepReport:
        """Expire unfinished uploads past their expiry; remove old completed records/tombstones.

        Uploads that are busy (locked) are left for the next sweep.
        """
        if not self._root.is_dir():
            return SweepReport()
        now = self.now()
        expired = removed = 0
        pending: list[UploadInfo] = []
        for listed in await asyncio.to_thread(self._all_infos):
            try:
                async with self._locks.hold(listed.id, 0):
                    info = self.get(listed.id)  # as it is now that we hold the lock
                    if info is None:
                        continue
                    if info.state == "receiving" and now >= info.expires_at:
                        if self.offset(info) >= info.length:
                            # All bytes arrived just before a crash: completing beats expiring.
                            pending.append(await self.mark_received(info))
                        else:
                            await self.mark_expired(info)
                            expired += 1
                    elif info.state == "received":
                        pending.append(info)
                    elif info.state in ("completed", "expired"):
                        since = info.finished_at or info.expires_at
                        if now >= since + self.keep_finished:
                            await self.delete(info.id)
                            removed += 1
            except UploadLocked:
                continue  # busy: next sweep
        if expired or removed:
            log.info("upload sweep: %s expired, %s removed", expired, removed)
        return SweepReport(expired=expired, removed=removed, pending=pending)

    async def recover(self) -> list[UploadInfo]:
        """Tidy up after a crash; call once at start-up before serving requests.

        Removes temp files and data files without a record, creates missing data files of
        unfinished uploads, cuts data files longer than their upload, and returns every upload
        whose bytes have all arrived but whose completion was not confirmed.
        """

        def tidy() -> list[UploadInfo]:
            self._root.mkdir(parents=True, exist_ok=True)
            for temp in self._root.glob(f".*{TEMP_SUFFIX}"):
                _unlink(temp)
            for data in self._root.glob(f"*{_DATA_SUFFIX}"):
                upload_id = data.name.removesuffix(_DATA_SUFFIX)
                info_exists = is_valid_upload_id(upload_id) and self._info_path(upload_id).exists()
                if not info_exists:
                    log.warning("recover: removing data file %s without a record", data.name)
                    _unlink(data)
            pending = []
            for info in self._all_infos():
                if info.state == "received":
                    pending.append(info)
                elif info.state == "receiving":
                    pending.extend(self._repair(info))
            return pending

        pending = await asyncio.to_thread(tidy)
        if pending:
            log.info("recover: %s upload(s) wait for completion", len(pending))
        return pending

    def _repair(self, info: UploadInfo) -> list[UploadInfo]:
        # Runs in a worker thread from recover().
        path = self.data_path(info.id)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            log.warning("recover: upload %s lost its data file; restarting at 0", info.id)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
            os.close(fd)
            return []
        if size > info.length:
            log.warning("recover: upload %s is longer than announced; cutting it", info.id)
            os.truncate(path, info.length)
            size = info.length
        if size == info.length:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            updated = replace(info, state="received")
            write_json_atomic(self._info_path(info.id), updated.to_json(), compact=True)
            return [updated]
        return []
