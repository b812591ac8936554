"""The server as its own process on a loopback port, as in a school (for fuzzing and load)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lessoncam_server import accounts
from lessoncam_server.db import open_database
from lessoncam_server.paths import DataPaths

PASSWORD = "live server password"


@dataclass
class LiveServer:
    base: str
    log: Path
    process: subprocess.Popen[bytes]

    def log_tail(self, chars: int = 5000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def live_server(work: Path, users: dict[str, str]) -> Iterator[LiveServer]:
    """Start ``lessoncam-server serve`` on a fresh data directory with ``users`` (name -> role,
    password ``PASSWORD``); stop it on exit."""
    paths = DataPaths(work / "data")
    paths.create()
    db = open_database(paths.database)
    for name, role in users.items():
        accounts.create_user(db, name, PASSWORD, role, datetime.now(UTC))  # type: ignore[arg-type]
    db.close()
    port = free_port()
    log = work / "server.log"
    server = str(Path(sys.executable).parent / "lessoncam-server")
    command = [server, "serve", "--data-dir", str(paths.root), "--port", str(port)]
    env = {**os.environ, "LESSONCAM_LOG_LEVEL": "warning"}
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    running = LiveServer(f"http://127.0.0.1:{port}", log, process)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{running.base}/healthz", timeout=1):  # noqa: S310
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"server did not start:\n{running.log_tail()}") from None
                time.sleep(0.1)
        yield running
    finally:
        process.terminate()
        process.wait(timeout=15)
