"""The upload loop: registers recordings, uploads their segments, completes them, and applies
the keep policy, one thing at a time, in the queue's order.

``step()`` does one piece of work and says what to do next; ``run()`` loops over it:
network trouble (no answer, timeout, 5xx) pauses the whole loop with backoff and jitter;
a refusal of one item (4xx) backs off that item only; a revoked token (401) stops uploading
until the unit is enrolled again. Nothing is deleted that the server has not confirmed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import BinaryIO, Literal

from lessoncam_common.disk import disk_full

from ..clock import Clock
from .client import Refused, ServerClient, TimedOut, Unauthorized, Unavailable
from .policy import Backoff, KeepPolicy, TokenBucket, UploadWindows, is_due
from .queue import QueuedRecording, QueuedSegment, UploadQueue

log = logging.getLogger(__name__)

#: aiohttp warns about request bodies over 1 MiB given as bytes (aiotus sends chunks so).
MAX_CHUNK_BYTES = 1024 * 1024
_MIN_CHUNK_BYTES = 16 * 1024
# Chunks sent in time, one after another, before a chunk halved after a timeout doubles again.
_CHUNKS_BEFORE_GROWING = 8


@dataclass(frozen=True)
class UploadSettings:
    """How the uploader behaves; every field has a default (see ``docs/uploads.md``)."""

    chunk_bytes: int = MAX_CHUNK_BYTES
    bandwidth_bytes_per_s: int = 0  # 0: no cap
    windows: tuple[str, ...] = ()  # local "HH:MM-HH:MM"; empty: always
    keep: KeepPolicy = field(default_factory=KeepPolicy)
    backoff: Backoff = field(default_factory=Backoff)
    quick_checksum_retries: int = 3  # re-uploads after HTTP 460 before backing off

    def __post_init__(self) -> None:
        if not _MIN_CHUNK_BYTES <= self.chunk_bytes <= MAX_CHUNK_BYTES:
            raise ValueError(f"chunk_bytes must be {_MIN_CHUNK_BYTES}..{MAX_CHUNK_BYTES}")
        if self.bandwidth_bytes_per_s < 0:
            raise ValueError("bandwidth_bytes_per_s must be >= 0 (0: no cap)")
        UploadWindows.parse(self.windows)  # fail at start-up, not at the first upload


Outcome = Literal["done", "failed", "retry", "idle", "refused"]


@dataclass(frozen=True)
class Step:
    """What one ``step()`` did and what the loop does next.

    - ``done``: something succeeded; go on.
    - ``failed``: one item failed and backs off on its own; go on with the others.
    - ``retry``: the server is unreachable or unwell; pause everything for ``wait_s``.
    - ``idle``: nothing is due; wait for the queue to change, or ``wait_s`` if not None.
    - ``refused``: the token was revoked; upload nothing more.
    """

    outcome: Outcome
    wait_s: float | None = None
    detail: str = ""


class _OutsideWindow(Exception):
    """An upload window closed between two chunks; the upload resumes in the next one."""


class _StartAgain(Exception):
    """The tus upload is gone or failed its checksum; the queue already says start anew."""


class Uploader:
    """Works through an ``UploadQueue`` with a ``ServerClient``.

    ``tz`` is the zone of the upload windows (None: the system's local time); ``rand``
    returns floats in [0, 1) for the jitter.
    """

    def __init__(
        self,
        queue: UploadQueue,
        client: ServerClient,
        clock: Clock,
        settings: UploadSettings | None = None,
        *,
        tz: tzinfo | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.queue = queue
        self.client = client
        self.clock = clock
        self.settings = settings or UploadSettings()
        self._windows = UploadWindows.parse(self.settings.windows)
        self._tz = tz
        self._rand = rand
        rate = self.settings.bandwidth_bytes_per_s
        self._bucket = TokenBucket(rate, capacity=rate) if rate else None
        # Under a cap, about a second's worth per PATCH keeps the link smooth.
        chunk = self.settings.chunk_bytes
        self._chunk_limit = max(_MIN_CHUNK_BYTES, min(chunk, rate)) if rate else chunk
        self._chunk = self._chunk_limit
        self._chunks_in_time = 0
        self._streak = 0  # consecutive unit-wide failures
        self._refused = False
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def refused(self) -> bool:
        """True once the server refused the unit's token: nothing is uploaded any more."""
        return self._refused

    def _longest_wait(self) -> float:
        return self.settings.backoff.cap_s

    def _local_now(self) -> datetime:
        return self.clock.now().astimezone(self._tz)

    # --- the loop ---------------------------------------------------------------------------

    def notify(self) -> None:
        """Wake the loop (the queue changed); callable from any thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake.set()
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        """Upload until cancelled. Never raises because of the server or the network."""
        self._loop = asyncio.get_running_loop()
        self.queue.add_listener(self.notify)
        try:
            while True:
                step = await self.step()
                if step.outcome == "retry":
                    log.info("uploads pause %.1f s: %s", step.wait_s or 0.0, step.detail)
                    await self.clock.sleep(step.wait_s or 0.0)
                elif step.outcome in ("idle", "refused"):
                    await self._idle(step.wait_s)
        finally:
            self.queue.remove_listener(self.notify)

    async def _idle(self, wait_s: float | None) -> None:
        if self._wake.is_set():
            return
        waits: list[asyncio.Future[object]] = [asyncio.ensure_future(self._wake.wait())]
        if wait_s is not None:
            waits.append(asyncio.ensure_future(self.clock.sleep(max(wait_s, 0.0))))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    async def step(self) -> Step:
        """Do the next piece of work, if any is due."""
        self._wake.clear()  # changes from here on wake the next idle wait
        if self._refused:
            return Step("refused", detail=self.queue.last_error() or "")
        try:
            return await self._next()
        except Exception as exc:  # a bug or a local fault must not end the uploads
            if disk_full(exc):  # the queue cannot note progress: wait, nothing is lost
                log.error("uploads wait: the unit's disk is full (%s)", exc)
            else:
                log.exception("upload step failed")
            self._streak += 1
            return Step("retry", self.settings.backoff.delay(self._streak, self._rand), str(exc))

    async def _next(self) -> Step:
        now = self.clock.now()
        wait = self._apply_keep_policy(now)
        longest = self._longest_wait()
        for rec in self.queue.pending_registrations():
            if is_due(rec.next_attempt_at, now, longest):
                return await self._attempt(self._register(rec), rec.recording_id, rec, now)
            wait = _sooner(wait, rec.next_attempt_at, now)
        for rec in self.queue.pending_completions():
            if is_due(rec.next_attempt_at, now, longest):
                return await self._attempt(self._complete(rec), rec.recording_id, rec, now)
            wait = _sooner(wait, rec.next_attempt_at, now)
        segments = self.queue.pending_segments()
        if segments and not self._windows.allows(self._local_now()):
            opens = self._windows.seconds_until_open(self._local_now())
            # Ask again at least hourly: a daylight-saving change moves the windows.
            wait = min(wait, opens, 3600.0) if wait is not None else min(opens, 3600.0)
            return Step("idle", wait, "outside the upload windows")
        for seg in segments:
            if is_due(seg.next_attempt_at, now, longest):
                return await self._attempt(self._upload(seg), seg.name, seg, now)
            wait = _sooner(wait, seg.next_attempt_at, now)
        return Step("idle", wait)

    async def _attempt(
        self,
        work: Awaitable[None],
        name: str,
        item: QueuedRecording | QueuedSegment,
        now: datetime,
    ) -> Step:
        """Run one piece of work and file its failure where it belongs."""
        try:
            await work
        except _OutsideWindow:
            return Step("idle", 0.0, f"{name}: paused at the end of an upload window")
        except _StartAgain as exc:
            return Step("failed", detail=str(exc))
        except Unauthorized as exc:
            self._refused = True
            self.queue.set_global_error(exc.message)
            log.error("%s: %s; uploads stop, every file is kept", name, exc.message)
            return Step("refused", detail=exc.message)
        except Unavailable as exc:
            self._streak += 1
            self.queue.set_global_error(exc.message)
            self._failed(item, f"{name}: {exc.message}", None)
            delay = self.settings.backoff.delay(self._streak, self._rand)
            return Step("retry", delay, exc.message)
        except (Refused, OSError) as exc:
            message = exc.message if isinstance(exc, Refused) else f"local file: {exc}"
            delay = self.settings.backoff.delay(item.attempts + 1, self._rand)
            self._failed(item, f"{name}: {message}", now + timedelta(seconds=delay))
            log.warning("%s: %s; retry in %.0f s", name, message, delay)
            return Step("failed", detail=message)
        self._streak = 0
        self.queue.set_global_error(None)
        return Step("done", detail=name)

    def _failed(
        self, item: QueuedRecording | QueuedSegment, message: str, until: datetime | None
    ) -> None:
        if isinstance(item, QueuedSegment):
            self.queue.segment_failed(item.key, message, until)
        else:
            self.queue.recording_failed(item.recording_id, message, until)

    # --- the pieces of work -----------------------------------------------------------------

    async def _register(self, rec: QueuedRecording) -> None:
        await self.client.register(rec.manifest)
        self.queue.mark_registered(rec.recording_id)
        log.info("recording %s registered", rec.recording_id)

    async def _complete(self, rec: QueuedRecording) -> None:
        try:
            status = await self.client.complete(rec.recording_id, rec.completion())
        except Refused as exc:
            self._forgotten(rec.recording_id, exc)
            raise
        self.queue.mark_completed(rec.recording_id)
        self._remove_finished(rec.recording_id)
        log.info("recording %s completed (server: %s)", rec.recording_id, status.get("state"))

    def _forgotten(self, recording_id: str, exc: Refused) -> None:
        if exc.status == 404:
            # The server does not know the recording (restored from a backup?): register again.
            log.warning("the server does not know recording %s; registering it again", recording_id)
            self.queue.mark_registered(recording_id, False)

    async def _upload(self, seg: QueuedSegment) -> None:
        size = seg.path.stat().st_size
        if size != seg.size:
            raise OSError(f"{seg.path} is {size} bytes, {seg.size} when recorded")
        url = seg.upload_url
        created = url is None
        if url is None:
            try:
                url = await self.client.create_upload(seg.size, seg.metadata())
            except Refused as exc:
                self._forgotten(seg.recording_id, exc)
                raise
            self.queue.start_upload(seg.key, url)
            log.debug("%s: upload created at %s", seg.name, url)
        try:
            await self._send(seg, url)
        except Refused as exc:
            if exc.status in (404, 410) and created:
                # Lost the moment it was made: a proxy rewriting paths? Back off, do not spin.
                self.queue.restart_upload(seg.key, f"{seg.name}: a new upload vanished at once")
                raise
            if exc.status in (404, 410):
                message = f"{seg.name}: the server forgot the upload; starting a new one"
                log.info("%s", message)
                self.queue.restart_upload(seg.key, message)
                raise _StartAgain(message) from None
            if exc.status == 460:
                raise _StartAgain(self._checksum_failed(seg)) from None
            if exc.status == 409:
                # tus answers carry no reason for us: the server's own list explains it.
                await self._confirm(seg)
                return
            raise
        await self._confirm(seg)

    def _checksum_failed(self, seg: QueuedSegment) -> str:
        failures = seg.checksum_failures + 1
        message = f"{seg.name}: the server's sha256 differs (failure {failures}); sent again"
        log.warning("%s", message)
        self.queue.restart_upload(seg.key, message, checksum_failure=True)
        if failures > self.settings.quick_checksum_retries:
            # Again and again: the local file itself may be damaged. Keep it, back off.
            delay = self.settings.backoff.delay(failures, self._rand)
            until = self.clock.now() + timedelta(seconds=delay)
            self.queue.segment_failed(seg.key, message, until)
        return message

    async def _send(self, seg: QueuedSegment, url: str) -> None:
        stream = _open(seg.path)
        try:
            offset = await self.client.upload_offset(url)
            if offset:
                log.info("%s: resuming at byte %d of %d", seg.name, offset, seg.size)
            while offset < seg.size:
                end = min(seg.size, offset + self._chunk)
                await self._before_chunk(end - offset)
                try:
                    await self.client.send(url, stream, offset, end)
                except TimedOut:
                    self._chunk_timed_out()
                    raise
                self._chunk_in_time()
                offset = end
        finally:
            stream.close()

    @property
    def chunk_bytes(self) -> int:
        """The bytes the next PATCH carries (halved after a timeout, regrown when in time)."""
        return self._chunk

    def _chunk_timed_out(self) -> None:
        # The request timeout covers a whole PATCH: on a link slower than one chunk per
        # timeout every PATCH times out and is sent again. Smaller chunks get through.
        self._chunks_in_time = 0
        smaller = max(_MIN_CHUNK_BYTES, self._chunk // 2)
        if smaller < self._chunk:
            log.info("a chunk timed out; sending %d KiB chunks for now", smaller // 1024)
        self._chunk = smaller

    def _chunk_in_time(self) -> None:
        self._chunks_in_time += 1
        if self._chunk < self._chunk_limit and self._chunks_in_time >= _CHUNKS_BEFORE_GROWING:
            self._chunk = min(self._chunk_limit, self._chunk * 2)
            self._chunks_in_time = 0

    async def _before_chunk(self, size: int) -> None:
        if not self._windows.allows(self._local_now()):
            raise _OutsideWindow
        if self._bucket is not None:
            delay = self._bucket.reserve(size, self.clock.monotonic())
            if delay > 0:
                await self.clock.sleep(delay)

    async def _confirm(self, seg: QueuedSegment) -> None:
        try:
            status = await self.client.recording_status(seg.recording_id)
        except Refused as exc:
            self._forgotten(seg.recording_id, exc)
            raise
        held = {
            entry.get("sequence"): entry.get("sha256")
            for entry in (status.get("segments") or {}).get(seg.camera, [])
            if isinstance(entry, dict)
        }
        if held.get(seg.sequence) == seg.sha256:
            self.queue.mark_uploaded(seg.key)
            log.info("%s: uploaded and confirmed", seg.name)
            self._apply_keep_policy(self.clock.now())
            return
        if seg.sequence in held:
            raise Refused(f"the server holds {seg.name} with another sha256", 409)
        raise Unavailable(f"the server does not list {seg.name} yet")

    # --- the keep policy --------------------------------------------------------------------

    def _apply_keep_policy(self, now: datetime) -> float | None:
        """Delete confirmed files whose time has come; seconds until the next one, if any."""
        keep = self.settings.keep
        cutoff = keep.confirmed_by(now)
        if cutoff is None:
            return None
        for seg in self.queue.confirmed_segments(cutoff):
            self._delete(seg)
        oldest = self.queue.oldest_confirmation()
        when = keep.delete_at(oldest) if oldest is not None else None
        if when is None:
            return None
        # A file that could not be deleted is tried again later, not in a tight loop.
        return (when - now).total_seconds() if when > now else self._longest_wait()

    def _delete(self, seg: QueuedSegment) -> None:
        # Only rows in status 'uploaded' (the server listed their sha256) come here.
        try:
            seg.path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("%s: cannot delete %s: %s", seg.name, seg.path, exc)
            return
        self.queue.mark_deleted(seg.key)
        log.debug("%s: local file deleted (%s)", seg.name, self.settings.keep.mode)
        self._remove_finished(seg.recording_id)

    def _remove_finished(self, recording_id: str) -> None:
        # What is left of a recording whose segments are all gone (its manifest, the
        # originals recovery kept after a power cut, an unreadable partial) would fill the
        # unit's disk over the months.
        folder = self.queue.finished_folder(recording_id)
        if folder is None or not folder.exists():
            return
        try:
            shutil.rmtree(folder)
        except OSError as exc:
            log.warning("recording %s: cannot remove %s: %s", recording_id, folder, exc)
            return
        log.info("recording %s: uploaded and its folder removed", recording_id)


def _open(path: Path) -> BinaryIO:
    # Synchronous on purpose: an open() in a worker thread leaks the file if we are cancelled.
    return path.open("rb")


def _sooner(wait: float | None, when: datetime | None, now: datetime) -> float | None:
    if when is None:
        return wait
    seconds = max(0.0, (when - now).total_seconds())
    return seconds if wait is None else min(wait, seconds)
