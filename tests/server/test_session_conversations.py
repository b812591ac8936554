"""A watch-together session written down as a trajectory's conversation: the rules
(``coaching/from_session.py``) and the route, with its refusals (not a member, not present,
another lesson, twice, a closed trajectory) and what the timeline then shows."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from lessoncam_server.coaching import research
from lessoncam_server.coaching.fragments import MAX_FRAGMENTS
from lessoncam_server.coaching.from_session import (
    MOMENT_SPAN_S,
    Attendee,
    SessionComment,
    day_of,
    minutes_of,
    proposal,
    spans_of,
)
from lessoncam_server.lessons.watching.rooms import WATCH_ROOMS, Rooms
from lessoncam_server.services import Services

from .helpers import FakeClock, Person, UnitClient
from .lesson_fixtures import ready_lesson
from .test_trajectories import T, trajectory_with
from .test_watch_together import closed, connect, until

RID = "01JDCNV0000000000000000001"
OTHER = "01JDCNV0000000000000000002"
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def attendee(uid: int, present_s: float, *, joined: bool = True) -> Attendee:
    return Attendee(uid, f"u{uid}", f"User {uid}", present_s, joined)


def test_the_participants_are_the_people_present_who_are_in_the_trajectory() -> None:
    made = proposal(
        started_at=datetime(2026, 11, 2, 14, 0, tzinfo=UTC),
        zone=AMSTERDAM,
        today=date(2026, 11, 3),
        attendees=[
            attendee(1, 1510.0),  # the teacher
            attendee(2, 1490.0),  # the coach
            attendee(3, 1700.0),  # a colleague the lesson is shared with, not a member
            attendee(4, 0.0, joined=False),  # a member invited who never came
        ],
        in_trajectory={1, 2, 4},
        comments=[
            SessionComment(2, 12.0, None),
            SessionComment(1, 30.0, 45.5),
            SessionComment(3, 50.0, 60.0),  # the colleague's: not in the conversation
        ],
        duration_s=600.0,
    )
    assert made.participants == ("u1", "u2")
    assert made.minutes == 25  # the longest a participant was present: 25 min 10 s
    assert made.held_on == date(2026, 11, 2)
    assert made.spans == ((12.0, 12.0 + MOMENT_SPAN_S), (30.0, 45.5))
    assert [(p.username, p.reason) for p in made.left_out] == [
        ("u3", "not_member"),
        ("u4", "never_joined"),
    ]
    assert made.spans_dropped == 0


def test_minutes_are_whole_at_least_one_and_at_most_what_a_step_holds() -> None:
    assert minutes_of([]) == 1
    assert minutes_of([5.0]) == 1
    assert minutes_of([89.0, 10.0]) == 1
    assert minutes_of([90.0]) == 2
    assert minutes_of([11 * 3600.0]) == 600


def test_the_day_is_the_schools_and_never_lies_ahead() -> None:
    late = datetime(2026, 11, 2, 23, 30, tzinfo=UTC)  # 00:30 on 3 November in Amsterdam
    assert day_of(late, AMSTERDAM, date(2026, 11, 3)) == date(2026, 11, 3)
    assert day_of(late, AMSTERDAM, date(2026, 11, 2)) == date(2026, 11, 2)


def test_comments_become_fragments_once_in_lesson_order_within_the_lesson() -> None:
    comments = [
        SessionComment(1, 8.0, None),
        SessionComment(1, 8.0, None),  # the same moment twice: one fragment
        SessionComment(1, 2.0, 3.5),
        SessionComment(1, 595.0, None),  # cut at the end
        SessionComment(1, 600.0, None),  # at the very end: names nothing
        SessionComment(9, 1.0, 2.0),  # not an author in the conversation
    ]
    spans, dropped = spans_of(comments, {1}, 600.0)
    assert spans == [(2.0, 3.5), (8.0, 18.0), (595.0, 600.0)] and dropped == 0
    many = [SessionComment(1, float(i), None) for i in range(MAX_FRAGMENTS + 3)]
    spans, dropped = spans_of(many, {1}, 600.0)
    assert len(spans) == MAX_FRAGMENTS and dropped == 3 and spans[0] == (0.0, 10.0)


class Presence:
    """A monotonic clock for the rooms that the test moves: presence in whole minutes."""

    def __init__(self) -> None:
        self.s = 1000.0

    def __call__(self) -> float:
        return self.s


@pytest.fixture
async def world(
    anna: Person,
    unit: UnitClient,
    sign_in: Callable[..., Awaitable[Person]],
    services: Services,
    clock: FakeClock,
    tmp_path: Path,
) -> dict[str, Any]:
    """Anna's trajectory with her lesson RID, a coach and a colleague Carl as members (both
    named by the consent); Bert, a colleague the lesson is shared with but no member; her
    lesson OTHER in no trajectory, shared with the coach; the rooms on a clock of our own."""
    people = {
        "anna": anna,
        "coach": await sign_in("coach", "coach"),
        "carl": await sign_in("carl"),
        "bert": await sign_in("bert"),
        "otto": await sign_in("otto"),
    }
    await ready_lesson(unit, services, clock.now, tmp_path, RID, seconds=40)
    await ready_lesson(unit, services, clock.now, tmp_path, OTHER, seconds=10)
    tid = await trajectory_with(anna, people["coach"], people["carl"], lesson=RID, research=True)
    await anna.json("PUT", f"{T}/{tid}/research", json={"agreed": True})
    await anna.json("POST", f"/api/v1/lessons/{RID}/shares", 201, json={"username": "bert"})
    await anna.json("POST", f"/api/v1/lessons/{OTHER}/shares", 201, json={"username": "coach"})
    app = anna.client.server.app
    assert app is not None
    rooms: Rooms = app[WATCH_ROOMS]
    presence = Presence()
    rooms.monotonic = presence
    return {"tid": tid, "presence": presence, "rooms": rooms, **people}


async def start(host: Person, lesson: str, *invite: str) -> str:
    body = await host.json(
        "POST", f"/api/v1/lessons/{lesson}/watch-sessions", 201, json={"invite": list(invite)}
    )
    return str(body["session"]["id"])


def conversation_path(tid: int, sid: str) -> str:
    return f"{T}/{tid}/watch-sessions/{sid}/conversation"


@pytest.mark.slow
async def test_a_session_becomes_the_trajectorys_conversation(
    world: dict[str, Any], services: Services, clock: FakeClock
) -> None:
    anna, coach, bert = world["anna"], world["coach"], world["bert"]
    tid, presence = world["tid"], world["presence"]
    before = {"body": "before", "start_s": 1}
    await coach.json("POST", f"/api/v1/lessons/{RID}/comments", 201, json=before)
    clock.advance(minutes=5)
    sid = await start(anna, RID, "coach", "bert", "carl")  # Carl never comes
    sockets = {name: await connect(world[name], sid) for name in ("anna", "coach", "bert")}
    for ws in sockets.values():
        await until(ws, "welcome")
    # During the session: a moment and a fragment (shared), a private note, a reply.
    clock.advance(minutes=3)
    comments = f"/api/v1/lessons/{RID}/comments"
    made = await coach.json("POST", comments, 201, json={"body": "look", "start_s": 12})
    await anna.json("POST", comments, 201, json={"body": "here", "start_s": 20, "end_s": 26.5})
    await anna.json(
        "POST", comments, 201, json={"body": "mine", "start_s": 33, "visibility": "private"}
    )
    reply = {"body": "yes", "start_s": 12, "parent_id": made["comment"]["id"]}
    await anna.json("POST", comments, 201, json=reply)
    await bert.json("POST", comments, 403, json={"body": "x", "start_s": 2})  # a viewer
    presence.s += 24 * 60 + 40
    for name in ("bert", "coach", "anna"):
        await sockets[name].close()
    await until_recorded(services, sid, 3)
    await anna.json("POST", f"/api/v1/watch-sessions/{sid}/end", 204)
    clock.advance(minutes=1)
    after = {"body": "after", "start_s": 5}
    await coach.json("POST", comments, 201, json=after)

    # The owner's "who watched" shows who watched together, and how long.
    sharing = await anna.request("GET", f"/lessons/{RID}/sharing")
    html = await sharing.text()
    together = html[html.index('id="watched-together"') :]
    assert "anna (25 min), bert (25 min), coach (25 min)" in together

    # The coach sees the session on the trajectory and records it.
    listed = (await coach.json("GET", f"{T}/{tid}/watch-sessions"))["sessions"]
    assert [(s["id"], s["step_id"]) for s in listed] == [(sid, None)]
    assert sorted(listed[0]["people"]) == ["anna", "bert", "coach"]
    body = {"body": "We talked about the start of the task."}
    recorded = await coach.json("POST", conversation_path(tid, sid), 201, json=body)
    step = recorded["step"]
    assert step["kind"] == "conversation" and step["author"] == "coach"
    assert step["held_on"] == "2026-11-02" and step["minutes"] == 25
    assert sorted(step["participants"]) == ["anna", "coach"]
    assert step["fragments"] == [
        {"lesson_id": RID, "start_s": 12.0, "end_s": 22.0},
        {"lesson_id": RID, "start_s": 20.0, "end_s": 26.5},
    ]
    assert step["body"] == "We talked about the start of the task."
    assert step["watched_together"] == {"people": 2, "minutes": 25}
    assert recorded["left_out"] == [
        {"username": "bert", "display_name": "bert", "reason": "not_member"},
        {"username": "carl", "display_name": "carl", "reason": "never_joined"},
    ]
    # The timeline shows it; the author changes it as any step (the link stays).
    timeline = (await anna.json("GET", f"{T}/{tid}/timeline"))["timeline"]
    shown = [e["step"] for e in timeline if e["kind"] == "conversation"]
    assert [s["watched_together"] for s in shown] == [{"people": 2, "minutes": 25}]
    change = {
        "kind": "conversation",
        "body": step["body"],
        "held_on": step["held_on"],
        "minutes": 30,
        "participants": ["anna", "coach"],
        "agreements": "Pupil A starts with the first sum alone.",
    }
    await coach.json("PUT", f"{T}/{tid}/steps/{step['id']}", json=change)
    listed = (await anna.json("GET", f"{T}/{tid}/watch-sessions"))["sessions"]
    assert listed[0]["step_id"] == step["id"]
    # The research export tells the conversations held while watching together apart.
    (talk,) = research.dataset(services.db, services.config.measures, tid).conversations
    assert talk["watched_together"] == 1 and talk["minutes"] == 30
    # Twice: refused, by anyone.
    again = await anna.json("POST", conversation_path(tid, sid), 409, json={})
    assert again["error"] == "session_recorded"
    page = await anna.request("POST", f"/trajectories/{tid}/watch-sessions/{sid}/conversation")
    assert page.status == 409
    assert "Deze sessie is al vastgelegd als gesprek." in await page.text()
    audited = services.db.execute(
        "SELECT actor_name, object_id, detail FROM audit WHERE action = 'conversation_from_session'"
    ).fetchall()
    assert [(a, o) for a, o, _ in audited] == [("coach", str(tid))]
    assert json.loads(audited[0][2])["left_out"] == ["bert", "carl"]
    # The step deleted, the session may be recorded again.
    await coach.json("DELETE", f"{T}/{tid}/steps/{step['id']}", 204)
    again = await anna.json("POST", conversation_path(tid, sid), 201, json={})
    assert again["step"]["body"] == "We watched the lesson together."


async def until_recorded(services: Services, sid: str, people: int) -> None:
    """Wait until the server has written down that ``people`` connections closed."""
    for _ in range(200):
        left = services.db.execute(
            "SELECT COUNT(*) FROM watch_participants WHERE session_id = ?"
            " AND last_left_at IS NOT NULL",
            [sid],
        ).fetchone()[0]
        if left >= people:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the server did not record the people leaving")


@pytest.mark.slow
async def test_who_may_record_a_session_and_which(
    world: dict[str, Any], services: Services, clock: FakeClock
) -> None:
    anna, coach, carl, bert, otto = (world[n] for n in ("anna", "coach", "carl", "bert", "otto"))
    tid, presence = world["tid"], world["presence"]
    sid = await start(anna, RID, "coach", "bert", "carl")
    other = await start(coach, OTHER)  # a session on a lesson of no trajectory
    host = await connect(anna, sid)
    await until(host, "welcome")
    guest = await connect(coach, sid)
    await until(guest, "welcome")
    mine = await connect(coach, other)
    await until(mine, "welcome")
    presence.s += 7 * 60

    # A running session: the time of the open connections counts.
    path = conversation_path(tid, sid)
    # Not a member (though present): as if the trajectory did not exist. Otto: nothing at all.
    await connect_and_leave(bert, sid)
    assert (await bert.json("POST", path, 404, json={}))["error"] == "not_found"
    assert (await otto.json("POST", path, 404, json={}))["error"] == "not_found"
    # A member invited who never joined: not present.
    assert (await carl.json("POST", path, 403, json={}))["error"] == "not_present"
    # A session on another lesson, and one that does not exist (or is not hers).
    wrong = await coach.json("POST", conversation_path(tid, other), 422, json={})
    assert wrong["error"] == "session_other_lesson"
    assert (await coach.json("POST", conversation_path(tid, "nope"), 404, json={}))[
        "error"
    ] == "not_found"
    recorded = await coach.json("POST", path, 201, json={})
    assert recorded["step"]["minutes"] == 7
    assert sorted(recorded["step"]["participants"]) == ["anna", "coach"]
    denied = services.db.execute(
        "SELECT COUNT(*) FROM audit WHERE action = 'access_denied'"
        " AND object_kind = 'watch_session'"
    ).fetchone()[0]
    assert denied == 1  # the unknown session; the trajectory's refusals are audited as such
    for ws in (host, guest, mine):
        await ws.close()

    # Closed: nothing more is recorded in it.
    await coach.json("DELETE", f"{T}/{tid}/steps/{recorded['step']['id']}", 204)
    note = {"status": "closed", "closing_note": "done"}
    await anna.json("POST", f"{T}/{tid}/status", json=note)
    assert (await coach.json("POST", path, 409, json={}))["error"] == "trajectory_closed"
    assert (await anna.json("POST", path, 409, json={}))["error"] == "trajectory_closed"
    del clock


async def connect_and_leave(person: Person, sid: str) -> None:
    ws = await connect(person, sid)
    await until(ws, "welcome")
    await ws.close()
    assert ws.closed or await closed(ws) is not None
