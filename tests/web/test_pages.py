"""Every page renders for the people who may see it, in Dutch and in English."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from lessoncam_server.media.assembly import WAITING_FOR_SPACE
from lessoncam_server.services import Services
from lessoncam_server.units import recordings

from ..server.helpers import Person
from .pages import Reader


@pytest.mark.slow
async def test_pages_render_in_both_languages(
    lesson_id: str,
    reader: Callable[[str], Awaitable[Reader]],
    admin: Person,
    services: Services,
) -> None:
    anna = await reader("anna")
    boss = await reader("ict-admin")
    for language in ("nl", "en"):
        await anna.post("/language", {"language": language, "next": "/library"})
        await boss.post("/language", {"language": language, "next": "/admin/units"})
        for path in (
            "/library",
            f"/lessons/{lesson_id}",
            f"/lessons/{lesson_id}/edit",
            f"/lessons/{lesson_id}/delete",
            f"/lessons/{lesson_id}/sharing",
            "/account/password",
            "/units",
            "/upload",
            f"/lessons/{lesson_id}/comments/print",
        ):
            html = await anna.get(path)
            assert f'<html lang="{language}">' in html, path
            assert "Traceback" not in html
        for path in ("/admin/units", "/admin/users", "/admin/settings", "/admin/audit"):
            await boss.get(path)
    from lessoncam_server.web.i18n import CATALOGUES

    assert services.db is not None
    assert not admin.client.app[CATALOGUES].missing()  # type: ignore[index]


async def test_the_retention_page_says_how_full_the_server_disk_is(
    lesson_id: str, reader: Callable[[str], Awaitable[Reader]], services: Services
) -> None:
    boss = await reader("ict-admin")
    await boss.post("/language", {"language": "en", "next": "/admin/settings"})
    html = await boss.get("/admin/settings")
    assert "Server storage" in html and "free of" in html
    assert "wait for space" not in html and "waits for space" not in html
    # An assembly that ran out of room waits for space: ICT reads it here.
    recordings.set_state(services.db, lesson_id, "assembling", WAITING_FOR_SPACE)
    html = await boss.get("/admin/settings")
    assert "1 lesson waits for space on the server" in html
    assert 'class="card narrow warning"' in html
