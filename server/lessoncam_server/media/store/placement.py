"""Putting a lesson's freshly made media in the store new lessons go to, and tidying the
data directory once the bucket holds a verified copy."""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from pathlib import Path

from ...infra.paths import DataPaths
from .base import StoredObject, StoreKind, StoreUnavailable
from .names import MEDIA_NAME
from .registry import MediaStores

log = logging.getLogger(__name__)


async def keep_in_store(
    stores: MediaStores, paths: DataPaths, recording_id: str, names: list[str]
) -> StoreKind:
    """Store the made files ``names`` (in the lesson's folder) in the target store, each
    verified; returns the kind of store that now holds them. Raises StoreUnavailable (or
    ObjectDamaged) and leaves the local files alone when the bucket fails."""
    target = stores.target_store()
    if target.kind == "local":
        return "local"
    folder = paths.recording_dir(recording_id)
    started = time.monotonic()

    async def store(name: str) -> StoredObject:
        # A video sent while it was written only has its completion left to wait for.
        sent = stores.live.take(recording_id, name)
        if sent is not None:
            try:
                return await sent
            except StoreUnavailable as exc:
                log.warning("lesson %s: sending %s whole (%s)", recording_id, name, exc)
        return await target.put(recording_id, name, folder / name)

    # The poster and strips (small) go while the videos' last parts do.
    held = await asyncio.gather(*(store(name) for name in names))
    log.info(
        "lesson %s in the bucket: %d objects, %d bytes, verified, in %.2f s",
        recording_id,
        len(held),
        sum(h.size for h in held),
        time.monotonic() - started,
    )
    return target.kind


def remove_local_media(paths: DataPaths, recording_id: str) -> int:
    """The bucket holds the lesson: delete its media files, segments and upload original
    from the data directory. Returns how many entries went."""
    folder = paths.recording_dir(recording_id)
    removed = 0
    for path in folder.iterdir() if folder.is_dir() else ():
        if path.is_dir() and path.name == "segments":
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
        elif path.is_file() and (MEDIA_NAME.fullmatch(path.name) or _leftover(path)):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _leftover(path: Path) -> bool:
    return path.name == "original.upload" or path.name.endswith(".tmp")


async def local_copy(
    stores: MediaStores,
    paths: DataPaths,
    store_kind: str,
    recording_id: str,
    name: str,
    cache: Path,
) -> Path:
    """A local file with the lesson's object ``name``: the file itself on the local store,
    else a verified copy fetched into ``cache`` (the caller removes it)."""
    if store_kind == "local":
        return paths.recording_dir(recording_id) / name
    await stores.get(store_kind).fetch(recording_id, name, cache)
    return cache
