"""The export for research: only trajectories with the parents' research consent and the
teacher's agreement, pseudonymous ids only, a codebook, CSV read back column by column, a
summary per form of support, and only for coordinators; every export audited."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from lessoncam_server.services import Services

from .helpers import FakeClock, Person, UnitClient
from .lesson_fixtures import ready_lesson
from .test_measures import END, START
from .test_reflections import ANSWERS
from .test_trajectories import T, consent, new_trajectory, trajectory_with

RID = "01JDRES0000000000000000001"
R = "/api/v1/research"


@pytest.fixture
async def world(
    anna: Person,
    admin: Person,
    unit: UnitClient,
    sign_in: Callable[..., Awaitable[Person]],
    services: Services,
    clock: FakeClock,
    tmp_path: Path,
) -> dict[str, Any]:
    """Anna's trajectory (video coach) with research consent, her agreement, a lesson with her
    reflection, a conversation with the coach's short form, SDQ at start and end; Bert's
    (colleague) without research consent; Carl's with it but without his agreement."""
    coach = await sign_in("kees", "coach")
    bert, carl, cora = [await sign_in(name) for name in ("bert", "carl", "cora")]
    await ready_lesson(unit, services, clock.now, tmp_path, RID, seconds=10)
    tid = await trajectory_with(anna, coach, research=True, lesson=RID)
    await anna.json("PUT", f"/api/v1/trajectories/{tid}/research", json={"agreed": True})
    await anna.json("PUT", f"/api/v1/lessons/{RID}/reflection", 201, json={"answers": ANSWERS})
    talk = {
        "kind": "conversation",
        "body": "Samen gekeken naar Jan.",  # free text never leaves: a name slipped in
        "held_on": "2026-11-02",
        "minutes": 25,
        "participants": ["anna", "kees"],
        "agreements": "Een startkaart.",
        "fragments": [{"lesson_id": RID, "start_s": 1, "end_s": 4}],
    }
    step = (await anna.json("POST", f"{T}/{tid}/steps", 201, json=talk))["step"]["id"]
    short = {"useful": 5, "insight_question": 4, "minutes_preparing": 15}
    await coach.json("PUT", f"{T}/{tid}/steps/{step}/reflection", 201, json={"answers": short})
    for moment, scores in (("start", START), ("end", END)):
        body = {"moment": moment, "measured_on": "2026-11-02", "scores": scores}
        await anna.json("POST", f"{T}/{tid}/measures", 201, json=body)
    others = {}
    for person, research in ((bert, False), (carl, True)):
        made = await person.json("POST", T, 201, json=new_trajectory(support="colleague"))
        others[person.username] = made["trajectory"]["id"]
        await consent(person, others[person.username], research=research)
        await person.json(
            "PUT",
            f"/api/v1/trajectories/{others[person.username]}/research",
            json={"agreed": not research},
        )
    await admin.json("PUT", f"{R}/coordinators/cora", 204)
    return {"tid": tid, "cora": cora, "coach": coach, "others": others, "anna": anna}


@pytest.mark.slow
async def test_only_coordinators_export_and_admins_name_them(
    world: dict[str, Any], admin: Person
) -> None:
    for person in (world["anna"], world["coach"], admin):
        refused = await person.json("GET", f"{R}/export", 403)
        assert refused["error"] == "not_coordinator"
        await person.json("GET", f"{R}/summary", 403)
    assert (await world["anna"].json("PUT", f"{R}/coordinators/anna", 403))["error"] == "forbidden"
    assert (await admin.json("PUT", f"{R}/coordinators/ict-admin", 422))["error"] == (
        "coordinator_admin"
    )
    listed = await admin.json("GET", f"{R}/coordinators")
    assert [c["username"] for c in listed["coordinators"]] == ["cora"]
    await admin.json("DELETE", f"{R}/coordinators/cora", 204)
    await world["cora"].json("GET", f"{R}/export", 403)
    await admin.json("DELETE", f"{R}/coordinators/cora", 404)


@pytest.mark.slow
async def test_the_export_holds_pseudonyms_only_and_reads_back_column_by_column(
    world: dict[str, Any], services: Services
) -> None:
    cora = world["cora"]
    data = await cora.json("GET", f"{R}/export")
    assert data["trajectories"] == 1  # Bert's (no research consent), Carl's (no agreement) out
    text = str(data)
    for identifying in ("anna", "kees", "bert", "Pupil A", "Groep 5", "2017", "2026-", "Jan", RID):
        assert identifying not in text, identifying
    lesson, talk = data["reflections"]
    assert lesson["form"] == "lesson" and lesson["respondent_role"] == "teacher"
    assert talk["form"] == "conversation" and talk["respondent_role"] == "coach"
    assert lesson["trajectory"].startswith("T-") and lesson["respondent"].startswith("R-")
    assert lesson["respondent"] != talk["respondent"] and lesson["support"] == "video_coach"

    response = await cora.request("GET", f"{R}/export/reflections.csv")
    assert response.status == 200 and response.content_type == "text/csv"
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert len(rows) == 2
    row = rows[0]
    for key, value in ANSWERS.items():
        assert row[f"q_{key}"] == str(value), key
    assert (row["form"], row["form_version"], row["number"], row["day"]) == (
        "lesson",
        "1",
        "1",
        "0",
    )
    assert rows[1]["q_useful"] == "5" and rows[1]["q_pleasant"] == ""

    response = await cora.request("GET", f"{R}/export/measures.csv?sep=semicolon")
    measures = list(csv.DictReader(io.StringIO(await response.text()), delimiter=";"))
    assert [m["moment"] for m in measures] == ["start", "end"]
    for measure, scores in zip(measures, (START, END), strict=True):
        for key, value in scores.items():
            assert measure[key] == str(value), key
        assert measure["total"] == str(
            sum(scores[k] for k in ("emotional", "conduct", "hyperactivity", "peer"))
        )
    assert (measures[0]["total_band"], measures[1]["total_band"]) == ("3", "1")

    response = await cora.request("GET", f"{R}/export/conversations.csv")
    (conversation,) = list(csv.DictReader(io.StringIO(await response.text())))
    assert conversation == {
        "trajectory": lesson["trajectory"],
        "support": "video_coach",
        "number": "1",
        "day": "0",
        "minutes": "25",
        "participants": "2",
        "participant_roles": "coach;teacher",
        "fragments": "1",
        "agreements_made": "1",
        "watched_together": "0",
    }
    response = await cora.request("GET", f"{R}/export/codebook.csv")
    book = {
        (r["table"], r["column"]): r["description"]
        for r in csv.DictReader(io.StringIO(await response.text()))
    }
    assert "lesson form v1: Was it pleasant? (scale 1-5" in book[("reflections", "q_pleasant")]
    assert "conversation form v1" in book[("reflections", "q_minutes_preparing")]
    assert "lesson form v1" in book[("reflections", "q_minutes_preparing")]
    for column in rows[0]:
        assert ("reflections", column) in book, column
    for column in measures[0]:
        assert ("measures", column) in book, column
    assert (await cora.request("GET", f"{R}/export/people.csv")).status == 404
    # The pseudonyms stay the same from one export to the next.
    again = await cora.json("GET", f"{R}/export")
    assert again["reflections"][0]["trajectory"] == lesson["trajectory"]
    exports = services.db.execute(
        "SELECT COUNT(*) FROM audit WHERE action = 'research_export' AND actor_name = 'cora'"
    ).fetchone()[0]
    assert exports == 6


@pytest.mark.slow
async def test_one_trajectory_needs_its_consent_and_a_withdrawal_takes_it_out(
    world: dict[str, Any],
) -> None:
    cora, anna, tid = world["cora"], world["anna"], world["tid"]
    for other in world["others"].values():
        refused = await cora.json("GET", f"{R}/export?trajectory={other}", 409)
        assert refused["error"] == "research_consent_missing"
    assert (await cora.json("GET", f"{R}/export?trajectory={tid}"))["trajectories"] == 1
    # Without the teacher's agreement, or once the parents withdraw, it is out at once.
    await anna.json("PUT", f"/api/v1/trajectories/{tid}/research", json={"agreed": False})
    assert (await cora.json("GET", f"{R}/export"))["trajectories"] == 0
    await anna.json("PUT", f"/api/v1/trajectories/{tid}/research", json={"agreed": True})
    await anna.json("POST", f"{T}/{tid}/consent/withdrawal", json={"lessons": "take_out"})
    data = await cora.json("GET", f"{R}/export")
    assert data["trajectories"] == 0 and data["reflections"] == [] and data["measures"] == []


@pytest.mark.slow
async def test_the_summary_compares_the_forms_of_support(world: dict[str, Any]) -> None:
    summary = (await world["cora"].json("GET", f"{R}/summary"))["summary"]
    (coached,) = summary
    assert coached["support"] == "video_coach" and coached["recordings"] == 1
    assert coached["reflections"] == 1 and coached["trajectories"] == 1
    assert coached["means"]["pleasant"] == 4 and coached["means"]["minutes_watching"] == 25
    assert coached["measures"]["sdq_teacher"]["total"] == [20, 12]
    assert coached["measures"]["sdq_teacher"]["prosocial"] == [4, 7]


@pytest.mark.slow
async def test_the_workbook_holds_the_same_tables_and_runs_no_formula(
    world: dict[str, Any],
    services: Services,
    unit: UnitClient,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    cora, anna = world["cora"], world["anna"]
    # A teacher's sentence that a spreadsheet would run as a formula if it were not guarded.
    formula = '=HYPERLINK("http://evil.example","click")'
    second = "01JDRES0000000000000000002"
    await ready_lesson(unit, services, clock.now, tmp_path / "2", second, seconds=10)
    await anna.json("PUT", f"{T}/{world['tid']}/lessons/{second}", 201)
    answers = {**ANSWERS, "next_try": formula}
    await anna.json("PUT", f"/api/v1/lessons/{second}/reflection", 201, json={"answers": answers})
    data = await cora.json("GET", f"{R}/export")

    response = await cora.request("GET", f"{R}/export.xlsx")
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "attachment" in response.headers["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(await response.read()))
    assert book.sheetnames == ["reflections", "measures", "conversations", "codebook"]
    for name in book.sheetnames:
        header, *body = [[cell.value for cell in row] for row in book[name].iter_rows()]
        assert header == list(data[name][0]) if name != "codebook" else header
        expected = [list(row.values()) for row in data[name]] if name != "codebook" else None
        if expected is not None:
            assert body == expected, name
    column = list(data["reflections"][0]).index("q_next_try")
    cells = [row[column] for row in book["reflections"].iter_rows(min_row=2)]
    (cell,) = [c for c in cells if c.value == formula]
    assert cell.data_type == "s"  # text, not a formula

    response = await cora.request("GET", f"{R}/export/reflections.csv")
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    guarded = [r for r in rows if r["q_next_try"] == "'" + formula]
    assert len(guarded) == 1  # the CSV guard: a spreadsheet shows it as text
    assert guarded[0]["q_pleasant"] == "4"
    audited = services.db.execute(
        "SELECT detail FROM audit WHERE action = 'research_export' ORDER BY id DESC LIMIT 2"
    ).fetchall()
    assert any('"xlsx"' in row[0] for row in audited)


async def test_only_coordinators_get_the_workbook(world: dict[str, Any]) -> None:
    for person in (world["anna"], world["coach"]):
        response = await person.request("GET", f"{R}/export.xlsx")
        assert response.status == 403
