"""Telling a full disk from other failures, however it shows."""

from __future__ import annotations

import errno
import sqlite3

_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) means the disk, or a quota, is full.

    An ``OSError`` with ENOSPC or EDQUOT, or SQLite's SQLITE_FULL ("database or disk is full"),
    found on the exception or anywhere down its ``__cause__``/``__context__`` chain. Only
    these: a message that merely mentions a full disk (the server's, say) is not this disk.
    """
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in _FULL_ERRNOS:
            return True
        if isinstance(seen, sqlite3.Error) and _sqlite_full(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _sqlite_full(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF == sqlite3.SQLITE_FULL  # the primary code under an extended one
    # Raised without a code (by a wrapper, or by hand): SQLite's own words for SQLITE_FULL.
    return "database or disk is full" in str(exc)
