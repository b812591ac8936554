"""Object-level permissions: every lesson endpoint x every relationship x method.

Each matrix adds its cells and any unauthorised 2xx to the reliability suite's figures."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from lessoncam_server.services import Services

from .. import reliability
from .helpers import FakeClock, Person, UnitClient, enrol_unit
from .lesson_fixtures import assembled, record, send_lesson

RID = "01JD0000000000000000000002"
L = f"/api/v1/lessons/{RID}"

C = f"{L}/comments/1"  # the owner's comment, made before the matrix runs

# (method, path, body, (owner, commenter, viewer) statuses) for every object endpoint of a
# lesson, in the order they are called; the lesson's DELETE comes last. Anybody else gets
# 401 (anonymous, unit) or 404 (as if the lesson did not exist).
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None, tuple[int, int, int]]] = [
    ("GET", L, None, (200, 200, 200)),
    ("GET", f"{L}/cameras/main/video", None, (200, 200, 200)),
    ("GET", f"{L}/cameras/main/video?download=1", None, (200, 403, 403)),
    ("GET", f"{L}/poster.jpg", None, (200, 200, 200)),
    ("GET", f"{L}/cameras/main/thumbnails.jpg", None, (200, 200, 200)),
    ("PATCH", L, {"title": "Rekenen"}, (200, 403, 403)),
    ("GET", f"{L}/shares", None, (200, 403, 403)),
    ("POST", f"{L}/shares", {"username": "bert", "role": "viewer"}, (201, 403, 403)),
    ("DELETE", f"{L}/shares/1", None, (204, 403, 403)),
    ("GET", f"{L}/comments", None, (200, 200, 200)),
    ("POST", f"{L}/comments", {"body": "hm", "start_s": 1}, (201, 201, 403)),
    ("PATCH", C, {"body": "changed"}, (200, 403, 403)),
    ("GET", f"{L}/comments.csv", None, (200, 200, 200)),
    ("DELETE", C, None, (204, 403, 403)),
    ("GET", f"{L}/views", None, (200, 403, 403)),
    ("GET", f"{L}/clips", None, (200, 403, 403)),
    ("POST", f"{L}/clips", {"start_s": 1, "end_s": 5}, (202, 403, 403)),
    ("DELETE", L, None, (204, 403, 403)),
]


def expected(relationship: str, index: int) -> int:
    if relationship in ("anonymous", "unit", "revoked unit"):
        return 401
    roles = ("owner", "commenter", "viewer")
    if relationship in roles:
        return ENDPOINTS[index][3][roles.index(relationship)]
    return 404  # expired or revoked share, other teacher, coach, admin: as if it did not exist


@pytest.mark.slow
async def test_permission_matrix(
    admin: Person,
    unit: UnitClient,
    sign_in: Callable[..., Awaitable[Person]],
    new_client: Callable[[], Awaitable[TestClient]],
    services: Services,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    owner = await sign_in("anna")
    await admin.json("PATCH", f"/api/v1/units/{unit.unit_id}", json={"teacher": "anna"})
    await send_lesson(unit, RID, clock.now, record(tmp_path, seconds=10))
    await assembled(services)

    people = {
        name: await sign_in(name)
        for name in ("viewer", "commenter", "expired", "revoked", "other", "bert")
    }
    people["coach"] = await sign_in("coach", "coach")
    soon = (clock.now + timedelta(hours=1)).isoformat()
    await owner.json("POST", f"{L}/shares", 201, json={"username": "viewer"})
    await owner.json(
        "POST", f"{L}/shares", 201, json={"username": "commenter", "role": "commenter"}
    )
    await owner.json("POST", f"{L}/shares", 201, json={"username": "expired", "expires_at": soon})
    revoked = await owner.json("POST", f"{L}/shares", 201, json={"username": "revoked"})
    await owner.json("DELETE", f"{L}/shares/{revoked['share']['id']}", 204)
    await owner.json("POST", f"{L}/comments", 201, json={"body": "mine", "start_s": 2})
    clock.advance(minutes=61)  # past the share's expiry, within the sessions' idle limit
    anonymous = await new_client()
    revoked_unit = await enrol_unit(admin, await new_client(), "Group 6")
    await admin.json("PATCH", f"/api/v1/units/{revoked_unit.unit_id}", json={"teacher": "anna"})
    await admin.json("POST", f"/api/v1/units/{revoked_unit.unit_id}/revoke", 204)

    callers: dict[str, Any] = {
        **{k: v for k, v in people.items() if k != "bert"},
        "admin": admin,
        "unit": unit,
        "revoked unit": revoked_unit,
        "anonymous": anonymous,
        "owner": owner,  # last: its DELETE removes the lesson
    }
    cells = 0
    unauthorised = 0
    report = []
    for relationship, caller in callers.items():
        for index, (method, path, body, _statuses) in enumerate(ENDPOINTS):
            response = await caller.request(method, path, json=body)
            # Read every answer: a video left half-sent keeps its handler (and the test
            # server's shutdown) waiting for a minute.
            await response.read()
            cells += 1
            want = expected(relationship, index)
            if response.status != want:
                report.append(f"{relationship} {method} {path}: {response.status} != {want}")
            if 200 <= response.status < 300 and not 200 <= want < 300:
                unauthorised += 1
                report.append(f"UNAUTHORISED {relationship} {method} {path}")
    reliability.add("matrix_cells", cells)
    reliability.add("unauthorised_2xx", unauthorised)
    assert not report, "\n".join(report)
    assert cells == len(callers) * len(ENDPOINTS)
    assert not services.paths.recording_dir(RID).exists()  # the owner's DELETE removed the files
    denied = services.db.execute(
        "SELECT COUNT(*) FROM audit WHERE action = 'access_denied'"
    ).fetchone()[0]
    assert denied > 0


async def test_claim_permission_matrix(
    admin: Person,
    unit: UnitClient,
    sign_in: Callable[..., Awaitable[Person]],
    new_client: Callable[[], Awaitable[TestClient]],
    services: Services,
) -> None:
    """Bert holds the unit whose own teacher is Anna; who may do what with the claim."""
    anna = await sign_in("anna")
    await admin.json("PATCH", f"/api/v1/units/{unit.unit_id}", json={"teacher": "anna"})
    bert = await sign_in("bert")
    claim = {"unit_id": unit.unit_id}
    end = f"/api/v1/unit-claims/{unit.unit_id}"
    # (GET list, POST claim, DELETE claim) per caller, while Bert holds the unit.
    table: dict[str, tuple[Any, tuple[int, int, int]]] = {
        "anonymous": (await new_client(), (401, 401, 401)),
        "unit": (unit, (401, 401, 401)),
        "other": (await sign_in("other"), (200, 409, 403)),
        "coach": (await sign_in("coach", "coach"), (200, 409, 403)),
        "admin": (admin, (200, 403, 204)),
        "default teacher": (anna, (200, 409, 204)),
        "holder": (bert, (200, 200, 204)),
    }
    report = []
    cells = unauthorised = 0
    for name, (caller, (want_list, want_claim, want_end)) in table.items():
        await bert.json("POST", "/api/v1/unit-claims", json=claim, expect=201)
        for (method, path, body), want in zip(
            (
                ("GET", "/api/v1/unit-claims", None),
                ("POST", "/api/v1/unit-claims", claim),
                ("DELETE", end, None),
            ),
            (want_list, want_claim, want_end),
            strict=True,
        ):
            response = await caller.request(method, path, json=body)
            cells += 1
            if response.status != want:
                report.append(f"{name} {method} {path}: {response.status} != {want}")
            if 200 <= response.status < 300 and not 200 <= want < 300:
                unauthorised += 1
                report.append(f"UNAUTHORISED {name} {method} {path}")
        if want_end != 204:
            await bert.json("DELETE", end, 204)
    reliability.add("matrix_cells", cells)
    reliability.add("unauthorised_2xx", unauthorised)
    assert not report, "\n".join(report)
    holders = services.db.execute("SELECT DISTINCT user_id FROM unit_claims").fetchall()
    assert len(holders) == 1  # nobody but Bert ever held the unit


async def test_browser_upload_permission_matrix(
    admin: Person,
    unit: UnitClient,
    sign_in: Callable[..., Awaitable[Person]],
    new_client: Callable[[], Awaitable[TestClient]],
) -> None:
    """An upload from Anna's browser exists for Anna only."""
    anna = await sign_in("anna")
    tus = {"Tus-Resumable": "1.0.0"}
    created = await anna.request(
        "POST", "/api/v1/lesson-uploads/", headers={**tus, "Upload-Length": "100"}
    )
    assert created.status == 201
    item = created.headers["Location"][created.headers["Location"].index("/api/v1/") :]
    patch = {**tus, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
    requests = [
        ("HEAD", tus, None),
        ("PATCH", patch, b"x" * 10),
        ("POST", {**patch, "X-HTTP-Method-Override": "PATCH"}, b"x" * 10),
        ("DELETE", tus, None),
    ]
    callers: dict[str, Any] = {
        "anonymous": await new_client(),
        "unit": unit,
        "other": await sign_in("other"),
        "coach": await sign_in("coach", "coach"),
        "admin": admin,
    }
    report = []
    cells = unauthorised = 0
    for name, caller in callers.items():
        for method, headers, data in requests:
            response = await caller.request(method, item, headers=headers, data=data)
            cells += 1
            unauthorised += 200 <= response.status < 300
            want = 401 if name == "anonymous" else 404
            if response.status != want:
                report.append(f"{name} {method}: {response.status} != {want}")
    reliability.add("matrix_cells", cells)
    reliability.add("unauthorised_2xx", unauthorised)
    assert not report, "\n".join(report)
    head = await anna.request("HEAD", item, headers=tus)
    assert head.status == 200 and head.headers["Upload-Offset"] == "0"
    assert (await anna.request("DELETE", item, headers=tus)).status == 204
