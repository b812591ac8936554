"""The steps of the coaching cycle: intake with the agreed question, the coach's analysis of a
lesson with its fragments, conversations with agreements, evaluation, goals with their state,
and the timeline that puts them in order."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from lessoncam_server.coaching.fragments import parse_spans
from lessoncam_server.coaching.timeline import timeline
from lessoncam_server.infra.errors import Invalid
from lessoncam_server.services import Services

from .helpers import FakeClock, Person, UnitClient
from .lesson_fixtures import ready_lesson
from .test_trajectories import T, trajectory_with

RID = "01JDSTP0000000000000000001"
OTHER = "01JDSTP0000000000000000002"


def test_fragments_as_a_person_types_them() -> None:
    assert parse_spans("1:20-2:05; 4:10 \u2013 4:30,\n1:00:00-1:00:05") == [
        (80, 125),
        (250, 270),
        (3600, 3605),
    ]
    assert parse_spans("  ") == []
    for wrong in ("1:20", "a-b", "1:2-1:30", "80-125"):
        with pytest.raises(Invalid) as refused:
            parse_spans(wrong)
        assert refused.value.code == "fragment_invalid"


def test_the_timeline_puts_the_cycle_in_order() -> None:
    trajectory = {"start_date": "2026-11-02", "status": "closed", "closed_at": "2027-02-01T10:00Z"}
    lessons = [
        {"id": "b", "started_at": "2026-11-09T08:30:00Z"},
        {"id": "a", "started_at": "2026-11-03T08:30:00Z"},
    ]

    def step(n: int, kind: str, day: str, lesson: str | None = None) -> dict[str, Any]:
        return {
            "id": n,
            "kind": kind,
            "held_on": day,
            "created_at": f"{day}T12:{n:02d}Z",
            "recording_id": lesson,
        }

    steps = [
        step(1, "intake", "2026-11-02"),
        step(2, "analysis", "2026-11-04", "a"),
        step(3, "conversation", "2026-11-09"),  # the same day as lesson b: after it
        step(4, "analysis", "2026-11-10", "gone"),  # a lesson this reader cannot open
        step(5, "evaluation", "2027-02-01"),
    ]
    entries = timeline(trajectory, lessons, steps)
    assert [(e["kind"], e["day"]) for e in entries] == [
        ("start", "2026-11-02"),
        ("intake", "2026-11-02"),
        ("lesson", "2026-11-03"),
        ("lesson", "2026-11-09"),
        ("conversation", "2026-11-09"),
        ("analysis", "2026-11-10"),
        ("evaluation", "2027-02-01"),
        ("closing", "2027-02-01"),
    ]
    assert [s["id"] for s in entries[2]["analyses"]] == [2] and entries[3]["analyses"] == []


@pytest.fixture
async def world(
    anna: Person,
    unit: UnitClient,
    sign_in: Callable[..., Awaitable[Person]],
    services: Services,
    clock: FakeClock,
    tmp_path: Path,
) -> dict[str, Any]:
    """Anna's running trajectory with two lessons (40 s), a coach named by the consent, and a
    colleague who is a member but not named (so she cannot open the lessons)."""
    coach = await sign_in("coach", "coach")
    colleague = await sign_in("bert")
    await ready_lesson(unit, services, clock.now, tmp_path, RID, seconds=40)
    await ready_lesson(unit, services, clock.now, tmp_path, OTHER, seconds=10)
    tid = await trajectory_with(anna, coach, colleague, named=("coach",), lesson=RID)
    return {"tid": tid, "coach": coach, "colleague": colleague, "anna": anna}


def fragment(start: float, end: float, lesson: str = RID) -> dict[str, Any]:
    return {"lesson_id": lesson, "start_s": start, "end_s": end}


@pytest.mark.slow
async def test_writing_down_the_cycle(world: dict[str, Any], services: Services) -> None:
    anna, coach, colleague = world["anna"], world["coach"], world["colleague"]
    steps = f"{T}/{world['tid']}/steps"
    intake = {
        "kind": "intake",
        "body": "Pupil A waits for help at every task.",
        "held_on": "2026-11-02",
        "agreed_question": "How does Pupil A start on his own?",
    }
    made = await coach.json("POST", steps, 201, json=intake)
    assert made["step"]["agreed_question"] == "How does Pupil A start on his own?"
    assert made["step"]["author"] == "coach"
    assert (await anna.json("POST", steps, 409, json=intake))["error"] == "intake_exists"

    analysis = {
        "kind": "analysis",
        "body": "At 0:12 he looks at his neighbour, then starts.",
        "held_on": "2026-11-02",
        "lesson_id": RID,
        "fragments": [fragment(10, 15), fragment(20.5, 30)],
    }
    made = await coach.json("POST", steps, 201, json=analysis)
    assert made["step"]["fragments"] == [fragment(10, 15), fragment(20.5, 30)]
    refusals = {
        "time_past_end": {**analysis, "fragments": [fragment(30, 45)]},
        "end_before_start": {**analysis, "fragments": [fragment(15, 10)]},
        "lesson_not_in_trajectory": {**analysis, "lesson_id": OTHER, "fragments": []},
        "analysis_needs_lesson": {**analysis, "lesson_id": None, "fragments": []},
        "body_empty": {**analysis, "body": " "},
        "step_date_future": {**analysis, "held_on": "2026-11-03"},
        "step_kind_invalid": {**analysis, "kind": "gossip"},
    }
    for code, body in refusals.items():
        assert (await coach.json("POST", steps, 422, json=body))["error"] == code, code
    # A member the consent does not name may write, but not point into a lesson she cannot
    # open; nor may anybody point into a lesson outside the trajectory.
    talk = {
        "kind": "conversation",
        "body": "We watched the start of the task together.",
        "held_on": "2026-11-02",
        "minutes": 25,
        "participants": ["anna", "coach"],
        "agreements": "I give Pupil A a card with the first step.",
        "fragments": [fragment(10, 15)],
    }
    refused = await colleague.json("POST", steps, 422, json=talk)
    assert refused["error"] == "lesson_not_in_trajectory"
    outside = {**talk, "fragments": [fragment(1, 2, OTHER)]}
    assert (await anna.json("POST", steps, 422, json=outside))["error"] == (
        "lesson_not_in_trajectory"
    )
    for code, body in {
        "minutes_invalid": {**talk, "minutes": 0},
        "participant_unknown": {**talk, "participants": ["ict-admin"]},
    }.items():
        assert (await anna.json("POST", steps, 422, json=body))["error"] == code, code
    made = await anna.json("POST", steps, 201, json=talk)
    assert made["step"]["participants"] == ["anna", "coach"] and made["step"]["minutes"] == 25
    count = services.db.execute("SELECT COUNT(*) FROM trajectory_steps").fetchone()[0]
    assert count == 3  # nothing half stored

    # Goals: open, working on it, reached; with the fragments that show them.
    goals = f"{T}/{world['tid']}/goals"
    goal = await coach.json(
        "POST",
        goals,
        201,
        json={"text": "Starts within two minutes", "fragments": [fragment(20, 25)]},
    )
    gid = goal["goal"]["id"]
    assert goal["goal"]["state"] == "open" and goal["goal"]["fragments"] == [fragment(20, 25)]
    moved = await anna.json("PATCH", f"{goals}/{gid}", json={"state": "working"})
    assert moved["goal"]["state"] == "working"
    more = {"state": "reached", "fragments": [fragment(30, 35)]}
    moved = await anna.json("PATCH", f"{goals}/{gid}", json=more)
    assert moved["goal"]["fragments"] == [fragment(20, 25), fragment(30, 35)]
    wrong = await anna.json("PATCH", f"{goals}/{gid}", 422, json={"state": "done"})
    assert wrong["error"] == "goal_state_invalid"
    await anna.json("PATCH", f"{goals}/999", 404, json={"state": "open"})
    assert (await anna.json("POST", goals, 422, json={"text": ""}))["error"] == "goal_empty"

    # The timeline shows it all in order; the analysis sits under its lesson.
    seen = await coach.json("GET", f"{T}/{world['tid']}/timeline")
    kinds = [entry["kind"] for entry in seen["timeline"]]
    assert kinds == ["start", "intake", "lesson", "conversation"]
    lesson = seen["timeline"][2]
    assert lesson["lesson_id"] == RID and len(lesson["analyses"]) == 1
    assert [g["state"] for g in seen["goals"]] == ["reached"]
    # The colleague (not named) sees the steps but not the lesson: the analysis stands alone.
    seen = await colleague.json("GET", f"{T}/{world['tid']}/timeline")
    assert [entry["kind"] for entry in seen["timeline"]] == [
        "start",
        "intake",
        "analysis",
        "conversation",
    ]


@pytest.mark.slow
def step_audit(services: Services) -> list[tuple[str, str, int, str]]:
    """The audited step changes: (action, who, step, kind), oldest first."""
    rows = services.db.execute(
        "SELECT action, actor_name, detail FROM audit WHERE action LIKE 'step_%' "
        "AND object_kind = 'trajectory' ORDER BY id"
    ).fetchall()
    return [(a, who, json.loads(d)["step"], json.loads(d)["kind"]) for a, who, d in rows]


async def test_who_may_delete_a_step_and_nothing_changes_once_closed(
    world: dict[str, Any], sign_in: Callable[..., Awaitable[Person]], services: Services
) -> None:
    anna, coach, colleague = world["anna"], world["coach"], world["colleague"]
    path = f"{T}/{world['tid']}"
    note = {"kind": "evaluation", "body": "He starts alone now.", "held_on": "2026-11-02"}
    first = (await coach.json("POST", f"{path}/steps", 201, json=note))["step"]["id"]
    second = (await coach.json("POST", f"{path}/steps", 201, json=note))["step"]["id"]
    refused = await colleague.json("DELETE", f"{path}/steps/{first}", 403)
    assert refused["error"] == "not_author"
    await coach.json("DELETE", f"{path}/steps/{first}", 204)
    await anna.json("DELETE", f"{path}/steps/{second}", 204)  # the teacher may
    await anna.json("DELETE", f"{path}/steps/{second}", 404)
    assert step_audit(services) == [  # refusals change nothing, and are not step changes
        ("step_create", "coach", first, "evaluation"),
        ("step_create", "coach", second, "evaluation"),
        ("step_delete", "coach", first, "evaluation"),
        ("step_delete", "anna", second, "evaluation"),
    ]
    outsider = await sign_in("carl")
    await outsider.json("POST", f"{path}/steps", 404, json=note)
    await outsider.json("GET", f"{path}/timeline", 404)
    closing = {"status": "closed", "closing_note": "Done."}
    await anna.json("POST", f"{path}/status", json=closing)
    assert (await coach.json("POST", f"{path}/steps", 409, json=note))["error"] == (
        "trajectory_closed"
    )
    goal = {"text": "Later"}
    assert (await anna.json("POST", f"{path}/goals", 409, json=goal))["error"] == (
        "trajectory_closed"
    )
    seen = await coach.json("GET", f"{path}/timeline")
    assert [entry["kind"] for entry in seen["timeline"]][-1] == "closing"


@pytest.mark.slow
async def test_its_author_rewrites_a_step_and_a_refusal_changes_nothing(
    world: dict[str, Any], services: Services
) -> None:
    anna, coach, colleague = world["anna"], world["coach"], world["colleague"]
    path = f"{T}/{world['tid']}/steps"
    talk = {
        "kind": "conversation",
        "body": "We watched the start.",
        "held_on": "2026-11-02",
        "minutes": 25,
        "participants": ["anna"],
        "agreements": "",
        "fragments": [fragment(10, 15)],
    }
    sid = (await anna.json("POST", path, 201, json=talk))["step"]["id"]
    # A participant forgotten, a fragment's time and the agreements put right.
    fixed = {
        **talk,
        "minutes": 30,
        "participants": ["anna", "coach"],
        "agreements": "A card with the first step.",
        "fragments": [fragment(11.5, 16), fragment(20, 22)],
    }
    step = (await anna.json("PUT", f"{path}/{sid}", json=fixed))["step"]
    assert (step["id"], step["minutes"], step["participants"]) == (sid, 30, ["anna", "coach"])
    assert step["fragments"] == [fragment(11.5, 16), fragment(20, 22)]
    assert step["agreements"] == "A card with the first step."

    def stored() -> list[Any]:
        return [
            services.db.execute(sql, [sid]).fetchall()
            for sql in (
                "SELECT * FROM trajectory_steps WHERE id = ?",
                "SELECT user_id FROM step_participants WHERE step_id = ? ORDER BY user_id",
                "SELECT start_s, end_s FROM step_fragments WHERE step_id = ? ORDER BY start_s",
            )
        ]

    before = stored()
    refusals = [
        (coach, 403, fixed, "not_author"),  # a participant, not its author
        (colleague, 403, fixed, "not_author"),
        (anna, 422, {**fixed, "kind": "evaluation"}, "step_kind_fixed"),
        (anna, 422, {**fixed, "minutes": 0}, "minutes_invalid"),
        (anna, 422, {**fixed, "fragments": [fragment(30, 45)]}, "time_past_end"),
        (anna, 422, {**fixed, "participants": ["ict-admin"]}, "participant_unknown"),
    ]
    for person, status, body, code in refusals:
        refused = await person.json("PUT", f"{path}/{sid}", status, json=body)
        assert refused["error"] == code, code
    await anna.json("PUT", f"{path}/999", 404, json=fixed)
    assert stored() == before  # nothing half changed
    assert step_audit(services) == [
        ("step_create", "anna", sid, "conversation"),
        ("step_update", "anna", sid, "conversation"),
    ]
    await anna.json(
        "POST", f"{T}/{world['tid']}/status", json={"status": "closed", "closing_note": "Done."}
    )
    closed = await anna.json("PUT", f"{path}/{sid}", 409, json=fixed)
    assert closed["error"] == "trajectory_closed"
