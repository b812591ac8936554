"""Deleting a lesson: its rows, then its files; and folders no row refers to any more."""

from __future__ import annotations

import shutil

from sqlite_utils import Database

from ..infra.paths import DataPaths


def delete(db: Database, paths: DataPaths, recording_id: str) -> None:
    """Remove a lesson's rows, then its files (a crash in between leaves files that
    ``remove_orphans`` clears at the next start).

    Objects in the bucket (its media, or parts of them stored before it was ready) are queued
    in ``store_deletions`` in the same transaction; ``media/store/deletions.py`` deletes them
    and retries until the bucket confirms."""
    with db.atomic():
        row = db.execute(
            "SELECT state, media_store FROM recordings WHERE id = ?", [recording_id]
        ).fetchone()
        if row is not None and (row[1] == "s3" or row[0] != "ready"):
            db.execute(
                "INSERT OR IGNORE INTO store_deletions (recording_id, queued_at)"
                " VALUES (?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                [recording_id],
            )
        db.execute("DELETE FROM recordings WHERE id = ?", [recording_id])
    shutil.rmtree(paths.recording_dir(recording_id), ignore_errors=True)


def remove_orphans(db: Database, paths: DataPaths) -> list[str]:
    """Delete recording folders that no row refers to any more."""
    known = {r[0] for r in db.execute("SELECT id FROM recordings").fetchall()}
    removed = []
    if paths.recordings.exists():
        for folder in paths.recordings.iterdir():
            if folder.is_dir() and folder.name not in known:
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder.name)
    return removed
