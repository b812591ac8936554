"""Helpers for the upload and heartbeat tests: synthetic lessons, a faulty network, a test rig."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import shutil
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, tzinfo
from pathlib import Path

from lessoncam_device.enrolment import Credentials
from lessoncam_device.segments import RecordingPlan, SegmentInfo
from lessoncam_device.sim.clock import VirtualClock
from lessoncam_device.uploader import ServerClient, Step, Uploader, UploadQueue, UploadSettings

from ..mediagen import make_segments

CAMERAS = ("main", "pupils")
SEGMENT_S = 10.0


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_pool(base: Path, seconds: float = 20.0) -> dict[str, list[Path]]:
    """Synthetic segment files per camera (main with audio), made once and copied per test."""
    return {
        cam: [
            seg.path
            for seg in make_segments(
                base / cam, seconds=seconds, segment_s=SEGMENT_S, audio=(cam == "main")
            )
        ]
        for cam in CAMERAS
    }


def make_plan(
    recording_id: str, started_at_iso: str = "2026-11-02T08:30:00.000000+00:00"
) -> RecordingPlan:
    return RecordingPlan(
        recording_id=recording_id,
        started_at_iso=started_at_iso,
        cameras=tuple(
            {
                "id": cam,
                "role": "main" if cam == "main" else "second",
                "label": cam,
                "video": {
                    "codec": "h264",
                    "container": "mpegts",
                    "width": 320,
                    "height": 240,
                    "fps": 30,
                },
            }
            for cam in CAMERAS
        ),
        audio_camera="main",
        segment_seconds=SEGMENT_S,
        software_version="0.1.0",
    )


def copy_lesson(
    pool: dict[str, list[Path]], dest: Path, recording_id: str
) -> dict[str, list[SegmentInfo]]:
    """The pool's files copied under ``dest`` as one recording's segments."""
    out: dict[str, list[SegmentInfo]] = {}
    for cam, paths in pool.items():
        for seq, src in enumerate(paths):
            target = dest / recording_id / cam / f"{seq:05d}.ts"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)
            out.setdefault(cam, []).append(
                SegmentInfo(
                    recording_id=recording_id,
                    camera=cam,
                    sequence=seq,
                    start_s=seq * SEGMENT_S,
                    duration_s=SEGMENT_S,
                    path=target,
                    sha256=sha256_file(target),
                    size=target.stat().st_size,
                )
            )
    return out


def fake_lesson(
    dest: Path, recording_id: str, *, per_camera: int = 2, size: int = 200_000, seed: int = 0
) -> dict[str, list[SegmentInfo]]:
    """Random-byte segment files (for tests that never let the server assemble them)."""
    rng = random.Random(seed)
    out: dict[str, list[SegmentInfo]] = {}
    for cam in CAMERAS:
        for seq in range(per_camera):
            target = dest / recording_id / cam / f"{seq:05d}.ts"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(rng.randbytes(size + seq))
            out.setdefault(cam, []).append(
                SegmentInfo(
                    recording_id=recording_id,
                    camera=cam,
                    sequence=seq,
                    start_s=seq * SEGMENT_S,
                    duration_s=SEGMENT_S,
                    path=target,
                    sha256=sha256_file(target),
                    size=target.stat().st_size,
                )
            )
    return out


@dataclass
class Rig:
    """A unit's upload side: queue, client and uploader on a virtual clock."""

    queue: UploadQueue
    client: ServerClient
    uploader: Uploader
    clock: VirtualClock
    state_dir: Path

    async def drain(self, limit: int = 100) -> list[Step]:
        """Step until nothing is due (retries go on at once: no waiting in tests)."""
        steps: list[Step] = []
        for _ in range(limit):
            step = await self.uploader.step()
            steps.append(step)
            if step.outcome in ("idle", "refused"):
                return steps
        raise AssertionError(f"still busy after {limit} steps: {steps[-3:]}")

    async def close(self) -> None:
        await self.client.close()
        self.queue.close()


async def make_rig(
    state_dir: Path,
    server_url: str,
    unit_id: str,
    token: str,
    *,
    clock: VirtualClock | None = None,
    settings: UploadSettings | None = None,
    rand: Callable[[], float] = lambda: 0.5,
    ca_file: str | None = None,
    tz: tzinfo | None = UTC,
) -> Rig:
    clock = clock or VirtualClock()
    queue = UploadQueue.open(state_dir, now=clock.now)
    client = ServerClient(
        Credentials(server_url=server_url, unit_id=unit_id, token=token, ca_file=ca_file),
        request_timeout_s=20,
        connect_timeout_s=5,
    )
    uploader = Uploader(queue, client, clock, settings or UploadSettings(), tz=tz, rand=rand)
    return Rig(queue, client, uploader, clock, state_dir)


async def wait_until(predicate: Callable[[], bool]) -> None:
    """Poll ``predicate`` (state changed by tasks on this loop) until it holds."""
    async with asyncio.timeout(20):
        while not predicate():  # noqa: ASYNC110 (state lives in SQLite, not an Event)
            await asyncio.sleep(0.005)


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
