"""Object-level permissions: every lesson endpoint x every relationship x method."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from lessoncam_server.services import Services

from .helpers import FakeClock, Person, UnitClient
from .lesson_fixtures import assembled, record, send_lesson

RID = "01JD0000000000000000000002"
L = f"/api/v1/lessons/{RID}"

# (method, path, body) for every object endpoint of a lesson; DELETE of the lesson comes last.
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", L, None),
    ("GET", f"{L}/cameras/main/video", None),
    ("GET", f"{L}/cameras/main/video?download=1", None),
    ("GET", f"{L}/poster.jpg", None),
    ("GET", f"{L}/cameras/main/thumbnails.jpg", None),
    ("PATCH", L, {"title": "Rekenen"}),
    ("GET", f"{L}/shares", None),
    ("POST", f"{L}/shares", {"username": "bert", "role": "viewer"}),
    ("DELETE", f"{L}/shares/1", None),
    ("DELETE", L, None),
]
VIEW_ONLY = {0, 1, 3, 4}


def expected(relationship: str, index: int) -> int:
    if relationship in ("anonymous", "unit"):
        return 401
    if relationship == "owner":
        return 204 if ENDPOINTS[index][0] == "DELETE" else (201 if index == 7 else 200)
    if relationship in ("viewer", "commenter"):
        return 200 if index in VIEW_ONLY else 403
    return 404  # expired or revoked share, other teacher, coach, admin: as if it did not exist


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
    clock.advance(minutes=61)  # past the share's expiry, within the sessions' idle limit
    anonymous = await new_client()

    callers: dict[str, Any] = {
        **{k: v for k, v in people.items() if k != "bert"},
        "admin": admin,
        "unit": unit,
        "anonymous": anonymous,
        "owner": owner,  # last: its DELETE removes the lesson
    }
    cells = 0
    report = []
    for relationship, caller in callers.items():
        for index, (method, path, body) in enumerate(ENDPOINTS):
            response = await caller.request(method, path, json=body)
            cells += 1
            want = expected(relationship, index)
            if response.status != want:
                report.append(f"{relationship} {method} {path}: {response.status} != {want}")
            if relationship != "owner" and 200 <= response.status < 300 and method != "GET":
                report.append(f"UNAUTHORISED {relationship} {method} {path}")
    assert not report, "\n".join(report)
    assert cells == len(callers) * len(ENDPOINTS)
    assert not services.paths.recording_dir(RID).exists()  # the owner's DELETE removed the files
    denied = services.db.execute(
        "SELECT COUNT(*) FROM audit WHERE action = 'access_denied'"
    ).fetchone()[0]
    assert denied > 0
