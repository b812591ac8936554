"""Interaction coding through the JSON API: schemes and their versions, coding by key with
points, states, modifiers, undo and drag, private until shared, bad input refused with a
stable code and nothing half stored, the analysis, the agreement, exports and imports."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from lessoncam_server.coding import store
from lessoncam_server.coding.schemes import DEFAULT_SCHEME
from lessoncam_server.infra.errors import DomainError
from lessoncam_server.services import Services

from .helpers import FakeClock, Person, UnitClient
from .lesson_fixtures import ready_lesson
from .test_permissions import TRAJECTORY

RID = "01JD0000000000000000000C01"
SAME = "01JD0000000000000000000C02"  # as long as RID
L = f"/api/v1/lessons/{RID}"


@pytest.fixture
async def lesson(
    anna: Person, unit: UnitClient, services: Services, clock: FakeClock, tmp_path: Path
) -> str:
    await ready_lesson(unit, services, clock.now, tmp_path, RID, seconds=20)
    return RID


async def default_scheme(person: Person) -> int:
    schemes = (await person.json("GET", "/api/v1/coding-schemes"))["schemes"]
    return int(next(s["id"] for s in schemes if s["key"] == "contact"))


async def coach_on(
    anna: Person, sign_in: Callable[..., Awaitable[Person]], role: str = "commenter"
) -> Person:
    coach = await sign_in("carla", "coach")
    await anna.json("POST", f"{L}/shares", 201, json={"username": "carla", "role": role})
    return coach


async def refused(
    person: Person, method: str, path: str, status: int, code: str, **kw: Any
) -> None:
    body = await person.json(method, path, status, **kw)
    assert body["error"] == code, body


def shapes(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(e["behaviour"], e["start_s"], e["end_s"], e["modifiers"]) for e in events]


async def test_coding_by_key_with_states_modifiers_undo_and_drag(
    anna: Person, lesson: str, sign_in: Callable[..., Awaitable[Person]], services: Services
) -> None:
    coach = await coach_on(anna, sign_in)
    scheme_id = await default_scheme(coach)
    made = await coach.json("POST", f"{L}/codings", 201, json={"scheme_id": scheme_id})
    coding = f"{L}/codings/{made['coding']['id']}"
    assert made["coding"]["shared"] is False and made["coding"]["can_code"] is True
    press = {"key": "t", "t": 2.5, "modifiers": {"who": "focus_pupil"}}
    await coach.json("POST", f"{coding}/events", json=press)
    await coach.json("POST", f"{coding}/events", json={"key": "i", "t": 3})
    await coach.json("POST", f"{coding}/events", json={"key": "h", "t": 8})  # stops instruction
    out = await coach.json("POST", f"{coding}/events", json={"key": "h", "t": 12})
    assert shapes(out["events"]) == [
        ("initiative_teacher", 2.5, None, {"who": "focus_pupil"}),
        ("instruction", 3.0, 8.0, {}),
        ("individual_help", 8.0, 12.0, {}),
    ]
    undone = await coach.json("POST", f"{coding}/undo")
    assert shapes(undone["events"])[-1] == ("individual_help", 8.0, None, {})
    undone = await coach.json("POST", f"{coding}/undo")  # back to instruction going on
    assert shapes(undone["events"]) == [
        ("initiative_teacher", 2.5, None, {"who": "focus_pupil"}),
        ("instruction", 3.0, None, {}),
    ]
    instruction = undone["events"][1]["id"]
    dragged = await coach.json(
        "PATCH", f"{coding}/events/{instruction}", json={"start_s": 4, "end_s": 9.5}
    )
    assert shapes(dragged["events"])[1] == ("instruction", 4.0, 9.5, {})
    point = dragged["events"][0]["id"]
    await coach.json("DELETE", f"{coding}/events/{point}")
    again = await coach.json("POST", f"{coding}/undo")
    assert [e["behaviour"] for e in again["events"]] == ["initiative_teacher", "instruction"]
    full = await coach.json("GET", coding)
    assert full["scheme"]["key"] == "contact" and len(full["events"]) == 2


async def test_bad_input_is_refused_with_a_stable_code_and_nothing_half_stored(
    anna: Person, lesson: str, sign_in: Callable[..., Awaitable[Person]], services: Services
) -> None:
    coach = await coach_on(anna, sign_in)
    scheme_id = await default_scheme(coach)
    made = await coach.json("POST", f"{L}/codings", 201, json={"scheme_id": scheme_id})
    coding = f"{L}/codings/{made['coding']['id']}"
    await coach.json("POST", f"{coding}/events", json={"key": "i", "t": 5})
    await coach.json("POST", f"{coding}/events", json={"key": "i", "t": 10})

    def stored() -> list[tuple[Any, ...]]:
        return services.db.execute("SELECT * FROM coding_events ORDER BY id").fetchall()

    before = stored()
    bad: list[tuple[dict[str, Any], int, str]] = [
        ({"key": "x", "t": 1}, 422, "unknown_key"),
        ({"key": "t", "t": 25}, 422, "time_past_end"),
        ({"key": "t", "t": -1}, 422, "time_negative"),
        ({"behaviour": "instruction", "t": 3, "action": "stop"}, 422, "state_not_started"),
        ({"key": "i", "t": 7}, 409, "state_overlap"),
        ({"key": "t", "t": 1, "modifiers": {"who": "dog"}}, 422, "unknown_modifier"),
        ({"behaviour": "shouting", "t": 1}, 422, "unknown_behaviour"),
    ]
    for body, status, code in bad:
        await refused(coach, "POST", f"{coding}/events", status, code, json=body)
    event = (await coach.json("GET", coding))["events"][0]["id"]
    await refused(
        coach, "PATCH", f"{coding}/events/{event}", 422, "time_past_end", json={"end_s": 30}
    )
    await refused(
        coach, "PATCH", f"{coding}/events/{event}", 422, "stop_before_start", json={"end_s": 4}
    )
    await refused(coach, "PATCH", f"{coding}/events/999999", 404, "event_not_found", json={})
    assert stored() == before
    await coach.json("POST", f"{coding}/undo")  # the instruction's stop at 10
    await coach.json("POST", f"{coding}/undo")  # its start at 5
    await refused(coach, "POST", f"{coding}/undo", 409, "nothing_to_undo")
    await refused(
        coach, "POST", f"{L}/codings", 409, "coding_exists", json={"scheme_id": scheme_id}
    )
    await refused(coach, "POST", f"{L}/codings", 404, "not_found", json={"scheme_id": 99999})


async def test_a_coding_is_private_to_its_coder_until_she_shares_it(
    anna: Person, lesson: str, sign_in: Callable[..., Awaitable[Person]]
) -> None:
    coach = await coach_on(anna, sign_in)
    viewer = await sign_in("vera")
    await anna.json("POST", f"{L}/shares", 201, json={"username": "vera", "role": "viewer"})
    scheme_id = await default_scheme(coach)
    made = await coach.json("POST", f"{L}/codings", 201, json={"scheme_id": scheme_id})
    coding = f"{L}/codings/{made['coding']['id']}"
    await coach.json("POST", f"{coding}/events", json={"key": "r", "t": 1})
    for person in (anna, viewer):
        assert (await person.json("GET", f"{L}/codings"))["codings"] == []
        await refused(person, "GET", coding, 404, "not_found")
        await refused(person, "GET", f"{coding}/events.csv", 404, "not_found")
    await coach.json("PATCH", coding, json={"shared": True})
    for person in (anna, viewer):
        listed = (await person.json("GET", f"{L}/codings"))["codings"]
        assert [c["coder"]["pseudonym"] for c in listed] == [f"coder-{made['coding']['id']}"]
        assert listed[0]["can_code"] is False
        await refused(
            person,
            "POST",
            f"{coding}/events",
            403,
            "not_coder" if person is anna else "forbidden",
            json={"key": "r", "t": 2},
        )
    await refused(viewer, "POST", f"{L}/codings", 403, "forbidden", json={"scheme_id": scheme_id})
    await refused(viewer, "DELETE", coding, 403, "not_coder")
    await anna.json("DELETE", coding, 204)  # the owner removes a shared coding


async def test_the_analysis_and_the_agreement_of_two_coders(
    anna: Person, lesson: str, sign_in: Callable[..., Awaitable[Person]]
) -> None:
    coach = await coach_on(anna, sign_in)
    scheme_id = await default_scheme(coach)
    ids = []
    for person, times in ((coach, (2, 6, 11)), (anna, (2.5, 7.9, 15))):
        made = await person.json("POST", f"{L}/codings", 201, json={"scheme_id": scheme_id})
        ids.append(made["coding"]["id"])
        for key, t in zip("trt", times, strict=True):
            await person.json("POST", f"{L}/codings/{ids[-1]}/events", json={"key": key, "t": t})
        await person.json("PATCH", f"{L}/codings/{ids[-1]}", json={"shared": True})
    out = (await coach.json("GET", f"{L}/codings/{ids[0]}/analysis"))["analysis"]
    rows = {b["key"]: b for b in out["behaviours"]}
    assert rows["initiative_teacher"]["count"] == 2
    assert rows["initiative_teacher"]["rate_per_min"] == pytest.approx(2 / (20 / 60), abs=0.01)
    part = await coach.json("GET", f"{L}/codings/{ids[0]}/analysis?from_s=5&to_s=15")
    assert {b["key"]: b["count"] for b in part["analysis"]["behaviours"]}["received"] == 1
    await refused(
        coach, "GET", f"{L}/codings/{ids[0]}/analysis?from_s=9&to_s=3", 422, "fragment_invalid"
    )
    kappa = (await coach.json("GET", f"{L}/coding-agreement?a={ids[0]}&b={ids[1]}"))["agreement"]
    # 2 vs 2.5 and 6 vs 7.9 agree within 2 s; 11 and 15 are unmatched.
    assert kappa["agreed"] == 2 and kappa["unmatched"] == 2 and kappa["tolerance_s"] == 2.0
    wide = await coach.json("GET", f"{L}/coding-agreement?a={ids[0]}&b={ids[1]}&tolerance_s=5")
    assert wide["agreement"]["unmatched"] == 0 and wide["agreement"]["kappa"] == 1.0


async def test_exports_and_imports_onto_a_lesson_of_the_same_length(
    anna: Person,
    lesson: str,
    unit: UnitClient,
    services: Services,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    scheme_id = await default_scheme(anna)
    made = await anna.json("POST", f"{L}/codings", 201, json={"scheme_id": scheme_id})
    coding = f"{L}/codings/{made['coding']['id']}"
    for body in (
        {"key": "t", "t": 1, "modifiers": {"who": "group"}},
        {"key": "i", "t": 2},
        {"key": "i", "t": 9},
        {"key": "a", "t": 12.25},
    ):
        await anna.json("POST", f"{coding}/events", json=body)
    events = shapes((await anna.json("GET", coding))["events"])
    text = await (await anna.request("GET", f"{coding}/events.csv?lang=nl")).text()
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[1][:5] == [
        "1.000",
        "initiative_teacher",
        "Initiatief van de leerkracht",
        "point",
        "point",
    ]
    boris = await (await anna.request("GET", f"{coding}/boris.tsv")).text()
    eaf = await (await anna.request("GET", f"{coding}/elan.eaf")).text()
    assert boris.startswith("Observation id\t") and "<ANNOTATION_DOCUMENT" in eaf

    # Onto a longer lesson: refused, both lengths named, no coding made.
    longer = "01JD0000000000000000000C03"
    await ready_lesson(unit, services, clock.now, tmp_path, longer, seconds=30)
    for fmt, content in (("boris", boris), ("elan", eaf)):
        body = {"format": fmt, "scheme_id": scheme_id, "content": content}
        answer = await anna.json("POST", f"/api/v1/lessons/{longer}/coding-imports", 422, json=body)
        assert answer["error"] == "import_length_mismatch"
        assert "20.0" in answer["message"] and "30.0" in answer["message"]
    assert services.db.execute(
        "SELECT COUNT(*) FROM codings WHERE recording_id = ?", [longer]
    ).fetchone() == (0,)
    await ready_lesson(unit, services, clock.now, tmp_path, SAME, seconds=20)
    for fmt, content in (("boris", boris), ("elan", eaf)):
        body = {"format": fmt, "scheme_id": scheme_id, "content": content}
        path = f"/api/v1/lessons/{SAME}/coding-imports"
        imported = await anna.json("POST", path, 201, json=body)
        assert shapes(imported["events"]) == events
        assert imported["coding"]["source"] == fmt
        await anna.json("DELETE", f"/api/v1/lessons/{SAME}/codings/{imported['coding']['id']}", 204)
    broken = {"format": "elan", "scheme_id": scheme_id, "content": eaf[:200]}
    await refused(
        anna, "POST", f"/api/v1/lessons/{SAME}/coding-imports", 422, "import_malformed", json=broken
    )


async def test_schemes_are_versioned_and_a_used_version_never_changes(
    anna: Person, lesson: str, sign_in: Callable[..., Awaitable[Person]], services: Services
) -> None:
    coach = await coach_on(anna, sign_in)
    mine = {
        "key": "talk",
        "en": "Talk",
        "nl": "Praten",
        "behaviours": [{"key": "asks", "shortcut": "q", "en": "Asks", "nl": "Vraagt"}],
    }
    await refused(
        anna, "POST", "/api/v1/coding-schemes", 403, "coaches_only", json={"definition": mine}
    )
    made = await coach.json("POST", "/api/v1/coding-schemes", 201, json={"definition": mine})
    first = made["scheme"]["id"]
    assert made["scheme"]["version"] == 1
    await refused(
        coach, "POST", "/api/v1/coding-schemes", 409, "scheme_key_taken", json={"definition": mine}
    )
    broken = {**mine, "behaviours": [{**mine["behaviours"][0], "type": "both"}]}
    await refused(
        coach,
        "PUT",
        f"/api/v1/coding-schemes/{first}",
        422,
        "scheme_invalid",
        json={"definition": broken},
    )
    renamed = {**mine, "en": "Talking"}
    await coach.json("PUT", f"/api/v1/coding-schemes/{first}", json={"definition": renamed})
    await refused(
        anna,
        "PUT",
        f"/api/v1/coding-schemes/{first}",
        403,
        "coaches_only",
        json={"definition": renamed},
    )
    coding = await coach.json("POST", f"{L}/codings", 201, json={"scheme_id": first})
    await coach.json(
        "POST", f"{L}/codings/{coding['coding']['id']}/events", json={"key": "q", "t": 1}
    )
    await refused(
        coach,
        "PUT",
        f"/api/v1/coding-schemes/{first}",
        409,
        "scheme_in_use",
        json={"definition": mine},
    )
    second = await coach.json(
        "POST", f"/api/v1/coding-schemes/{first}/versions", 201, json={"definition": mine}
    )
    assert second["scheme"]["version"] == 2 and second["scheme"]["key"] == "talk"
    kept = await coach.json("GET", f"{L}/codings/{coding['coding']['id']}")
    assert kept["coding"]["scheme"] == {"key": "talk", "version": 1}
    assert kept["scheme"]["en"] == "Talking"
    listed = (await coach.json("GET", "/api/v1/coding-schemes"))["schemes"]
    assert [(s["key"], s["version"]) for s in listed if s["origin"] == "coach"] == [("talk", 2)]
    default = next(s["id"] for s in listed if s["key"] == "contact")
    await refused(
        coach,
        "POST",
        f"/api/v1/coding-schemes/{default}/versions",
        403,
        "scheme_from_config",
        json={"definition": mine},
    )


async def test_a_configured_scheme_changed_in_place_after_codings_is_refused(
    anna: Person, lesson: str, services: Services
) -> None:
    scheme_id = await default_scheme(anna)
    await anna.json("POST", f"{L}/codings", 201, json={"scheme_id": scheme_id})
    changed = DEFAULT_SCHEME.model_copy(update={"en": "Contact"})
    with pytest.raises(DomainError) as caught:
        store.sync(services.db, changed, services.now())
    assert caught.value.code == "scheme_version_in_use"
    assert "version 2" in caught.value.message
    bumped = DEFAULT_SCHEME.model_copy(update={"en": "Contact", "version": 2})
    assert store.sync(services.db, bumped, services.now()) != scheme_id


async def test_the_openapi_document_lists_the_coding_routes_under_their_tag(
    anna: Person,
) -> None:
    doc = await anna.json("GET", "/api/v1/openapi.json")
    tagged = {
        (method.upper(), path)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if "coding" in op.get("tags", [])
    }
    for wanted in [
        ("GET", "/api/v1/coding-schemes"),
        ("POST", "/api/v1/lessons/{lesson_id}/codings/{coding_id}/events"),
        ("POST", "/api/v1/lessons/{lesson_id}/codings/{coding_id}/undo"),
        ("GET", "/api/v1/lessons/{lesson_id}/coding-agreement"),
        ("GET", "/api/v1/lessons/{lesson_id}/codings/{coding_id}/elan.eaf"),
        ("POST", "/api/v1/lessons/{lesson_id}/coding-imports"),
    ]:
        assert wanted in tagged
    assert len(tagged) == 20


async def test_a_coding_names_the_trajectory_its_lesson_is_in_and_goes_with_the_lesson(
    anna: Person, lesson: str, services: Services
) -> None:
    scheme_id = await default_scheme(anna)
    made = await anna.json("POST", f"{L}/codings", 201, json={"scheme_id": scheme_id})
    await anna.json("POST", f"{L}/codings/{made['coding']['id']}/events", json={"key": "r", "t": 1})
    assert (await anna.json("GET", f"{L}/codings"))["trajectory"] is None
    made = await anna.json("POST", "/api/v1/trajectories", 201, json=TRAJECTORY)
    path = f"/api/v1/trajectories/{made['trajectory']['id']}"
    await anna.json("POST", f"{path}/consent", 201, json={"given_on": "2026-10-30"})
    await anna.json("PUT", f"{path}/lessons/{RID}", 201)
    listed = await anna.json("GET", f"{L}/codings")
    assert listed["trajectory"]["id"] == made["trajectory"]["id"]
    await anna.json("DELETE", L, 204)
    for table in ("codings", "coding_events", "coding_undo"):
        assert services.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone() == (0,)  # noqa: S608
