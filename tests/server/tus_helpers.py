"""Shared pieces for the tus tests: a test app, fake auth, a clock, hooks and raw HTTP."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from lessoncam_common.hashing import sha256_file
from lessoncam_server.access.principal import PRINCIPAL, Principal, Unit, User
from lessoncam_server.uploads.store import UploadStore
from lessoncam_server.uploads.tus.endpoint import TusEndpoint, setup_tus
from lessoncam_server.uploads.tus.hooks import TusRejected

PREFIX = "/api/v1/uploads"
COLLECTION = f"{PREFIX}/"
MIB = 1024 * 1024

PRINCIPALS: dict[str, Principal] = {
    "unit-a": Unit(id="a", name="A", teacher_id=None),
    "unit-b": Unit(id="b", name="B", teacher_id=7),
    "user-3": User(id=3, username="t3", display_name="Teacher Three", role="teacher"),
}


@web.middleware
async def fake_auth(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """``Authorization: Bearer unit-a`` authenticates as unit a (see PRINCIPALS)."""
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer ") and auth[7:] in PRINCIPALS:
        request[PRINCIPAL] = PRINCIPALS[auth[7:]]
    return await handler(request)


def tus_headers(who: str | None = "unit-a", **extra: str) -> dict[str, str]:
    """Tus-Resumable plus auth plus extra headers (underscores in names become dashes)."""
    headers = {"Tus-Resumable": "1.0.0"}
    if who is not None:
        headers["Authorization"] = f"Bearer {who}"
    headers.update({k.replace("_", "-"): v for k, v in extra.items()})
    return headers


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class RecordingHooks:
    """Hooks that record calls; set the fields to make them refuse or fail."""

    created: list[tuple[str, dict[str, str], int]] = field(default_factory=list)
    completed: list[tuple[str, str, dict[str, str], str]] = field(default_factory=list)
    reject_create: TusRejected | None = None
    reject_complete: TusRejected | None = None
    fail_complete: int = 0  # fail this many times with an unexpected error

    async def on_create(self, principal: Principal, metadata: dict[str, str], length: int) -> None:
        self.created.append((principal.key, metadata, length))
        if self.reject_create is not None:
            raise self.reject_create

    async def on_complete(
        self, principal: Principal, upload_id: str, metadata: dict[str, str], path: Path
    ) -> dict[str, Any]:
        if self.fail_complete:
            self.fail_complete -= 1
            raise RuntimeError("database is locked")
        if self.reject_complete is not None:
            raise self.reject_complete
        digest = sha256_file(path)
        self.completed.append((principal.key, upload_id, metadata, digest))
        return {"sha256": digest, "bytes": path.stat().st_size}


def make_app(
    root: Path,
    *,
    hooks: Any = None,
    clock: FakeClock | None = None,
    max_size: int = 64 * MIB,
    stall_timeout_s: float = 5.0,
    lock_wait_s: float = 2.0,
) -> tuple[web.Application, UploadStore, TusEndpoint]:
    """An app with only fake auth and the tus endpoint, storing under ``root``."""
    app = web.Application(middlewares=[fake_auth])
    store = UploadStore(
        root,
        clock=clock or FakeClock(),
        expire_after=timedelta(hours=24),
        keep_finished=timedelta(hours=48),
        lock_wait_s=lock_wait_s,
        # Small batches so multi-batch code paths run in small tests too.
        write_batch_bytes=256 * 1024,
        early_sync_bytes=512 * 1024,
    )
    endpoint = setup_tus(
        app,
        store,
        hooks if hooks is not None else RecordingHooks(),
        max_size=max_size,
        stall_timeout_s=stall_timeout_s,
        sweep_interval_s=3600,
    )
    return app, store, endpoint


# --- raw HTTP, for bodies that stall or break off ---------------------------------------------


class RawRequest:
    """A hand-written HTTP/1.1 request whose body is sent piece by piece."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def start(
        cls, port: int, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> RawRequest:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await writer.drain()
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def response(self) -> tuple[int, dict[str, str]]:
        """Status and headers of the response (the body is not read)."""
        async with asyncio.timeout(10):
            head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        return status, headers

    async def close(self, abort: bool = False) -> None:
        if abort:
            self.writer.transport.abort()
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


async def wait_until(predicate: Callable[[], bool]) -> None:
    """Poll ``predicate`` until it holds (for state changes inside the server)."""
    async with asyncio.timeout(10):
        while not predicate():  # noqa: ASYNC110 (the state lives in the server, not an Event)
            await asyncio.sleep(0.01)
