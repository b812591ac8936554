"""A fault-injecting TCP proxy for tests: the school network between unit and server."""

from __future__ import annotations

import asyncio
import contextlib
import ssl


class Proxy:
    """A TCP proxy in front of the test server, standing in for the school network.

    ``down = True`` drops every new connection at once (server unreachable). ``cut_after``
    cuts every open connection once, when that many bytes from the client have passed
    (counted over all connections). ``flip_at`` inverts the client's byte at that count once
    (damage that TCP let through). ``forwarded`` counts the client's bytes. With ``tls`` it
    speaks TLS to the client (the school's server behind its private CA).
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
        self.flips = 0
        self.tls = tls
        self.down = False
        self.forwarded = 0
        self.cuts = 0
        self.refused = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> Proxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
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

    def _abort_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        up_writer: asyncio.StreamWriter | None = None
        try:
            if self.down:
                self.refused += 1
                writer.transport.abort()
                return
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
            self._writers.add(up_writer)
            upstream = asyncio.create_task(self._pipe(up_reader, writer, count=False))
            await self._pipe(reader, up_writer, count=True)
            await upstream
        except (ConnectionError, ssl.SSLError):
            self._abort_all()
        finally:
            for w in (writer, up_writer):
                if w is None:
                    continue
                self._writers.discard(w)
                w.close()
                with contextlib.suppress(ConnectionError, ssl.SSLError):
                    await w.wait_closed()
            self._tasks.discard(task)

    async def _pipe(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, *, count: bool
    ) -> None:
        try:
            while data := await src.read(64 * 1024):
                if (
                    count
                    and self.cut_after is not None
                    and self.cuts == 0
                    and self.forwarded + len(data) >= self.cut_after
                ):
                    keep = self.cut_after - self.forwarded
                    dst.write(data[:keep])
                    await dst.drain()
                    self.forwarded += keep
                    self.cuts += 1
                    self._abort_all()
                    return
                if count and self.flip_at is not None and self.flips == 0:
                    at = self.flip_at - self.forwarded
                    if 0 <= at < len(data):
                        data = data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]
                        self.flips += 1
                if count:
                    self.forwarded += len(data)
                dst.write(data)
                await dst.drain()
            if dst.can_write_eof():
                dst.write_eof()
        except (ConnectionError, ssl.SSLError):
            self._abort_all()
