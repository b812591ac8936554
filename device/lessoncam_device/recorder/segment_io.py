"""The slow half of writing segments, on its own thread: fsync, rename, hash, announce.

An encoder thread must never wait for the SD card (an fsync can take hundreds of ms), so it
hands the open ``.partial`` file's periodic flushes and the closing of finished segments to
one ``SegmentIO`` worker per recording. Work is done in the order it was asked for, so each
camera's segments are announced in sequence order.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from lessoncam_common.durable import fsync_path
from lessoncam_common.hashing import sha256_and_size

from ..segments import SegmentInfo
from .storage import append_index

log = logging.getLogger(__name__)


class PartialFile:
    """A segment's ``.partial`` file as seen by the I/O thread: a descriptor to fsync it by.

    Muxers write through their own descriptor; ``fsync`` on this one flushes the same inode.
    """

    def __init__(self, recording_id: str, camera: str, sequence: int, partial: Path, final: Path):
        self.recording_id = recording_id
        self.camera = camera
        self.sequence = sequence
        self.partial = partial
        self.final = final
        self._fd: int | None = None

    def create(self) -> None:
        """Create the file (the muxer opens it lazily) and keep a descriptor to it."""
        self._fd = os.open(self.partial, os.O_WRONLY | os.O_CREAT, 0o644)

    def fsync(self) -> None:
        """Flush what the muxer has written so far to the disk."""
        if self._fd is not None:
            os.fsync(self._fd)

    def close_fd(self) -> None:
        """Close the descriptor (not the muxer's)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@dataclass(frozen=True)
class _Sync:
    file: PartialFile
    new: bool  # first sync: the directory entry must become durable too


@dataclass(frozen=True)
class _Close:
    file: PartialFile
    start_s: float
    duration_s: float


class SegmentIO:
    """A worker thread that makes segment files durable and announces closed ones.

    ``emit`` is called on the worker thread with each closed segment's ``SegmentInfo``.
    """

    def __init__(self, emit: Callable[[SegmentInfo], None], name: str = "segment-io") -> None:
        self._emit = emit
        self._tasks: queue.SimpleQueue[_Sync | _Close | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._idle = threading.Condition()
        self._pending = 0
        self.errors: list[BaseException] = []
        self.fsyncs = 0
        self._thread.start()

    def sync(self, file: PartialFile, *, new: bool = False) -> None:
        """Flush ``file`` to the disk soon (and its directory entry when ``new``)."""
        self._put(_Sync(file, new))

    def close(self, file: PartialFile, start_s: float, duration_s: float) -> None:
        """The muxer has closed ``file``: fsync it, rename it to ``.ts``, hash it, announce it."""
        self._put(_Close(file, start_s, duration_s))

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until everything asked so far is done; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def finish(self) -> None:
        """Do what is queued, then end the thread."""
        self._tasks.put(None)
        self._thread.join()

    def _put(self, task: _Sync | _Close) -> None:
        with self._idle:
            self._pending += 1
        self._tasks.put(task)

    def _run(self) -> None:
        while (task := self._tasks.get()) is not None:
            try:
                if isinstance(task, _Sync):
                    task.file.fsync()
                    self.fsyncs += 1
                    if task.new:
                        fsync_path(task.file.partial.parent)
                else:
                    self._close(task)
            except Exception as e:  # keep serving the other files; the recorder reports it
                log.exception("segment I/O failed for %s", task.file.partial)
                self.errors.append(e)
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def _close(self, task: _Close) -> None:
        f = task.file
        try:
            f.fsync()
        finally:
            f.close_fd()
        os.replace(f.partial, f.final)
        fsync_path(f.final.parent)
        sha, size = sha256_and_size(f.final)
        info = SegmentInfo(
            recording_id=f.recording_id,
            camera=f.camera,
            sequence=f.sequence,
            start_s=round(task.start_s, 6),
            duration_s=round(task.duration_s, 6),
            path=f.final,
            sha256=sha,
            size=size,
        )
        append_index(
            f.final.parent,
            {
                "sequence": info.sequence,
                "start_s": info.start_s,
                "duration_s": info.duration_s,
                "sha256": info.sha256,
                "size": info.size,
            },
        )
        log.info(
            "segment %s/%06d closed: %.3f s from %.3f s, %s bytes",
            f.camera,
            f.sequence,
            info.duration_s,
            info.start_s,
            size,
        )
        self._emit(info)


class Announcements:
    """Closed segments handed from worker threads to the event loop, in order: each goes to
    ``on_segment`` (if any) and to the ``segments()`` iterator, which ends at ``close()``."""

    def __init__(self, on_segment: Callable[[SegmentInfo], None] | None) -> None:
        self.on_segment = on_segment
        self._queue: asyncio.Queue[SegmentInfo | None] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def emit_threadsafe(self, info: SegmentInfo) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._deliver, info)

    def _deliver(self, info: SegmentInfo) -> None:
        self._queue.put_nowait(info)
        if self.on_segment is not None:
            try:
                self.on_segment(info)
            except Exception:
                log.exception("on_segment failed for %s/%s", info.camera, info.sequence)

    def close(self) -> None:
        """End ``segments()`` after everything announced so far (call on the loop)."""
        assert self._loop is not None
        self._loop.call_soon(self._queue.put_nowait, None)

    async def segments(self) -> AsyncIterator[SegmentInfo]:
        while (info := await self._queue.get()) is not None:
            yield info
