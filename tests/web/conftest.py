"""Fixtures for the web app: a real assembled two-camera lesson and people who read pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient

from lessoncam_server.services import Services

from ..mediagen import GeneratedSegment
from ..server.helpers import FakeClock, UnitClient
from ..server.lesson_fixtures import assembled, record, send_lesson
from .pages import Reader, reader_for

LESSON_ID = "01JDWEB0000000000000000001"
LESSON_SECONDS = 50.0  # long enough for a comment at 0:42


@pytest.fixture(scope="session")
def two_camera_media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[GeneratedSegment]]:
    """Synthetic segments for a two-camera lesson, made once per test session."""
    return record(
        tmp_path_factory.mktemp("media"), seconds=LESSON_SECONDS, cameras=("main", "pupils")
    )


@pytest.fixture
async def lesson_id(
    anna: object,
    unit: UnitClient,
    services: Services,
    clock: FakeClock,
    two_camera_media: dict[str, list[GeneratedSegment]],
) -> str:
    """A ready two-camera lesson owned by anna, uploaded and assembled through the real API."""
    await send_lesson(unit, LESSON_ID, clock.now, two_camera_media)
    await assembled(services)
    return LESSON_ID


@pytest.fixture
def reader(
    new_client: Callable[[], Awaitable[TestClient]],
) -> Callable[[str], Awaitable[Reader]]:
    """Sign a person in through the login form (the account must exist)."""

    async def make(username: str) -> Reader:
        return await reader_for(await new_client(), username)

    return make


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """aiohttp's FileResponse opens a file in a worker thread; a handler cancelled just then
    (the test server shutting down while Chromium still fetches a poster) leaves that file to
    the garbage collector, which warns. Not ours to fix: tolerated in the browser tests only,
    and only for an unclosed file."""
    tolerate = pytest.mark.filterwarnings(
        "ignore:Exception ignored in. <_io.FileIO:pytest.PytestUnraisableExceptionWarning"
    )
    for item in items:
        if item.path.name.startswith("test_browser_"):
            item.add_marker(tolerate)
