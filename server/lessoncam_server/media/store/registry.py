"""The stores a server has: the data directory always, the bucket when ``[storage.s3]`` names
one; and which of them new lessons go to (``[storage] media``)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .base import MediaStore, MultipartStore, StoreKind, StoreUnavailable
from .live_upload import LiveUpload, LiveUploads
from .local import LocalStore

#: How long one answer about the bucket's health is reused (``/healthz`` is public).
HEALTH_TTL_S = 10.0


@dataclass
class MediaStores:
    """The local store, the bucket (None until opened, or when not configured), the target."""

    local: LocalStore
    target: StoreKind = "local"
    bucket: MediaStore | None = None
    retry_max_s: float = 300.0
    live: LiveUploads = field(default_factory=LiveUploads)
    _health: tuple[float, bool, str] | None = field(default=None, repr=False)

    def get(self, kind: str) -> MediaStore:
        """The store of ``kind``; StoreUnavailable when the bucket is not configured or open."""
        if kind == "local":
            return self.local
        if kind == "s3" and self.bucket is not None:
            return self.bucket
        raise StoreUnavailable("the media store 's3' is not configured ([storage.s3] bucket)")

    def of(self, row: Mapping[str, Any]) -> MediaStore:
        """The store that holds the lesson ``row``'s media."""
        return self.get(row.get("media_store") or "local")

    def target_store(self) -> MediaStore:
        return self.get(self.target)

    def start_live_upload(self, recording_id: str, name: str, path: Path) -> LiveUpload | None:
        """Send the growing file ``path`` while it is written, when new lessons go to a
        store that takes parts (the bucket); None otherwise. Call from the event loop."""
        store = self.bucket if self.target == "s3" else None
        if not isinstance(store, MultipartStore):
            return None
        return self.live.start(store, recording_id, name, path, self.retry_max_s)

    async def health(self) -> tuple[bool, str]:
        """Whether the stores answer now (the bucket when one is configured, as lessons may be
        in it whatever the target), cached a few seconds; and why not."""
        now = time.monotonic()
        if self._health is not None and now - self._health[0] < HEALTH_TTL_S:
            return self._health[1], self._health[2]
        try:
            await (self.bucket or self.target_store()).probe()
            ok, why = True, ""
        except StoreUnavailable as exc:
            ok, why = False, str(exc)
        self._health = (now, ok, why)
        return ok, why
