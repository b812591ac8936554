"""The OpenAPI document and the routes stay in step."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from aiohttp.test_utils import TestClient, TestServer

from lessoncam_server.api.support import API_PREFIX


async def test_document_lists_exactly_the_api_routes(
    server: TestServer, new_client: Callable[[], Awaitable[TestClient]]
) -> None:
    routes = set()
    for route in server.app.router.routes():
        path = route.resource.canonical if route.resource else ""
        # aiohttp adds a HEAD route beside every GET; the document lists GET only.
        if (path.startswith(API_PREFIX) and route.method != "HEAD") or path.endswith("{upload_id}"):
            routes.add((route.method.lower(), path))
    routes.discard(("get", f"{API_PREFIX}/openapi.json"))

    client = await new_client()
    doc = await (await client.get(f"{API_PREFIX}/openapi.json")).json()
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert doc["openapi"].startswith("3.")
    assert documented == routes, documented ^ routes
    for path, ops in doc["paths"].items():
        params = set(re.findall(r"{(\w+)}", path))
        for op in ops.values():
            assert op["summary"] and op["responses"]
            assert {p["name"] for p in op["parameters"] if p["in"] == "path"} == params


async def test_browser_uploads_are_documented_for_signed_in_people(
    new_client: Callable[[], Awaitable[TestClient]],
) -> None:
    client = await new_client()
    doc = await (await client.get(f"{API_PREFIX}/openapi.json")).json()
    assert doc["paths"][f"{API_PREFIX}/lesson-uploads/"]["post"]["security"] == [{"session": []}]
    assert {"unitToken": []} in doc["paths"][f"{API_PREFIX}/uploads/"]["post"]["security"]
