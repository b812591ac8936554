"""Writing files so that a crash or power cut leaves the old version or the new, never half."""

from __future__ import annotations

import errno
import os
import sqlite3
import uuid
from pathlib import Path


def fsync_path(path: Path) -> None:
    """Flush a file's (or a directory's entries') data to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: readers see the old or the new content, never a part.

    Also the rule for anything that may be being served: never rewrite in place.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        fsync_path(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) means the disk (or quota) is full: ENOSPC, EDQUOT,
    or SQLite's SQLITE_FULL ("database or disk is full")."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(seen, sqlite3.Error) and getattr(seen, "sqlite_errorcode", None) == (
            sqlite3.SQLITE_FULL
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


#: What the server answers (HTTP 507) and logs while its disk is full.
DISK_FULL_MESSAGE = (
    "the server's disk is full: nothing was lost, uploads wait and resume by themselves; "
    "ICT: free space in the server's data directory"
)
