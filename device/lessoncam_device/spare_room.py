"""Room held back on the unit's disk, so a lesson can be closed when the disk fills at once.

The storage reserve stops a lesson cleanly while there is still space. But the disk can fill
between two checks (another program, a burst of writes), and then closing the lesson needs a
little room: the recording's closed marker, the segment index, the upload queue's SQLite
journal. So the daemon keeps a file of ``SPARE_ROOM_BYTES`` in the state folder, gives that
space up when the disk is full, and takes it back once there is room again.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from lessoncam_common.disk import disk_full

log = logging.getLogger(__name__)

SPARE_ROOM_FILE = "spare-room"
SPARE_ROOM_BYTES = 2 * 1024 * 1024


class SpareRoom:
    """A file of zeros that holds ``size`` bytes of the disk for when it is needed."""

    def __init__(self, state_dir: Path, size: int = SPARE_ROOM_BYTES) -> None:
        self.path = state_dir / SPARE_ROOM_FILE
        self.size = size

    @property
    def held(self) -> bool:
        """Whether the room is held (the file has its full size)."""
        try:
            return self.path.stat().st_size >= self.size
        except FileNotFoundError:
            return False

    def hold(self) -> bool:
        """Take the room (real blocks, not a sparse file); False when the disk has no room."""
        if self.held:
            return True
        block = bytes(min(self.size, 256 * 1024))
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                written = 0
                while written < self.size:
                    written += os.write(fd, block[: self.size - written])
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            self.path.unlink(missing_ok=True)
            if not disk_full(exc):
                raise
            return False
        log.info("%s bytes of spare room held on the unit's disk", self.size)
        return True

    def release(self) -> bool:
        """Give the room to the lesson being closed; True if there was some to give."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        log.warning("the disk is full: spare room released to close the lesson")
        return True
