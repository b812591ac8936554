"""Password sign-in turned off for everyone but the break-glass administrators (issue 17):
the sign-in page leads with the school's button, the form and the API refuse the others, and
each refusal is in the audit log."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from lessoncam_server.services import Services

from .helpers import PASSWORD


@pytest.fixture
def config_data(tmp_path: Path) -> dict[str, Any]:
    school = {
        "key": "school",
        "name": "Test School",
        "issuer": "http://127.0.0.1:9",
        "client_id": "lc",
    }
    return {
        "storage": {"data_dir": str(tmp_path / "data")},
        "oidc": [school],
        "sign_in": {"local": False, "break_glass": ["ict", "Second"]},
    }


def reasons(services: Services) -> list[tuple[str, str | None]]:
    rows = services.db.execute("SELECT actor_name, detail FROM audit ORDER BY id").fetchall()
    return [(name, json.loads(d).get("reason") if d else None) for name, d in rows]


async def test_only_the_break_glass_admin_signs_in_with_a_password(
    new_client: Callable[[], Awaitable[TestClient]],
    make_user: Callable[..., dict[str, Any]],
    services: Services,
) -> None:
    make_user("ict", "admin")
    make_user("anna")
    make_user("second")  # named as break glass, but not an administrator
    page = await (await new_client()).get("/login")
    html = await page.text()
    assert 'href="/login/oidc/school?next=/library"' in html
    assert '<details class="break-glass"' in html
    for username in ("anna", "second"):
        form = await (await new_client()).post(
            "/login", data={"username": username, "password": PASSWORD}
        )
        assert form.status == 403
        assert "Meld je aan met je schoolaccount" in await form.text()
        api = await (await new_client()).post(
            "/api/v1/session", json={"username": username, "password": PASSWORD}
        )
        assert api.status == 403 and (await api.json())["error"] == "local_sign_in_off"
    assert services.db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0
    admin = await (await new_client()).post(
        "/login", data={"username": "ict", "password": PASSWORD}, allow_redirects=False
    )
    assert admin.status == 303
    assert reasons(services) == [
        ("anna", "local_sign_in_off"),
        ("anna", "local_sign_in_off"),
        ("second", "local_sign_in_off"),
        ("second", "local_sign_in_off"),
        ("ict", None),
    ]
