"""Assembling while the lesson is still being recorded, so the stop is followed by seconds.

Each camera of a recording that is receiving segments gets a :class:`~.remux.LiveAssembly`;
as segments arrive they are appended in sequence order by one worker thread (remuxing is
disk-bound and the server has few cores). When the recording is complete the assembler asks
:meth:`LiveAssemblies.finish` for the camera's file: only the index remains to be written. If
anything went differently (a server restart, a missing or unreadable segment, an unusually long
lesson) ``finish`` returns None and the assembler remuxes the whole recording as before.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from ..services import Services
from ..units import recordings
from .previews import LiveTiles
from .remux import AssembledVideo, LiveAssembly, RemuxError, SegmentFile

log = logging.getLogger(__name__)

_Key = tuple[str, str]  # (recording id, camera id)


class LiveAssemblies:
    """The live assemblies of every receiving recording. Call from the event loop only."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._live: dict[_Key, tuple[LiveAssembly, int]] = {}  # with the media version
        self._submitted: dict[_Key, int] = {}  # next sequence to hand to the worker
        self._tiles: dict[_Key, LiveTiles] = {}  # seek thumbnails, made by the worker too
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
        live, _ = self._live[key]
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
            self._worker.submit(_add, live, segment)
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
        if found is None:
            self.fell_back += 1
            return None
        live, live_version = found
        loop = asyncio.get_running_loop()
        if live_version != version:
            await loop.run_in_executor(self._worker, live.abandon)
            self.fell_back += 1
            return None
        try:
            video = await loop.run_in_executor(self._worker, live.finish, expected)
        except RemuxError as exc:
            log.info("%s/%s: assembling in full (%s)", recording_id, camera, exc)
            self.fell_back += 1
            return None
        self.used += 1
        return replace(video, live_tiles=tiles)

    def forget(self, recording_id: str) -> None:
        """Drop the live files of a recording that will not be assembled from them."""
        for key in [k for k in self._live if k[0] == recording_id]:
            live, _ = self._live.pop(key)
            self._submitted.pop(key, None)
            self._tiles.pop(key, None)
            self._worker.submit(live.abandon)

    def close(self) -> None:
        for key in list(self._live):
            self.forget(key[0])
        self._worker.shutdown(wait=True)


def _add(live: LiveAssembly, segment: SegmentFile) -> None:
    try:
        live.add(segment)
    except Exception:  # a bug here must not stop later segments or the fallback
        log.exception("live assembly: adding segment %s failed", segment.sequence)
        live.broken = live.broken or "an unexpected error"
