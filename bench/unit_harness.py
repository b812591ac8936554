"""A real server on loopback and a simulated unit (the real daemon) on a stepped virtual clock.

The unit benchmarks (``avsync.py``, ``stop_to_ready.py``) record long lessons in minutes: the
clock is advanced in small steps, and after each ``pace_s`` of lesson the driver waits (in real
time) until the encoders have caught up and every closed segment is on the server, as on a
unit whose uploads keep pace with the lesson. Everything else is the product's own code: the
daemon, recorder, upload queue and tus client on one side; the aiohttp server, ingest and
assembly on the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import platform
import secrets
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.mediagen (the flash and beep finders)

from lessoncam_device import enrolment  # noqa: E402
from lessoncam_device.config import DeviceConfig, parse_config  # noqa: E402
from lessoncam_device.daemon import Daemon  # noqa: E402
from lessoncam_device.recorder import Recorder, RecorderOptions  # noqa: E402
from lessoncam_device.sim.clock import SteppedClock  # noqa: E402
from lessoncam_device.sources import SourcesFactory  # noqa: E402
from lessoncam_device.states import Event, State  # noqa: E402
from lessoncam_server.access import accounts  # noqa: E402
from lessoncam_server.app import init_app  # noqa: E402
from lessoncam_server.config import parse_config as parse_server_config  # noqa: E402
from lessoncam_server.infra.timeutil import utc_now  # noqa: E402
from lessoncam_server.services import SERVICES, Services  # noqa: E402
from lessoncam_server.units import fleet, recordings  # noqa: E402


def run_facts() -> dict[str, str]:
    """Where and when a benchmark ran, for its JSON file."""
    return {
        "machine": f"{platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}",
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


@dataclass
class LoopbackServer:
    url: str
    services: Services
    teacher_id: int
    admin_id: int

    async def enrol_unit(self, name: str = "Bench unit") -> enrolment.Credentials:
        """A new unit enrolled over HTTP, its lessons owned by the bench teacher."""
        code, _ = fleet.new_enrolment_code(
            self.services.db,
            name,
            self.admin_id,
            utc_now(),
            timedelta(minutes=15),
            self.teacher_id,
        )
        return await enrolment.enrol(self.url, code)

    def state(self, recording_id: str) -> str | None:
        row = recordings.get(self.services.db, recording_id)
        return None if row is None else str(row["state"])

    def video(self, recording_id: str, camera: str) -> Path:
        """The assembled MP4 the server plays for ``camera``."""
        row = recordings.get(self.services.db, recording_id)
        assert row is not None and row["state"] == "ready"
        return self.services.paths.video(recording_id, camera, row["media_version"])


@contextlib.asynccontextmanager
async def loopback_server(
    data_dir: Path, storage: dict[str, Any] | None = None
) -> AsyncIterator[LoopbackServer]:
    """The lessoncam server on 127.0.0.1 (a free port), with a teacher and an admin;
    ``storage`` adds keys to its ``[storage]`` (a bucket for the media)."""
    config = parse_server_config({"storage": {"data_dir": str(data_dir), **(storage or {})}})
    app = init_app(config)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        services = app[SERVICES]
        password = secrets.token_urlsafe(16)
        teacher = accounts.create_user(services.db, "bench-teacher", password, "teacher", utc_now())
        admin = accounts.create_user(services.db, "bench-admin", password, "admin", utc_now())
        yield LoopbackServer(f"http://127.0.0.1:{port}", services, teacher["id"], admin["id"])
    finally:
        await runner.cleanup()


def unit_config(
    state_dir: Path, cameras: int, width: int, height: int, fps: int, minutes: float
) -> DeviceConfig:
    camera = {"width": width, "height": height, "fps": fps}
    named = {"main": camera} | ({"pupils": camera} if cameras == 2 else {})
    return parse_config(
        {
            "unit": {"state_dir": str(state_dir), "hardware": "simulated"},
            "cameras": named,
            "recording": {"storage_reserve_mib": 64, "max_minutes": int(minutes) + 5},
            "uploads": {"heartbeat_s": 30, "snapshot": False},
        }
    )


async def until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what} after {timeout_s:.0f} s")
        await asyncio.sleep(0.005)


@dataclass
class LessonRun:
    recording_id: str
    lesson_s: float  # virtual seconds between the presses
    seconds_stop_to_ready: float  # real seconds from the long press to "ready" on the server
    record_wall_s: float  # real seconds the whole recording took to drive


async def record_lesson(
    server: LoopbackServer,
    state_dir: Path,
    config: DeviceConfig,
    minutes: float,
    sources: SourcesFactory,
    options: RecorderOptions,
    *,
    live: bool = True,
    step_s: float = 0.5,
    pace_s: float = 10.0,
) -> LessonRun:
    """Press, record ``minutes``, long-press, and time until the lesson is ready.

    ``live``: segments upload while the lesson goes on (the driver lets uploads keep pace).
    Otherwise the unit records with no uploader and a second daemon on the same state
    directory (as after a restart) uploads everything once the lesson has stopped.
    """
    creds = await server.enrol_unit()
    clock = SteppedClock(wall_s=time.time())
    daemon = Daemon(
        config, clock, sources, creds if live else None, recorder_options=options, use_pins=False
    )
    task = asyncio.create_task(daemon.run())
    began = time.perf_counter()
    try:
        await until(daemon.ready.is_set, 60, "the daemon to start")
        daemon.post(Event.SHORT_PRESS)
        await until(lambda: daemon.status.state is State.RECORDING, 60, "recording to start")
        recorder = daemon.recorder
        assert isinstance(recorder, Recorder)
        steps = round(minutes * 60 / step_s)
        per_pace = max(1, round(pace_s / step_s))
        for i in range(1, steps + 1):
            clock.advance(step_s)
            await asyncio.sleep(0)
            if i % per_pace == 0:
                await recorder.sync()
                await until(lambda: not _uploads_behind(daemon), 120, "uploads to keep pace")
        await recorder.sync()
        await until(lambda: not _uploads_behind(daemon), 120, "uploads to keep pace")
        pressed = time.perf_counter()
        daemon.post(Event.LONG_PRESS)
        await until(lambda: daemon.status.state is State.IDLE, 300, "the recording to close")
        (recording_id,) = daemon.finished_recordings
        if not live:
            daemon.stop()
            await asyncio.wait_for(task, 120)
            daemon = Daemon(config, clock, sources, creds, recorder_options=options, use_pins=False)
            task = asyncio.create_task(daemon.run())
        await until(lambda: server.state(recording_id) == "ready", 900, "the lesson to be ready")
        ready = time.perf_counter()
        assert recorder.t0 is not None and recorder.stop_at is not None
        lesson_s = recorder.stop_at - recorder.t0
        return LessonRun(recording_id, lesson_s, ready - pressed, ready - began)
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 120)


def _uploads_behind(daemon: Daemon) -> bool:
    queue = daemon.queue
    return queue is not None and bool(queue.pending_segments())
