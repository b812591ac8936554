"""A full disk, however it shows: errno, SQLite's SQLITE_FULL, or deeper in the cause chain."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest

from lessoncam_common.disk import disk_full

from ..small_disk import MIB, small_disk


def _sqlite_full(path: Path | str) -> sqlite3.Error:
    """A real SQLITE_FULL: SQLite's own page limit, reached."""
    db = sqlite3.connect(path)
    try:
        db.execute("CREATE TABLE t (x BLOB)")
        db.execute("PRAGMA max_page_count = 4")
        with pytest.raises(sqlite3.Error) as caught:
            for _ in range(100):
                db.execute("INSERT INTO t VALUES (zeroblob(4096))")
        return caught.value
    finally:
        db.close()


@pytest.mark.parametrize("number", [errno.ENOSPC, errno.EDQUOT])
def test_no_space_and_no_quota_are_a_full_disk(number: int) -> None:
    assert disk_full(OSError(number, "No space left on device"))


def test_other_errors_are_not() -> None:
    assert not disk_full(OSError(errno.EACCES, "Permission denied"))
    assert not disk_full(ValueError("bad"))
    assert not disk_full(sqlite3.OperationalError("no such table: t"))


def test_sqlite_full_is_a_full_disk(tmp_path: Path) -> None:
    error = _sqlite_full(tmp_path / "q.db")
    assert "database or disk is full" in str(error)
    assert disk_full(error)
    # Without SQLite's code (raised again by a wrapper): its words still say it.
    assert disk_full(sqlite3.OperationalError("database or disk is full"))


def test_a_full_disk_under_sqlite_is_a_full_disk() -> None:
    with small_disk(2 * MIB) as disk:
        db = sqlite3.connect(disk.path / "queue.db")
        try:
            db.execute("CREATE TABLE t (x BLOB)")
            db.commit()
            disk.fill(leave=0)
            with pytest.raises(sqlite3.Error) as caught:
                for _ in range(100):
                    db.execute("INSERT INTO t VALUES (zeroblob(65536))")
                    db.commit()
        finally:
            db.close()
    assert disk_full(caught.value)


def test_the_cause_chain_is_followed() -> None:
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as inner:
            raise RuntimeError("could not close the segment") from inner
    except RuntimeError as outer:
        assert disk_full(outer)
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError:
            raise KeyError("while handling it")  # noqa: B904
    except KeyError as during:
        assert disk_full(during)  # raised while handling a full disk: it is one


def test_words_about_someone_elses_disk_are_not_this_disk() -> None:
    # The server's 507 answer, as the unit's upload client words it.
    assert not disk_full(RuntimeError("the server answered HTTP 507: the server's disk is full"))
