"""The systemd notify datagrams, received on a real Unix socket."""

from __future__ import annotations

import socket
from pathlib import Path

from lessoncam_device.sd_notify import notify, watchdog_interval_s


def test_notify_sends_one_datagram(tmp_path: Path) -> None:
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(path)
        assert notify("READY=1", "STATUS=ready", environ={"NOTIFY_SOCKET": path})
        assert server.recv(1024) == b"READY=1\nSTATUS=ready"


def test_outside_systemd_nothing_happens() -> None:
    assert notify("READY=1", environ={}) is False
    assert watchdog_interval_s({}) is None
    assert watchdog_interval_s({"WATCHDOG_USEC": "20000000"}) == 10.0
