"""``kill -9`` of the real daemon process mid-lesson, then a restart: the lesson is recovered,
uploaded and assembled, and at most 2 s of what was recorded before the kill is lost.

One cut in ``make test``; 20 at random moments (each its own lesson) under ``make reliability``,
which collects the cuts and the worst loss as figures."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import pytest
from aiohttp.test_utils import TestServer

from lessoncam_device import enrolment
from lessoncam_device.enrolment import Credentials

from .. import reliability
from ..server.helpers import Person, UnitClient

UNIT_TOML = """
log_level = "info"
[unit]
hardware = "simulated"
[cameras.main]
width = 320
height = 240
fps = 15
[cameras.pupils]
width = 320
height = 240
fps = 15
[recording]
segment_seconds = 2.0
storage_reserve_mib = 64
[uploads]
heartbeat_s = 5
"""


class UnitProcess:
    """``lessoncam-device run`` in a child process, as systemd would start it: with a notify
    socket, on which the daemon says ``READY=1`` once it takes presses."""

    def __init__(self, state_dir: Path, config: Path, log: IO[bytes]) -> None:
        notify_path = state_dir.parent / f"notify-{id(self)}.sock"
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(notify_path))
        self.notify.setblocking(False)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lessoncam_device.cli",
                "--state-dir",
                str(state_dir),
                "run",
                "--config",
                str(config),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env={**os.environ, "NOTIFY_SOCKET": str(notify_path)},
        )

    async def ready(self) -> None:
        """Wait for ``READY=1`` (the button's signal handlers are in place by then)."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(60):
            while b"READY=1" not in (await loop.sock_recv(self.notify, 4096)).split(b"\n"):
                pass

    def press(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def kill(self) -> None:
        self.proc.kill()  # SIGKILL: no cleanup at all, as a power cut
        self.proc.wait(10)
        self.notify.close()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        self.notify.close()
        return self.proc.wait(60)


async def wait_for(predicate: Any) -> None:
    async with asyncio.timeout(60):
        while not predicate():  # noqa: ASYNC110 (the state is in another process)
            await asyncio.sleep(0.1)


def closed_segments(log: Path) -> int:
    """Main-camera segments the unit has closed, by its log (uploaded ones are deleted)."""
    return log.read_text().count("segment main/")


@pytest.mark.slow
@pytest.mark.parametrize("cut", range(reliability.sized(1, 20)))
@pytest.mark.server_assembles
async def test_kill_9_mid_lesson_loses_at_most_2_s(
    server: TestServer, unit: UnitClient, anna: Person, tmp_path: Path, cut: int
) -> None:
    # The first cut as it always was; the others at random moments of the lesson.
    rng = random.Random(cut)
    segments_before = 3 if cut == 0 else rng.randint(1, 6)
    into_segment_s = 1.3 if cut == 0 else rng.uniform(0.05, 1.95)
    state_dir = tmp_path / "unit"
    url = str(server.make_url("/")).rstrip("/")
    enrolment.save(state_dir, Credentials(url, unit.unit_id, unit.token))
    config = tmp_path / "device.toml"
    config.write_text(UNIT_TOML)
    log_path = tmp_path / "unit.log"
    with log_path.open("ab") as log:
        first = UnitProcess(state_dir, config, log)
        try:
            await first.ready()  # Python and the scene started, the button listened to
            first.press(signal.SIGUSR1)  # the button: start a lesson
            await wait_for(lambda: closed_segments(log_path) >= segments_before)
            await asyncio.sleep(into_segment_s)  # somewhere inside the next segment
            killed_at = time.time()
            first.kill()
        finally:
            if first.proc.poll() is None:
                first.kill()
        assert first.proc.returncode == -signal.SIGKILL

        second = UnitProcess(state_dir, config, log)
        try:
            lesson = await ready_lesson(anna)
        finally:
            assert second.stop() == 0, log_path.read_text()[-3000:]

    assert lesson["interrupted"] is True
    started = datetime.fromisoformat(lesson["started_at"]).timestamp()
    recorded_before_kill = killed_at - started
    lost = recorded_before_kill - lesson["duration_s"]
    reliability.add("power_cuts", 1)
    reliability.peak("max_loss_s_per_cut", round(lost, 2))
    assert 0 <= lost <= 2.0, (recorded_before_kill, lesson["duration_s"])
    for camera in lesson["cameras"]:
        assert camera["duration_s"] >= recorded_before_kill - 2.0
    assert "recovered interrupted lesson" in log_path.read_text()


async def ready_lesson(person: Person) -> dict[str, Any]:
    async with asyncio.timeout(90):
        while True:
            response = await person.request("GET", "/api/v1/lessons")
            lessons = (await response.json())["lessons"]
            if lessons and lessons[0]["state"] == "ready":
                detail = await person.request("GET", f"/api/v1/lessons/{lessons[0]['id']}")
                found: dict[str, Any] = await detail.json()
                return found
            await asyncio.sleep(0.2)
