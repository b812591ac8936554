"""Deleting a lesson: its rows, then its files; and folders no row refers to any more."""

from __future__ import annotations

import shutil

from sqlite_utils import Database

from ..infra.paths import DataPaths


def delete(db: Database, paths: DataPaths, recording_id: str) -> None:
    """Remove a lesson's rows, then its files (a crash in between leaves files that
    ``remove_orphans`` clears at the next start)."""
    with db.atomic():
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
