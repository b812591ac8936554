"""Writing files so that a crash or power cut leaves the old version or the new, never half."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

TEMP_SUFFIX = ".tmp"  # write_atomic's temporary files are named ``.<name>.<hex>.tmp``


def fsync_path(path: Path) -> None:
    """Flush a file's data, or a directory's entries (new names, renames), to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data``: readers see the old or the new content, never a part.

    The new file gets ``mode`` from the start (0o600 for secrets). A failure (a full disk)
    leaves the old file and no temporary one. Also the rule for anything that may be being
    served: never rewrite in place.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # A name of its own: two writers of the same file never share a temporary file.
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}{TEMP_SUFFIX}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        fsync_path(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def write_json_atomic(
    path: Path, data: dict[str, Any], *, compact: bool = False, mode: int = 0o644
) -> None:
    """Replace ``path`` with ``data`` as JSON (keys sorted), atomically as ``write_atomic``.

    Indented with a final newline for files people read; ``compact`` for files only
    programs read.
    """
    if compact:
        text = json.dumps(data, separators=(",", ":"), sort_keys=True)
    else:
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    write_atomic(path, text.encode("utf-8"), mode=mode)
