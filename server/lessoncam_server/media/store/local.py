"""The data directory as a media store (the default): a lesson's media are files in its
recording folder, served with sendfile by ``api/media_response.py``."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

from lessoncam_common.durable import fsync_path

from ...infra.paths import RECORDING_ID, DataPaths
from .base import (
    ObjectDamaged,
    ObjectMissing,
    OpenedRange,
    RangeNotSatisfiable,
    StoredObject,
    StoreKind,
)
from .names import MEDIA_NAME, checked_name
from .verify import file_digest_etag

_PIECE = 1024 * 1024


class LocalStore:
    """Lesson media as files in ``<data_dir>/recordings/<id>/``."""

    kind: StoreKind = "local"

    def __init__(self, paths: DataPaths) -> None:
        self.paths = paths

    def path(self, recording_id: str, name: str) -> Path:
        return self.paths.recording_dir(recording_id) / checked_name(name)

    async def put(self, recording_id: str, name: str, source: Path) -> StoredObject:
        dest = self.path(recording_id, name)
        if source.resolve() == dest.resolve():
            return await self.head(recording_id, name)

        def copy() -> StoredObject:
            dest.parent.mkdir(parents=True, exist_ok=True)
            temp = dest.with_name(f".{dest.name}.put.tmp")
            shutil.copyfile(source, temp)
            with temp.open("rb+") as f:
                os.fsync(f.fileno())
            if temp.stat().st_size != source.stat().st_size:
                temp.unlink(missing_ok=True)
                raise ObjectDamaged(f"{name}: the copy's size differs")
            os.replace(temp, dest)
            fsync_path(dest.parent)
            return StoredObject(dest.stat().st_size, file_digest_etag(dest))

        return await asyncio.to_thread(copy)

    async def head(self, recording_id: str, name: str) -> StoredObject:
        path = self.path(recording_id, name)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise ObjectMissing(name) from None
        return StoredObject(st.st_size, f"{st.st_mtime_ns:x}-{st.st_size:x}")

    async def open_range(
        self, recording_id: str, name: str, first: int | None, last: int | None
    ) -> OpenedRange:
        path = self.path(recording_id, name)
        try:
            f = path.open("rb")
        except FileNotFoundError:
            raise ObjectMissing(name) from None
        size = os.fstat(f.fileno()).st_size
        partial = first is not None or last is not None
        if first is None:
            start = max(0, size - (last or 0)) if last is not None else 0
            end = size - 1
        else:
            start, end = first, min(size - 1, last if last is not None else size - 1)
        if partial and (start >= size or end < start):
            f.close()
            raise RangeNotSatisfiable(size)

        async def pieces() -> AsyncIterator[bytes]:
            f.seek(start)
            left = end - start + 1
            while left > 0:
                chunk = await asyncio.to_thread(f.read, min(_PIECE, left))
                if not chunk:
                    return
                left -= len(chunk)
                yield chunk

        async def close() -> None:
            f.close()

        st = os.fstat(f.fileno())
        etag = f"{st.st_mtime_ns:x}-{st.st_size:x}"
        return OpenedRange(size, start, end, etag, partial, pieces(), close)

    async def fetch(self, recording_id: str, name: str, dest: Path) -> StoredObject:
        source = self.path(recording_id, name)
        if not source.exists():
            raise ObjectMissing(name)
        await asyncio.to_thread(shutil.copyfile, source, dest)
        return StoredObject(dest.stat().st_size, file_digest_etag(dest))

    async def names(self, recording_id: str) -> dict[str, int]:
        folder = self.paths.recording_dir(recording_id)
        if not folder.is_dir():
            return {}
        return {
            p.name: p.stat().st_size
            for p in folder.iterdir()
            if p.is_file() and MEDIA_NAME.fullmatch(p.name)
        }

    async def lessons(self) -> set[str]:
        root = self.paths.recordings
        if not root.is_dir():
            return set()
        return {
            folder.name
            for folder in root.iterdir()
            if folder.is_dir()
            and RECORDING_ID.fullmatch(folder.name)
            and any(MEDIA_NAME.fullmatch(p.name) for p in folder.iterdir())
        }

    async def delete_lesson(self, recording_id: str) -> None:
        folder = self.paths.recording_dir(recording_id)
        for path in folder.iterdir() if folder.is_dir() else ():
            if path.is_file() and MEDIA_NAME.fullmatch(path.name):
                path.unlink(missing_ok=True)

    async def presign(
        self, recording_id: str, name: str, content_type: str, disposition: str | None
    ) -> str | None:
        return None

    async def probe(self) -> None:
        return None
