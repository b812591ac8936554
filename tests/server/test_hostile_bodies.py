"""JSON bodies a hostile client sends: each gets a 400 with a code, never a 500.

Every JSON route reads its body through ``read_body``; the tests run each declared body model
through it (on a small app of their own, so no permission check answers first) and a few
real routes end to end.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pydantic import BaseModel

from lessoncam_server.api.support import read_body
from lessoncam_server.app import API_GROUPS
from lessoncam_server.services import Services

from .helpers import FakeClock, Person, UnitClient
from .lesson_fixtures import ready_lesson

BODY_MODELS = sorted(
    {op.body for group in API_GROUPS for op in group.operations if op.body is not None},
    key=lambda model: model.__name__,
)
DEEP = b"[" * 100_000
RID = "01JD0000000000000000000040"


@pytest.fixture
async def lesson_id(
    anna: Person, unit: UnitClient, services: Services, clock: FakeClock, tmp_path: Path
) -> str:
    await ready_lesson(unit, services, clock.now, tmp_path, RID, seconds=4)
    return RID


@pytest.fixture
async def reader(
    aiohttp_client: Callable[[web.Application], Awaitable[TestClient]],
) -> TestClient:
    """POST /{Model} reads the body as that model and echoes it."""

    def handler(model: type[BaseModel]) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def read(request: web.Request) -> web.Response:
            return web.json_response((await read_body(request, model)).model_dump(mode="json"))

        return read

    app = web.Application()
    for model in BODY_MODELS:
        app.router.add_post(f"/{model.__name__}", handler(model))
    return await aiohttp_client(app)


async def _answer(client: TestClient, path: str, raw: bytes) -> tuple[int, dict[str, Any]]:
    response = await client.post(path, data=raw, headers={"Content-Type": "application/json"})
    return response.status, await response.json()


@pytest.mark.parametrize("model", BODY_MODELS, ids=lambda model: model.__name__)
async def test_deep_nesting_is_invalid_json_for_every_body(
    reader: TestClient, model: type[BaseModel]
) -> None:
    status, answer = await _answer(reader, f"/{model.__name__}", DEEP)
    assert (status, answer["error"]) == (400, "invalid_json"), answer


async def test_deep_nesting_on_real_routes(anna: Person, lesson_id: str) -> None:
    for method, path in (
        ("POST", "/api/v1/session"),
        ("POST", f"/api/v1/lessons/{lesson_id}/comments"),
        ("PATCH", f"/api/v1/lessons/{lesson_id}"),
    ):
        response = await anna.request(
            method, path, data=DEEP, headers={"Content-Type": "application/json"}
        )
        assert response.status == 400, (path, await response.text())
        assert (await response.json())["error"] == "invalid_json"


LOOSE = [
    ("CommentIn", {"body": "x", "start_s": True}),
    ("CommentIn", {"body": "x", "start_s": "12"}),
    ("CommentIn", {"body": 12, "start_s": 1}),
    ("CommentPatch", {"end_s": False}),
    ("NewClip", {"start_s": "1", "end_s": 5}),
    ("Settings", {"retention_days": "30"}),
    ("Settings", {"retention_days": 30.0}),
    ("NewClaim", {"unit_id": "u", "hours": True}),
    ("UserChange", {"disabled": 0}),
    ("UserChange", {"disabled": "false"}),
    ("Heartbeat", {"state": "idle", "free_disk_bytes": "12"}),
    ("Heartbeat", {"state": "idle", "temperature_c": True}),
]


@pytest.mark.parametrize(("model", "body"), LOOSE, ids=lambda case: str(case))
async def test_a_value_of_another_type_is_invalid_body(
    reader: TestClient, model: str, body: dict[str, Any]
) -> None:
    status, answer = await _answer(reader, f"/{model}", json.dumps(body).encode())
    assert (status, answer["error"]) == (400, "invalid_body"), answer


async def test_json_types_as_declared_still_pass(reader: TestClient) -> None:
    status, answer = await _answer(reader, "/CommentIn", b'{"body": "x", "start_s": 12}')
    assert status == 200 and answer["start_s"] == 12.0  # a JSON integer is a number
    share = b'{"username": "coach", "role": "viewer", "expires_at": "2026-12-10T23:00:00Z"}'
    status, answer = await _answer(reader, "/NewShare", share)
    assert status == 200 and answer["expires_at"] == "2026-12-10T23:00:00Z"


async def test_start_s_true_is_not_stored_as_one_second(anna: Person, lesson_id: str) -> None:
    path = f"/api/v1/lessons/{lesson_id}/comments"
    for start in (True, "12"):
        answer = await anna.json("POST", path, 400, json={"body": "loose", "start_s": start})
        assert answer["error"] == "invalid_body" and "start_s" in answer["message"]
    assert (await anna.json("GET", path))["comments"] == []


async def test_ids_in_urls_in_other_digits_are_not_found(
    anna: Person, admin: Person, lesson_id: str
) -> None:
    """'¹' and '²' pass str.isdigit but not int(): such an id is a 404, never a 500."""
    for odd in ("¹", "1²"):
        for method, path in (
            ("DELETE", f"/api/v1/lessons/{lesson_id}/shares/{odd}"),
            ("DELETE", f"/api/v1/lessons/{lesson_id}/comments/{odd}"),
            ("PATCH", f"/api/v1/lessons/{lesson_id}/comments/{odd}"),
        ):
            response = await anna.request(method, path, json={"body": "x"})
            assert response.status == 404, (method, path, await response.text())
        response = await admin.request("PATCH", f"/api/v1/users/{odd}", json={"disabled": True})
        assert response.status == 404, await response.text()
