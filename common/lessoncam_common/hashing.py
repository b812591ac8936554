"""A file's sha256: what segments are checked and named by on both sides of an upload."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_and_size(path: Path) -> tuple[str, int]:
    """(hex sha256, size in bytes) of a file, read once in blocks."""
    with path.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256")
        return digest.hexdigest(), handle.tell()


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file."""
    return sha256_and_size(path)[0]
