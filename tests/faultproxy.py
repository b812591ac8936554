"""A fault-injecting TCP proxy for tests: the school network between unit and server."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass, field

_READ_BYTES = 64 * 1024


@dataclass(eq=False)
class _Link:
    """One client connection and its connection to the server."""

    client: asyncio.StreamWriter
    server: asyncio.StreamWriter | None = None
    flowing: asyncio.Event = field(default_factory=asyncio.Event)

    def abort(self) -> None:
        for writer in (self.client, self.server):
            if writer is not None:
                writer.transport.abort()


class Proxy:
    """A TCP proxy in front of the test server, standing in for the school network.

    Faults, each with a counter of how often it happened:

    - ``down = True`` drops every new connection at once (server unreachable): ``refused``.
    - ``cut_after`` cuts every open connection once, when that many bytes from the client have
      passed (counted over all connections): ``cuts``.
    - ``flip_at`` inverts the client's byte at that count once (damage TCP let through): ``flips``.
    - ``stall_at`` freezes the connections open when that many client bytes have passed, once;
      ``stall()`` freezes them now. Nothing moves either way and nothing is closed: a dead NAT
      entry or a roaming Wi-Fi client, the half-open connection only a timeout notices. The
      freeze lasts ``stall_s`` seconds, or until ``release()`` when None. Connections opened
      later flow normally. ``stalls`` counts freezes.
    - ``rate`` (bytes/s, each direction) makes a slow link; ``throttled`` counts the bytes that
      crossed it. ``latency_s`` delays each piece read from a socket (up to 64 KiB) that long.

    ``forwarded`` counts the client's bytes. With ``tls`` it speaks TLS to the client (the
    school's server behind its private CA).
    """

    def __init__(
        self,
        target_port: int,
        *,
        cut_after: int | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.target_port = target_port
        self.cut_after = cut_after
        self.flip_at: int | None = None
        self.stall_at: int | None = None
        self.stall_s: float | None = None
        self.rate: int | None = None
        self.latency_s = 0.0
        self.tls = tls
        self.down = False
        self.forwarded = 0
        self.cuts = 0
        self.flips = 0
        self.stalls = 0
        self.throttled = 0
        self.refused = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._links: set[_Link] = set()
        self._frozen: set[_Link] = set()
        self._thaw: asyncio.TimerHandle | None = None

    async def __aenter__(self) -> Proxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        if self._thaw is not None:
            self._thaw.cancel()
        self._abort_all()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def url(self, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def frozen(self) -> int:
        """Connections frozen by a stall right now."""
        return len(self._frozen)

    def stall(self, seconds: float | None = None) -> None:
        """Freeze every open connection for ``seconds`` (None: until ``release()``)."""
        self.stalls += 1
        for link in self._links:
            link.flowing.clear()
            self._frozen.add(link)
        if self._thaw is not None:
            self._thaw.cancel()
            self._thaw = None
        if seconds is not None:
            self._thaw = asyncio.get_running_loop().call_later(seconds, self.release)

    def release(self) -> None:
        """End a stall: the frozen connections move again."""
        for link in self._frozen:
            link.flowing.set()
        self._frozen.clear()
        self._thaw = None

    def _abort_all(self) -> None:
        for link in list(self._links):
            link.abort()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        link = _Link(writer)
        link.flowing.set()
        self._links.add(link)
        try:
            if self.down:
                self.refused += 1
                writer.transport.abort()
                return
            up_reader, link.server = await asyncio.open_connection("127.0.0.1", self.target_port)
            upstream = asyncio.create_task(self._pipe(link, up_reader, writer, count=False))
            await self._pipe(link, reader, link.server, count=True)
            await upstream
        except (ConnectionError, ssl.SSLError):
            link.abort()
        finally:
            self._links.discard(link)
            self._frozen.discard(link)
            # Close both sides before waiting on either: cancelled while waiting (the proxy
            # stopping), a side not yet closed would be left to the garbage collector.
            writers = [w for w in (writer, link.server) if w is not None]
            for w in writers:
                w.close()
            for w in writers:
                with contextlib.suppress(ConnectionError, ssl.SSLError):
                    await w.wait_closed()
            self._tasks.discard(task)

    async def _pipe(
        self, link: _Link, src: asyncio.StreamReader, dst: asyncio.StreamWriter, *, count: bool
    ) -> None:
        try:
            while data := await src.read(self._read_bytes()):
                await link.flowing.wait()
                if count and self._cut(data):
                    keep = self.cut_after - self.forwarded  # type: ignore[operator]
                    await self._send(link, dst, data[:keep], count=True)
                    self.cuts += 1
                    self._abort_all()
                    return
                if count and self.flip_at is not None and self.flips == 0:
                    at = self.flip_at - self.forwarded
                    if 0 <= at < len(data):
                        data = data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]
                        self.flips += 1
                if (
                    count
                    and self.stall_at is not None
                    and self.stall_at < self.forwarded + len(data)
                ):
                    keep = max(0, self.stall_at - self.forwarded)
                    self.stall_at = None
                    await self._send(link, dst, data[:keep], count=True)
                    data = data[keep:]
                    self.stall(self.stall_s)
                    await link.flowing.wait()
                await self._send(link, dst, data, count=count)
            if dst.can_write_eof():
                dst.write_eof()
        except (ConnectionError, ssl.SSLError):
            link.abort()

    def _read_bytes(self) -> int:
        # On a slow link read no more than it carries in 20 ms: a bottleneck does not buffer
        # ahead, so what a client gives up on mostly never arrives.
        return _READ_BYTES if self.rate is None else max(1, min(_READ_BYTES, self.rate // 50))

    def _cut(self, data: bytes) -> bool:
        return (
            self.cut_after is not None
            and self.cuts == 0
            and self.forwarded + len(data) >= self.cut_after
        )

    async def _send(
        self, link: _Link, dst: asyncio.StreamWriter, data: bytes, *, count: bool
    ) -> None:
        """Write ``data`` on, at the link's speed; a stall may freeze it half-way."""
        if data and self.latency_s:
            await asyncio.sleep(self.latency_s)
        while data:
            rate = self.rate
            piece = data if rate is None else data[: max(1, rate // 50)]
            if rate is not None:
                await asyncio.sleep(len(piece) / rate)
                await link.flowing.wait()
                self.throttled += len(piece)
            if count:
                self.forwarded += len(piece)
            dst.write(piece)
            await dst.drain()
            data = data[len(piece) :]
