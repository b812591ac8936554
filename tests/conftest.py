"""Fixtures for server tests: the real app on a real port, real SQLite files, a movable clock."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from lessoncam_server.access import accounts
from lessoncam_server.app import init_app
from lessoncam_server.config import ServerConfig, parse_config
from lessoncam_server.services import SERVICES, Services

from .server.helpers import PASSWORD, FakeClock, Person, UnitClient, as_person, enrol_unit


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``hardware`` need a real unit: run them with LESSONCAM_HARDWARE=1."""
    if os.environ.get("LESSONCAM_HARDWARE") == "1":
        return
    skip = pytest.mark.skip(reason="needs a Raspberry Pi unit: set LESSONCAM_HARDWARE=1 there")
    for item in items:
        if "hardware" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def config_data(tmp_path: Path) -> dict[str, Any]:
    return {"storage": {"data_dir": str(tmp_path / "data")}}


@pytest.fixture
def config(config_data: dict[str, Any]) -> ServerConfig:
    return parse_config(config_data)


@pytest.fixture
async def server(
    config: ServerConfig, clock: FakeClock, aiohttp_server: Callable[..., Awaitable[TestServer]]
) -> TestServer:
    app: web.Application = init_app(config, clock=clock)
    return await aiohttp_server(app)


@pytest.fixture
def services(server: TestServer) -> Services:
    return server.app[SERVICES]


@pytest.fixture
async def new_client(server: TestServer) -> AsyncIterator[Callable[[], Awaitable[TestClient]]]:
    """A factory of independent browser-like clients (each with its own cookie jar)."""
    made: list[TestClient] = []

    async def make() -> TestClient:
        client = TestClient(server)
        await client.start_server()
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


@pytest.fixture
def make_user(services: Services) -> Callable[..., dict[str, Any]]:
    def make(username: str, role: str = "teacher") -> dict[str, Any]:
        return accounts.create_user(services.db, username, PASSWORD, role, services.now())  # type: ignore[arg-type]

    return make


@pytest.fixture
def sign_in(
    new_client: Callable[[], Awaitable[TestClient]], make_user: Callable[..., dict[str, Any]]
) -> Callable[..., Awaitable[Person]]:
    """Create an account (unless it exists) and return a signed-in Person for it."""

    async def go(username: str, role: str = "teacher", create: bool = True) -> Person:
        if create:
            make_user(username, role)
        return await as_person(await new_client(), username, PASSWORD)

    return go


@pytest.fixture
async def admin(sign_in: Callable[..., Awaitable[Person]]) -> Person:
    return await sign_in("ict-admin", "admin")


@pytest.fixture
async def unit(admin: Person, new_client: Callable[[], Awaitable[TestClient]]) -> UnitClient:
    return await enrol_unit(admin, await new_client(), "Group 5")


@pytest.fixture
async def anna(
    sign_in: Callable[..., Awaitable[Person]], admin: Person, unit: UnitClient
) -> Person:
    """A signed-in teacher to whom the enrolled ``unit`` is assigned."""
    person = await sign_in("anna")
    await admin.json("PATCH", f"/api/v1/units/{unit.unit_id}", json={"teacher": "anna"})
    return person
