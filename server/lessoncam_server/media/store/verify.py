"""Checksums of local files in the form the bucket reports them (``checksums.py``)."""

from __future__ import annotations

from pathlib import Path

from .checksums import etag_of, part_md5s

#: The part size a local file's tag is computed with when no upload decided one.
LOCAL_PART = 16 * 1024 * 1024


def file_digest_etag(path: Path, part_size: int = LOCAL_PART) -> str:
    """The ETag the bucket would give ``path`` uploaded in ``part_size`` parts."""
    digests = part_md5s(path, part_size)
    return etag_of(digests, multipart=path.stat().st_size > part_size)
