"""The tus endpoint: the HTTP handlers of one upload collection, bound to a store and hooks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Literal

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from lessoncam_common.disk import disk_full

from ...access.principal import Principal, principal_of
from ...infra.disk_space import DISK_FULL_MESSAGE
from ..store import OffsetMismatch, UploadInfo, UploadLocked, UploadStore
from ..writer import Digest, UploadWriter
from .hooks import FIRST_BYTES, FirstBytesHook, TusHooks, TusRejected
from .maintenance import TusMaintenance
from .owners import principal_snapshot
from .protocol import (
    CHECKSUM_ALGORITHMS,
    DEFAULT_PREFIX,
    OFFSET_CONTENT_TYPE,
    RESULT_HEADER,
    TUS_EXTENSIONS,
    TUS_VERSION,
    TusFailure,
    encode_metadata,
    http_date,
    new_digest,
    parse_checksum,
    parse_metadata,
    parse_uint,
)

log = logging.getLogger(__name__)

Outcome = Literal["complete", "stalled", "disconnected", "too_long"]


class _Receiver:
    """A PATCH body being received: when bytes last came, and whether a request waits."""

    def __init__(self, now: float) -> None:
        self.last_data = now
        self.waited = False
        self.scope: asyncio.Timeout | None = None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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
        self.read_chunk_bytes = read_chunk_bytes
        # A body idle this long while another request for its upload waits is cut at once:
        # its client gave up (a dead connection), so holding the lock until the stall timeout
        # only keeps the client's resume waiting (423) for a minute.
        self.takeover_idle_s = min(takeover_idle_s, stall_timeout_s)
        self._receivers: dict[str, _Receiver] = {}
        self.maintenance = TusMaintenance(
            store,
            hooks,
            self._finish,
            stall_timeout_s=stall_timeout_s,
            sweep_interval_s=sweep_interval_s,
        )

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
            except TusFailure as fail:
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
            raise TusFailure(
                412,
                f"Tus-Resumable must be {TUS_VERSION}",
                {"Tus-Version": TUS_VERSION},
            )
        principal = principal_of(request)
        if principal is None:
            raise TusFailure(
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
            raise TusFailure(404, "no such upload")
        if self.store.is_expired(info):
            raise TusFailure(410, "this upload expired; start a new one")
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
            headers["Upload-Expires"] = http_date(info.expires_at)
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
            raise TusFailure(400, "Upload-Defer-Length is not supported; send Upload-Length")
        length = parse_uint(request.headers.get("Upload-Length"), "Upload-Length")
        if length > self.max_size:
            raise TusFailure(413, f"Upload-Length {length} exceeds Tus-Max-Size {self.max_size}")
        try:
            metadata = parse_metadata(request.headers.get("Upload-Metadata", ""))
        except ValueError as exc:
            raise TusFailure(400, f"bad Upload-Metadata: {exc}") from None
        with_body = request.body_exists
        checksum = None
        if with_body:
            if request.content_type != OFFSET_CONTENT_TYPE:
                raise TusFailure(415, f"a body sent with the POST must be {OFFSET_CONTENT_TYPE}")
            checksum = parse_checksum(request.headers.get("Upload-Checksum"))
            if (request.content_length or 0) > length:
                raise TusFailure(413, "the body is longer than Upload-Length")
        try:
            await self.hooks.on_create(principal, metadata, length)
        except TusRejected as exc:
            raise TusFailure(exc.status, exc.message) from None

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
        except TusFailure as fail:
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
            raise TusFailure(415, f"Content-Type must be {OFFSET_CONTENT_TYPE}")
        offset = parse_uint(request.headers.get("Upload-Offset"), "Upload-Offset")
        checksum = parse_checksum(request.headers.get("Upload-Checksum"))
        body_length = request.content_length
        if body_length is not None and offset + body_length > info.length:
            raise TusFailure(413, f"this body would write past Upload-Length {info.length}")

        async with self._locked(info.id):
            # It may have changed while we waited.
            info = await self._settle(self._lookup(request, principal), principal)
            current = self.store.offset(info)
            if offset != current:
                raise TusFailure(
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
            raise TusFailure(405, "POST here needs X-HTTP-Method-Override: PATCH, DELETE or HEAD")
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

        Hold the upload's lock. Raises TusFailure for refused or broken bodies.
        """
        digest: Digest | None = new_digest(checksum[0]) if checksum else None
        try:
            writer = await self.store.open_writer(info, offset, digest=digest)
        except OffsetMismatch as exc:
            raise TusFailure(
                409,
                f"Upload-Offset {offset} does not match the upload's offset {exc.actual}",
                {"Upload-Offset": str(exc.actual)},
            ) from None
        try:
            outcome = await self._pump(request, writer, info)
            if outcome == "too_long":
                await writer.discard()
                raise TusFailure(
                    413, f"the body writes past Upload-Length {info.length}", close=True
                )
            if checksum is None:
                new_offset = await writer.commit()
            elif outcome != "complete":
                # A cut chunk cannot be verified against its checksum: drop it.
                new_offset = await writer.discard()
            else:
                await writer.flush()
                if writer.digest() != checksum[1]:
                    await writer.discard()
                    raise TusFailure(
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
            raise TusFailure(507, DISK_FULL_MESSAGE) from None
        finally:
            writer.close()

        if offset == 0 and 0 < new_offset < info.length:
            await self._check_first_bytes(info, principal)
        if new_offset == info.length:
            info = await self._finish(await self.store.mark_received(info), principal)
        if outcome == "stalled":
            log.info("upload %s: body stalled, cut at offset %s", info.id, new_offset)
            raise TusFailure(
                408,
                f"the body stalled; kept up to offset {new_offset}",
                {"Upload-Offset": str(new_offset)},
                close=True,
            )
        if outcome == "disconnected":
            log.info("upload %s: body ended early, kept up to offset %s", info.id, new_offset)
            raise TusFailure(
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
            raise TusFailure(exc.status, exc.message) from None

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
            raise TusFailure(exc.status, exc.message) from None
        except Exception as exc:
            if disk_full(exc):
                log.error("upload %s: disk full on completion: %s", info.id, exc)
                raise TusFailure(
                    507, DISK_FULL_MESSAGE, {"Upload-Offset": str(info.length)}
                ) from None
            log.exception("upload %s: completion hook failed", info.id)
            raise TusFailure(
                500,
                "all bytes arrived but the upload could not be completed; send HEAD later to retry",
                {"Upload-Offset": str(info.length)},
            ) from None
        return await self.store.mark_completed(info, result)

    # --- start-up and maintenance (see maintenance.py) -------------------------------------

    async def recover(self) -> None:
        """Tidy the store, complete uploads whose completion a crash interrupted, and remove
        unfinished uploads that are of no more use."""
        await self.maintenance.recover()

    async def sweep(self) -> None:
        """Run one expiry sweep, retry completions that are still pending, and remove
        unfinished uploads that are of no more use."""
        await self.maintenance.sweep()

    def lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        """cleanup_ctx: recover at start-up, sweep periodically, stop the sweep at shutdown."""
        return self.maintenance.lifecycle(app)


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
