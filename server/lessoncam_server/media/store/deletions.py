"""Deleting a lesson's objects from the bucket, retried until the bucket confirms.

The lesson's row goes at once (``lessons/deletion.py``) and a row in ``store_deletions`` takes
its place in the same transaction; the sweeper here deletes the objects and removes that row
only when a listing of the lesson's prefix comes back empty.
"""

from __future__ import annotations

import asyncio
import logging

from sqlite_utils import Database

from .backoff import retry_delay
from .base import StoreUnavailable
from .registry import MediaStores

log = logging.getLogger(__name__)

#: How often an idle sweeper looks for deletions queued by a request or the retention sweep.
POLL_S = 10.0


def pending(db: Database) -> list[str]:
    """The recordings whose objects are still to be deleted."""
    return [r[0] for r in db.execute("SELECT recording_id FROM store_deletions").fetchall()]


async def sweep(stores: MediaStores, db: Database) -> int:
    """Try every pending deletion once; returns how many are still pending."""
    if stores.bucket is None:
        return len(pending(db))
    left = 0
    for rid in pending(db):
        try:
            await stores.bucket.delete_lesson(rid)
        except StoreUnavailable as exc:
            left += 1
            db.execute(
                "UPDATE store_deletions SET attempts = attempts + 1, last_error = ?"
                " WHERE recording_id = ?",
                [str(exc), rid],
            )
            log.warning("deleting lesson %s from the bucket failed, will retry: %s", rid, exc)
            continue
        db.execute("DELETE FROM store_deletions WHERE recording_id = ?", [rid])
        log.info("lesson %s: every object deleted from the bucket", rid)
    return left


async def sweeper(stores: MediaStores, db: Database) -> None:
    """Run ``sweep`` every few seconds, and with backoff while deletions fail."""
    failures = 0
    while True:
        try:
            left = await sweep(stores, db)
        except Exception:  # the loop must outlive one bad sweep
            log.exception("bucket deletion sweep failed")
            left = 1
        failures = failures + 1 if left else 0
        delay = retry_delay(failures, stores.retry_max_s) if left else POLL_S
        await asyncio.sleep(delay)
