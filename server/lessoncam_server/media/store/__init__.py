"""Where a ready lesson's media live: the data directory (default) or an S3-compatible
bucket. See ``base.py`` for the interface and ``docs/architecture.md`` for the flow."""

from __future__ import annotations

from .base import (
    WAITING_FOR_STORE,
    MediaStore,
    ObjectDamaged,
    ObjectMissing,
    StoredObject,
    StoreKind,
    StoreUnavailable,
)
from .local import LocalStore
from .placement import keep_in_store, local_copy, remove_local_media
from .registry import MediaStores

__all__ = [
    "WAITING_FOR_STORE",
    "LocalStore",
    "MediaStore",
    "MediaStores",
    "ObjectDamaged",
    "ObjectMissing",
    "StoreKind",
    "StoreUnavailable",
    "StoredObject",
    "keep_in_store",
    "local_copy",
    "remove_local_media",
]
