"""tus 1.0.0 resumable uploads for aiohttp (https://tus.io/protocols/resumable-upload).

Extensions: creation, creation-with-upload, checksum (sha1, sha256, md5), termination and
expiration. Bytes go to an ``UploadStore``; the rest of the server takes part through
``TusHooks``: ``on_create`` may refuse an upload, ``on_complete`` takes the finished file.

Wire it up with ``setup_tus(app, store, hooks, max_size=..., stall_timeout_s=...)``. Callers must
be authenticated (``principal_of``); an upload is visible only to the principal that created it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import json
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from lessoncam_server.durable import DISK_FULL_MESSAGE, disk_full
from lessoncam_server.principal import Principal, Unit, User, principal_of
from lessoncam_server.upload_store import (
    Digest,
    OffsetMismatch,
    UploadInfo,
    UploadLocked,
    UploadStore,
    UploadWriter,
)

log = logging.getLogger(__name__)

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,creation-with-upload,termination,checksum,expiration"
CHECKSUM_ALGORITHMS = ("sha1", "sha256", "md5")
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
RESULT_HEADER = "Lessoncam-Upload-Result"
DEFAULT_PREFIX = "/api/v1/uploads"

_DIGITS_RE = re.compile(r"\A[0-9]{1,19}\Z")
# A metadata key: printable ASCII without space or comma.
_META_KEY_RE = re.compile(r"\A[!-+\--~]+\Z")


class TusRejected(Exception):
    """Raised by hooks to refuse a request; the endpoint answers with ``status`` and ``message``."""

    def __init__(self, status: int, message: str) -> None:
        if not 400 <= status <= 599:
            raise ValueError(f"TusRejected needs a 4xx or 5xx status, not {status}")
        super().__init__(message)
        self.status = status
        self.message = message


class TusHooks(Protocol):
    """How the rest of the server takes part in uploads."""

    async def on_create(self, principal: Principal, metadata: dict[str, str], length: int) -> None:
        """Validate before an upload is created (e.g. that the named recording exists and
        belongs to this unit). Raise TusRejected(4xx, msg) to refuse."""

    async def on_complete(
        self, principal: Principal, upload_id: str, metadata: dict[str, str], path: Path
    ) -> dict[str, Any]:
        """Called once all bytes have arrived (file at ``path``, fsync'd). The hook may move the
        file away (os.replace). Returns a small JSON-able result that is stored in the upload
        info. Raise TusRejected(status, msg) to refuse: the upload is then deleted and the PATCH
        answered with that status (e.g. 460 when the whole-file sha256 does not match).
        Must be idempotent: after a crash it is called again for the same upload."""


@runtime_checkable
class FirstBytesHook(Protocol):
    """Optional for hooks: look at the first bytes of an upload as soon as they are stored,
    to refuse a file that is clearly of the wrong kind before the rest is sent."""

    async def on_first_bytes(
        self, principal: Principal, metadata: dict[str, str], head: bytes
    ) -> None:
        """``head`` is up to ``FIRST_BYTES`` bytes from the start of the upload, called once
        when the first chunk of a multi-chunk upload is stored. Raise TusRejected to refuse:
        the upload is then deleted."""


#: How many bytes ``FirstBytesHook.on_first_bytes`` sees.
FIRST_BYTES = 64


@runtime_checkable
class ObsoleteHook(Protocol):
    """Optional for hooks: tell unfinished uploads that can no longer be of use, so the
    start-up recovery and the sweeps remove them instead of keeping them until they expire."""

    async def is_obsolete(self, principal: Principal, metadata: dict[str, str]) -> bool:
        """Whether an unfinished upload with this owner and metadata is of no more use (e.g.
        what it was for arrived through another upload: a crash lost our answer to the POST
        that created this one, so its client never knew it)."""


class DefaultTusHooks:
    """Accepts every upload and leaves the file where it is (for tests and demos)."""

    async def on_create(self, principal: Principal, metadata: dict[str, str], length: int) -> None:
        """Accept everything."""

    async def on_complete(
        self, principal: Principal, upload_id: str, metadata: dict[str, str], path: Path
    ) -> dict[str, Any]:
        """Accept everything; the result names the upload."""
        return {"upload_id": upload_id}


class _Fail(Exception):
    """An error answer: status, message and extra headers."""

    def __init__(
        self,
        status: int,
        message: str,
        headers: Mapping[str, str] | None = None,
        *,
        close: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        self.close = close


Outcome = Literal["complete", "stalled", "disconnected", "too_long"]


class _Receiver:
    """A PATCH body being received: when bytes last came, and whether a request waits."""

    def __init__(self, now: float) -> None:
        self.last_data = now
        self.waited = False
        self.scope: asyncio.Timeout | None = None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# --- header parsing ---------------------------------------------------------------------------


def _parse_uint(value: str | None, name: str) -> int:
    if value is None:
        raise _Fail(400, f"{name} header is required")
    value = value.strip()
    if not _DIGITS_RE.match(value):
        raise _Fail(400, f"{name} must be a non-negative integer, not {value[:40]!r}")
    return int(value)


def parse_metadata(header: str) -> dict[str, str]:
    """Decode an ``Upload-Metadata`` header; values must be base64 of UTF-8 text.

    Raises ValueError with a readable reason.
    """
    metadata: dict[str, str] = {}
    for pair in header.split(","):
        parts = pair.split()
        if not parts:
            continue
        if len(parts) > 2:
            raise ValueError(f"pair {pair.strip()[:40]!r} has more than a key and a value")
        key = parts[0]
        if not _META_KEY_RE.match(key):
            raise ValueError(f"key {key[:40]!r} must be printable ASCII without spaces or commas")
        if key in metadata:
            raise ValueError(f"key {key!r} appears twice")
        try:
            raw = base64.b64decode(parts[1], validate=True) if len(parts) == 2 else b""
            metadata[key] = raw.decode("utf-8")
        except (binascii.Error, ValueError):
            raise ValueError(f"value of {key!r} is not base64 of UTF-8 text") from None
    return metadata


def encode_metadata(metadata: Mapping[str, str]) -> str:
    """Encode metadata as an ``Upload-Metadata`` header value."""
    return ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}" if value else key
        for key, value in metadata.items()
    )


def _parse_checksum(header: str | None) -> tuple[str, bytes] | None:
    if header is None:
        return None
    parts = header.split()
    if len(parts) != 2:
        raise _Fail(400, "Upload-Checksum must be '<algorithm> <base64 digest>'")
    algorithm = parts[0].lower()
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise _Fail(
            400,
            f"checksum algorithm {parts[0][:20]!r} is not supported; "
            f"use one of {','.join(CHECKSUM_ALGORITHMS)}",
        )
    try:
        expected = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise _Fail(400, "Upload-Checksum digest is not valid base64") from None
    if len(expected) != _new_digest(algorithm).digest_size:
        raise _Fail(400, f"Upload-Checksum digest has the wrong length for {algorithm}")
    return algorithm, expected


def _new_digest(algorithm: str) -> hashlib._Hash:
    # Integrity checks against transport errors, not security: md5/sha1 are fine here.
    return hashlib.new(algorithm, usedforsecurity=False)


# --- principals survive a restart as a snapshot, for the completion hook ---------------------


def principal_snapshot(principal: Principal) -> dict[str, Any]:
    """What the store keeps about an upload's owner (no session secrets)."""
    if isinstance(principal, Unit):
        return {
            "kind": "unit",
            "id": principal.id,
            "name": principal.name,
            "teacher_id": principal.teacher_id,
        }
    return {
        "kind": "user",
        "id": principal.id,
        "username": principal.username,
        "display_name": principal.display_name,
        "role": principal.role,
    }


def principal_from_snapshot(data: Mapping[str, Any]) -> Principal | None:
    """Rebuild the owner from ``principal_snapshot``; None if the snapshot is unusable."""
    try:
        if data["kind"] == "unit":
            teacher = data.get("teacher_id")
            return Unit(
                id=str(data["id"]),
                name=str(data["name"]),
                teacher_id=int(teacher) if teacher is not None else None,
            )
        if data["kind"] == "user" and data["role"] in ("teacher", "coach", "admin"):
            return User(
                id=int(data["id"]),
                username=str(data["username"]),
                display_name=str(data["display_name"]),
                role=data["role"],
            )
    except (KeyError, TypeError, ValueError):
        pass
    return None


def _http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


# --- the endpoint -----------------------------------------------------------------------------


class TusEndpoint:
    """The tus handlers bound to one store and one set of hooks."""

    def __init__(
        self,
        store: UploadStore,
        hooks: TusHooks,
        *,
        max_size: int,
        stall_timeout_s: float,
        prefix: str = DEFAULT_PREFIX,
        sweep_interval_s: float = 300.0,
        read_chunk_bytes: int = 1024 * 1024,
        takeover_idle_s: float = 1.0,
    ) -> None:
        self.store = store
        self.hooks = hooks
        self.max_size = max_size
        self.stall_timeout_s = stall_timeout_s
        self.prefix = prefix.rstrip("/")
        self.sweep_interval_s = sweep_interval_s
        self.read_chunk_bytes = read_chunk_bytes
        # A body idle this long while another request for its upload waits is cut at once:
        # its client gave up (a dead connection), so holding the lock until the stall timeout
        # only keeps the client's resume waiting (423) for a minute.
        self.takeover_idle_s = min(takeover_idle_s, stall_timeout_s)
        self._receivers: dict[str, _Receiver] = {}

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """Register the collection and per-upload routes under ``prefix``."""
        router.add_route("OPTIONS", f"{self.prefix}/", self._wrap(self.options))
        router.add_route("POST", f"{self.prefix}/", self._wrap(self.create))
        item = f"{self.prefix}/{{upload_id}}"
        router.add_route("OPTIONS", item, self._wrap(self.options))
        router.add_route("HEAD", item, self._wrap(self.head))
        router.add_route("PATCH", item, self._wrap(self.patch))
        router.add_route("DELETE", item, self._wrap(self.delete))
        router.add_route("POST", item, self._wrap(self.method_override))

    # --- plumbing ---------------------------------------------------------------------------

    def _wrap(self, handler: Handler) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except _Fail as fail:
                return _reply(fail.status, fail.headers, fail.message, close=fail.close)
            except UploadLocked:
                return _reply(
                    423,
                    {"Retry-After": "5"},
                    "another request is writing to this upload; retry shortly",
                )
            except (OSError, sqlite3.Error) as exc:
                if not disk_full(exc):
                    raise
                # Creating a record, storing a segment, the database: all wait for space.
                log.error("upload request %s %s: disk full: %s", request.method, request.path, exc)
                return _reply(507, {"Retry-After": "60"}, DISK_FULL_MESSAGE)

        return wrapped

    def _authorise(self, request: web.Request) -> Principal:
        if request.headers.get("Tus-Resumable") != TUS_VERSION:
            raise _Fail(
                412,
                f"Tus-Resumable must be {TUS_VERSION}",
                {"Tus-Version": TUS_VERSION},
            )
        principal = principal_of(request)
        if principal is None:
            raise _Fail(
                401,
                "authentication required: send the unit's bearer token or sign in",
                {"WWW-Authenticate": 'Bearer realm="lessoncam"'},
            )
        return principal

    def _lookup(self, request: web.Request, principal: Principal) -> UploadInfo:
        upload_id = request.match_info["upload_id"]
        info = self.store.get(upload_id)
        # Another principal's upload is indistinguishable from an unknown one.
        if info is None or info.owner != principal.key:
            raise _Fail(404, "no such upload")
        if self.store.is_expired(info):
            raise _Fail(410, "this upload expired; start a new one")
        return info

    def _locked(self, upload_id: str) -> contextlib.AbstractAsyncContextManager[None]:
        """The upload's lock, asking an idle PATCH that holds it to let go."""
        receiver = self._receivers.get(upload_id)
        if receiver is not None:
            receiver.waited = True
            if receiver.scope is not None:
                when = receiver.last_data + self.takeover_idle_s
                current = receiver.scope.when()
                receiver.scope.reschedule(when if current is None else min(current, when))
        return self.store.locked(upload_id)

    def _location(self, request: web.Request, upload_id: str) -> str:
        # Absolute: aiotus cannot resolve a path-only Location.
        return str(request.url.with_path(f"{self.prefix}/{upload_id}"))

    def _state_headers(self, info: UploadInfo, offset: int) -> dict[str, str]:
        headers = {"Upload-Offset": str(offset)}
        if info.state == "receiving":
            headers["Upload-Expires"] = _http_date(info.expires_at)
        if info.completed and info.result is not None:
            headers[RESULT_HEADER] = json.dumps(info.result, separators=(",", ":"))
        return headers

    # --- handlers ---------------------------------------------------------------------------

    async def options(self, request: web.Request) -> web.StreamResponse:
        """Describe the server (no authentication needed)."""
        return _reply(
            204,
            {
                "Tus-Version": TUS_VERSION,
                "Tus-Extension": TUS_EXTENSIONS,
                "Tus-Max-Size": str(self.max_size),
                "Tus-Checksum-Algorithm": ",".join(CHECKSUM_ALGORITHMS),
            },
        )

    async def create(self, request: web.Request) -> web.StreamResponse:
        """POST: create an upload, optionally with its first bytes (creation-with-upload)."""
        principal = self._authorise(request)
        if "Upload-Defer-Length" in request.headers:
            raise _Fail(400, "Upload-Defer-Length is not supported; send Upload-Length")
        length = _parse_uint(request.headers.get("Upload-Length"), "Upload-Length")
        if length > self.max_size:
            raise _Fail(413, f"Upload-Length {length} exceeds Tus-Max-Size {self.max_size}")
        try:
            metadata = parse_metadata(request.headers.get("Upload-Metadata", ""))
        except ValueError as exc:
            raise _Fail(400, f"bad Upload-Metadata: {exc}") from None
        with_body = request.body_exists
        checksum = None
        if with_body:
            if request.content_type != OFFSET_CONTENT_TYPE:
                raise _Fail(415, f"a body sent with the POST must be {OFFSET_CONTENT_TYPE}")
            checksum = _parse_checksum(request.headers.get("Upload-Checksum"))
            if (request.content_length or 0) > length:
                raise _Fail(413, "the body is longer than Upload-Length")
        try:
            await self.hooks.on_create(principal, metadata, length)
        except TusRejected as exc:
            raise _Fail(exc.status, exc.message) from None

        info = await self.store.create(
            owner=principal.key,
            owner_info=principal_snapshot(principal),
            length=length,
            metadata=metadata,
        )
        location = {"Location": self._location(request, info.id)}
        offset = 0
        try:
            async with self.store.locked(info.id):
                if with_body:
                    info, offset = await self._receive(request, info, 0, checksum, principal)
                elif length == 0:
                    info = await self._finish(await self.store.mark_received(info), principal)
        except _Fail as fail:
            # The upload exists even if its first bytes were refused: tell the client where.
            if self.store.get(info.id) is not None:
                fail.headers.update(location)
            raise
        return _reply(201, {**location, **self._state_headers(info, offset)})

    async def head(self, request: web.Request) -> web.StreamResponse:
        """HEAD: the upload's offset, length and metadata (and result once complete)."""
        principal = self._authorise(request)
        info = self._lookup(request, principal)
        try:
            # Waiting for a running PATCH makes the offset settled, not half-written.
            async with self._locked(info.id):
                info = await self._settle(self._lookup(request, principal), principal)
        except UploadLocked:
            pass  # a PATCH is stuck (a dead connection?): report what is on disk
        headers = {
            **self._state_headers(info, self.store.offset(info)),
            "Upload-Length": str(info.length),
            "Cache-Control": "no-store",
        }
        if info.metadata:
            headers["Upload-Metadata"] = encode_metadata(info.metadata)
        return _reply(200, headers)

    async def patch(self, request: web.Request) -> web.StreamResponse:
        """PATCH: append the body at Upload-Offset."""
        principal = self._authorise(request)
        info = self._lookup(request, principal)
        if request.content_type != OFFSET_CONTENT_TYPE:
            raise _Fail(415, f"Content-Type must be {OFFSET_CONTENT_TYPE}")
        offset = _parse_uint(request.headers.get("Upload-Offset"), "Upload-Offset")
        checksum = _parse_checksum(request.headers.get("Upload-Checksum"))
        body_length = request.content_length
        if body_length is not None and offset + body_length > info.length:
            raise _Fail(413, f"this body would write past Upload-Length {info.length}")

        async with self._locked(info.id):
            # It may have changed while we waited.
            info = await self._settle(self._lookup(request, principal), principal)
            current = self.store.offset(info)
            if offset != current:
                raise _Fail(
                    409,
                    f"Upload-Offset {offset} does not match the upload's offset {current}",
                    {"Upload-Offset": str(current)},
                )
            if info.state == "receiving":
                info, current = await self._receive(request, info, offset, checksum, principal)
        return _reply(204, self._state_headers(info, current))

    async def delete(self, request: web.Request) -> web.StreamResponse:
        """DELETE: terminate the upload and remove its bytes."""
        principal = self._authorise(request)
        info = self._lookup(request, principal)
        async with self._locked(info.id):
            await self.store.delete(info.id)
        return _reply(204)

    async def method_override(self, request: web.Request) -> web.StreamResponse:
        """POST with X-HTTP-Method-Override, for clients that cannot send PATCH or DELETE."""
        method = request.headers.get("X-HTTP-Method-Override", "").upper()
        handlers = {"PATCH": self.patch, "DELETE": self.delete, "HEAD": self.head}
        if method not in handlers:
            raise _Fail(405, "POST here needs X-HTTP-Method-Override: PATCH, DELETE or HEAD")
        return await handlers[method](request)

    # --- receiving and completing -----------------------------------------------------------

    async def _receive(
        self,
        request: web.Request,
        info: UploadInfo,
        offset: int,
        checksum: tuple[str, bytes] | None,
        principal: Principal,
    ) -> tuple[UploadInfo, int]:
        """Stream the body to disk at ``offset``; returns the updated info and new offset.

        Hold the upload's lock. Raises _Fail for refused or broken bodies.
        """
        digest: Digest | None = _new_digest(checksum[0]) if checksum else None
        try:
            writer = await self.store.open_writer(info, offset, digest=digest)
        except OffsetMismatch as exc:
            raise _Fail(
                409,
                f"Upload-Offset {offset} does not match the upload's offset {exc.actual}",
                {"Upload-Offset": str(exc.actual)},
            ) from None
        try:
            outcome = await self._pump(request, writer, info)
            if outcome == "too_long":
                await writer.discard()
                raise _Fail(413, f"the body writes past Upload-Length {info.length}", close=True)
            if checksum is None:
                new_offset = await writer.commit()
            elif outcome != "complete":
                # A cut chunk cannot be verified against its checksum: drop it.
                new_offset = await writer.discard()
            else:
                await writer.flush()
                if writer.digest() != checksum[1]:
                    await writer.discard()
                    raise _Fail(
                        460,
                        f"{checksum[0]} checksum mismatch; the chunk was discarded",
                        {"Upload-Offset": str(offset)},
                    )
                new_offset = await writer.commit()
        except OSError as exc:
            if not disk_full(exc):
                raise
            log.error("upload %s: disk full", info.id)
            with contextlib.suppress(OSError, RuntimeError):
                await writer.discard()
            raise _Fail(507, DISK_FULL_MESSAGE) from None
        finally:
            writer.close()

        if offset == 0 and 0 < new_offset < info.length:
            await self._check_first_bytes(info, principal)
        if new_offset == info.length:
            info = await self._finish(await self.store.mark_received(info), principal)
        if outcome == "stalled":
            log.info("upload %s: body stalled, cut at offset %s", info.id, new_offset)
            raise _Fail(
                408,
                f"the body stalled; kept up to offset {new_offset}",
                {"Upload-Offset": str(new_offset)},
                close=True,
            )
        if outcome == "disconnected":
            log.info("upload %s: body ended early, kept up to offset %s", info.id, new_offset)
            raise _Fail(
                400, "the request body ended early", {"Upload-Offset": str(new_offset)}, close=True
            )
        return info, new_offset

    async def _check_first_bytes(self, info: UploadInfo, principal: Principal) -> None:
        """Let the hooks refuse an upload from its first bytes. Hold the upload's lock."""
        if not isinstance(self.hooks, FirstBytesHook):
            return

        def read_head() -> bytes:
            with self.store.data_path(info.id).open("rb") as handle:
                return handle.read(FIRST_BYTES)

        head = await asyncio.to_thread(read_head)
        try:
            await self.hooks.on_first_bytes(principal, dict(info.metadata), head)
        except TusRejected as exc:
            log.info("upload %s refused from its first bytes: %s", info.id, exc.message)
            await self.store.delete(info.id)
            raise _Fail(exc.status, exc.message) from None

    async def _pump(self, request: web.Request, writer: UploadWriter, info: UploadInfo) -> Outcome:
        chunks = request.content.iter_chunked(self.read_chunk_bytes)
        loop = asyncio.get_running_loop()
        receiver = _Receiver(loop.time())
        self._receivers[info.id] = receiver
        try:
            while True:
                try:
                    # One timer per stall period rather than one per chunk: when it fires, the
                    # body is cut only if it has really been idle that long; else wait again.
                    deadline = receiver.last_data + self.stall_timeout_s
                    if receiver.waited:
                        deadline = receiver.last_data + self.takeover_idle_s
                    async with asyncio.timeout_at(deadline) as receiver.scope:
                        async for chunk in chunks:
                            receiver.last_data = loop.time()
                            if writer.position + len(chunk) > info.length:
                                return "too_long"
                            await writer.write(chunk)
                        return "complete"
                except TimeoutError:
                    idle = loop.time() - receiver.last_data
                    if idle >= self.stall_timeout_s:
                        return "stalled"
                    if receiver.waited and idle >= self.takeover_idle_s:
                        log.info(
                            "upload %s: body idle %.1f s while another request waits; cut",
                            info.id,
                            idle,
                        )
                        return "stalled"
                except (OSError, HttpProcessingError) as exc:
                    if isinstance(exc, OSError) and writer.failed:
                        raise  # the disk, not the connection
                    log.debug("upload body broke off: %r", exc)
                    return "disconnected"
                finally:
                    receiver.scope = None
        finally:
            del self._receivers[info.id]

    async def _settle(self, info: UploadInfo, principal: Principal) -> UploadInfo:
        """Finish an upload whose bytes all arrived but whose completion did not happen (a
        crash, or a disk too full to record it): the client's HEAD or PATCH retries it."""
        if info.state == "receiving" and self.store.offset(info) >= info.length:
            info = await self.store.mark_received(info)
        if info.state == "received":
            info = await self._finish(info, principal)
        return info

    async def _finish(self, info: UploadInfo, principal: Principal) -> UploadInfo:
        """Run the completion hook on a received upload. Hold the upload's lock."""
        path = self.store.data_path(info.id)
        try:
            result = await self.hooks.on_complete(principal, info.id, dict(info.metadata), path)
            json.dumps(result)  # must be storable
        except TusRejected as exc:
            log.info("upload %s refused on completion: %s %s", info.id, exc.status, exc.message)
            await self.store.delete(info.id)
            raise _Fail(exc.status, exc.message) from None
        except Exception as exc:
            if disk_full(exc):
                log.error("upload %s: disk full on completion: %s", info.id, exc)
                raise _Fail(507, DISK_FULL_MESSAGE, {"Upload-Offset": str(info.length)}) from None
            log.exception("upload %s: completion hook failed", info.id)
            raise _Fail(
                500,
                "all bytes arrived but the upload could not be completed; send HEAD later to retry",
                {"Upload-Offset": str(info.length)},
            ) from None
        return await self.store.mark_completed(info, result)

    # --- start-up and maintenance -----------------------------------------------------------

    async def recover(self) -> None:
        """Tidy the store, complete uploads whose completion a crash interrupted, and remove
        unfinished uploads that are of no more use."""
        await self._complete_pending(await self.store.recover())
        await self._drop_obsolete(idle_s=0.0)  # nothing is being written yet

    async def sweep(self) -> None:
        """Run one expiry sweep, retry completions that are still pending, and remove
        unfinished uploads that are of no more use."""
        report = await self.store.sweep()
        await self._complete_pending(report.pending)
        await self._drop_obsolete(idle_s=self.stall_timeout_s)

    async def _drop_obsolete(self, *, idle_s: float) -> None:
        """Remove unfinished uploads the hooks call obsolete and nobody wrote to for
        ``idle_s`` (a client between two PATCHes is left alone)."""
        if not isinstance(self.hooks, ObsoleteHook):
            return
        for stale in await asyncio.to_thread(self.store.unfinished):
            principal = principal_from_snapshot(stale.owner_info)
            if principal is None or self.store.idle_s(stale) < idle_s:
                continue
            try:
                async with self.store.locked(stale.id):
                    info = self.store.get(stale.id)
                    if info is None or info.state != "receiving":
                        continue
                    if await self.hooks.is_obsolete(principal, dict(info.metadata)):
                        log.info("upload %s is of no more use; removing it", info.id)
                        await self.store.delete(info.id)
            except UploadLocked:
                continue  # in use after all: the next sweep looks again

    async def _complete_pending(self, pending: list[UploadInfo]) -> None:
        for stale in pending:
            principal = principal_from_snapshot(stale.owner_info)
            if principal is None:
                log.error("upload %s: owner unknown, cannot complete it", stale.id)
                continue
            try:
                async with self.store.locked(stale.id):
                    info = self.store.get(stale.id)
                    if info is not None and info.state == "received":
                        await self._finish(info, principal)
            except _Fail as fail:
                log.warning("upload %s: completion answered %s: %s", stale.id, fail.status, fail)
            except UploadLocked:
                log.info("upload %s: busy; its completion is retried by the next sweep", stale.id)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval_s)
            try:
                await self.sweep()
            except Exception:
                log.exception("upload sweep failed")

    async def lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        """cleanup_ctx: recover at start-up, sweep periodically, stop the sweep at shutdown."""
        await self.recover()
        task = asyncio.create_task(self._sweep_forever(), name="tus-upload-sweep")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _reply(
    status: int,
    headers: Mapping[str, str] | None = None,
    text: str | None = None,
    *,
    close: bool = False,
) -> web.Response:
    response = web.Response(
        status=status, text=text, headers={"Tus-Resumable": TUS_VERSION, **(headers or {})}
    )
    if close:
        # Do not let aiohttp drain an unwanted or stalled body for its lingering time.
        response.force_close()
    return response


TUS_ENDPOINT = web.AppKey("lessoncam.tus.endpoint", TusEndpoint)
UPLOAD_STORE = web.AppKey("lessoncam.tus.store", UploadStore)


def setup_tus(
    app: web.Application,
    store: UploadStore,
    hooks: TusHooks,
    *,
    max_size: int,
    stall_timeout_s: float,
    prefix: str = DEFAULT_PREFIX,
    sweep_interval_s: float = 300.0,
    takeover_idle_s: float = 1.0,
) -> TusEndpoint:
    """Add the tus routes to ``app``, recover the store at start-up and sweep it periodically.

    ``max_size`` is Tus-Max-Size in bytes; a PATCH body idle for ``stall_timeout_s`` is cut, or
    idle for ``takeover_idle_s`` once another request for the same upload waits for it.
    """
    endpoint = TusEndpoint(
        store,
        hooks,
        max_size=max_size,
        stall_timeout_s=stall_timeout_s,
        prefix=prefix,
        sweep_interval_s=sweep_interval_s,
        takeover_idle_s=takeover_idle_s,
    )
    endpoint.add_routes(app.router)
    app[TUS_ENDPOINT] = endpoint
    app[UPLOAD_STORE] = store
    app.cleanup_ctx.append(endpoint.lifecycle)
    return endpoint


def tus_operations(prefix: str = DEFAULT_PREFIX) -> list[dict[str, Any]]:
    """The tus routes for the OpenAPI document: method, path, summary, responses."""
    prefix = prefix.rstrip("/")
    item = f"{prefix}/{{upload_id}}"
    common = {
        "401": "Not authenticated.",
        "412": "Tus-Resumable missing or not 1.0.0 (Tus-Version lists what is supported).",
    }
    found = {"404": "No such upload (or not yours).", "410": "The upload expired."}
    return [
        {
            "method": "OPTIONS",
            "path": f"{prefix}/",
            "summary": "tus capabilities: Tus-Version, Tus-Extension, Tus-Max-Size, "
            "Tus-Checksum-Algorithm.",
            "responses": {"204": "Capabilities in the headers."},
        },
        {
            "method": "POST",
            "path": f"{prefix}/",
            "summary": "Create an upload (Upload-Length, Upload-Metadata); a body of type "
            "application/offset+octet-stream uploads the first bytes.",
            "responses": {
                "201": "Created; Location, Upload-Offset, Upload-Expires.",
                "400": "Malformed Upload-Length, Upload-Metadata or Upload-Checksum.",
                **common,
                "413": "Upload-Length exceeds Tus-Max-Size.",
                "415": "A body that is not application/offset+octet-stream.",
                "460": "The first chunk failed its checksum and was discarded.",
                "507": "The server's disk is full; nothing was kept of this request.",
            },
        },
        {
            "method": "OPTIONS",
            "path": item,
            "summary": "tus capabilities (same as on the collection).",
            "responses": {"204": "Capabilities in the headers."},
        },
        {
            "method": "HEAD",
            "path": item,
            "summary": "Upload-Offset, Upload-Length and Upload-Metadata of an upload; "
            "Lessoncam-Upload-Result once it is complete.",
            "responses": {"200": "The upload's state in the headers.", **common, **found},
        },
        {
            "method": "PATCH",
            "path": item,
            "summary": "Append the body (application/offset+octet-stream) at Upload-Offset; "
            "optional Upload-Checksum. The last PATCH answers after the server accepted "
            "the whole file, with Lessoncam-Upload-Result.",
            "responses": {
                "204": "Stored; the new Upload-Offset.",
                "400": "Malformed Upload-Offset or Upload-Checksum, or the body broke off.",
                **common,
                **found,
                "408": "The body stalled; the bytes that arrived are kept.",
                "409": "Upload-Offset does not match the upload's offset.",
                "413": "The body would write past Upload-Length.",
                "415": "Content-Type is not application/offset+octet-stream.",
                "423": "Another request is writing to this upload.",
                "460": "Checksum mismatch; the chunk was discarded.",
                "507": "The server's disk is full; the chunk was discarded, retry later.",
            },
        },
        {
            "method": "DELETE",
            "path": item,
            "summary": "Terminate an upload and delete its bytes.",
            "responses": {"204": "Deleted.", **common, **found, "423": "Upload is busy."},
        },
        {
            "method": "POST",
            "path": item,
            "summary": "X-HTTP-Method-Override: PATCH, DELETE or HEAD, for limited clients.",
            "responses": {"405": "No or an unknown X-HTTP-Method-Override."},
        },
    ]


TUS_OPERATIONS: list[dict[str, Any]] = tus_operations()
