"""The checksums S3 gives back, computed here to verify what the bucket holds.

A single PUT's ETag is the MD5 of the bytes; a multipart upload's is the MD5 of the parts'
MD5 digests followed by ``-<parts>``. Both are the bucket's own statement of what it stored,
so comparing them with the ones computed from our file checks the whole object end to end
(not with SSE-KMS, where AWS's ETag is no MD5: then the parts' Content-MD5 and sizes check).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from pathlib import Path

READ_BYTES = 1024 * 1024


def part_md5s(path: Path, part_size: int) -> list[bytes]:
    """The MD5 digest of each ``part_size`` piece of the file."""
    digests: list[bytes] = []
    with path.open("rb") as f:
        while True:
            md5 = hashlib.md5(usedforsecurity=False)
            left = part_size
            while left:
                chunk = f.read(min(READ_BYTES, left))
                if not chunk:
                    break
                md5.update(chunk)
                left -= len(chunk)
            if left == part_size and digests:
                break
            digests.append(md5.digest())
            if left:
                break
    return digests


def etag_of(digests: Iterable[bytes], multipart: bool) -> str:
    """The ETag (without quotes) S3 gives an object uploaded as these parts."""
    parts = list(digests)
    if not multipart:
        assert len(parts) == 1
        return parts[0].hex()
    whole = hashlib.md5(b"".join(parts), usedforsecurity=False).hexdigest()
    return f"{whole}-{len(parts)}"


def content_md5(digest: bytes) -> str:
    """The Content-MD5 header for a part with this digest (the bucket refuses a mismatch)."""
    return base64.b64encode(digest).decode("ascii")


def bare(etag: str) -> str:
    """An ETag without its quotes."""
    return etag.strip().strip('"')
