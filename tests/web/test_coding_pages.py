"""The coding pages without a browser: the panel on the lesson page, the printable analysis
with a fragment, the agreement of two coders, and the schemes page with a coach's editor
(made, refused with what was typed kept, changed in place, then as a new version)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from lessoncam_server.services import Services

from ..server.helpers import Person
from .pages import Reader

TALK = {
    "key": "talk",
    "en": "Talk",
    "nl": "Praten",
    "behaviours": [{"key": "asks", "shortcut": "q", "en": "Asks", "nl": "Vraagt"}],
}


async def coded(person: Person, lesson_id: str, times: tuple[float, ...]) -> int:
    """A shared coding by ``person``: initiatives by the teacher at ``times``."""
    path = f"/api/v1/lessons/{lesson_id}/codings"
    made = await person.json("POST", path, 201, json={"scheme_id": 1})
    coding = made["coding"]["id"]
    for t in times:
        await person.json("POST", f"{path}/{coding}/events", json={"key": "t", "t": t})
    await person.json("POST", f"{path}/{coding}/events", json={"key": "i", "t": 20})
    await person.json("PATCH", f"{path}/{coding}", json={"shared": True})
    return int(coding)


async def test_the_panel_the_analysis_and_the_agreement_pages(
    lesson_id: str,
    anna: Person,
    sign_in: Callable[..., Awaitable[Person]],
    reader: Callable[[str], Awaitable[Reader]],
) -> None:
    coach = await sign_in("carla", "coach")
    share = {"username": "carla", "role": "commenter"}
    await anna.json("POST", f"/api/v1/lessons/{lesson_id}/shares", 201, json=share)
    mine = await coded(anna, lesson_id, (5, 10, 30))
    theirs = await coded(coach, lesson_id, (5.5, 31))
    page = await reader("anna")
    html = await page.get(f"/lessons/{lesson_id}")
    assert 'id="coding"' in html and "Contact leerkracht-leerling" in html
    html = await page.get(f"/lessons/{lesson_id}/codings/{mine}/analysis")
    assert (
        'data-behaviour="initiative_teacher"><td>Initiatief van de leerkracht</td>'
        '<td class="count">3</td>' in html
    )
    # Instruction from 20 s to the end of the 50 s lesson: 30 s, 60 % of the time.
    assert "60.0%" in html
    html = await page.get(f"/lessons/{lesson_id}/codings/{mine}/analysis?from=0:08&to=0:40")
    assert '<td class="count">2</td>' in html and "0:08" in html
    html = await page.get(f"/lessons/{lesson_id}/codings/{mine}/analysis?from=0:40&to=0:08")
    assert "Het fragment moet beginnen" in html
    html = await page.get(f"/lessons/{lesson_id}/coding-agreement?a={mine}&b={theirs}")
    # 5 ~ 5.5 and 30 ~ 31 and the two instructions agree; 10 is anna's alone.
    assert f"coder-{mine} / coder-{theirs}" in html and "Cohens kappa" in html
    await page.get(f"/lessons/{lesson_id}/coding-agreement?a={mine}&b=999", 404)
    await page.get(f"/lessons/{lesson_id}/codings/999/analysis", 404)


async def test_a_coach_makes_and_changes_a_scheme_on_the_schemes_page(
    lesson_id: str,
    make_user: Callable[..., dict[str, Any]],
    reader: Callable[[str], Awaitable[Reader]],
    services: Services,
) -> None:
    make_user("carla", "coach")
    make_user("tess")
    coach = await reader("carla")
    html = await coach.get("/coding-schemes")
    assert 'id="new-scheme"' in html and "Contact leerkracht-leerling" in html
    html = await coach.post("/coding-schemes", {"definition": "{not json"}, 422)
    assert 'id="scheme-error"' in html and "{not json" in html  # what was typed is kept
    html = await coach.post("/coding-schemes", {"definition": json.dumps(TALK)})
    assert "Opgeslagen" in html or "Saved" in html
    scheme_id = services.db.execute("SELECT id FROM coding_schemes WHERE key = 'talk'").fetchone()[
        0
    ]
    renamed = json.dumps({**TALK, "en": "Talking"})
    await coach.post(f"/coding-schemes/{scheme_id}", {"definition": renamed})
    versions = services.db.execute("SELECT version FROM coding_schemes WHERE key = 'talk'")
    assert versions.fetchall() == [(1,)]  # no coding yet: changed in place
    coach_id = services.db.execute("SELECT id FROM users WHERE username = 'carla'").fetchone()[0]
    services.db.execute(
        "INSERT INTO codings (recording_id, coder_id, scheme_id, source, created_at, changed_at)"
        " VALUES (?, ?, ?, 'keyboard', '2026-11-02', '2026-11-02')",
        [lesson_id, coach_id, scheme_id],
    )
    await coach.post(f"/coding-schemes/{scheme_id}", {"definition": json.dumps(TALK)})
    versions = services.db.execute("SELECT version FROM coding_schemes WHERE key = 'talk'")
    assert sorted(versions.fetchall()) == [(1,), (2,)]  # used: a new version, v1 kept
    teacher = await reader("tess")
    html = await teacher.get("/coding-schemes")
    assert 'id="new-scheme"' not in html
    await teacher.post("/coding-schemes", {"definition": json.dumps(TALK)}, 403)
    await teacher.post(f"/coding-schemes/{scheme_id}", {"definition": json.dumps(TALK)}, 403)
