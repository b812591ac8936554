"""The assembler: makes a recording's media once it is complete (a unit's segments remuxed into
one faststart MP4 per camera, a clip cut, an upload remuxed: see ``makers.py``), then publishes
it with poster and thumbnails.

Runs one recording at a time in a worker thread (remuxing is disk-bound and the server has
few cores). Its state lives in the database, so a restart resumes where it stopped. A new
assembly writes files with a new version number and switches to them in one transaction:
a file that may be being served is never rewritten.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import asdict
from functools import partial
from typing import Any

from aiohttp import web

from lessoncam_common.disk import disk_full

from ..infra.timeutil import to_iso
from ..services import SERVICES, Services
from ..units import recordings
from .cutting import MediaRefused
from .live_assembly import LiveAssemblies
from .makers import MediaMaker
from .previews import ThumbnailStrip, make_poster, make_thumbnail_strip
from .remux import AssembledVideo
from .store import WAITING_FOR_STORE, StoreUnavailable, keep_in_store, remove_local_media
from .store.backoff import retry_delay

log = logging.getLogger(__name__)

#: The lesson's state reason while its assembly waits for room on the server's disk.
WAITING_FOR_SPACE = "waiting for space on the server's disk; it is made as soon as there is room"


class Assembler:
    """The queue of recordings to make media for, and the worker that makes it (one at a time).

    ``makers`` has one maker per kind of lesson (``unit``, ``clip``, ``upload``); ``live`` holds
    the files being assembled while units are still sending segments.
    """

    def __init__(
        self, services: Services, makers: Mapping[str, MediaMaker], live: LiveAssemblies
    ) -> None:
        self.services = services
        self.makers = dict(makers)
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self.idle = asyncio.Event()
        self.idle.set()
        self.live = live
        self.disk_retry_s = 30.0  # a full disk: try again this often
        # Media made but not yet in the bucket, so a retry only stores them again.
        self._made: dict[str, tuple[int, list[tuple[str, AssembledVideo]], str]] = {}
        self._store_failures: dict[str, int] = {}

    def segment_stored(self, recording_id: str, camera: str) -> None:
        """A unit's segment arrived: remux it into the camera's file now, not after the stop."""
        try:
            self.live.segment_stored(recording_id, camera)
        except Exception:  # the full assembly at the end still works without it
            log.exception("live assembly of %s/%s failed", recording_id, camera)

    def consider(self, recording_id: str) -> None:
        """Start assembling when every segment the unit announced has arrived."""
        db = self.services.db
        row = recordings.get(db, recording_id)
        if row is None or row["state"] != "receiving" or row["expected_segments"] is None:
            return  # still recording: the unit has not said how many segments to expect
        if recordings.progress(db, row).complete:
            recordings.set_state(db, recording_id, "assembling")
            self._enqueue(recording_id)

    def _enqueue(self, recording_id: str) -> None:
        if recording_id not in self._queued:
            self._queued.add(recording_id)
            self.idle.clear()
            self._queue.put_nowait(recording_id)

    def resume(self) -> None:
        """After a restart: requeue interrupted assemblies and re-check waiting recordings."""
        db = self.services.db
        for (rid,) in db.execute("SELECT id FROM recordings WHERE state = 'assembling'").fetchall():
            self._enqueue(rid)
        for (rid,) in db.execute("SELECT id FROM recordings WHERE state = 'receiving'").fetchall():
            self.consider(rid)

    async def run(self) -> None:
        while True:
            rid = await self._queue.get()
            try:
                await self.assemble(rid)
            except StoreUnavailable as exc:
                self._wait_for_store(rid, exc)
            except MediaRefused as exc:
                log.info("recording %s cannot be made: %s", rid, exc.reason)
                if recordings.get(self.services.db, rid) is not None:
                    recordings.set_state(self.services.db, rid, "failed", exc.reason)
            except Exception as exc:
                self.live.forget(rid)
                if disk_full(exc):
                    self._wait_for_space(rid, exc)
                    continue
                log.exception("assembly of %s failed", rid)
                if recordings.get(self.services.db, rid) is not None:
                    recordings.set_state(self.services.db, rid, "failed", f"assembly failed: {exc}")
            finally:
                self._queued.discard(rid)
                if self._queue.empty():
                    self.idle.set()

    def _wait_for_space(self, recording_id: str, exc: BaseException) -> None:
        """The disk filled during assembly: drop the half-made files, say so, try again."""
        log.error("assembly of %s: the server's disk is full (%s); retrying", recording_id, exc)
        row = recordings.get(self.services.db, recording_id)
        if row is None:
            return
        _remove_unpublished(self.services, recording_id, row["media_version"] + 1)
        with contextlib.suppress(Exception):  # the database may be as full as the disk
            recordings.set_state(self.services.db, recording_id, "assembling", WAITING_FOR_SPACE)
        loop = asyncio.get_running_loop()
        loop.call_later(self.disk_retry_s, self._enqueue, recording_id)

    def _wait_for_store(self, recording_id: str, exc: StoreUnavailable) -> None:
        """The bucket failed: keep the made files, say so, and try again with backoff."""
        failures = self._store_failures.get(recording_id, 0) + 1
        self._store_failures[recording_id] = failures
        delay = retry_delay(failures, self.services.stores.retry_max_s)
        log.error(
            "lesson %s waits for the media store (retry in %.0f s): %s", recording_id, delay, exc
        )
        if recordings.get(self.services.db, recording_id) is None:
            self._made.pop(recording_id, None)
            return
        recordings.set_state(self.services.db, recording_id, "assembling", WAITING_FOR_STORE)
        asyncio.get_running_loop().call_later(delay, self._enqueue, recording_id)

    def forget(self, recording_id: str) -> None:
        """A recording was deleted: drop what is being assembled of it while it is received."""
        self.live.forget(recording_id)
        self._made.pop(recording_id, None)

    def submit(self, recording_id: str) -> None:
        """Queue a recording already in state 'assembling' (a clip, a browser upload)."""
        self._enqueue(recording_id)

    async def assemble(self, recording_id: str) -> None:
        db = self.services.db
        row = recordings.get(db, recording_id)
        if row is None:
            return
        version = row["media_version"] + 1
        made = self._made.get(recording_id)
        if made is not None and made[0] == version and all(v.path.exists() for _, v in made[1]):
            videos, main = made[1], made[2]
        else:
            make = self.makers[row.get("kind") or "unit"]
            videos, main = await make(row, version)
            self._made[recording_id] = (version, videos, main)
        try:
            await publish_media(self.services, recording_id, version, videos, main)
        finally:  # uploads sent while written that were not waited for are given up
            self.services.stores.live.drop(recording_id)
        self._made.pop(recording_id, None)
        self._store_failures.pop(recording_id, None)


async def publish_media(
    services: Services,
    recording_id: str,
    version: int,
    videos: list[tuple[str, AssembledVideo]],
    main_camera: str,
) -> bool:
    """Make seek thumbnails for every video and the poster from ``main_camera``'s, then make
    them the recording's media (state 'ready') in one transaction and remove older files.

    Shared by lessons from units, clips and browser uploads. Returns False when the
    recording was deleted meanwhile (its folder goes with it).
    """
    db, paths = services.db, services.paths
    media: list[dict[str, Any]] = []
    # Every camera's strip and the poster at once: they only read, and the stop is waiting.
    strips = await asyncio.gather(
        *(
            asyncio.to_thread(
                partial(make_thumbnail_strip, live=video.live_tiles),
                video.path,
                paths.thumbnails(recording_id, camera, version),
            )
            for camera, video in videos
        ),
        asyncio.to_thread(
            make_poster, dict(videos)[main_camera].path, paths.poster(recording_id, version)
        ),
    )
    for (camera, video), strip in zip(videos, strips, strict=False):
        assert isinstance(strip, ThumbnailStrip)
        thumbs = asdict(strip)
        thumbs.pop("path")
        media.append(
            {
                "recording_id": recording_id,
                "camera": camera,
                "file_name": video.path.name,
                "duration_s": video.duration_s,
                "width": video.width,
                "height": video.height,
                "has_audio": int(video.has_audio),
                "size": video.size,
                "gaps": json.dumps(video.gaps),
                "thumbs": json.dumps(thumbs),
            }
        )
    main_video = dict(videos)[main_camera]
    names = [paths.poster(recording_id, version).name]
    for camera, video in videos:
        names += [video.path.name, paths.thumbnails(recording_id, camera, version).name]
    # Into the bucket (verified) before the lesson is ready; a failure waits and retries.
    store_kind = await keep_in_store(services.stores, paths, recording_id, names)
    with db.atomic():
        if recordings.get(db, recording_id) is None:
            return False
        db.execute("DELETE FROM media WHERE recording_id = ?", [recording_id])
        db.table("media").insert_all(media)
        db.table("recordings").update(
            recording_id,
            {
                "state": "ready",
                "state_reason": None,
                "media_version": version,
                "duration_s": main_video.duration_s,
                "ready_at": to_iso(services.now()),
                "media_store": store_kind,
            },
        )
    _remove_stale_files(services, recording_id, version)
    log.info("recording %s ready (version %d)", recording_id, version)
    return True


def _remove_stale_files(services: Services, recording_id: str, version: int) -> int:
    """Delete earlier versions and leftovers of interrupted runs; keep segments. Returns how
    many files went. A lesson the bucket holds keeps nothing here."""
    paths = services.paths
    row = recordings.get(services.db, recording_id)
    if row is not None and row.get("media_store") == "s3":
        return remove_local_media(paths, recording_id)
    keep = {paths.poster(recording_id, version).name}
    for (camera,) in services.db.execute(
        "SELECT camera FROM media WHERE recording_id = ?", [recording_id]
    ).fetchall():
        keep.add(paths.video(recording_id, camera, version).name)
        keep.add(paths.thumbnails(recording_id, camera, version).name)
    removed = 0
    folder = paths.recording_dir(recording_id)
    for path in folder.iterdir() if folder.is_dir() else ():
        if path.is_file() and path.name not in keep:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def remove_leftovers(services: Services) -> int:
    """At start-up, before any assembly runs: delete what runs a crash interrupted left in the
    recordings' folders. Temporary files of every recording go; a ready recording keeps only
    its current media (a crash between publishing and tidying up leaves older files too).
    Returns how many files went."""
    removed = 0
    for rid, state, version in services.db.execute(
        "SELECT id, state, media_version FROM recordings"
    ).fetchall():
        if state == "ready":
            removed += _remove_stale_files(services, rid, version)
            continue
        folder = services.paths.recording_dir(rid)
        for temp in folder.glob(".*.tmp") if folder.is_dir() else ():
            temp.unlink(missing_ok=True)
            removed += 1
    return removed


def _remove_unpublished(services: Services, recording_id: str, version: int) -> None:
    """Delete the files of a media version that was never published (half made)."""
    folder = services.paths.recording_dir(recording_id)
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if path.is_file() and f".v{version}." in path.name:
            path.unlink(missing_ok=True)


#: Builds the makers once the services exist (``app.py`` decides which kind gets which).
MakersFactory = Callable[[Services, LiveAssemblies], Mapping[str, MediaMaker]]


def assembler_ctx(
    makers: MakersFactory,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup_ctx that starts the assembler with ``makers`` and resumes unfinished work,
    and stops it on shutdown."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        services = app[SERVICES]
        live = LiveAssemblies(services)
        assembler = Assembler(services, makers(services, live), live)
        services.assembler = assembler
        removed = remove_leftovers(services)  # nothing is served or assembled yet
        if removed:
            log.warning("removed %d file(s) left by interrupted assemblies", removed)
        assembler.resume()
        task = asyncio.create_task(assembler.run(), name="assembler")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await services.stores.live.close()  # abort uploads of unfinished lessons
        await asyncio.to_thread(live.close)
        services.assembler = None

    return ctx
