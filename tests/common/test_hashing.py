"""A file's sha256, checked against hashlib on the bytes themselves."""

from __future__ import annotations

import hashlib
from pathlib import Path

from lessoncam_common.hashing import sha256_and_size, sha256_file


def test_digest_and_size_of_a_file_larger_than_one_block(tmp_path: Path) -> None:
    data = bytes(range(256)) * 5000 + b"tail"  # 1.2 MB: several reads
    path = tmp_path / "segment.ts"
    path.write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    assert sha256_and_size(path) == (expected, len(data))
    assert sha256_file(path) == expected


def test_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert sha256_and_size(path) == (hashlib.sha256(b"").hexdigest(), 0)
