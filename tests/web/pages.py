"""Helpers for web-page tests without a browser: sign in through the form, post forms."""

from __future__ import annotations

import re
from dataclasses import dataclass

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from ..server.helpers import PASSWORD

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_in(html: str) -> str:
    found = CSRF_FIELD.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


@dataclass
class Reader:
    """A person in a browser without JavaScript: follows redirects, posts forms with the token."""

    client: TestClient
    csrf: str = ""

    async def get(self, path: str, expect: int = 200) -> str:
        response = await self.client.get(path)
        text = await response.text()
        assert response.status == expect, f"GET {path}: {response.status}\n{text[:2000]}"
        if 'name="csrf_token"' in text:
            self.csrf = csrf_in(text)
        return text

    async def post(
        self, path: str, data: dict[str, str], expect: int = 200, *, token: bool = True
    ) -> str:
        form = {**data, **({"csrf_token": self.csrf} if token and self.csrf else {})}
        response: ClientResponse = await self.client.post(path, data=form)
        text = await response.text()
        assert response.status == expect, f"POST {path}: {response.status}\n{text[:2000]}"
        if 'name="csrf_token"' in text:
            self.csrf = csrf_in(text)
        return text


async def reader_for(client: TestClient, username: str, password: str = PASSWORD) -> Reader:
    reader = Reader(client)
    await reader.get("/login")
    await reader.post("/login", {"username": username, "password": password, "next": "/library"})
    return reader
