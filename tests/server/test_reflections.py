"""A reflection after every recording: the form checked answer by answer, forms versioned,
watching minutes from what the player measured, who is asked, and who may read the answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from lessoncam_common.config_errors import ConfigError
from lessoncam_server.app import init_app
from lessoncam_server.coaching import reflection_forms, reflections
from lessoncam_server.config import (
    DEFAULT_LESSON_FORM,
    ReflectionConfig,
    ReflectionForm,
    parse_config,
)
from lessoncam_server.infra.db import open_database
from lessoncam_server.infra.errors import Conflict, Invalid
from lessoncam_server.services import SERVICES, Services

from .helpers import FakeClock, Person, UnitClient
from .lesson_fixtures import ready_lesson
from .test_trajectories import T, trajectory_with

RID = "01JDREF0000000000000000001"
LONE = "01JDREF0000000000000000002"
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

ANSWERS: dict[str, Any] = {
    "pleasant": 4,
    "worth_time": 5,
    "insight_pupil": 4,
    "insight_pupil_note": "He waits for a sign from his neighbour.",
    "insight_approach": 3,
    "insight_interventions": 4,
    "next_try": "A card with the first step.",
    "minutes_preparing": 10,
    "minutes_watching": 25,
    "minutes_talking": 30,
    "watched_with": "coach",
}


def test_answers_are_checked_question_by_question() -> None:
    form = DEFAULT_LESSON_FORM
    assert reflection_forms.check_answers(form, ANSWERS) == ANSWERS
    sparse = {k: v for k, v in ANSWERS.items() if k not in ("insight_pupil_note", "next_try")}
    assert reflection_forms.check_answers(form, {**sparse, "next_try": "  "}) == sparse
    wrong = {
        "unknown_question": {**ANSWERS, "mood": 3},
        "answer_required": {k: v for k, v in ANSWERS.items() if k != "pleasant"},
        "answer_out_of_range": {**ANSWERS, "pleasant": 6},
        "answer_invalid": {**ANSWERS, "worth_time": "5"},
    }
    wrong["answer_too_long"] = {**ANSWERS, "next_try": "x" * 2001}
    wrong["answer_invalid "] = {**ANSWERS, "watched_with": "the cat"}
    wrong["answer_out_of_range "] = {**ANSWERS, "minutes_watching": -1}
    wrong["answer_invalid  "] = {**ANSWERS, "pleasant": True}
    for code, answers in wrong.items():
        with pytest.raises(Invalid) as refused:
            reflection_forms.check_answers(form, answers)
        assert refused.value.code == code.strip(), code


def test_a_form_version_with_answers_is_never_changed(tmp_path: Path) -> None:
    db = open_database(tmp_path / "forms.db")
    first = reflection_forms.sync(db, "lesson", DEFAULT_LESSON_FORM, NOW)
    assert reflection_forms.sync(db, "lesson", DEFAULT_LESSON_FORM, NOW) == first
    shorter = ReflectionForm(version=1, questions=DEFAULT_LESSON_FORM.questions[:2])
    # No answers yet: the same version may still change.
    assert reflection_forms.sync(db, "lesson", shorter, NOW) == first
    assert len(reflection_forms.stored(db, first).questions) == 2
    db.execute(
        "INSERT INTO reflections (form_id, kind, subject_at, author_id, state, created_at)"
        " VALUES (?, 'lesson', '2026-11-02', ?, 'declined', '2026-11-02')",
        [first, _user(db)],
    )
    with pytest.raises(Conflict) as refused:
        reflection_forms.sync(db, "lesson", DEFAULT_LESSON_FORM, NOW)
    assert refused.value.code == "form_version_answered" and "version 2" in refused.value.message
    assert len(reflection_forms.stored(db, first).questions) == 2  # nothing changed
    second = ReflectionForm(version=2, questions=DEFAULT_LESSON_FORM.questions)
    later = reflection_forms.sync(db, "lesson", second, NOW)
    assert later != first and len(reflection_forms.stored(db, first).questions) == 2


def _user(db: Any) -> int:
    from lessoncam_server.access import accounts

    return int(accounts.create_user(db, "anna", "correct horse battery", "teacher", NOW)["id"])


async def test_the_server_refuses_to_start_with_a_form_changed_in_place(
    tmp_path: Path, aiohttp_server: Callable[..., Awaitable[TestServer]]
) -> None:
    data = {"storage": {"data_dir": str(tmp_path / "data")}}
    server = await aiohttp_server(init_app(parse_config(data)))
    services = server.app[SERVICES]
    form_id = reflection_forms.sync_all(services.db, services.config.reflection, NOW)["lesson"]
    services.db.execute(
        "INSERT INTO reflections (form_id, kind, subject_at, author_id, state, created_at)"
        " VALUES (?, 'lesson', '2026-11-02', ?, 'declined', '2026-11-02')",
        [form_id, _user(services.db)],
    )
    await server.close()
    one = [{"key": "pleasant", "type": "scale", "en": "Pleasant?", "nl": "Prettig?"}]
    changed = {**data, "reflection": {"lesson_form": {"version": 1, "questions": one}}}
    with pytest.raises(ConfigError) as refused:
        app: web.Application = init_app(parse_config(changed))
        await aiohttp_server(app)
    assert "give the changed form version 2" in refused.value.report()
    bumped = {**data, "reflection": {"lesson_form": {"version": 2, "questions": one}}}
    await (await aiohttp_server(init_app(parse_config(bumped)))).close()


@pytest.fixture
async def world(
    anna: Person,
    unit: UnitClient,
    sign_in: Callable[..., Awaitable[Person]],
    services: Services,
    clock: FakeClock,
    tmp_path: Path,
) -> dict[str, Any]:
    """Anna's trajectory with a ready lesson (RID) and a coach named by the consent; a lesson
    outside it (LONE) shared with Bert."""
    coach = await sign_in("coach", "coach")
    bert = await sign_in("bert")
    await ready_lesson(unit, services, clock.now, tmp_path, RID, seconds=10)
    await ready_lesson(unit, services, clock.now, tmp_path, LONE, seconds=10)
    tid = await trajectory_with(anna, coach, lesson=RID)
    await anna.json("POST", f"/api/v1/lessons/{RID}/shares", 201, json={"username": "bert"})
    return {"tid": tid, "coach": coach, "bert": bert, "anna": anna}


@pytest.mark.slow
async def test_watching_minutes_come_from_what_the_player_measured(world: dict[str, Any]) -> None:
    anna, coach = world["anna"], world["coach"]
    playback = f"/api/v1/lessons/{RID}/playback"
    for seconds in (15, 15, 15, 15, 15, 15, 15, 15, 14.5):  # 134.5 s in reports of 15 s
        await anna.json("POST", playback, json={"played_s": seconds})
    seen = await coach.json("POST", playback, json={"played_s": 15})
    assert seen["played_s"] == 15  # each person's own
    for wrong in (0, -3, 61):
        refused = await anna.json("POST", playback, 422, json={"played_s": wrong})
        assert refused["error"] == "played_invalid"
    response = await anna.request("POST", playback, json={"played_s": "soon"})
    assert response.status == 400 and (await response.json())["error"] == "invalid_body"
    await world["bert"].json("POST", f"/api/v1/lessons/{LONE}/playback", 404, json={"played_s": 5})
    mine = await anna.json("GET", f"/api/v1/lessons/{RID}/reflection")
    assert mine["asked"] and mine["reflection"] is None
    assert mine["prefill"] == {"minutes_watching": 2}  # 134.5 s, rounded to minutes
    assert [reflections.watching_minutes(s) for s in (0, 1, 89.9, 90, 150)] == [0, 1, 1, 2, 3]


@pytest.mark.slow
async def test_the_teacher_is_asked_until_she_answers_or_declines(
    world: dict[str, Any], services: Services
) -> None:
    anna = world["anna"]
    pending = await anna.json("GET", "/api/v1/reflections/pending")
    assert [lesson["id"] for lesson in pending["lessons"]] == [RID]  # ask = trajectory
    refused = await anna.json(
        "PUT",
        f"/api/v1/lessons/{RID}/reflection",
        422,
        json={"answers": {**ANSWERS, "pleasant": 0}},
    )
    assert refused["error"] == "answer_out_of_range"
    assert services.db.execute("SELECT COUNT(*) FROM reflections").fetchone()[0] == 0
    made = await anna.json(
        "PUT", f"/api/v1/lessons/{RID}/reflection", 201, json={"answers": ANSWERS}
    )
    assert made["reflection"]["answers"] == ANSWERS and made["reflection"]["form_version"] == 1
    assert (await anna.json("GET", "/api/v1/reflections/pending"))["lessons"] == []
    again = await anna.json(
        "PUT", f"/api/v1/lessons/{RID}/reflection", 409, json={"answers": ANSWERS}
    )
    assert again["error"] == "reflection_exists"
    await anna.json("POST", f"/api/v1/lessons/{RID}/reflection/decline", 409)
    # A lesson outside any trajectory is not asked about, but she may still reflect on it.
    await anna.json("POST", f"/api/v1/lessons/{LONE}/reflection/decline", 204)
    later = await anna.json(
        "PUT", f"/api/v1/lessons/{LONE}/reflection", 201, json={"answers": ANSWERS}
    )
    assert later["reflection"]["state"] == "answered"
    assert (
        await world["coach"].json(
            "PUT", f"/api/v1/lessons/{RID}/reflection", 403, json={"answers": ANSWERS}
        )
    )["error"] == "forbidden"


@pytest.mark.slow
async def test_with_ask_all_every_ready_lesson_is_asked_about(
    world: dict[str, Any], services: Services
) -> None:
    anna = services.db.execute("SELECT id FROM users WHERE username = 'anna'").fetchone()[0]
    asked = reflections.asked_lessons(services.db, anna, ReflectionConfig(ask="all"))
    assert sorted(lesson["id"] for lesson in asked) == [RID, LONE]
    asked = reflections.asked_lessons(services.db, anna, ReflectionConfig())
    assert [lesson["id"] for lesson in asked] == [RID]


@pytest.mark.slow
async def test_members_read_the_answers_unless_private(world: dict[str, Any]) -> None:
    anna, coach, bert = world["anna"], world["coach"], world["bert"]
    tid = world["tid"]
    await anna.json("PUT", f"/api/v1/lessons/{RID}/reflection", 201, json={"answers": ANSWERS})
    seen = await coach.json("GET", f"/api/v1/lessons/{RID}/reflection")
    assert seen["reflection"]["answers"]["pleasant"] == 4 and "form" not in seen
    # Bert has the lesson by a share, not as a member: he does not read it.
    assert (await bert.json("GET", f"/api/v1/lessons/{RID}/reflection"))["reflection"] is None
    listed = await coach.json("GET", f"{T}/{tid}/reflections")
    assert [r["author"] for r in listed["reflections"]] == ["anna"]

    # After a conversation the coach answers his short form; the teacher may not.
    talk = {
        "kind": "conversation",
        "body": "Samen gekeken.",
        "held_on": "2026-11-02",
        "minutes": 20,
        "participants": ["anna", "coach"],
    }
    step = (await anna.json("POST", f"{T}/{tid}/steps", 201, json=talk))["step"]["id"]
    assert [
        c["id"] for c in (await coach.json("GET", "/api/v1/reflections/pending"))["conversations"]
    ] == [step]
    short = {"useful": 5, "insight_question": 4, "minutes_preparing": 15}
    path = f"{T}/{tid}/steps/{step}/reflection"
    refused = await anna.json("PUT", path, 403, json={"answers": short})
    assert refused["error"] == "not_participant"
    await coach.json("PUT", path, 201, json={"answers": short, "private": True})
    assert (await coach.json("GET", "/api/v1/reflections/pending"))["conversations"] == []
    # His private answer is his alone.
    assert [
        r["author"] for r in (await anna.json("GET", f"{T}/{tid}/reflections"))["reflections"]
    ] == ["anna"]
    assert len((await coach.json("GET", f"{T}/{tid}/reflections"))["reflections"]) == 2
