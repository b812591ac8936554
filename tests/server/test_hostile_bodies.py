"""JSON bodies a hostile client sends: each gets a 400 with a code, never a 500.

Every JSON route reads its body through ``read_body``; the tests run each declared body model
through it (on a small app of their own, so no permission check answers first) and a few
real routes end to end.
"""

from __future__ import annotations

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
