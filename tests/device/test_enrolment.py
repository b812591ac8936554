"""``lessoncam-device enroll`` against a real server on a real port."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

from aiohttp.test_utils import TestServer

from lessoncam_device import cli, enrolment

from ..server.helpers import Person


async def test_enroll_stores_a_private_token_that_works(
    admin: Person, server: TestServer, tmp_path: Path
) -> None:
    code = await admin.json("POST", "/api/v1/enrolment-codes", 201, json={"unit_name": "Group 7"})
    url = str(server.make_url("/"))
    state = tmp_path / "state"
    status = await asyncio.to_thread(
        cli.main, ["--state-dir", str(state), "enroll", "--server", url, "--code", code["code"]]
    )
    assert status == 0
    path = state / enrolment.CREDENTIALS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    creds = enrolment.load(state)
    assert creds is not None and creds.server_url == url.rstrip("/")
    response = await admin.client.get(
        "/api/v1/unit", headers={"Authorization": f"Bearer {creds.token}"}
    )
    assert (await response.json())["name"] == "Group 7"


async def test_enroll_with_a_used_code_says_why(
    admin: Person, server: TestServer, tmp_path: Path, capsys: object
) -> None:
    code = await admin.json("POST", "/api/v1/enrolment-codes", 201, json={"unit_name": "G"})
    url = str(server.make_url("/"))
    args = ["--state-dir", str(tmp_path), "enroll", "--server", url, "--code", code["code"]]
    assert await asyncio.to_thread(cli.main, args) == 0
    assert await asyncio.to_thread(cli.main, args) == 1


async def test_enroll_with_no_server_says_so(tmp_path: Path) -> None:
    args = [
        "--state-dir",
        str(tmp_path),
        "enroll",
        "--server",
        "http://127.0.0.1:9",
        "--code",
        "X-Y-Z1",
    ]
    assert await asyncio.to_thread(cli.main, args) == 1
    assert enrolment.load(tmp_path) is None
