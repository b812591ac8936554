"""Assembling while the lesson is still being recorded, so the stop is followed by seconds.

Each camera of a recording that is receiving segments gets a :class:`~.remux.LiveAssembly`;
as segments arrive they are appended in sequence order by one worker thread (remuxing is
disk-bound and the server has few cores). When the recording is complete the assembler asks
:meth:`LiveAssemblies.finish` for the camera's file: only the index remains to be written. If
anything went differently (a server restart, a missing or unreadable segment, an unusually long
lesson) ``finish`` returns None and the assembler remuxes the whole recording as before.

When new lessons go to the bucket, each camera's file is also sent while it is written
(``store/live_upload.py``): after every segment the upload is told the file grew, and
``finish`` hands the upload over to be completed while the poster and strips are made.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace

from ..services import Services
from ..units import recordings
from .previews import LiveTiles
from .remux import AssembledVideo, LiveAssembly, RemuxError, SegmentFile
from .store.live_upload import LiveUpload

log = logging.getLogger(__name__)

_Key = tuple[str, str]  # (recording id, camera id)


class LiveAssemblies:
    """The live assemblies of every receiving recording. Call from the event loop only."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._live: dict[_Key, tuple[LiveAssembly, int]] = {}  # with the media version
        self._submitted: dict[_Key, int] = {}  # next sequence to hand to the worker
        self._tiles: dict[_Key, LiveTiles] = {}  # seek thumbnails, made by the worker too
        self._uploads: dict[_Key, LiveUpload] = {}  # files sent to the bucket as they grow
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="live-assembly")
        self.used = 0  # cameras whose live file became the lesson's video
        self.fell_back = 0  # cameras that had to be assembled in full after all

    def segment_stored(self, recording_id: str, camera: str) -> None:
        """A segment of ``camera`` arrived: append it, and any it was holding back."""
        db, paths = self.services.db, self.services.paths
        row = recordings.get(db, recording_id)
        if row is None or row["state"] != "receiving" or row.get("kind", "unit") != "unit":
            return
        key = (recording_id, camera)
        if key not in self._live:
            manifest = recordings.manifest_of(row)
            version = row["media_version"] + 1
            out = paths.video(recording_id, camera, version)
            tiles = LiveTiles()
            live = LiveAssembly(
                out, with_audio=manifest.audio_camera == camera, on_keyframe=tiles.add
            )
            self._live[key] = (live, version)
            self._tiles[key] = tiles
            self._submitted[key] = 0
            upload = self.services.stores.start_live_upload(
                recording_id, out.name, live.working_path
            )
            if upload is not None:
                self._uploads[key] = upload
        live, _ = self._live[key]
        upload = self._uploads.get(key)
        nxt = self._submitted[key]
        received = recordings.camera_segments(db, recording_id, camera, nxt)
        while nxt in received:
            seg = received[nxt]
            segment = SegmentFile(
                sequence=nxt,
                start_s=seg["start_s"],
                duration_s=seg["duration_s"],
                path=paths.segment(recording_id, camera, nxt),
            )
            added = self._worker.submit(_add, live, segment)
            if upload is not None:
                added.add_done_callback(_grown(asyncio.get_running_loop(), upload))
            nxt += 1
        self._submitted[key] = nxt

    async def finish(
        self, recording_id: str, camera: str, expected: int, version: int
    ) -> AssembledVideo | None:
        """The camera's finished MP4 at ``version``, or None: assemble it the full way."""
        key = (recording_id, camera)
        found = self._live.pop(key, None)
        self._submitted.pop(key, None)
        tiles = self._tiles.pop(key, None)
        upload = self._uploads.pop(key, None)
        if found is None:
            self.fell_back += 1
            return None
        live, live_version = found
        loop = asyncio.get_running_loop()
        if live_version != version:
            await loop.run_in_executor(self._worker, live.abandon)
            self._fell_back(upload, "the media version changed")
            return None
        try:
            video = await loop.run_in_executor(self._worker, live.finish, expected)
        except RemuxError as exc:
            log.info("%s/%s: assembling in full (%s)", recording_id, camera, exc)
            self._fell_back(upload, "the live assembly could not be used")
            return None
        self.used += 1
        if upload is not None:
            self.services.stores.live.hand_over(upload, video.path)
        return replace(video, live_tiles=tiles)

    def _fell_back(self, upload: LiveUpload | None, why: str) -> None:
        self.fell_back += 1
        if upload is not None:
            upload.abandon(why)

    def forget(self, recording_id: str) -> None:
        """Drop the live files of a recording that will not be assembled from them."""
        for key in [k for k in self._live if k[0] == recording_id]:
            live, _ = self._live.pop(key)
            self._submitted.pop(key, None)
            self._tiles.pop(key, None)
            upload = self._uploads.pop(key, None)
            if upload is not None:
                upload.abandon("the recording is not assembled from it")
            self._worker.submit(live.abandon)
        self.services.stores.live.drop(recording_id)

    def close(self) -> None:
        """At shutdown, after the live uploads were closed (``LiveUploads.close``)."""
        for key in list(self._live):
            self.forget(key[0])
        self._worker.shutdown(wait=True)


def _add(live: LiveAssembly, segment: SegmentFile) -> tuple[int | None, str | None]:
    """Append the segment; then where the file's final bytes start, and why it is broken."""
    try:
        live.add(segment)
    except Exception:  # a bug here must not stop later segments or the fallback
        log.exception("live assembly: adding segment %s failed", segment.sequence)
        live.broken = live.broken or "an unexpected error"
    return live.stable_from(), live.broken


def _grown(
    loop: asyncio.AbstractEventLoop, upload: LiveUpload
) -> Callable[[Future[tuple[int | None, str | None]]], None]:
    """Tell ``upload`` on the event loop (from the worker) that its file grew or broke."""

    def told(added: Future[tuple[int | None, str | None]]) -> None:
        if added.cancelled() or added.exception() is not None:
            return
        stable_from, broken = added.result()
        with contextlib.suppress(RuntimeError):  # the loop closed: the upload ended with it
            if broken is not None:
                loop.call_soon_threadsafe(upload.abandon, f"the live assembly stopped: {broken}")
            else:
                loop.call_soon_threadsafe(upload.grew, stable_from)

    return told
