"""The research pages without a browser: an admin names a coordinator, the teacher agrees on
her trajectory page, the coordinator reads the summary; in Dutch and English."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from lessoncam_server.services import Services
from lessoncam_server.web.i18n import CATALOGUES

from ..server.helpers import Person
from .pages import Reader
from .test_trajectory_pages import FORM


async def test_the_research_pages(
    reader: Callable[[str], Awaitable[Reader]],
    make_user: Callable[..., dict[str, Any]],
    anna: Person,
    admin: Person,
    services: Services,
) -> None:
    make_user("cora")
    teacher = await reader("anna")
    await teacher.post("/trajectories/new", FORM)
    tid = services.db.execute("SELECT MAX(id) FROM trajectories").fetchone()[0]
    html = await teacher.get(f"/trajectories/{tid}")
    assert 'id="research-form"' not in html  # no research consent: nothing to agree to
    given = {"given_on": "2026-10-30", "recording": "1", "research": "1"}
    html = await teacher.post(f"/trajectories/{tid}/consent", given)
    assert 'id="research-form"' in html
    html = await teacher.post(f"/trajectories/{tid}/research", {"agreed": "1"})
    assert 'id="research-agreed"' in html

    cora = await reader("cora")
    html = await cora.get("/research", 403)
    assert "onderzoekscoördinator" in html
    boss = await reader("ict-admin")
    html = await boss.post("/admin/research", {"username": "ict-admin"}, 422)
    assert "Beheerdersaccounts kunnen geen onderzoekscoördinator zijn" in html
    html = await boss.post("/admin/research", {"username": "cora"})
    assert "(cora)" in html
    for language in ("nl", "en"):
        await cora.post("/language", {"language": language, "next": "/research"})
        await boss.post("/language", {"language": language, "next": "/admin/research"})
        html = await cora.get("/research")
        assert 'data-support="video_coach"' in html and f'<html lang="{language}">' in html
        assert 'href="/api/v1/research/export/codebook.csv"' in html
        assert 'id="research-link"' in await cora.get("/trajectories")
        await boss.get("/admin/research")
    assert not admin.client.app[CATALOGUES].missing()  # type: ignore[index]
    await boss.post("/admin/research/cora/revoke", {})
    await cora.get("/research", 403)
    await boss.post("/admin/research/cora/revoke", {}, 404)
