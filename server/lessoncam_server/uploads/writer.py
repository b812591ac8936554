"""Appending one request body to an upload's data file, in batches, durable on commit."""

from __future__ import annotations

import asyncio
import ctypes
import os
import sys
from collections.abc import Callable
from typing import Protocol

# os.pwritev takes at most IOV_MAX (1024 on Linux) buffers per call.
_MAX_IOV = 512


def _load_start_writeback() -> Callable[[int, int, int], None] | None:
    """Linux sync_file_range(SYNC_FILE_RANGE_WRITE): start writeback of a range, don't wait."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        func = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    func.restype = ctypes.c_int

    def start_writeback(fd: int, offset: int, nbytes: int) -> None:
        func(fd, offset, nbytes, 2)  # only a hint: a failure is caught by the final fdatasync

    return start_writeback


_start_writeback = _load_start_writeback()


class Digest(Protocol):
    """The part of a hashlib object the writer uses."""

    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


class UploadWriter:
    """Appends one request body to an upload's data file.

    Chunks are gathered into batches of ``batch_bytes`` and written with one ``pwritev`` on the
    event loop: a page-cache write of a few hundred KiB takes about a tenth of a millisecond,
    less than a hop to a worker thread (measured: ~25% less CPU per GiB than writing from a
    thread pool). Every ``sync_bytes`` a worker thread asks the kernel to start writing the new
    bytes back, so the fdatasync before the answer (also in a thread) has little left to do.
    Nothing is durable until ``commit``; ``discard`` cuts the file back to where it started.
    """

    def __init__(
        self, fd: int, start: int, *, digest: Digest | None, batch_bytes: int, sync_bytes: int
    ) -> None:
        self._fd: int | None = fd
        self._start = start
        self._digest = digest
        self._batch_bytes = batch_bytes
        self._sync_bytes = sync_bytes
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._file_pos = start  # end of what is written to the file
        self._unhinted_from = start  # writeback not yet requested from here on
        self._hint: asyncio.Future[None] | None = None
        self._loop = asyncio.get_running_loop()
        self.failed = False  # a write to the disk failed (and raised)

    @property
    def start(self) -> int:
        """The offset this writer started at."""
        return self._start

    @property
    def position(self) -> int:
        """The offset after every byte handed to ``write`` so far."""
        return self._file_pos + self._pending_size

    async def write(self, chunk: bytes) -> None:
        """Take ``chunk``; writes a batch to the page cache once enough has gathered."""
        if not chunk:
            return
        self._pending.append(chunk)
        self._pending_size += len(chunk)
        if self._pending_size >= self._batch_bytes:
            self._write_pending()

    async def flush(self) -> None:
        """Write everything taken so far to the file (not yet fsync'd)."""
        self._write_pending()

    def digest(self) -> bytes | None:
        """The digest of the bytes written; call after ``flush``."""
        return self._digest.digest() if self._digest is not None else None

    async def commit(self) -> int:
        """Write what is gathered, fsync and close; returns the new offset."""
        self._write_pending()
        fd = await self._take_fd()
        await asyncio.to_thread(_sync_and_close, fd)
        return self._file_pos

    async def discard(self) -> int:
        """Drop everything this writer wrote (truncate to ``start``), fsync and close."""
        self._pending.clear()
        self._pending_size = 0
        fd = await self._take_fd()
        start = self._start

        def cut() -> None:
            try:
                os.ftruncate(fd, start)
            finally:
                _sync_and_close(fd)

        await asyncio.to_thread(cut)
        self._file_pos = start
        return start

    def close(self) -> None:
        """Release the file without waiting (for error paths); safe to call more than once."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        hint = self._hint
        if hint is not None and not hint.done():
            # Never close a descriptor a worker thread still uses.
            hint.add_done_callback(lambda _: self._close_later(fd))
        else:
            self._close_later(fd)

    def _close_later(self, fd: int) -> None:
        try:
            self._loop.run_in_executor(None, _sync_and_close, fd)
        except RuntimeError:  # executor already shut down
            _sync_and_close(fd)

    async def _take_fd(self) -> int:
        if self._fd is None:
            raise RuntimeError("writer is closed")
        hint = self._hint
        if hint is not None:
            # Shielded: if we are cancelled meanwhile, close() still waits for the hint.
            await asyncio.shield(hint)
        fd, self._fd = self._fd, None
        return fd

    def _write_pending(self) -> None:
        if not self._pending:
            return
        if self._fd is None:
            raise RuntimeError("writer is closed")
        batch, self._pending, self._pending_size = self._pending, [], 0
        if self._digest is not None:
            for buf in batch:
                self._digest.update(buf)
        views = [memoryview(b) for b in batch]
        pos = self._file_pos
        try:
            while views:
                done = os.pwritev(self._fd, views[:_MAX_IOV], pos)
                pos += done
                # Drop what was written; keep the unwritten tail of a partly written buffer.
                while views and done >= len(views[0]):
                    done -= len(views[0])
                    views.pop(0)
                if views and done:
                    views[0] = views[0][done:]
        except OSError:
            self.failed = True
            raise
        finally:
            self._file_pos = pos
        self._hint_writeback(self._fd)

    def _hint_writeback(self, fd: int) -> None:
        size = self._file_pos - self._unhinted_from
        if _start_writeback is None or not self._sync_bytes or size < self._sync_bytes:
            return
        if self._hint is not None and not self._hint.done():
            return  # the next hint covers this range too
        self._hint = self._loop.run_in_executor(
            None, _start_writeback, fd, self._unhinted_from, size
        )
        self._unhinted_from = self._file_pos


def _sync_and_close(fd: int) -> None:
    try:
        os.fdatasync(fd)
    finally:
        os.close(fd)
