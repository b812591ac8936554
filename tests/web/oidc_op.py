"""The real OpenID Provider the sign-in tests run against: ``tests/oidc_op/provider.mjs``
(oidc-provider from npm, OpenID Certified) in a Node process of its own.

``npm ci`` in tests/oidc_op installs it (``make venv`` does; so does .ci/run).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest

OP_DIR = Path(__file__).parents[1] / "oidc_op"
CLIENT_ID = "lessoncam"
CLIENT_SECRET = "test-client-secret-that-must-never-be-logged"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TestProvider:
    """One provider process on ``port``; restart it with another key to rotate keys."""

    __test__ = False  # not a test class

    def __init__(self, port: int, lessoncam: str, provider_key: str) -> None:
        self.port = port
        self.issuer = f"http://127.0.0.1:{port}"
        self.redirect_uri = f"{lessoncam}/login/oidc/{provider_key}/callback"
        self.post_logout_uri = f"{lessoncam}/login?notice=signed_out"
        self.process: asyncio.subprocess.Process | None = None
        self.people: dict[str, dict[str, Any]] = {}

    async def start(self, kid: str = "key-1") -> None:
        node = shutil.which("node")
        if node is None or not (OP_DIR / "node_modules" / "oidc-provider").is_dir():
            pytest.fail("the test OpenID Provider needs Node.js and `npm ci` in tests/oidc_op")
        self.process = await asyncio.create_subprocess_exec(
            node,
            str(OP_DIR / "provider.mjs"),
            "--port",
            str(self.port),
            "--redirect-uri",
            self.redirect_uri,
            "--post-logout-uri",
            self.post_logout_uri,
            "--secret",
            CLIENT_SECRET,
            "--kid",
            kid,
            "--client-id",
            CLIENT_ID,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), 60)
        assert line.startswith(b"ready"), line
        if self.people:
            await self.set_people(self.people)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            with contextlib.suppress(ProcessLookupError):
                await self.process.wait()
        self.process = None

    async def rotate_keys(self, kid: str) -> None:
        """The provider now signs with a new key and no longer publishes the old one."""
        await self.stop()
        await self.start(kid)

    async def _post(self, path: str, body: Any) -> None:
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{self.issuer}{path}", json=body) as response,
        ):
            assert response.status == 204, await response.text()

    async def set_people(self, people: dict[str, dict[str, Any]]) -> None:
        """Who may sign in at the provider (``disabled``: the provider refuses her)."""
        self.people = people
        await self._post("/__test/people", people)

    async def tamper(self, mode: str) -> None:
        """Spoil the next answer of the token endpoint (see provider.mjs)."""
        await self._post("/__test/tamper", {"mode": mode})


def provider_entry(issuer: str, secret_file: Path, **extra: Any) -> dict[str, Any]:
    """The ``[[oidc]]`` entry lessoncam's tests use for the test provider."""
    return {
        "key": "school",
        "name": "Test School",
        "issuer": issuer,
        "client_id": CLIENT_ID,
        "client_secret_file": str(secret_file),
        "coach_groups": ["coaches"],
        "teacher_groups": ["teachers"],
        "admin_groups": ["ict"],
        "default_role": "teacher",
        "timeout_s": 3,
        **extra,
    }
