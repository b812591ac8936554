"""Unit enrolment, tokens, revocation and heartbeats."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any

import cv2
import numpy as np
from aiohttp.test_utils import TestClient

from .helpers import FakeClock, Person, UnitClient, enrol_unit


def _jpeg() -> bytes:
    ok, data = cv2.imencode(".jpg", np.full((48, 64, 3), 128, np.uint8))
    assert ok
    return data.tobytes()


async def test_enrolment_gives_a_256_bit_token_stored_hashed(
    admin: Person, new_client: Callable[[], Awaitable[TestClient]], services: Any
) -> None:
    unit = await enrol_unit(admin, await new_client(), "Group 5")
    assert len(base64.urlsafe_b64decode(unit.token + "=")) == 32
    stored = services.db.execute("SELECT token_hash FROM units").fetchone()[0]
    assert unit.token not in stored
    me = await unit.json("GET", "/api/v1/unit")
    assert me == {"unit_id": unit.unit_id, "name": "Group 5", "assigned": False}


async def test_codes_are_single_use_and_expire(
    admin: Person, new_client: Callable[[], Awaitable[TestClient]], clock: FakeClock
) -> None:
    client = await new_client()
    code = (await admin.json("POST", "/api/v1/enrolment-codes", 201, json={"unit_name": "A"}))[
        "code"
    ]
    assert (await client.post("/api/v1/enrol", json={"code": code})).status == 201
    again = await client.post("/api/v1/enrol", json={"code": code})
    assert again.status == 400 and "already used" in (await again.json())["message"]

    late = (await admin.json("POST", "/api/v1/enrolment-codes", 201, json={"unit_name": "B"}))[
        "code"
    ]
    clock.advance(minutes=15, seconds=1)
    expired = await client.post("/api/v1/enrol", json={"code": late.lower()})
    assert expired.status == 400 and "expired" in (await expired.json())["message"]
    unknown = await client.post("/api/v1/enrol", json={"code": "AAAA-BBBB-CCCC"})
    assert unknown.status == 400


async def test_only_admins_make_codes(sign_in: Callable[..., Awaitable[Person]]) -> None:
    teacher = await sign_in("anna")
    r = await teacher.request("POST", "/api/v1/enrolment-codes", json={"unit_name": "X"})
    assert r.status == 403


async def test_a_revoked_unit_gets_401(admin: Person, unit: UnitClient) -> None:
    assert (await unit.request("GET", "/api/v1/unit")).status == 200
    await admin.json("POST", f"/api/v1/units/{unit.unit_id}/revoke", 204)
    response = await unit.request("GET", "/api/v1/unit")
    assert response.status == 401 and "revoked" in (await response.json())["message"]
    beat = await unit.request("POST", "/api/v1/unit/heartbeat", json={"state": "idle"})
    assert beat.status == 401


async def test_bad_tokens_get_401(new_client: Callable[[], Awaitable[TestClient]]) -> None:
    client = await new_client()
    for header in ("Bearer nonsense", "Basic abc", "Bearer "):
        r = await client.get("/api/v1/unit", headers={"Authorization": header})
        assert r.status == 401


async def test_heartbeat_is_stored_and_shown_to_admins(
    admin: Person, unit: UnitClient, clock: FakeClock
) -> None:
    beat = {
        "state": "recording",
        "version": "0.1.0",
        "free_disk_bytes": 12_000_000_000,
        "temperature_c": 51.5,
        "queue_length": 3,
        "last_error": None,
        "tracking": "locked",
        "snapshot_jpeg_base64": base64.b64encode(_jpeg()).decode(),
    }
    await unit.json("POST", "/api/v1/unit/heartbeat", 204, json=beat)
    fleet = (await admin.json("GET", "/api/v1/units"))["units"]
    (row,) = fleet
    assert row["online"] and row["state"] == "recording" and row["queue_length"] == 3
    assert row["has_snapshot"] and "token_hash" not in row
    snap = await admin.request("GET", f"/api/v1/units/{unit.unit_id}/snapshot")
    assert snap.status == 200 and (await snap.read()).startswith(b"\xff\xd8\xff")
    clock.advance(minutes=4)
    assert not (await admin.json("GET", "/api/v1/units"))["units"][0]["online"]


async def test_heartbeat_rejects_bad_snapshots(unit: UnitClient) -> None:
    not_jpeg = base64.b64encode(b"GIF89a....").decode()
    r = await unit.request(
        "POST", "/api/v1/unit/heartbeat", json={"state": "idle", "snapshot_jpeg_base64": not_jpeg}
    )
    assert r.status == 400
    huge = base64.b64encode(b"\xff\xd8\xff" + b"0" * 600_000).decode()
    r = await unit.request(
        "POST", "/api/v1/unit/heartbeat", json={"state": "idle", "snapshot_jpeg_base64": huge}
    )
    assert r.status == 413


async def test_admin_assigns_a_teacher_to_a_unit(
    admin: Person, unit: UnitClient, make_user: Callable[..., Any]
) -> None:
    make_user("anna")
    path = f"/api/v1/units/{unit.unit_id}"
    changed = await admin.json("PATCH", path, json={"teacher": "anna", "name": "Groep 5"})
    assert changed["unit"]["name"] == "Groep 5"
    assert (await unit.json("GET", "/api/v1/unit"))["assigned"]
    nobody = await admin.request("PATCH", path, json={"teacher": "ghost"})
    assert nobody.status == 400
    self_admin = await admin.request("PATCH", path, json={"teacher": "ict-admin"})
    assert self_admin.status == 400  # lessons never go to an admin through a unit


async def test_a_code_for_a_teacher_enrols_an_assigned_unit(
    admin: Person, new_client: Callable[[], Awaitable[TestClient]], make_user: Callable[..., Any]
) -> None:
    make_user("anna")
    code = await admin.json(
        "POST", "/api/v1/enrolment-codes", 201, json={"unit_name": "G6", "teacher": "anna"}
    )
    unit = await new_client()
    response = await unit.post("/api/v1/enrol", json={"code": code["code"]})
    token = (await response.json())["token"]
    me = await unit.get("/api/v1/unit", headers={"Authorization": f"Bearer {token}"})
    assert (await me.json())["assigned"]
    bad = await admin.request(
        "POST", "/api/v1/enrolment-codes", json={"unit_name": "G7", "teacher": "ict-admin"}
    )
    assert bad.status == 400
