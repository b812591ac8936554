"""The output file of a remux, written in large blocks with the disk kept busy all along.

FFmpeg writes a file it opens itself in 32 KiB blocks, one system call each, and the whole
file is flushed to the disk by the fsync at the end, while nothing else happens. Handing the
muxer this file object instead (with a large ``buffer_size``) makes each write a large block,
and every :data:`WRITEBACK_BYTES` written the kernel is asked to start writing the block
behind to the disk, so writeback overlaps the remux and the final fsync finds little left.
The written blocks are then dropped from the page cache: the assembly never reads them back,
and they would push out the segments still to be read.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

#: The muxer's I/O buffer: each write to the file is this large (FFmpeg's own is 32 KiB).
BUFFER_BYTES = 1 << 20
#: Start writeback of each block of this many bytes as soon as it has been written.
WRITEBACK_BYTES = 32 << 20

_FADVISE = hasattr(os, "posix_fadvise")


class Sink:
    """A new file open for writing, seekable, with writeback started behind the writer.

    The file is created (it must not exist), and it is the caller's to fsync and rename:
    :meth:`close` only closes it.
    """

    def __init__(self, path: Path, *, writeback_bytes: int = WRITEBACK_BYTES) -> None:
        self.name = str(path)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        self._pos = 0
        self._end = 0  # the file's size
        self._step = writeback_bytes
        self._kicked = 0  # writeback was started for [0, _kicked)
        self._dropped = 0  # and the pages of [0, _dropped) were let go

    def write(self, data: bytes | bytearray | memoryview) -> int:
        view = memoryview(data)
        total = len(view)
        while view:
            n = os.pwrite(self._fd, view, self._pos)
            self._pos += n
            view = view[n:]
        self._end = max(self._end, self._pos)
        if self._end - self._kicked >= self._step:
            self._writeback()
        return total

    def _writeback(self) -> None:
        """Start writing the new full blocks to the disk; let go of the blocks before them."""
        upto = self._end - self._end % self._step
        if not _FADVISE or upto <= self._kicked:
            return
        # POSIX_FADV_DONTNEED on dirty pages starts their writeback without waiting for it
        # (Linux), and drops pages already written: the block before the one just kicked
        # has had a whole block's time to reach the disk.
        os.posix_fadvise(self._fd, self._kicked, upto - self._kicked, os.POSIX_FADV_DONTNEED)
        if self._kicked > self._dropped:
            os.posix_fadvise(
                self._fd, self._dropped, self._kicked - self._dropped, os.POSIX_FADV_DONTNEED
            )
            self._dropped = self._kicked
        self._kicked = upto

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            self._pos = offset
        elif whence == os.SEEK_CUR:
            self._pos += offset
        elif whence == os.SEEK_END:
            self._pos = self._end + offset
        else:
            raise ValueError(f"whence {whence}")
        if self._pos < 0:
            self._pos = 0
            raise OSError(22, "negative seek position")
        return self._pos

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        """Nothing is buffered here (the muxer buffers)."""

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def __enter__(self) -> Sink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
