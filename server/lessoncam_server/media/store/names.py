"""The names of a lesson's media objects, the same in every store: the file names the
data directory uses (``main.v2.mp4``, ``main.v2.thumbs.jpg``, ``poster.v2.jpg``)."""

from __future__ import annotations

import re
from typing import Any

from sqlite_utils import Database

from ...infra.paths import DataPaths

MEDIA_NAME = re.compile(
    r"^(?:[a-z0-9][a-z0-9_-]{0,31}\.v[0-9]+\.(?:mp4|thumbs\.jpg)|poster\.v[0-9]+\.jpg)$"
)


def checked_name(name: str) -> str:
    """``name`` if it is a media object's name (never a path), else ValueError."""
    if not MEDIA_NAME.fullmatch(name):
        raise ValueError(f"not a media object name: {name!r}")
    return name


def media_names(db: Database, paths: DataPaths, row: dict[str, Any]) -> list[str]:
    """The names of the current media of the ready lesson ``row``: each camera's video and
    thumbnail strip, and the poster."""
    rid, version = row["id"], row["media_version"]
    names = [paths.poster(rid, version).name]
    for (camera,) in db.execute(
        "SELECT camera FROM media WHERE recording_id = ? ORDER BY camera", [rid]
    ).fetchall():
        names.append(paths.video(rid, camera, version).name)
        names.append(paths.thumbnails(rid, camera, version).name)
    return names
