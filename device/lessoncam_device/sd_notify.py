"""systemd's notify protocol (READY=1, WATCHDOG=1, STATUS=...), without a dependency.

The protocol is one datagram to the socket named in $NOTIFY_SOCKET; outside systemd the
variable is unset and every call is a no-op.
"""

from __future__ import annotations

import os
import socket


def notify(*fields: str, environ: dict[str, str] | None = None) -> bool:
    """Send ``fields`` (e.g. ``"READY=1"``); False when not running under systemd."""
    address = (environ if environ is not None else os.environ).get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract namespace socket
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(address)
        sock.sendall("\n".join(fields).encode())
    return True


def watchdog_interval_s(environ: dict[str, str] | None = None) -> float | None:
    """Half the watchdog timeout systemd asked for (the usual ping period), or None."""
    usec = (environ if environ is not None else os.environ).get("WATCHDOG_USEC")
    return int(usec) / 2e6 if usec and usec.isdigit() else None
