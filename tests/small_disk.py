"""A small disk for full-disk tests: a tmpfs of a given size on a temporary folder.

``small_disk(size)`` mounts a tmpfs (as root, as in CI), or, without the right to mount,
inside a user namespace made with ``unshare`` for this process; only if neither works is the
test skipped, saying why. The disk can be filled to its last bytes (``fill``, as another
program writing a big file would), given space back (``free_filler``, ``grow``) and is always
unmounted on exit. Everything written there is real file I/O that really meets ENOSPC.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

MIB = 1024 * 1024
FILLER = ".filler"


class SmallDisk:
    """A mounted tmpfs: ``path`` is its root."""

    def __init__(self, path: Path, size: int) -> None:
        self.path = path
        self.size = size

    def free(self) -> int:
        """Bytes free for ordinary writes."""
        return shutil.disk_usage(self.path).free

    def fill(self, leave: int = 0, name: str = FILLER) -> int:
        """Write a filler file until at most ``leave`` bytes are free; returns its size.

        ``leave = 0`` writes until the disk refuses (ENOSPC): the disk is full to the last
        byte, as when some other program filled it between two of our checks.
        """
        path = self.path / name
        block = b"\0" * MIB
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            while (room := self.free() - leave) > 0 or leave == 0:
                try:
                    os.write(fd, block[: max(512, min(len(block), room))])
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    if len(block) == 512:
                        break  # not even 512 bytes more: full to the last page
                    block = block[: len(block) // 2]  # the last pages, ever smaller
        finally:
            os.close(fd)
        return path.stat().st_size

    def free_filler(self, name: str = FILLER) -> None:
        """Give the filler's space back (someone deleted their big file)."""
        (self.path / name).unlink(missing_ok=True)

    def grow(self, size: int) -> None:
        """Make the disk ``size`` bytes (ICT gave it more space)."""
        _mount_command(["mount", "-o", f"remount,size={size}", "tmpfs", str(self.path)])
        self.size = size


def _mount_command(args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise OSError(f"{' '.join(args)}: {done.stderr.strip() or done.returncode}")


def _enter_user_namespace() -> str | None:
    """Become root of a new user and mount namespace (this process only); None if it worked."""
    unshare = getattr(os, "unshare", None)
    if unshare is None:
        return "os.unshare needs Python 3.12"
    try:
        uid, gid = os.getuid(), os.getgid()
        unshare(os.CLONE_NEWUSER | os.CLONE_NEWNS)  # type: ignore[attr-defined]
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
        Path("/proc/self/gid_map").write_text(f"0 {gid} 1")
    except OSError as exc:
        return f"unshare: {exc}"
    return None


@contextlib.contextmanager
def small_disk(size: int) -> Iterator[SmallDisk]:
    """A tmpfs of ``size`` bytes, mounted for the ``with`` block (skips if none can be)."""
    folder = Path(tempfile.mkdtemp(prefix="lessoncam-small-disk-"))
    try:
        try:
            _mount_command(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)])
        except OSError as first:
            reason = _enter_user_namespace()
            if reason is not None:
                pytest.skip(f"cannot mount a small disk ({first}; {reason})")
            try:
                _mount_command(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)])
            except OSError as second:
                pytest.skip(f"cannot mount a small disk ({first}; in a user namespace: {second})")
        try:
            yield SmallDisk(folder, size)
        finally:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)
    finally:
        with contextlib.suppress(OSError):
            folder.rmdir()
