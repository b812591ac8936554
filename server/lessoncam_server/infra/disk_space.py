"""How full the server's data disk is, for ICT: the retention page and ``/healthz``."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

#: Below this much free space the admin pages warn: about two 45-minute two-camera lessons in
#: 1080p, so ICT hears of it a day or two before uploads start waiting.
LOW_FREE_BYTES = 5 * 1024**3
#: ... or below this share of the disk, whichever is more.
LOW_FREE_SHARE = 0.05

#: What the server answers (HTTP 507) and logs while its disk is full.
DISK_FULL_MESSAGE = (
    "the server's disk is full: nothing was lost, uploads wait and resume by themselves; "
    "ICT: free space in the server's data directory"
)


@dataclass(frozen=True)
class DiskSpace:
    """Free and total bytes of the disk the data directory is on."""

    free_bytes: int
    total_bytes: int

    @property
    def low(self) -> bool:
        """Time to make room (shorter retention, a bigger disk) before uploads have to wait."""
        return self.free_bytes < max(LOW_FREE_BYTES, LOW_FREE_SHARE * self.total_bytes)


def disk_space(data_dir: Path) -> DiskSpace:
    usage = shutil.disk_usage(data_dir)
    return DiskSpace(free_bytes=usage.free, total_bytes=usage.total)


def lessons_waiting_for_space(db: Database, reason: str) -> int:
    """Lessons whose assembly waits for room on the disk (``reason`` is their state reason)."""
    row = db.execute(
        "SELECT count(*) FROM recordings WHERE state = 'assembling' AND state_reason = ?",
        [reason],
    ).fetchone()
    return int(row[0])
