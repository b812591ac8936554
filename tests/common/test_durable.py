"""Atomic writes: the old content or the new, never half, and no temporary file left behind."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from lessoncam_common.disk import disk_full
from lessoncam_common.durable import fsync_path, write_atomic, write_json_atomic

from ..small_disk import MIB, small_disk


def test_write_atomic_replaces_the_file_with_the_mode_asked_for(tmp_path: Path) -> None:
    target = tmp_path / "new" / "token.json"  # the folder is made as needed
    write_atomic(target, b"old")
    write_atomic(target, b"secret", mode=0o600)
    assert target.read_bytes() == b"secret"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == ["token.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_one(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.mkdir()  # a directory where the file should go: the rename fails
    (target / "inside").write_text("old")
    with pytest.raises(IsADirectoryError):
        write_atomic(target, b"new")
    assert (target / "inside").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_a_full_disk_keeps_the_old_file_and_frees_what_it_wrote() -> None:
    with small_disk(2 * MIB) as disk:
        target = disk.path / "recording.json"
        write_json_atomic(target, {"segments": 1})
        disk.fill(leave=0)
        with pytest.raises(OSError) as caught:
            write_json_atomic(target, {"segments": 2, "padding": "x" * MIB})
        assert disk_full(caught.value)
        assert json.loads(target.read_text()) == {"segments": 1}
        assert not list(disk.path.glob(".*.tmp"))  # its part of a file given back


def test_json_is_indented_for_people_or_compact_for_programs(tmp_path: Path) -> None:
    data = {"b": [1, 2], "a": "één"}
    write_json_atomic(tmp_path / "people.json", data)
    write_json_atomic(tmp_path / "programs.json", data, compact=True)
    people = (tmp_path / "people.json").read_text(encoding="utf-8")
    assert people.startswith('{\n  "a"') and people.endswith("}\n")
    assert (tmp_path / "programs.json").read_text() == '{"a":"\\u00e9\\u00e9n","b":[1,2]}'
    assert json.loads(people) == data


def test_fsync_path_takes_files_and_folders(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")
    fsync_path(tmp_path / "f")
    fsync_path(tmp_path)
    with pytest.raises(FileNotFoundError):
        fsync_path(tmp_path / "missing")
