"""The makers: how each kind of lesson gets its media, for the assembler.

- ``unit``: a classroom unit's segments, remuxed per camera (the live file when it is whole);
- ``clip``: a fragment of a ready lesson, cut at the main camera's keyframes;
- ``upload``: a video uploaded from a browser, remuxed into a faststart MP4.

Each maker writes the videos of media version ``version`` and returns them with the camera the
poster comes from; the assembler publishes them. ``app.py`` hands the assembler one maker per kind.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from sqlite_utils import Database

from lessoncam_common.disk import disk_full

from ..infra.paths import DataPaths
from ..lessons.fragments import gaps_within
from ..units import recordings
from .cutting import MediaRefused, cut, keyframe_span
from .live_assembly import LiveAssemblies
from .remux import AssembledVideo, RemuxError, SegmentFile, assemble_camera
from .store import LocalStore, MediaStores, local_copy

log = logging.getLogger(__name__)

#: The videos made (camera id, video) and the camera of the poster.
Made = tuple[list[tuple[str, AssembledVideo]], str]


class MediaMaker(Protocol):
    """Makes the media of one kind of lesson; raises MediaRefused when it cannot be made."""

    async def __call__(self, row: Mapping[str, Any], version: int, /) -> Made: ...


class UnitLessonMaker:
    """A unit's lesson: each camera's segments into one MP4 (the live file when it is whole)."""

    def __init__(self, db: Database, paths: DataPaths, live: LiveAssemblies) -> None:
        self.db, self.paths, self.live = db, paths, live

    async def __call__(self, row: Mapping[str, Any], version: int) -> Made:
        recording_id = row["id"]
        db, paths = self.db, self.paths
        manifest = recordings.manifest_of(row)
        plan = json.loads(row["expected_segments"])
        received = recordings.received_segments(db, recording_id)
        videos: list[tuple[str, AssembledVideo]] = []
        poster_camera = None
        for camera in manifest.cameras:
            expected = int(plan["segments"].get(camera.id, 0))
            segments = [
                SegmentFile(
                    sequence=seq,
                    start_s=seg["start_s"],
                    duration_s=seg["duration_s"],
                    path=paths.segment(recording_id, camera.id, seq),
                )
                for seq, seg in sorted(received.get(camera.id, {}).items())
            ]
            if expected == 0 or not segments:
                continue
            out = paths.video(recording_id, camera.id, version)
            try:
                video = await self.live.finish(recording_id, camera.id, expected, version)
                if video is None:
                    video = await asyncio.to_thread(assemble_camera, segments, expected, out)
            except RemuxError as exc:
                if camera.role == "main" or disk_full(exc):
                    raise  # a full disk is waited out, not taken as a camera without video
                log.warning("camera %s of %s not assembled: %s", camera.id, recording_id, exc)
                continue
            videos.append((camera.id, video))
            if camera.role == "main" or poster_camera is None:
                poster_camera = camera.id
        if poster_camera is None:
            raise RemuxError("no camera produced any video")
        return videos, poster_camera


class ClipMaker:
    """A clip: every camera of the source cut at the main camera's keyframes.

    The main camera decides the cut: from its keyframe at or before the wanted start to its
    first keyframe at or after the wanted end. The other cameras are cut on the same
    timeline, so the player keeps them in sync; each starts at its first keyframe.
    """

    def __init__(self, db: Database, paths: DataPaths, stores: MediaStores | None = None) -> None:
        self.db, self.paths = db, paths
        self.stores = stores or MediaStores(LocalStore(paths))

    async def __call__(self, clip: Mapping[str, Any], version: int) -> Made:
        # A source in the bucket is cut from a verified local copy, removed afterwards.
        sources: dict[str, Path] = {}
        try:
            return await self._cut(clip, version, sources)
        finally:
            for path in sources.values():
                if path.name.startswith(".source-"):
                    path.unlink(missing_ok=True)

    async def _cut(self, clip: Mapping[str, Any], version: int, sources: dict[str, Path]) -> Made:
        db, paths = self.db, self.paths
        source = recordings.get(db, clip["source_id"]) if clip["source_id"] else None
        if source is None or source["state"] != "ready":
            raise MediaRefused("source_gone", "the lesson this clip comes from was deleted")
        # Each camera of the source with its holes.
        media = {
            camera: json.loads(gaps)
            for camera, gaps in db.execute(
                "SELECT camera, gaps FROM media WHERE recording_id = ?", [source["id"]]
            ).fetchall()
        }
        manifest = recordings.manifest_of(source)
        main = next((c.id for c in manifest.cameras if c.role == "main" and c.id in media), None)
        if main is None:
            raise MediaRefused("source_gone", "the lesson has no main camera video")
        src_version = source["media_version"]
        for camera in media:
            name = paths.video(source["id"], camera, src_version).name
            cache = paths.recording_dir(clip["id"]) / f".source-{camera}.tmp"
            cache.parent.mkdir(parents=True, exist_ok=True)
            sources[camera] = await local_copy(
                self.stores, paths, source["media_store"], source["id"], name, cache
            )

        def work() -> tuple[list[tuple[str, AssembledVideo]], float, float]:
            main_src = sources[main]
            span = keyframe_span(main_src, clip["source_start_s"], clip["source_end_s"])
            videos = []
            for camera in [main, *(c for c in media if c != main)]:
                out = paths.video(clip["id"], camera, version)
                src = sources[camera]
                try:
                    video = cut(src, out, span.start_s, span.end_s)
                except RemuxError:
                    if camera == main:
                        raise
                    continue
                # The lesson's holes (lost segments) inside the clip stay holes, on its timeline.
                gaps = gaps_within(media[camera], span.start_s, span.end_s)
                videos.append((camera, replace(video, gaps=gaps)))
            return videos, span.start_s, span.end_s

        videos, start, end = await asyncio.to_thread(work)
        db.table("recordings").update(
            clip["id"],
            {"source_start_s": round(start, 3), "source_end_s": round(end, 3)},
        )
        return videos, main


class UploadMaker:
    """A video uploaded from a browser: its original remuxed (never re-encoded) into an MP4."""

    def __init__(self, paths: DataPaths) -> None:
        self.paths = paths

    async def __call__(self, row: Mapping[str, Any], version: int) -> Made:
        original = self.paths.upload_original(row["id"])
        if not original.exists():
            raise MediaRefused("upload_gone", "the uploaded file is gone; upload it again")
        out = self.paths.video(row["id"], "main", version)
        video = await asyncio.to_thread(cut, original, out, 0.0)
        return [("main", video)], "main"
