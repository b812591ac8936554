"""Moving lessons between the data directory and the bucket, and checking that both hold
what the database says (``lessoncam-server storage migrate`` and ``storage check``).

A lesson moves on its own: every object is copied and verified (size and checksum), then the
lesson's row switches store in one transaction (only if its media did not change meanwhile),
then the old copy goes. Stopped at any point, a run leaves every lesson whole in one store;
the next run starts again at the first lesson that has not switched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from ...infra.db import query_rows
from ...infra.paths import DataPaths
from .base import ObjectMissing, StoreKind, StoreUnavailable
from .names import media_names
from .placement import remove_local_media
from .registry import MediaStores

log = logging.getLogger(__name__)


@dataclass
class MigrationReport:
    """What one run did: lessons moved, lessons that stay for a later run (with why)."""

    moved: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    objects: int = 0
    bytes: int = 0


def to_move(db: Database, target: StoreKind) -> list[dict[str, Any]]:
    """The ready lessons whose media are not in ``target`` yet, oldest first."""
    return query_rows(
        db,
        "SELECT * FROM recordings WHERE state = 'ready' AND media_store != ?"
        " ORDER BY started_at, id",
        [target],
    )


async def move_lesson(
    db: Database, paths: DataPaths, stores: MediaStores, row: dict[str, Any], target: StoreKind
) -> tuple[int, int]:
    """Copy one lesson's media to ``target``, verify, switch, remove the old copy. Returns
    (objects, bytes) copied; raises StoreUnavailable (nothing switched) on any failure."""
    rid, source_kind = row["id"], row["media_store"]
    source, dest = stores.get(source_kind), stores.get(target)
    folder = paths.recording_dir(rid)
    if target == "s3":
        # A queued deletion of this lesson's objects must not run after the copy.
        await dest.delete_lesson(rid)
        db.execute("DELETE FROM store_deletions WHERE recording_id = ?", [rid])
    count = size = 0
    for name in media_names(db, paths, row):
        if target == "s3":
            held = await dest.put(rid, name, folder / name)
        else:
            held = await source.fetch(rid, name, folder / name)
        original = await source.head(rid, name)
        if held.size != original.size:
            raise StoreUnavailable(f"{name}: {held.size} bytes copied of {original.size}")
        count, size = count + 1, size + held.size
    with db.atomic():
        switched = db.execute(
            "UPDATE recordings SET media_store = ? WHERE id = ? AND media_store = ?"
            " AND media_version = ? AND state = 'ready'",
            [target, rid, source_kind, row["media_version"]],
        ).rowcount
    if not switched:
        raise StoreUnavailable("the lesson changed while it was copied; run again")
    if target == "s3":
        remove_local_media(paths, rid)
    else:
        try:
            await source.delete_lesson(rid)
        except StoreUnavailable as exc:  # the sweeper retries it
            log.warning("lesson %s: old objects stay queued for deletion: %s", rid, exc)
            db.execute(
                "INSERT OR IGNORE INTO store_deletions (recording_id, queued_at)"
                " VALUES (?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                [rid],
            )
    return count, size


async def migrate(
    db: Database,
    paths: DataPaths,
    stores: MediaStores,
    target: StoreKind,
    on_lesson: Callable[[str, int, int], None] | None = None,
) -> MigrationReport:
    """Move every ready lesson to ``target`` (see the module's doc). A lesson that fails
    stays where it is and is named in the report; the others go on."""
    stores.get(target)  # the bucket must be configured before anything is tried
    report = MigrationReport()
    for row in to_move(db, target):
        try:
            objects, size = await move_lesson(db, paths, stores, row, target)
        except (StoreUnavailable, ObjectMissing) as exc:
            report.failed[row["id"]] = str(exc) or type(exc).__name__
            log.error("lesson %s not moved: %s", row["id"], exc)
            continue
        report.moved.append(row["id"])
        report.objects += objects
        report.bytes += size
        if on_lesson is not None:
            on_lesson(row["id"], objects, size)
    return report


@dataclass
class CheckReport:
    """Objects without a lesson (per store) and lessons without (all) their objects."""

    orphans: dict[str, list[str]] = field(default_factory=dict)
    incomplete: dict[str, list[str]] = field(default_factory=dict)
    pending_deletions: int = 0

    @property
    def clean(self) -> bool:
        return not any(self.orphans.values()) and not self.incomplete


async def check(db: Database, paths: DataPaths, stores: MediaStores) -> CheckReport:
    """Compare every store's objects with the database's lessons."""
    report = CheckReport()
    known = {r[0] for r in db.execute("SELECT id FROM recordings").fetchall()}
    queued = {r[0] for r in db.execute("SELECT recording_id FROM store_deletions").fetchall()}
    kinds: list[StoreKind] = ["local"]
    if stores.bucket is not None:
        kinds.append("s3")
    for kind in kinds:
        held = await stores.get(kind).lessons()
        report.orphans[kind] = sorted(held - known - (queued if kind == "s3" else set()))
    if stores.bucket is not None:
        report.pending_deletions = len(queued)
    for row in query_rows(db, "SELECT * FROM recordings WHERE state = 'ready'"):
        try:
            store = stores.of(row)
        except StoreUnavailable:
            report.incomplete[row["id"]] = ["(the lesson's store is not configured)"]
            continue
        present = await store.names(row["id"])
        sizes = {
            paths.video(row["id"], camera, row["media_version"]).name: size
            for camera, size in db.execute(
                "SELECT camera, size FROM media WHERE recording_id = ?", [row["id"]]
            ).fetchall()
        }
        wrong = [
            name
            for name in media_names(db, paths, row)
            if name not in present or (name in sizes and present[name] != sizes[name])
        ]
        if wrong:
            report.incomplete[row["id"]] = wrong
    return report
