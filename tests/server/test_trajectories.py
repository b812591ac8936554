"""Coaching trajectories: the pupil as a pseudonym only, members who accept, lessons that
members see and comment on while they are in an open trajectory, and nothing for anyone else."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from lessoncam_server.access.permissions import TrajectoryFacts, trajectory_access
from lessoncam_server.coaching.pupil import check_pupil
from lessoncam_server.coaching.rules import url_id
from lessoncam_server.infra.errors import Invalid
from lessoncam_server.infra.numbers import whole_number
from lessoncam_server.services import Services

from .helpers import FakeClock, Person, UnitClient
from .lesson_fixtures import assembled, ready_lesson, record, send_lesson

RID = "01JDTRJ0000000000000000001"
T = "/api/v1/trajectories"


def new_trajectory(**changes: Any) -> dict[str, Any]:
    """A trajectory as the teacher fills it in."""
    return {
        "title": "Rust in groep 5",
        "question": "How do I help Pupil A start on his own during independent work?",
        "pupil": {"label": "Pupil A", "group": "Groep 5", "birth_year": 2017},
        "support": "video_coach",
        "viewing_guide": "question",
        "viewing_question": "When does Pupil A start, and what did I do just before?",
        "start_date": "2026-11-02",
        "review_date": "2027-02-01",
        **changes,
    }


async def started(teacher: Person, **changes: Any) -> int:
    """The id of the teacher's new trajectory (``new_trajectory(**changes)``)."""
    made = await teacher.json("POST", T, 201, json=new_trajectory(**changes))
    return int(made["trajectory"]["id"])


async def consent(
    teacher: Person, tid: int, *watchers: str, research: bool = False, expect: int = 201
) -> Any:
    """The teacher records the parents' consent to recording, naming ``watchers``."""
    body = {"given_on": "2026-10-30", "watchers": list(watchers), "research": research}
    return await teacher.json("POST", f"{T}/{tid}/consent", expect, json=body)


async def trajectory_with(
    teacher: Person,
    *members: Person,
    named: tuple[str, ...] | None = None,
    research: bool = False,
    lesson: str | None = None,
) -> int:
    """The teacher's new trajectory with ``members`` (coaches) who accepted, the parents'
    consent naming ``named`` (all members when None), and ``lesson`` in it; its id."""
    tid = await started(teacher)
    for member in members:
        await teacher.json("POST", f"{T}/{tid}/members", 201, json={"username": member.username})
        await member.json("POST", f"{T}/{tid}/invitation", json={"accept": True})
    watchers = named if named is not None else tuple(m.username for m in members)
    await consent(teacher, tid, *watchers, research=research)
    if lesson is not None:
        await teacher.json("PUT", f"{T}/{tid}/lessons/{lesson}", 201)
    return tid


@pytest.mark.parametrize(
    "label", ["Pupil A", "Leerling B", "leerling 3", "Kind BK", "JK", "J.K.", "J. v.d. B.", "A"]
)
def test_a_pseudonym_is_accepted(label: str) -> None:
    assert check_pupil(label, "Groep 5", None, 2026).label == label


@pytest.mark.parametrize(
    "label", ["Jan", "Jan Jansen", "Pupil Ann", "Leerling Bram", "Ann.", "", "J.K. Jansen", "1234"]
)
def test_a_name_or_anything_else_is_refused(label: str) -> None:
    with pytest.raises(Invalid) as refused:
        check_pupil(label, "Groep 5", None, 2026)
    assert refused.value.code == "pupil_not_pseudonym"


def test_the_group_and_year_of_birth_are_checked() -> None:
    for group in ("Groep 5", "5B", "groep 4/5", "Group 7", "1/2", "klas 3"):
        assert check_pupil("Pupil A", group, None, 2026).group == group
    for group in ("Jan", "Groep Jansen", "", "de klas van juf Anna"):
        with pytest.raises(Invalid, match="group") as refused:
            check_pupil("Pupil A", group, None, 2026)
        assert refused.value.code == "pupil_group_invalid"
    assert check_pupil("Pupil A", "5", 2017, 2026).birth_year == 2017
    for year in (2025, 1990, 2030):
        with pytest.raises(Invalid) as refused:
            check_pupil("Pupil A", "5", year, 2026)
        assert refused.value.code == "birth_year_invalid"


def test_the_trajectory_policy() -> None:
    facts = TrajectoryFacts(
        teacher_id=1, status="running", members=frozenset({2}), invited=frozenset({3})
    )
    assert trajectory_access(1, facts).manage and trajectory_access(1, facts).contribute
    member = trajectory_access(2, facts)
    assert member.view and member.contribute and not member.manage
    invited = trajectory_access(3, facts)
    assert invited.respond and not invited.view
    other = trajectory_access(4, facts)
    assert (other.view, other.contribute, other.manage, other.respond) == (False,) * 4
    closed = TrajectoryFacts(
        teacher_id=1, status="closed", members=frozenset({2}), invited=frozenset({3})
    )
    assert trajectory_access(2, closed).view and not trajectory_access(2, closed).contribute
    assert not trajectory_access(3, closed).respond
    assert not trajectory_access(1, closed).contribute and trajectory_access(1, closed).manage


async def test_starting_a_trajectory_refuses_anything_but_a_pseudonym(
    anna: Person, admin: Person, services: Services
) -> None:
    made = await anna.json("POST", T, 201, json=new_trajectory())
    trajectory = made["trajectory"]
    assert trajectory["status"] == "intake" and trajectory["pupil"]["label"] == "Pupil A"
    assert trajectory["access"]["manage"] and trajectory["members"] == []
    named = new_trajectory(pupil={"label": "Jan Jansen", "group": "Groep 5"})
    assert (await anna.json("POST", T, 422, json=named))["error"] == "pupil_not_pseudonym"
    extra = new_trajectory(pupil={"label": "Pupil B", "group": "5", "name": "Jan Jansen"})
    assert (await anna.json("POST", T, 400, json=extra))["error"] == "invalid_body"
    photo = {**new_trajectory(), "photo": "data:image/jpeg;base64,AAAA"}
    assert (await anna.json("POST", T, 400, json=photo))["error"] == "invalid_body"
    backwards = new_trajectory(review_date="2026-10-01")
    assert (await anna.json("POST", T, 422, json=backwards))["error"] == "review_before_start"
    blank = new_trajectory(title="  ")
    assert (await anna.json("POST", T, 422, json=blank))["error"] == "title_empty"
    odd = new_trajectory(support="astrologer")
    assert (await anna.json("POST", T, 422, json=odd))["error"] == "support_invalid"
    no_question = new_trajectory(viewing_question="")
    assert (await anna.json("POST", T, 422, json=no_question))["error"] == (
        "viewing_question_empty"
    )
    assert (await admin.json("POST", T, 403, json=new_trajectory()))["error"] == "forbidden"
    count = services.db.execute("SELECT COUNT(*) FROM trajectories").fetchone()[0]
    assert count == 1  # nothing half stored

    # Changing it is checked the same way; the rest stays.
    path = f"{T}/{trajectory['id']}"
    changed = await anna.json(
        "PATCH", path, json={"title": "Rust", "pupil": {"label": "P.", "group": "5"}}
    )
    assert changed["trajectory"]["title"] == "Rust"
    assert changed["trajectory"]["question"] == trajectory["question"]
    bad = {"pupil": {"label": "Pieter", "group": "5"}}
    assert (await anna.json("PATCH", path, 422, json=bad))["error"] == "pupil_not_pseudonym"


async def _lesson(unit: UnitClient, services: Services, clock: FakeClock, tmp: Path) -> str:
    await ready_lesson(unit, services, clock.now, tmp, RID, seconds=10)
    return RID


@pytest.fixture
async def lesson(
    anna: Person, unit: UnitClient, services: Services, clock: FakeClock, tmp_path: Path
) -> str:
    """Anna's ready 10 s lesson, recorded on her unit; its id."""
    return await _lesson(unit, services, clock, tmp_path)


@pytest.fixture
async def coach(sign_in: Callable[..., Awaitable[Person]]) -> Person:
    return await sign_in("coach", "coach")


@pytest.fixture
async def bert(sign_in: Callable[..., Awaitable[Person]]) -> Person:
    """Another teacher."""
    return await sign_in("bert")


async def test_members_see_and_comment_on_its_lessons_until_they_leave(
    anna: Person,
    admin: Person,
    coach: Person,
    bert: Person,
    lesson: str,
    sign_in: Callable[..., Awaitable[Person]],
    services: Services,
) -> None:
    carl = await sign_in("carl")
    made = await anna.json("POST", T, 201, json=new_trajectory())
    tid = made["trajectory"]["id"]
    path = f"{T}/{tid}"

    # Invited, not yet accepted: the title only, and no lesson.
    invited = await anna.json("POST", f"{path}/members", 201, json={"username": "coach"})
    assert invited["member"]["state"] == "invited" and invited["member"]["role"] == "coach"
    await anna.json("POST", f"{path}/members", 201, json={"username": "bert", "role": "colleague"})
    await consent(anna, tid, "coach", "bert")
    await anna.json("PUT", f"{path}/lessons/{lesson}", 201)
    await anna.json("PUT", f"{path}/lessons/{lesson}", 200)  # in it already
    listing = await coach.json("GET", T)
    assert [t["title"] for t in listing["invitations"]] == ["Rust in groep 5"]
    seen = (await coach.json("GET", path))["trajectory"]
    assert seen["title"] == "Rust in groep 5" and "pupil" not in seen and "question" not in seen
    assert seen["access"]["respond"] and not seen["access"]["view"]
    await coach.json("GET", f"/api/v1/lessons/{lesson}", 404)
    assert (await coach.json("GET", f"{path}/lessons", 403))["error"] == "forbidden"

    # Accepted: the coach sees the pupil, the lesson (in her library too) and comments on it.
    await coach.json("POST", f"{path}/invitation", json={"accept": True})
    seen = (await coach.json("GET", path))["trajectory"]
    assert seen["pupil"]["label"] == "Pupil A" and seen["access"]["contribute"]
    assert seen["record_new"] is None  # the teacher's own setting
    library = await coach.json("GET", "/api/v1/lessons")
    assert [x["id"] for x in library["lessons"]] == [lesson]
    assert library["lessons"][0]["access"] == {"view": True, "comment": True, "manage": False}
    assert (await coach.json("GET", f"{path}/lessons"))["total"] == 1
    await coach.json(
        "POST", f"/api/v1/lessons/{lesson}/comments", 201, json={"body": "Zie 0:03", "start_s": 3}
    )
    await coach.json("PATCH", f"/api/v1/lessons/{lesson}", 403, json={"title": "x"})
    await coach.json("GET", f"/api/v1/lessons/{lesson}/shares", 403)
    # Bert declines: nothing; Carl was never invited: nothing, as if it did not exist.
    await bert.json("POST", f"{path}/invitation", json={"accept": False})
    await bert.json("GET", path, 404)
    await bert.json("GET", f"/api/v1/lessons/{lesson}", 404)
    await bert.json("POST", f"{path}/invitation", 404, json={"accept": True})
    await carl.json("GET", path, 404)
    await carl.json("GET", f"/api/v1/lessons/{lesson}", 404)
    # The admin sees nothing she was not given, and cannot be invited.
    await admin.json("GET", path, 404)
    await admin.json("GET", f"/api/v1/lessons/{lesson}", 404)
    refused = await anna.json("POST", f"{path}/members", 422, json={"username": "ict-admin"})
    assert refused["error"] == "member_admin"
    again = await anna.json("POST", f"{path}/members", 409, json={"username": "coach"})
    assert again["error"] == "member_already"

    # The coach leaves: the page and the lesson are gone for her at once.
    await coach.json("DELETE", f"{path}/membership", 204)
    await coach.json("GET", path, 404)
    await coach.json("GET", f"/api/v1/lessons/{lesson}", 404)
    assert (await coach.json("GET", "/api/v1/lessons"))["total"] == 0
    await coach.json("DELETE", f"{path}/membership", 404)
    assert (await anna.json("DELETE", f"{path}/membership", 403))["error"] == "forbidden"

    # Invited again, she accepts; the teacher removes her: gone again.
    await anna.json("POST", f"{path}/members", 201, json={"username": "coach"})
    await coach.json("POST", f"{path}/invitation", json={"accept": True})
    await coach.json("GET", f"/api/v1/lessons/{lesson}")
    states = {
        (m["username"], m["state"]) for m in (await anna.json("GET", path))["trajectory"]["members"]
    }
    assert states == {("coach", "left"), ("coach", "member"), ("bert", "declined")}
    member_id = next(
        m["id"]
        for m in (await anna.json("GET", path))["trajectory"]["members"]
        if m["state"] == "member"
    )
    await coach.json("DELETE", f"{path}/members/{member_id}", 403)
    await anna.json("DELETE", f"{path}/members/{member_id}", 204)
    await anna.json("DELETE", f"{path}/members/{member_id}", 404)
    await coach.json("GET", f"/api/v1/lessons/{lesson}", 404)

    audited = [
        (row[0], row[1])
        for row in services.db.execute(
            "SELECT action, actor_name FROM audit WHERE object_kind = 'trajectory'"
            " AND outcome = 'ok' ORDER BY id"
        ).fetchall()
    ]
    assert audited == [
        ("trajectory_create", "anna"),
        ("trajectory_invite", "anna"),
        ("trajectory_invite", "anna"),
        ("consent_record", "anna"),
        ("trajectory_accept", "coach"),
        ("trajectory_decline", "bert"),
        ("trajectory_leave", "coach"),
        ("trajectory_invite", "anna"),
        ("trajectory_accept", "coach"),
        ("trajectory_remove", "anna"),
    ]
    links = services.db.execute("SELECT COUNT(*) FROM audit WHERE action = 'lesson_link'")
    assert links.fetchone()[0] == 1


async def test_closing_ends_the_members_access_to_the_lessons(
    anna: Person, coach: Person, lesson: str
) -> None:
    tid = await trajectory_with(anna, coach, lesson=lesson)
    path = f"{T}/{tid}"
    await coach.json("GET", f"/api/v1/lessons/{lesson}")
    assert (await coach.json("POST", f"{path}/status", 403, json={"status": "running"}))[
        "error"
    ] == "forbidden"

    running = await anna.json("POST", f"{path}/status", json={"status": "running"})
    assert running["trajectory"]["status"] == "running"
    back = await anna.json("POST", f"{path}/status", 409, json={"status": "intake"})
    assert back["error"] == "status_change"
    mute = await anna.json("POST", f"{path}/status", 422, json={"status": "closed"})
    assert mute["error"] == "closing_note_empty"
    closed = await anna.json(
        "POST", f"{path}/status", json={"status": "closed", "closing_note": "Pupil A starts alone."}
    )
    assert closed["trajectory"]["closing_note"] == "Pupil A starts alone."

    # The coach keeps the page, read-only, but not the lesson.
    seen = (await coach.json("GET", path))["trajectory"]
    assert seen["status"] == "closed" and not seen["access"]["contribute"]
    await coach.json("GET", f"/api/v1/lessons/{lesson}", 404)
    assert (await coach.json("GET", f"{path}/lessons"))["total"] == 0
    # Nothing changes in a closed trajectory, but a lesson can still be taken out.
    assert (await anna.json("PATCH", path, 409, json={"title": "x"}))["error"] == (
        "trajectory_closed"
    )
    invite = {"username": "coach"}
    assert (await anna.json("POST", f"{path}/members", 409, json=invite))["error"] == (
        "trajectory_closed"
    )
    await anna.json("DELETE", f"{path}/lessons/{lesson}", 204)
    relink = await anna.json("PUT", f"{path}/lessons/{lesson}", 409)
    assert relink["error"] == "trajectory_closed"
    await anna.json("DELETE", f"{path}/lessons/{lesson}", 404)


async def test_only_the_teachers_own_lessons_go_in_one_trajectory_at_a_time(
    anna: Person, bert: Person, lesson: str, services: Services
) -> None:
    mine, other, berts = await started(anna), await started(anna, title="Two"), await started(bert)
    for teacher, tid in ((anna, mine), (anna, other), (bert, berts)):
        await consent(teacher, tid)
    await anna.json("PUT", f"{T}/{mine}/lessons/{lesson}", 201)
    moved = await anna.json("PUT", f"{T}/{other}/lessons/{lesson}", 409)
    assert moved["error"] == "lesson_in_other_trajectory"
    # Someone else's trajectory: as if it did not exist. A lesson shared with Bert is still not
    # his to put into his own trajectory.
    await anna.json("PUT", f"{T}/{berts}/lessons/{lesson}", 404)
    await anna.json("POST", f"/api/v1/lessons/{lesson}/shares", 201, json={"username": "bert"})
    assert (await bert.json("PUT", f"{T}/{berts}/lessons/{lesson}", 403))["error"] == "forbidden"
    await bert.json("PUT", f"{T}/{berts}/lessons/01JDTRJ0000000000000000999", 404)
    await bert.json("DELETE", f"{T}/{mine}/lessons/{lesson}", 404)
    rows = services.db.execute("SELECT recording_id, trajectory_id FROM trajectory_lessons")
    assert rows.fetchall() == [(lesson, mine)]


async def test_lessons_go_into_the_trajectory_the_claim_or_the_teacher_chose(
    anna: Person,
    bert: Person,
    unit: UnitClient,
    services: Services,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    segments = record(tmp_path, seconds=10)
    default_id = await started(anna, record_new=True)
    named_id = await started(anna, title="Named")
    berts = await started(bert, title="Bert's")
    for teacher, tid in ((anna, default_id), (anna, named_id), (bert, berts)):
        await consent(teacher, tid)

    # On her own unit, without a claim: the trajectory she chose for new recordings.
    await send_lesson(unit, "01JDTRJ0000000000000000010", clock.now, segments)
    # A claim that names a trajectory: that one.
    claim = {"unit_id": unit.unit_id, "trajectory_id": named_id}
    made = await anna.json("POST", "/api/v1/unit-claims", 201, json=claim)
    assert made["claim"]["trajectory_id"] == named_id
    clock.advance(minutes=1)
    await send_lesson(unit, "01JDTRJ0000000000000000011", clock.now, segments)
    await anna.json("DELETE", f"/api/v1/unit-claims/{unit.unit_id}", 204)
    # Bert claims it and names Anna's trajectory: refused; his own: fine.
    wrong = {"unit_id": unit.unit_id, "trajectory_id": default_id}
    assert (await bert.json("POST", "/api/v1/unit-claims", 422, json=wrong))["error"] == (
        "trajectory_not_yours"
    )
    await bert.json(
        "POST",
        "/api/v1/unit-claims",
        201,
        json={**wrong, "trajectory_id": berts},
    )
    seen = await anna.json("GET", "/api/v1/unit-claims")
    assert seen["units"][0]["claim"]["trajectory_id"] is None  # not hers to know
    clock.advance(minutes=1)
    await send_lesson(unit, "01JDTRJ0000000000000000012", clock.now, segments)
    await bert.json("DELETE", f"/api/v1/unit-claims/{unit.unit_id}", 204)
    # Closed, the chosen trajectory takes nothing more.
    note = {"status": "closed", "closing_note": "done"}
    await anna.json("POST", f"{T}/{default_id}/status", json=note)
    clock.advance(minutes=1)
    await send_lesson(unit, "01JDTRJ0000000000000000013", clock.now, segments)
    await assembled(services)
    links = dict(services.db.execute("SELECT recording_id, trajectory_id FROM trajectory_lessons"))
    assert links == {
        "01JDTRJ0000000000000000010": default_id,
        "01JDTRJ0000000000000000011": named_id,
        "01JDTRJ0000000000000000012": berts,
    }


async def test_a_new_choice_for_new_recordings_replaces_the_old_one(
    anna: Person, services: Services
) -> None:
    first = (await anna.json("POST", T, 201, json=new_trajectory(record_new=True)))["trajectory"]
    second = (await anna.json("POST", T, 201, json=new_trajectory(record_new=True)))["trajectory"]
    rows = dict(services.db.execute("SELECT id, record_new FROM trajectories"))
    assert rows == {first["id"]: 0, second["id"]: 1}
    await anna.json("PATCH", f"{T}/{first['id']}", json={"record_new": True})
    rows = dict(services.db.execute("SELECT id, record_new FROM trajectories"))
    assert rows == {first["id"]: 1, second["id"]: 0}


async def test_no_lesson_goes_in_before_the_parents_consent(
    anna: Person,
    unit: UnitClient,
    services: Services,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    tid = await started(anna, record_new=True)
    lesson = await _lesson(unit, services, clock, tmp_path)  # arrives: no consent, stays out
    assert services.db.execute("SELECT COUNT(*) FROM trajectory_lessons").fetchone()[0] == 0
    refused = await anna.json("PUT", f"{T}/{tid}/lessons/{lesson}", 409)
    assert refused["error"] == "consent_missing"
    claim = {"unit_id": unit.unit_id, "trajectory_id": tid}
    assert (await anna.json("POST", "/api/v1/unit-claims", 409, json=claim))["error"] == (
        "consent_missing"
    )
    # A consent must be to recording, given in the past, and name only invited people.
    body = {"given_on": "2026-10-30", "recording": False}
    no_recording = await anna.json("POST", f"{T}/{tid}/consent", 422, json=body)
    assert no_recording["error"] == "consent_recording_required"
    future = await anna.json("POST", f"{T}/{tid}/consent", 422, json={"given_on": "2026-11-03"})
    assert future["error"] == "consent_date_future"
    stranger = await consent(anna, tid, "nobody", expect=422)
    assert stranger["error"] == "consent_watcher_unknown"
    assert services.db.execute("SELECT COUNT(*) FROM trajectory_consents").fetchone()[0] == 0
    assert (await anna.json("GET", f"{T}/{tid}/consent"))["consent"] is None
    given = await consent(anna, tid, research=True)
    assert given["consent"]["recording"] and given["consent"]["research"]
    assert given["consent"]["recorded_by"] == "anna" and given["consent"]["watchers"] == []
    await anna.json("PUT", f"{T}/{tid}/lessons/{lesson}", 201)


async def test_the_consent_names_who_may_watch_and_its_withdrawal_takes_effect_at_once(
    anna: Person, coach: Person, bert: Person, lesson: str, services: Services
) -> None:
    tid = await trajectory_with(anna, coach, bert, named=("coach",), lesson=lesson)
    path = f"{T}/{tid}"
    # The consent names the coach, not Bert: Bert is a member but does not see the lesson.
    await coach.json("GET", f"/api/v1/lessons/{lesson}")
    await bert.json("GET", f"/api/v1/lessons/{lesson}", 404)
    seen = (await bert.json("GET", path))["trajectory"]
    assert [w["username"] for w in seen["consent"]["watchers"]] == ["coach"]
    assert "note" not in seen["consent"]  # the teacher's own
    # A new record replaces it: now Bert, not the coach, at once.
    await consent(anna, tid, "bert")
    await coach.json("GET", f"/api/v1/lessons/{lesson}", 404)
    await bert.json("GET", f"/api/v1/lessons/{lesson}")
    history = (await anna.json("GET", f"{path}/consent"))["history"]
    assert [c["ended_how"] for c in history] == [None, "replaced"]
    assert (await bert.json("GET", f"{path}/consent"))["history"] == []

    # Withdrawn, lessons taken out: out of the trajectory at once, kept for the teacher.
    choice = {"lessons": "keep"}
    assert (await anna.json("POST", f"{path}/consent/withdrawal", 422, json=choice))["error"] == (
        "withdrawal_choice"
    )
    out = await anna.json("POST", f"{path}/consent/withdrawal", json={"lessons": "take_out"})
    assert out == {"taken_out": [lesson], "deleted": []}
    await bert.json("GET", f"/api/v1/lessons/{lesson}", 404)
    await anna.json("GET", f"/api/v1/lessons/{lesson}")
    again = await anna.json("POST", f"{path}/consent/withdrawal", 409, json={"lessons": "delete"})
    assert again["error"] == "consent_missing"
    assert (await anna.json("PUT", f"{path}/lessons/{lesson}", 409))["error"] == "consent_missing"

    # Recorded again and withdrawn with deletion: the lesson and its clip are gone, files too.
    await consent(anna, tid, "bert")
    await anna.json("PUT", f"{path}/lessons/{lesson}", 201)
    clip = await anna.json(
        "POST", f"/api/v1/lessons/{lesson}/clips", 202, json={"start_s": 1, "end_s": 4}
    )
    await assembled(services)
    gone = await anna.json("POST", f"{path}/consent/withdrawal", json={"lessons": "delete"})
    assert gone == {"taken_out": [], "deleted": [lesson, clip["clip"]["id"]]}
    await anna.json("GET", f"/api/v1/lessons/{lesson}", 404)
    assert not services.paths.recording_dir(lesson).exists()
    actions = [
        row[0]
        for row in services.db.execute(
            "SELECT action FROM audit WHERE action LIKE 'consent_%' ORDER BY id"
        ).fetchall()
    ]
    assert actions == [
        "consent_record",
        "consent_record",
        "consent_withdraw",
        "consent_record",
        "consent_withdraw",
    ]
    replaced = services.db.execute(
        "SELECT detail FROM audit WHERE action = 'consent_record' ORDER BY id"
    ).fetchall()
    assert ['"replaced": true' in row[0] for row in replaced] == [False, True, False]


def test_whole_numbers_are_written_in_ascii_digits() -> None:
    assert whole_number("42", 2) == 42 and whole_number("-3", 2, signed=True) == -3
    # str.isdigit() says yes to these, int() refuses the first two and reads the third.
    for text in ("\u00b9", "\u00b2", "\u0663", "123", "", "-", "4 2", "-3"):
        assert whole_number(text, 2) is None, text
    assert url_id("\u00b9") == 0 and url_id("17") == 17


async def test_ids_that_are_no_numbers_are_refused_not_a_server_error(anna: Person) -> None:
    tid = await started(anna)
    for path in (f"{T}/%C2%B9", f"{T}/%C2%B9/lessons", f"{T}/{tid}/measures/%C2%B2"):
        method = "DELETE" if "measures" in path else "GET"
        response = await anna.request(method, path)
        assert response.status == 404, path
    refused = await anna.json("POST", f"{T}/%C2%B9/invitation", 404, json={"accept": True})
    assert refused["error"] == "not_found"
