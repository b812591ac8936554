"""Comments: moments and fragments, replies, private notes, tags, bad input, CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from lessoncam_server.services import Services

from .helpers import FakeClock, Person, UnitClient, manifest
from .lesson_fixtures import ready_lesson

RID = "01JD0000000000000000000010"
OTHER = "01JD0000000000000000000011"
L = f"/api/v1/lessons/{RID}"


@pytest.fixture
async def lesson(
    anna: Person, unit: UnitClient, services: Services, clock: FakeClock, tmp_path: Path
) -> str:
    await ready_lesson(unit, services, clock.now, tmp_path, RID, seconds=20)
    return RID


async def shared_with(
    anna: Person, sign_in: Callable[..., Awaitable[Person]], name: str, role: str
) -> Person:
    person = await sign_in(name)
    await anna.json("POST", f"{L}/shares", 201, json={"username": name, "role": role})
    return person


async def comments_of(person: Person) -> list[dict[str, Any]]:
    body = await person.json("GET", f"{L}/comments")
    threads: list[dict[str, Any]] = body["comments"]
    assert body["count"] == sum(1 + len(t["replies"]) for t in threads)
    return threads


async def test_moments_fragments_replies_and_private_notes(
    anna: Person, lesson: str, sign_in: Callable[..., Awaitable[Person]]
) -> None:
    coach = await shared_with(anna, sign_in, "coach", "commenter")
    viewer = await shared_with(anna, sign_in, "viewer", "viewer")

    moment = await anna.json(
        "POST",
        f"{L}/comments",
        201,
        json={"body": "Here she checks understanding", "start_s": 12.5, "tags": ["instruction"]},
    )
    assert moment["comment"]["start_s"] == 12.5 and moment["comment"]["end_s"] is None
    assert moment["comment"]["tags"] == [
        {"key": "instruction", "en": "Instruction", "nl": "Instructie"}
    ]
    await anna.json(
        "POST", f"{L}/comments", 201, json={"body": "Group work", "start_s": 3, "end_s": 9.25}
    )
    await anna.json(
        "POST",
        f"{L}/comments",
        201,
        json={"body": "Note to self: slower", "start_s": 4, "visibility": "private"},
    )
    reply = await coach.json(
        "POST",
        f"{L}/comments",
        201,
        json={"body": "Agreed, nice wait time", "parent_id": moment["comment"]["id"]},
    )
    assert reply["comment"]["start_s"] == 12.5  # a reply sits where its thread sits
    # A reply to a reply joins the thread (one level of replies).
    again = await anna.json(
        "POST", f"{L}/comments", 201, json={"body": "Thanks!", "parent_id": reply["comment"]["id"]}
    )
    assert again["comment"]["parent_id"] == moment["comment"]["id"]
    await coach.json(
        "POST",
        f"{L}/comments",
        201,
        json={"body": "coach's own note", "start_s": 1, "visibility": "private"},
    )

    mine = await comments_of(anna)
    assert [c["body"] for c in mine] == [
        "Group work",
        "Note to self: slower",
        "Here she checks understanding",
    ]
    assert mine[0]["end_s"] == 9.25
    assert [r["body"] for r in mine[2]["replies"]] == ["Agreed, nice wait time", "Thanks!"]
    assert mine[2]["replies"][0]["author"]["username"] == "coach"
    assert mine[2]["replies"][0]["can_delete"] and not mine[2]["replies"][0]["can_edit"]

    seen_by_coach = await comments_of(coach)
    assert [c["body"] for c in seen_by_coach] == [
        "coach's own note",
        "Group work",
        "Here she checks understanding",
    ]
    seen_by_viewer = await comments_of(viewer)
    assert [c["body"] for c in seen_by_viewer] == ["Group work", "Here she checks understanding"]
    assert not any(c["can_edit"] or c["can_delete"] for c in seen_by_viewer)

    # Counts in the library respect private notes too.
    counts = {p.username: (await p.json("GET", L))["comment_count"] for p in (anna, coach, viewer)}
    assert counts == {"anna": 5, "coach": 5, "viewer": 4}


@pytest.mark.slow
async def test_bad_input_is_refused_with_a_code_and_nothing_is_stored(
    anna: Person,
    lesson: str,
    unit: UnitClient,
    services: Services,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    await ready_lesson(unit, services, clock.now, tmp_path, OTHER, seconds=10)
    elsewhere = await anna.json(
        "POST", f"/api/v1/lessons/{OTHER}/comments", 201, json={"body": "x", "start_s": 1}
    )
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"body": "late", "start_s": 20.5}, 422, "time_past_end"),
        ({"body": "late", "start_s": 2, "end_s": 60}, 422, "time_past_end"),
        ({"body": "early", "start_s": -1}, 422, "time_negative"),
        ({"body": "backwards", "start_s": 8, "end_s": 4}, 422, "end_before_start"),
        ({"body": "zero", "start_s": 8, "end_s": 8}, 422, "end_before_start"),
        ({"body": "   ", "start_s": 1}, 422, "comment_empty"),
        ({"body": "x" * 50_000, "start_s": 1}, 422, "comment_too_long"),
        ({"body": "x" * 5001, "start_s": 1}, 422, "comment_too_long"),
        ({"body": "tag", "start_s": 1, "tags": ["gossip"]}, 422, "unknown_tag"),
        ({"body": "vis", "start_s": 1, "visibility": "public"}, 422, "visibility_invalid"),
        ({"body": "when?"}, 422, "time_required"),
        (
            {"body": "wrong lesson", "parent_id": elsewhere["comment"]["id"]},
            422,
            "parent_not_found",
        ),
        ({"body": "no such", "parent_id": 999999}, 422, "parent_not_found"),
        ({"body": "typed", "start_s": "soon"}, 400, "invalid_body"),
        ({"body": "extra", "start_s": 1, "colour": "red"}, 400, "invalid_body"),
    ]
    for body, status, code in cases:
        answer = await anna.json("POST", f"{L}/comments", status, json=body)
        assert answer["error"] == code, (body, answer)
        assert answer["message"] and "Traceback" not in answer["message"]
    assert await comments_of(anna) == []
    # Exactly at the end, and a hair past it (the player's rounding), are the end.
    last = await anna.json("POST", f"{L}/comments", 201, json={"body": "end", "start_s": 20.1})
    assert last["comment"]["start_s"] == pytest.approx(20.0, abs=0.05)
    big = await anna.json("POST", f"{L}/comments", 201, json={"body": "y" * 5000, "start_s": 1})
    assert len(big["comment"]["body"]) == 5000


@pytest.mark.slow
async def test_editing_and_deleting(
    anna: Person, lesson: str, sign_in: Callable[..., Awaitable[Person]], services: Services
) -> None:
    coach = await shared_with(anna, sign_in, "coach", "commenter")
    colleague = await shared_with(anna, sign_in, "colleague", "commenter")
    viewer = await shared_with(anna, sign_in, "viewer", "viewer")
    own = (await coach.json("POST", f"{L}/comments", 201, json={"body": "hm", "start_s": 2}))[
        "comment"
    ]
    reply = await colleague.json(
        "POST", f"{L}/comments", 201, json={"body": "indeed", "parent_id": own["id"]}
    )
    url = f"{L}/comments/{own['id']}"

    edited = await coach.json(
        "PATCH", url, json={"body": "Hm, look here", "start_s": 5, "end_s": 7, "tags": ["feedback"]}
    )
    assert edited["comment"]["body"] == "Hm, look here" and edited["comment"]["edited_at"]
    assert (edited["comment"]["start_s"], edited["comment"]["end_s"]) == (5, 7)
    threads = await comments_of(anna)
    assert threads[0]["replies"][0]["start_s"] == 5  # the reply moved with its thread
    moment = await coach.json("PATCH", url, json={"end_s": None})
    assert moment["comment"]["end_s"] is None and moment["comment"]["start_s"] == 5

    # Not the author: no edits; the owner may delete, another commenter may not.
    for person in (anna, colleague):
        answer = await person.json("PATCH", url, 403, json={"body": "mine now"})
        assert answer["error"] == "not_author"
    assert (await viewer.json("PATCH", url, 403, json={"body": "x"}))["error"] == "forbidden"
    assert (await colleague.json("DELETE", url, 403))["error"] == "not_author"
    assert (await viewer.json("DELETE", url, 403))["error"] == "not_author"
    # Others replied: it cannot become private any more.
    assert (await coach.json("PATCH", url, 409, json={"visibility": "private"}))[
        "error"
    ] == "has_replies"
    for body, code in (({"body": ""}, "comment_empty"), ({"start_s": 99}, "time_past_end")):
        assert (await coach.json("PATCH", url, 422, json=body))["error"] == code
    reply_url = f"{L}/comments/{reply['comment']['id']}"
    assert (await colleague.json("PATCH", reply_url, 422, json={"start_s": 1}))[
        "error"
    ] == "reply_time"

    # Private notes of others do not exist for anyone else, the owner included.
    note = (
        await coach.json(
            "POST", f"{L}/comments", 201, json={"body": "n", "start_s": 1, "visibility": "private"}
        )
    )["comment"]
    for person in (anna, colleague):
        assert (await person.json("DELETE", f"{L}/comments/{note['id']}", 404))["error"] == (
            "not_found"
        )
        await person.json(
            "POST", f"{L}/comments", 422, json={"body": "re", "parent_id": note["id"]}
        )
    await anna.json("DELETE", url, 204)  # the owner removes the thread, replies included
    assert [c["body"] for c in await comments_of(coach)] == ["n"]
    await coach.json("DELETE", f"{L}/comments/{note['id']}", 204)
    assert services.db.execute("SELECT COUNT(*) FROM comments").fetchone()[0] == 0
    actions = [
        r[0]
        for r in services.db.execute(
            "SELECT action FROM audit WHERE action LIKE 'comment%' ORDER BY id"
        ).fetchall()
    ]
    assert actions.count("comment_delete") == 2 and "comment_update" in actions
    assert (await anna.json("DELETE", f"{L}/comments/abc", 404))["error"] == "not_found"


@pytest.mark.slow
async def test_csv_export_is_safe_and_respects_private_notes(
    anna: Person, lesson: str, sign_in: Callable[..., Awaitable[Person]]
) -> None:
    coach = await shared_with(anna, sign_in, "coach", "commenter")
    await anna.json(
        "POST",
        f"{L}/comments",
        201,
        json={"body": '=HYPERLINK("http://evil.example","click")', "start_s": 61 / 4},
    )
    await anna.json(
        "POST",
        f"{L}/comments",
        201,
        json={
            "body": "Klassenmanagement, goed",
            "start_s": 2,
            "end_s": 4,
            "tags": ["classroom_management"],
        },
    )
    await coach.json(
        "POST",
        f"{L}/comments",
        201,
        json={"body": "+secret", "start_s": 1, "visibility": "private"},
    )

    response = await anna.request("GET", f"{L}/comments.csv?lang=nl&sep=semicolon")
    assert response.status == 200 and response.content_type == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = await response.text()
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert rows[0][:3] == ["tijd", "einde", "auteur"]
    assert [r[0] for r in rows[1:]] == ["0:02", "0:15"]
    assert rows[1][4] == "Klassenmanagement" and rows[1][1] == "0:04"
    assert rows[2][6] == '\'=HYPERLINK("http://evil.example","click")'
    assert "secret" not in text

    coach_rows = list(
        csv.reader(io.StringIO(await (await coach.request("GET", f"{L}/comments.csv")).text()))
    )
    assert coach_rows[0][0].lstrip("\ufeff") == "time"
    # Her own private note only when she asks for it (exports are handed to others).
    assert [r[6] for r in coach_rows[1:]] == ["Klassenmanagement, goed", rows[2][6]]
    asked = await coach.request("GET", f"{L}/comments.csv?private=true")
    coach_rows = list(csv.reader(io.StringIO(await asked.text())))
    assert [r[6] for r in coach_rows[1:]] == ["'+secret", "Klassenmanagement, goed", rows[2][6]]
    bad = await anna.request("GET", f"{L}/comments.csv?lang=fr")
    assert bad.status == 400 and (await bad.json())["error"] == "invalid_query"


@pytest.mark.slow
async def test_exports_leave_my_private_notes_out_unless_i_ask(anna: Person, lesson: str) -> None:
    """The owner's own CSV export and printable page: her private notes, and private replies
    in a shared thread, only when she ticks "include my private notes"."""
    shared = await anna.json("POST", f"{L}/comments", 201, json={"body": "Shared", "start_s": 1})
    await anna.json(
        "POST",
        f"{L}/comments",
        201,
        json={"body": "Note to self", "start_s": 2, "visibility": "private"},
    )
    await anna.json(
        "POST",
        f"{L}/comments",
        201,
        json={
            "body": "Private reply",
            "parent_id": shared["comment"]["id"],
            "visibility": "private",
        },
    )

    async def exported(query: str) -> list[str]:
        text = await (await anna.request("GET", f"{L}/comments.csv{query}")).text()
        return [row[6] for row in csv.reader(io.StringIO(text.lstrip("\ufeff")))][1:]

    assert await exported("") == ["Shared"]
    assert await exported("?private=false") == ["Shared"]
    assert await exported("?private=true") == ["Shared", "Private reply", "Note to self"]


async def test_a_lesson_still_uploading_takes_no_comments_or_clips(
    anna: Person, unit: UnitClient, clock: FakeClock
) -> None:
    await unit.json("PUT", f"/api/v1/recordings/{OTHER}", 201, json=manifest(OTHER, clock.now))
    path = f"/api/v1/lessons/{OTHER}"
    answer = await anna.json("POST", f"{path}/comments", 409, json={"body": "x", "start_s": 1})
    assert answer["error"] == "lesson_not_ready"
    clip = await anna.json("POST", f"{path}/clips", 409, json={"start_s": 1, "end_s": 3})
    assert clip["error"] == "lesson_not_ready"
    assert (await anna.json("GET", f"{path}/comments"))["comments"] == []
