"""Small helpers for benchmarks that run a server as its own process on a loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, timeout: float = 20.0) -> None:
    """Block until ``url`` answers (any status); raise RuntimeError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback only
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def start_server(data: Path, log: IO[str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """``lessoncam-server serve`` on the data directory ``data`` at a free loopback port, once
    it answers: the process and its base URL. Its output goes to ``log`` (else nowhere)."""
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "lessoncam-server"),
            "serve",
            "--data-dir",
            str(data),
            "--port",
            str(port),
        ],
        env={**os.environ, "LESSONCAM_LOG_LEVEL": "warning"},
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT if log else None,
    )
    base = f"http://127.0.0.1:{port}"
    wait_for(f"{base}/healthz")
    return server, base


def stop_processes(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each process, then SIGKILL what has not exited 10 s later."""
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
