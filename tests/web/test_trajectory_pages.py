"""The trajectory pages without a browser: start one (a name for the pupil is refused), invite
a coach who accepts, put a lesson in from the lesson page, claim a unit into it, leave, close;
every page in Dutch and in English with nothing left untranslated."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from lessoncam_server.services import Services
from lessoncam_server.web.i18n import CATALOGUES

from ..server.helpers import Person, UnitClient
from .pages import Reader

FORM = {
    "title": "Rust in groep 5",
    "question": "Hoe help ik Leerling A om zelf te beginnen?",
    "pupil_label": "Leerling A",
    "pupil_group": "Groep 5",
    "pupil_birth_year": "2017",
    "support": "video_coach",
    "viewing_guide": "question",
    "viewing_question": "Wanneer begint Leerling A?",
    "start_date": "2026-11-02",
    "review_date": "2027-02-01",
}


def _trajectory_id(services: Services) -> int:
    return int(services.db.execute("SELECT MAX(id) FROM trajectories").fetchone()[0])


@pytest.mark.slow
async def test_a_trajectory_through_the_pages(
    lesson_id: str,
    reader: Callable[[str], Awaitable[Reader]],
    make_user: Callable[..., dict[str, Any]],
    unit: UnitClient,
    admin: Person,
    services: Services,
) -> None:
    make_user("coach", "coach")
    anna = await reader("anna")
    coach = await reader("coach")
    await anna.post("/language", {"language": "nl", "next": "/trajectories"})

    # A name for the pupil is refused, with what to do, and the form keeps what she wrote.
    await anna.get("/trajectories/new")
    html = await anna.post("/trajectories/new", {**FORM, "pupil_label": "Jan Jansen"}, 422)
    assert "Nooit een naam" in html and "Hoe help ik Leerling A" in html
    assert services.db.execute("SELECT COUNT(*) FROM trajectories").fetchone()[0] == 0
    html = await anna.post("/trajectories/new", {**FORM, "start_date": "soon"}, 422)
    assert "Een datum klopt niet" in html
    html = await anna.post("/trajectories/new", FORM)
    tid = _trajectory_id(services)
    assert "Rust in groep 5" in html and "Leerling A, Groep 5, geboren in 2017" in html
    assert "Wanneer begint Leerling A?" in html and "1 februari 2027" in html

    # She invites the coach, who accepts from his list.
    html = await anna.post(f"/trajectories/{tid}/members", {"username": "coach", "role": "coach"})
    assert "uitgenodigd, nog geen antwoord" in html
    html = await coach.get("/trajectories")
    assert 'id="invitations"' in html and "Rust in groep 5" in html
    page = await coach.get(f"/trajectories/{tid}")
    assert "Leerling A" not in page  # invited only: not the pupil yet
    html = await coach.post(f"/trajectories/{tid}/invitation", {"answer": "accept"})
    assert "Leerling A, Groep 5" in html
    assert "noemt jou niet" in html  # the consent does not name him (there is none yet)

    # No lesson goes in before the parents' consent; then she records it, naming the coach.
    html = await anna.get(f"/trajectories/{tid}")
    assert 'id="no-consent"' in html and 'id="link-form"' not in html
    await anna.post(f"/trajectories/{tid}/lessons", {"lesson_id": lesson_id}, 409)
    future = {"given_on": "2099-01-01", "recording": "1"}
    html = await anna.post(f"/trajectories/{tid}/consent", future, 422)
    assert "toekomst" in html
    given = {"given_on": "2026-10-30", "recording": "1", "watchers": "coach", "research": "1"}
    html = await anna.post(f"/trajectories/{tid}/consent", given)
    assert 'id="consent-watchers">coach<' in html and 'id="link-form"' in html

    # She puts her lesson in from the lesson page; the coach finds it in his library.
    html = await anna.get(f"/lessons/{lesson_id}")
    assert 'id="trajectory-form"' in html
    html = await anna.post(f"/lessons/{lesson_id}/trajectory", {"trajectory_id": str(tid)})
    assert 'id="lesson-trajectory"' in html
    library = await coach.get("/library")
    assert f'data-lesson-id="{lesson_id}"' in library and "Traject: Rust in groep 5" in library
    await coach.get(f"/lessons/{lesson_id}")
    page = await coach.get(f"/trajectories/{tid}")
    assert f'data-lesson-id="{lesson_id}"' in page
    # Taking it out from the lesson page closes it to him again.
    await anna.post(f"/lessons/{lesson_id}/trajectory", {"trajectory_id": ""})
    await coach.get(f"/lessons/{lesson_id}", 404)
    await anna.post(f"/trajectories/{tid}/lessons", {"lesson_id": lesson_id})
    await coach.get(f"/lessons/{lesson_id}")
    html = await anna.post(
        f"/trajectories/{tid}/lessons", {"lesson_id": "01JDNOTHERE00000000000000"}, 400
    )
    assert "Kies een van je lessen" in html

    # The steps of the cycle, written on the page by the coach and the teacher.
    steps = f"/trajectories/{tid}/steps"
    intake = {"kind": "intake", "held_on": "2026-11-02", "body": "Wacht steeds op hulp."}
    await coach.post(steps, {**intake, "agreed_question": "Hoe begint hij zelf?"})
    html = await coach.post(steps, intake, 409)
    assert "De intake is al vastgelegd" in html
    analysis = {"kind": "analysis", "held_on": "2026-11-02", "lesson_id": lesson_id}
    html = await coach.post(
        steps, {**analysis, "body": "Kijkt rond.", "fragments": "0:40-1:10"}, 422
    )
    assert "voorbij het einde" in html
    html = await coach.post(
        steps, {**analysis, "body": "Kijkt rond.", "fragments": "12 tot 14"}, 422
    )
    assert "1:20-2:05" in html
    html = await coach.post(
        steps, {**analysis, "body": "Kijkt rond, begint dan.", "fragments": "0:10-0:15; 0:20-0:25"}
    )
    assert f'href="/lessons/{lesson_id}#t=10.0"' in html
    talk = {
        "kind": "conversation",
        "held_on": "2026-11-02",
        "minutes": "30",
        "participants": "anna",
        "body": "Samen gekeken.",
        "fragment_lesson": lesson_id,
        "fragments": "0:10-0:15",
        "agreements": "Ik geef hem een startkaart.",
    }
    html = await anna.post(steps, talk)
    assert "Ik geef hem een startkaart." in html and "30 minuten" in html
    # Its author puts the conversation right on its own page; the fragments she leaves as
    # they are keep their exact times; nobody else may open the page.
    talk_id = services.db.execute("SELECT MAX(id) FROM trajectory_steps").fetchone()[0]
    services.db.execute("UPDATE step_fragments SET start_s = 10.4 WHERE step_id = ?", [talk_id])
    edit = f"/trajectories/{tid}/steps/{talk_id}/edit"
    assert f'href="{edit}"' in html
    page = await anna.get(edit)
    assert 'value="0:10-0:15"' in page and "Ik geef hem een startkaart." in page
    await coach.get(edit, 404)
    html = await anna.post(
        edit,
        {**talk, "minutes": "35", "fragments_was": "0:10-0:15", "fragment_lesson_was": lesson_id},
    )
    assert "35 minuten" in html
    kept = services.db.execute(
        "SELECT start_s, end_s FROM step_fragments WHERE step_id = ?", [talk_id]
    ).fetchall()
    assert kept == [(10.4, 15.0)]
    html = await anna.post(edit, {**talk, "minutes": "0"}, 422)
    assert "1 tot 600" in html and 'id="step-edit-form"' in html
    await anna.post(edit, {**talk, "fragments": "0:12-0:16", "fragments_was": "0:10-0:15"})
    moved = services.db.execute(
        "SELECT start_s, end_s FROM step_fragments WHERE step_id = ?", [talk_id]
    ).fetchall()
    assert moved == [(12.0, 16.0)]
    html = await anna.post(f"/trajectories/{tid}/goals", {"text": "Begint binnen twee minuten"})
    goal = services.db.execute("SELECT MAX(id) FROM trajectory_goals").fetchone()[0]
    html = await coach.post(
        f"/trajectories/{tid}/goals/{goal}",
        {"state": "working", "fragment_lesson": lesson_id, "fragments": "0:30-0:35"},
    )
    assert "mee bezig" in html and "#t=30.0" in html
    kinds = re.findall(r'data-kind="(\w+)"', html)
    assert kinds == ["start", "intake", "lesson", "conversation"]
    step_ids = re.findall(r'data-step-id="(\d+)"', html)
    html = await anna.post(f"/trajectories/{tid}/steps/{step_ids[0]}/delete", {})
    assert len(re.findall(r'data-step-id="', html)) == 2

    # The reflection: asked in the library and on the lesson page, watching minutes filled in
    # from what the player reported, answered in Dutch, read by the coach.
    library = await anna.get("/library")
    assert f'data-reflect="{lesson_id}"' in library
    assert 'id="reflection-prompt"' in await anna.get(f"/lessons/{lesson_id}")
    for _ in range(8):
        response = await anna.client.post(
            f"/api/v1/lessons/{lesson_id}/playback",
            json={"played_s": 15},
            headers={"X-CSRF-Token": anna.csrf},
        )
        assert response.status == 200
    form = await anna.get(f"/lessons/{lesson_id}/reflection")
    assert 'name="minutes_watching" min="0" max="1440" value="2"' in form
    answers = {
        "pleasant": "4",
        "worth_time": "5",
        "insight_pupil": "4",
        "insight_approach": "3",
        "insight_interventions": "4",
        "next_try": "Een startkaart.",
        "minutes_preparing": "10",
        "minutes_watching": "2",
        "minutes_talking": "30",
        "watched_with": "coach",
    }
    html = await anna.post(f"/lessons/{lesson_id}/reflection", {**answers, "pleasant": "9"}, 422)
    assert "buiten de schaal" in html and "Een startkaart." in html
    html = await anna.post(f"/lessons/{lesson_id}/reflection", answers)
    assert 'id="reflection"' in html and "4 van 5" in html and "met de coach" in html
    assert f'data-reflect="{lesson_id}"' not in await anna.get("/library")
    page = await coach.get(f"/trajectories/{tid}")
    assert "Reflectie van anna" in page and "Een startkaart." in page
    # The coach's short form after a conversation he took part in.
    talk = {"kind": "conversation", "held_on": "2026-11-02", "minutes": "20"}
    await anna.post(steps, {**talk, "participants": "coach", "body": "Nabespreking."})
    talk_id = services.db.execute("SELECT MAX(id) FROM trajectory_steps").fetchone()[0]
    assert f'data-reflect-step="{talk_id}"' in await coach.get("/library")
    short = {"useful": "5", "insight_question": "4", "minutes_preparing": "15", "private": "1"}
    await coach.get(f"/trajectories/{tid}/steps/{talk_id}/reflection")
    html = await coach.post(f"/trajectories/{tid}/steps/{talk_id}/reflection", short)
    assert "Reflectie van coach" in html
    assert "Reflectie van coach" not in await anna.get(f"/trajectories/{tid}")  # private

    # The pupil's progress: SDQ scale scores at the start and the end, the total and bands.
    start = {"emotional": 4, "conduct": 5, "hyperactivity": 8, "peer": 3, "prosocial": 4}
    form = {"instrument": "sdq_teacher", "measured_on": "2026-11-02", "score_impact": "3"}
    form |= {f"score_{key}": str(value) for key, value in start.items()}
    html = await anna.post(
        f"/trajectories/{tid}/measures", {**form, "moment": "start", "score_peer": "11"}, 422
    )
    assert "buiten de schaal" in html
    await anna.post(f"/trajectories/{tid}/measures", {**form, "moment": "start"})
    end = {
        **form,
        "moment": "end",
        "score_conduct": "2",
        "score_hyperactivity": "6",
        "score_emotional": "2",
        "score_peer": "2",
    }
    html = await coach.get(f"/trajectories/{tid}")
    assert 'data-scale="total"' in html and "zeer hoog" in html
    html = await anna.post(f"/trajectories/{tid}/measures", end)
    total = re.search(r'<tr data-scale="total".*?</tr>', html, re.S)
    assert total is not None
    assert re.findall(r"<td>(\d+)</td>", total.group(0)) == ["20", "12"]
    assert "-8" in total.group(0) and "iets verhoogd" in total.group(0)
    assert html.count('<svg class="chart"') == 7  # six scales and the total

    # Numbers that are no ASCII digits are refused, never a server error.
    await anna.get("/library?page=%C2%B9")
    await anna.post(f"/units/{unit.unit_id}/claim", {"hours": "\u00b2"}, 400)
    html = await anna.post(
        f"/trajectories/{tid}/measures", {**form, "moment": "start", "score_peer": "\u00b9"}, 422
    )
    assert "buiten de schaal" in html

    # A claim on a unit can name the trajectory.
    html = await anna.get("/units")
    assert 'name="trajectory_id"' in html
    await anna.post(f"/units/{unit.unit_id}/claim", {"hours": "2", "trajectory_id": str(tid)})
    claimed = services.db.execute("SELECT trajectory_id FROM unit_claims").fetchone()[0]
    assert claimed == tid

    # Every page, in both languages, with nothing left untranslated.
    for language in ("nl", "en"):
        for person in (anna, coach):
            await person.post("/language", {"language": language, "next": "/trajectories"})
        for path in (
            "/trajectories",
            f"/trajectories/{tid}",
            f"/trajectories/{tid}/edit",
            "/trajectories/new",
            f"/lessons/{lesson_id}",
            "/library",
            "/units",
        ):
            html = await anna.get(path)
            assert f'<html lang="{language}">' in html, path
        for path in ("/trajectories", f"/trajectories/{tid}", f"/lessons/{lesson_id}"):
            await coach.get(path)
        await coach.get(f"/trajectories/{tid}/steps/{talk_id}/reflection")
    assert not admin.client.app[CATALOGUES].missing()  # type: ignore[index]

    # He leaves: the trajectory and the lesson are gone for him. The admin sees nothing.
    await coach.post(f"/trajectories/{tid}/leave", {})
    html = await coach.get(f"/trajectories/{tid}", 404)
    assert "not available" in html
    await coach.get(f"/lessons/{lesson_id}", 404)
    boss = await reader("ict-admin")
    await boss.get(f"/trajectories/{tid}", 404)
    assert "/trajectories" not in re.sub(r"<main.*", "", await boss.get("/library"), flags=re.S)

    # Closing needs a note; then nothing can change.
    await anna.post("/language", {"language": "en", "next": "/trajectories"})
    html = await anna.post(f"/trajectories/{tid}/status", {"status": "closed"}, 422)
    assert "Write a closing note" in html
    html = await anna.post(
        f"/trajectories/{tid}/status", {"status": "closed", "closing_note": "He starts alone now."}
    )
    assert "He starts alone now." in html and 'id="close-form"' not in html
    await anna.get(f"/trajectories/{tid}/edit", 409)
    html = await anna.post(
        f"/trajectories/{tid}/members", {"username": "coach", "role": "coach"}, 409
    )
    assert "closed" in html
