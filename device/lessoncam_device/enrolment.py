"""Enrolment: exchange a single-use code for this unit's token, and keep it safe on disk.

The unit talks to the server only over HTTP and the shared wire format; it imports nothing
from the server package.
"""

from __future__ import annotations

import dataclasses
import json
import ssl
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from lessoncam_common.durable import write_json_atomic

CREDENTIALS_FILE = "credentials.json"


class EnrolmentFailed(Exception):
    """The server refused the code or could not be reached; the message says what to do."""


@dataclass(frozen=True)
class Credentials:
    server_url: str
    unit_id: str
    token: str
    ca_file: str | None = None

    def ssl_context(self) -> ssl.SSLContext | bool:
        """Verification against the school's private CA when one is configured."""
        if self.ca_file:
            return ssl.create_default_context(cafile=self.ca_file)
        return True


def save(state_dir: Path, creds: Credentials) -> Path:
    """Write the credentials with mode 0600, atomically (a power cut leaves old or new)."""
    target = state_dir / CREDENTIALS_FILE
    write_json_atomic(target, dataclasses.asdict(creds), mode=0o600)
    return target


def load(state_dir: Path) -> Credentials | None:
    path = state_dir / CREDENTIALS_FILE
    if not path.exists():
        return None
    return Credentials(**json.loads(path.read_text()))


async def enrol(server_url: str, code: str, ca_file: str | None = None) -> Credentials:
    """Ask ``server_url`` to enrol this unit with ``code``."""
    base = server_url.rstrip("/")
    ssl_arg: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
            session.post(f"{base}/api/v1/enrol", json={"code": code}, ssl=ssl_arg) as response,
        ):
            try:
                body = await response.json(content_type=None)
            except ValueError:
                body = {}
            if response.status != 201:
                message = body.get("message") if isinstance(body, dict) else None
                raise EnrolmentFailed(message or f"the server answered HTTP {response.status}")
    except aiohttp.ClientError as exc:
        raise EnrolmentFailed(
            f"cannot reach {base}: {exc}; check the URL and the network"
        ) from None
    return Credentials(
        server_url=base, unit_id=body["unit_id"], token=body["token"], ca_file=ca_file
    )
