"""The server as its own process on a loopback port, as in a school (for fuzzing, load and
crashes): started, stopped, killed with SIGKILL and started again on the same data directory."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from lessoncam_server.access import accounts
from lessoncam_server.infra.db import open_database
from lessoncam_server.infra.paths import DataPaths

PASSWORD = "live server password"
START_TIMEOUT_S = 30


class LiveServer:
    """One ``lessoncam-server serve`` process on ``paths`` and ``port``; its output goes to
    ``log`` (appended to across restarts)."""

    def __init__(self, paths: DataPaths, port: int, log: Path) -> None:
        self.paths = paths
        self.port = port
        self.log = log
        self.base = f"http://127.0.0.1:{port}"
        self._process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def process(self) -> subprocess.Popen[bytes]:
        """The latest server process (dead after ``kill`` or ``stop``)."""
        if self._process is None:
            raise RuntimeError("the server was never started")
        return self._process

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log_tail(self, chars: int = 5000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def start(self) -> None:
        """Start the server and wait until it answers ``/healthz`` (its start-up recovery,
        resumed assemblies and clean-up have run by then)."""
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Start the server process without waiting for it."""
        server = str(Path(sys.executable).parent / "lessoncam-server")
        command = [server, "serve", "--data-dir", str(self.paths.root), "--port", str(self.port)]
        env = {**os.environ, "LESSONCAM_LOG_LEVEL": "warning"}
        with self.log.open("ab") as out:
            out.write(f"--- start {self.starts + 1} ---\n".encode())
            out.flush()
            self._process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.starts += 1

    def wait_ready(self) -> None:
        """Wait until the launched server answers ``/healthz``."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=1):  # noqa: S310
                    return
            except OSError:
                if time.monotonic() > deadline or not self.running:
                    raise RuntimeError(f"server did not start:\n{self.log_tail()}") from None
                time.sleep(0.05)

    def kill(self) -> None:
        """``kill -9``: the process gets no chance to finish anything."""
        if self.running:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=15)

    def stop(self) -> None:
        """A clean shutdown (SIGTERM), as systemd stops the service."""
        if self.running:
            self.process.terminate()
            self.process.wait(timeout=15)

    def restart(self) -> None:
        """Stop cleanly if running, then start again on the same data directory and port."""
        self.stop()
        self.start()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare_data(work: Path, users: dict[str, str]) -> DataPaths:
    """A fresh data directory under ``work`` with ``users`` (name -> role, password
    ``PASSWORD``)."""
    paths = DataPaths(work / "data")
    paths.create()
    db = open_database(paths.database)
    for name, role in users.items():
        accounts.create_user(db, name, PASSWORD, role, datetime.now(UTC))  # type: ignore[arg-type]
    db.close()
    return paths


@contextmanager
def live_server(work: Path, users: dict[str, str]) -> Iterator[LiveServer]:
    """Start ``lessoncam-server serve`` on a fresh data directory with ``users``; stop it on
    exit."""
    running = LiveServer(prepare_data(work, users), free_port(), work / "server.log")
    try:
        running.start()
        yield running
    finally:
        running.stop()
