"""Helpers for server tests: people who sign in, units that enrol, recordings that upload."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiotus
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

SAFE = {"GET", "HEAD", "OPTIONS"}
PASSWORD = "correct horse battery"


class FakeClock:
    """A clock the test moves by hand; starts at a fixed UTC moment."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 2, 8, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Person:
    """A signed-in browser: sends the CSRF token with every state change, as the web UI does."""

    client: TestClient
    username: str
    csrf: str = ""

    async def request(self, method: str, path: str, **kw: Any) -> ClientResponse:
        headers = dict(kw.pop("headers", {}) or {})
        if method.upper() not in SAFE and self.csrf:
            headers.setdefault("X-CSRF-Token", self.csrf)
        return await self.client.request(method, path, headers=headers, **kw)

    async def json(self, method: str, path: str, expect: int = 200, **kw: Any) -> Any:
        response = await self.request(method, path, **kw)
        text = await response.text()
        assert response.status == expect, f"{method} {path}: {response.status} {text}"
        return json.loads(text) if text else None


async def as_person(client: TestClient, username: str, password: str) -> Person:
    response = await client.post(
        "/api/v1/session", json={"username": username, "password": password}
    )
    body = await response.json()
    assert response.status == 200, body
    return Person(client, username, body["csrf_token"])


@dataclass
class UnitClient:
    """An enrolled unit: bearer token on every request."""

    client: TestClient
    unit_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def request(self, method: str, path: str, **kw: Any) -> ClientResponse:
        headers = {**self.headers, **(kw.pop("headers", None) or {})}
        return await self.client.request(method, path, headers=headers, **kw)

    async def json(self, method: str, path: str, expect: int = 200, **kw: Any) -> Any:
        response = await self.request(method, path, **kw)
        text = await response.text()
        assert response.status == expect, f"{method} {path}: {response.status} {text}"
        return json.loads(text) if text else None


async def enrol_unit(admin: Person, client: TestClient, name: str) -> UnitClient:
    code = await admin.json("POST", "/api/v1/enrolment-codes", 201, json={"unit_name": name})
    response = await client.post("/api/v1/enrol", json={"code": code["code"]})
    body = await response.json()
    assert response.status == 201, body
    return UnitClient(client, body["unit_id"], body["token"])


def manifest(
    recording_id: str,
    started_at: datetime,
    cameras: tuple[str, ...] = ("main",),
    width: int = 320,
    height: int = 240,
) -> dict[str, Any]:
    return {
        "format_version": 1,
        "recording_id": recording_id,
        "started_at": started_at.isoformat(),
        "cameras": [
            {
                "id": cam,
                "role": "main" if i == 0 else "second",
                "video": {"width": width, "height": height, "fps": 30},
            }
            for i, cam in enumerate(cameras)
        ],
        "audio_camera": cameras[0],
        "segment_seconds": 10,
    }


def segment_metadata(
    recording_id: str, camera: str, sequence: int, data: bytes, start_s: float, duration_s: float
) -> dict[str, bytes | None]:
    return {
        "recording": recording_id.encode(),
        "camera": camera.encode(),
        "sequence": str(sequence).encode(),
        "sha256": hashlib.sha256(data).hexdigest().encode(),
        "start_s": f"{start_s:.6f}".encode(),
        "duration_s": f"{duration_s:.6f}".encode(),
    }


async def upload_segment(
    unit: UnitClient,
    recording_id: str,
    camera: str,
    sequence: int,
    path: Path,
    start_s: float,
    duration_s: float,
) -> None:
    """Upload one segment file with aiotus (an unmodified third-party tus client)."""
    data = path.read_bytes()
    url = await aiotus.upload(
        unit.client.make_url("/api/v1/uploads/"),
        io.BytesIO(data),
        segment_metadata(recording_id, camera, sequence, data, start_s, duration_s),
        client_session=unit.client.session,
        headers=unit.headers,
        config=aiotus.RetryConfiguration(retry_attempts=1, max_retry_period_seconds=1),
    )
    assert url is not None, f"upload of {camera}/{sequence} failed"
