"""Sending a camera's video to the bucket while the live assembly is still writing it, so the
stop is not followed by an upload of the whole lesson.

The live assembly's file grows at its end; only its first bytes (the room for the index and
the header of the media data) are written again when it is finished (``LiveAssembly.
stable_from``). So the multipart upload holds back part 1 (at least all of those bytes) and
sends every later part as soon as the file has grown past it, read back from the disk. At
the stop only part 1, the last part or two and the completion are left. The object is
verified like any other (the bucket's ETag against the parts' MD5s, its size) before the
lesson may be ready.

Anything unusual (the bucket fails during the lesson, the live assembly is abandoned, a file
other than the one sent is finished) abandons the upload: it is aborted (retried in the
background until the bucket confirms, and at the next start for what a crash left) and the
file is sent whole after the assembly, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from .backoff import retry_delay
from .base import MultipartStore, SentPart, StoredObject, StoreUnavailable

log = logging.getLogger(__name__)

MIB = 1024 * 1024
#: What S3 allows: at most this many parts, each but the last at least MIN_PART bytes.
MAX_PARTS = 10_000
MIN_PART = 5 * MIB
#: Parts sent at once while the lesson goes on (memory: this many parts per camera).
IN_FLIGHT = 2
#: Parts sent at once at the stop, when the lesson waits for them.
FINAL_IN_FLIGHT = 4


def part_size_for(configured: int, stable_from: int) -> int:
    """The part size: the configured one, or larger so that part 1 holds every byte that may
    still change (whole MiB, and never under S3's minimum)."""
    needed = -(-stable_from // MIB) * MIB
    return max(configured, needed, MIN_PART)


def _read(fd: int, offset: int, size: int) -> bytes:
    data = os.pread(fd, size, offset)
    if len(data) != size:
        raise StoreUnavailable(f"the file gave {len(data)} bytes at {offset}, not {size}")
    return data


class LiveUpload:
    """The multipart upload of the growing file ``path``, stored as ``name`` of the lesson.

    Call :meth:`grew` (event loop) whenever the file got longer, with the offset from which
    its bytes are final once known; :meth:`complete` once the file is finished; or
    :meth:`abandon`. Memory stays at a few parts: each is read from the disk when it goes.
    """

    def __init__(
        self,
        store: MultipartStore,
        recording_id: str,
        name: str,
        path: Path,
        *,
        retry_max_s: float = 300.0,
        on_end: Callable[[LiveUpload], None] | None = None,
    ) -> None:
        self.store = store
        self.recording_id = recording_id
        self.name = name
        self.path = path
        self.retry_max_s = retry_max_s
        self.failed: str | None = None  # why it was abandoned
        self.part_size = 0
        self.upload_id: str | None = None
        self._on_end = on_end
        self._stable_from: int | None = None
        self._fd = -1
        self._next = 2  # the next part to send (part 1 waits for the end)
        self._parts: dict[int, SentPart] = {}
        self._sending: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._finishing = False
        self._ended = False
        self._pump = asyncio.get_running_loop().create_task(
            self._run(), name=f"live-upload {recording_id}/{name}"
        )
        self.aborting: asyncio.Task[None] | None = None

    @property
    def sent_bytes(self) -> int:
        """Bytes the bucket has taken so far."""
        return sum(p.size for p in self._parts.values())

    def grew(self, stable_from: int | None) -> None:
        """The file got longer; its bytes from ``stable_from`` on are final (None: unknown)."""
        if self._stable_from is None and stable_from is not None:
            self._stable_from = stable_from
        self._wake.set()

    async def _run(self) -> None:
        try:
            while not self._finishing:
                await self._wake.wait()
                self._wake.clear()
                if self.failed is not None:
                    return
                if self.upload_id is None:
                    if self._stable_from is None:
                        continue
                    await self._begin(self._stable_from)
                await self._send_ready(self._next_parts_on_disk(), IN_FLIGHT)
        except (StoreUnavailable, OSError) as exc:
            self.abandon(str(exc))

    async def _begin(self, stable_from: int) -> None:
        self.part_size = part_size_for(self.store.part_size, stable_from)
        self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        self.upload_id = await self.store.begin_upload(self.recording_id, self.name, self.part_size)

    def _next_parts_on_disk(self) -> list[tuple[int, int, int]]:
        """(number, offset, size) of the full parts now on disk not yet sent."""
        size = os.fstat(self._fd).st_size
        ready = []
        while self._next * self.part_size <= size:
            ready.append((self._next, (self._next - 1) * self.part_size, self.part_size))
            self._next += 1
        return ready

    async def _send_ready(self, parts: list[tuple[int, int, int]], in_flight: int) -> None:
        for number, offset, size in parts:
            if number > MAX_PARTS:
                raise StoreUnavailable(f"more than {MAX_PARTS} parts")
            while len(self._sending) >= in_flight:
                await self._settle(asyncio.FIRST_COMPLETED)
            task = asyncio.create_task(self._send(number, offset, size))
            task.add_done_callback(lambda _: self._wake.set())  # a failure shows at once
            self._sending.add(task)
        self._reap()  # errors show as soon as a send ends, not only when one had to wait

    async def _settle(self, when: str) -> None:
        """Wait for part sends to end (the first, or all); a failed one raises its error."""
        if self._sending:
            await asyncio.wait(self._sending, return_when=when)
        self._reap()

    def _reap(self) -> None:
        done = {task for task in self._sending if task.done()}
        self._sending -= done
        for task in done:
            task.result()

    async def _send(self, number: int, offset: int, size: int) -> None:
        assert self.upload_id is not None
        data = await asyncio.to_thread(_read, self._fd, offset, size)
        self._parts[number] = await self.store.send_part(
            self.recording_id, self.name, self.upload_id, number, data
        )

    async def complete(self, final: Path) -> StoredObject:
        """The file is finished (published at ``final``): send part 1 and the rest, complete
        and verify. Raises StoreUnavailable (the upload is abandoned) on any failure."""
        self._finishing = True
        self._wake.set()
        try:
            await asyncio.wait({self._pump})  # it ends after the parts now on disk
            if self.failed is not None:
                raise StoreUnavailable(self.failed)
            if self.upload_id is None:
                raise StoreUnavailable("the file was finished before any of it could be sent")
            stat = os.fstat(self._fd)
            if stat.st_ino != final.stat().st_ino or stat.st_dev != final.stat().st_dev:
                raise StoreUnavailable("the finished file is not the one being sent")
            size = stat.st_size
            count = max(1, -(-size // self.part_size))
            rest = [
                (n, (n - 1) * self.part_size, min(self.part_size, size - (n - 1) * self.part_size))
                for n in [1, *range(self._next, count + 1)]
            ]
            self._next = count + 1
            await self._send_ready(rest, FINAL_IN_FLIGHT)
            await self._settle(asyncio.ALL_COMPLETED)
            held = await self.store.finish_upload(
                self.recording_id, self.name, self.upload_id, list(self._parts.values())
            )
            if held.size != size:
                raise StoreUnavailable(f"the bucket holds {held.size} bytes, not {size}")
            os.close(self._fd)
            self._fd = -1
        except (StoreUnavailable, OSError) as exc:
            self.abandon(str(exc))
            raise StoreUnavailable(f"{self.name}: sent while written, then {exc}") from None
        except BaseException:
            self.abandon("cancelled")
            raise
        self._end()
        return held

    def abandon(self, why: str) -> None:
        """Give the upload up: stop sending, and abort it in the background until the bucket
        confirms (the file is then sent whole after the assembly)."""
        if self._ended:
            return
        self.failed = why
        log.warning("lesson %s: %s not sent while written: %s", self.recording_id, self.name, why)
        if self._pump is not asyncio.current_task():
            self._pump.cancel()
        for task in self._sending:
            task.cancel()
        self.aborting = asyncio.get_running_loop().create_task(self._wind_down())
        self._end()

    async def _wind_down(self) -> None:
        """Close the file once no part reads it any more, then abort until the bucket
        confirms (backing off like every retry of the store)."""
        await asyncio.gather(*self._sending, return_exceptions=True)
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        attempt = 0
        while self.upload_id is not None:
            try:
                await self.store.abort_upload(self.recording_id, self.name, self.upload_id)
                return
            except StoreUnavailable as exc:
                attempt += 1
                delay = retry_delay(attempt, self.retry_max_s)
                log.info("abort of %s's upload failed (%s); again in %.0f s", self.name, exc, delay)
                await asyncio.sleep(delay)

    def _end(self) -> None:
        self._ended = True
        if self._on_end is not None:
            self._on_end(self)


class LiveUploads:
    """The live uploads of a server: started for each camera of a lesson that goes to the
    bucket, handed from the live assembly (which finishes them) to the storing of the
    lesson's media (which waits for them), and ended at shutdown."""

    def __init__(self) -> None:
        self.active: set[LiveUpload] = set()
        self._handed: dict[tuple[str, str], asyncio.Task[StoredObject]] = {}
        self.completed = 0  # objects that reached the bucket while they were written
        self.abandoned = 0  # uploads given up (their files were sent whole)
        self._aborting: set[asyncio.Task[None]] = set()

    def start(
        self, store: MultipartStore, recording_id: str, name: str, path: Path, retry_max_s: float
    ) -> LiveUpload:
        upload = LiveUpload(
            store, recording_id, name, path, retry_max_s=retry_max_s, on_end=self._ended
        )
        self.active.add(upload)
        return upload

    def _ended(self, upload: LiveUpload) -> None:
        self.active.discard(upload)
        if upload.failed is None:
            self.completed += 1
            return
        self.abandoned += 1
        if upload.aborting is not None:
            self._aborting.add(upload.aborting)
            upload.aborting.add_done_callback(self._aborting.discard)

    def hand_over(self, upload: LiveUpload, final: Path) -> None:
        """The file is finished: complete its upload now, for :meth:`take` to wait for."""
        task = _spawn(upload.complete(final), f"complete {upload.name}")
        self._handed[(upload.recording_id, upload.name)] = task

    def take(self, recording_id: str, name: str) -> asyncio.Task[StoredObject] | None:
        """The completion of ``name``'s upload, if it was sent while written."""
        return self._handed.pop((recording_id, name), None)

    def drop(self, recording_id: str) -> None:
        """Give up what was not taken of a lesson (it will not be stored from them)."""
        for key in [k for k in self._handed if k[0] == recording_id]:
            self._handed.pop(key).cancel()
        for upload in [u for u in self.active if u.recording_id == recording_id]:
            upload.abandon("the lesson is not stored from it")

    async def settled(self) -> None:
        """Wait until every abandoned upload was aborted (tests, shutdown)."""
        while self._aborting:
            await asyncio.gather(*self._aborting, return_exceptions=True)

    async def close(self, timeout_s: float = 10.0) -> None:
        """At shutdown: abandon what is under way and abort it (what the bucket does not
        confirm in time is aborted at the next start)."""
        handed = list(self._handed.values())
        self._handed.clear()
        for task in handed:
            task.cancel()
        await asyncio.gather(*handed, return_exceptions=True)
        for upload in list(self.active):
            upload.abandon("the server stops")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.settled(), timeout_s)
        for aborting in list(self._aborting):
            aborting.cancel()


def _spawn(coro: Coroutine[Any, Any, StoredObject], name: str) -> asyncio.Task[StoredObject]:
    task = asyncio.get_running_loop().create_task(coro, name=name)
    # Nobody may take it (the lesson was deleted): its failure is logged by abandon().
    task.add_done_callback(lambda t: t.cancelled() or t.exception())
    return task
