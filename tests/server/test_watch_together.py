"""Watch together through the real app: the routes, the WebSocket and its checks (cookie,
Origin, invitation, access on connect and on every state-changing message), refusals that
leave the session going, revocation during a session, and what is recorded afterwards."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType
from aiohttp.test_utils import TestClient

from lessoncam_server.lessons.watching.rooms import WATCH_ROOMS
from lessoncam_server.services import Services

from .helpers import FakeClock, Person, UnitClient
from .lesson_fixtures import assembled, record, send_lesson

RID = "01JDWATCH00000000000000001"
L = f"/api/v1/lessons/{RID}"
pytestmark = pytest.mark.slow  # each test assembles a lesson
WAIT_S = 5.0


def origin(client: TestClient) -> str:
    return str(client.make_url("")).rstrip("/")


async def connect(person: Person, session_id: str) -> ClientWebSocketResponse:
    client = person.client
    return await client.ws_connect(
        f"/api/v1/watch-sessions/{session_id}/socket", headers={"Origin": origin(client)}
    )


async def until(
    ws: ClientWebSocketResponse,
    kind: str,
    where: Callable[[dict[str, Any]], bool] = lambda _m: True,
) -> dict[str, Any]:
    """The next message of ``kind`` for which ``where`` holds (others are skipped)."""
    async with asyncio.timeout(WAIT_S):
        while True:
            message = await ws.receive()
            if message.type != WSMsgType.TEXT:
                raise AssertionError(f"closed while waiting for {kind}: {message}")
            data: dict[str, Any] = json.loads(message.data)
            if data["type"] == kind and where(data):
                return data


async def closed(ws: ClientWebSocketResponse) -> int | None:
    """The close code the server sent."""
    async with asyncio.timeout(WAIT_S):
        while True:
            message = await ws.receive()
            if message.type == WSMsgType.CLOSE:
                return int(message.data)
            if message.type in (WSMsgType.CLOSED, WSMsgType.CLOSING):
                return ws.close_code


def state(seq: int, position: float, *, playing: bool = True, cause: str = "seek") -> str:
    return json.dumps(
        {
            "seq": seq,
            "lesson": RID,
            "type": "state",
            "cause": cause,
            "playing": playing,
            "position_s": position,
            "rate": 1.0,
        }
    )


@pytest.fixture
async def people(
    anna: Person,
    unit: UnitClient,
    sign_in: Callable[..., Awaitable[Person]],
    services: Services,
    clock: FakeClock,
    tmp_path: Path,
) -> dict[str, Person]:
    """Anna's ready lesson, shared with a coach (commenter) and a colleague (viewer); Otto
    has no share."""
    await send_lesson(unit, RID, clock.now, record(tmp_path, seconds=10))
    await assembled(services)
    coach = await sign_in("coach", "coach")
    colleague = await sign_in("colleague")
    otto = await sign_in("otto")
    await anna.json("POST", f"{L}/shares", 201, json={"username": "coach", "role": "commenter"})
    await anna.json("POST", f"{L}/shares", 201, json={"username": "colleague"})
    return {"anna": anna, "coach": coach, "colleague": colleague, "otto": otto}


async def start(people: dict[str, Person], *invite: str) -> str:
    body = await people["anna"].json(
        "POST", f"{L}/watch-sessions", 201, json={"invite": list(invite)}
    )
    return str(body["session"]["id"])


async def test_a_session_is_shared_live_and_recorded(
    people: dict[str, Person], services: Services
) -> None:
    anna, coach, colleague = people["anna"], people["coach"], people["colleague"]
    # Only people who may view the lesson can be invited.
    refused = await anna.json("POST", f"{L}/watch-sessions", 422, json={"invite": ["otto"]})
    assert refused["error"] == "cannot_view"
    sid = await start(people, "coach", "colleague")
    invitations = await coach.json("GET", "/api/v1/watch-invitations")
    assert [i["session_id"] for i in invitations["invitations"]] == [sid]
    assert (await anna.json("GET", "/api/v1/watch-invitations"))["invitations"] == []

    host = await connect(anna, sid)
    welcome = await until(host, "welcome")
    assert welcome["state"]["playing"] is False and welcome["can_comment"] is True
    guest = await connect(coach, sid)
    assert (await until(guest, "welcome"))["lesson"] == RID
    presence = await until(host, "presence")
    while len(presence["people"]) < 2:
        presence = await until(host, "presence")
    assert {p["name"] for p in presence["people"]} == {"anna", "coach"}

    # Anna plays from 4 s: the coach is told where, when and how fast.
    await host.send_str(state(1, 4.0, cause="play"))
    told = await until(guest, "state")
    assert told["state"]["position_s"] == 4.0 and told["state"]["playing"] is True
    assert told["by"] == welcome["you"]
    # The coach pauses: anna follows.
    await guest.send_str(state(1, 5.0, playing=False, cause="pause"))
    paused = await until(host, "state", where=lambda m: m["by"] != welcome["you"])
    assert paused["state"]["playing"] is False

    # A late joiner lands at the current moment, paused as the others are.
    late = await connect(colleague, sid)
    landed = await until(late, "welcome")
    assert landed["state"]["position_s"] == 5.0 and landed["state"]["playing"] is False
    assert landed["can_comment"] is False

    # Comments: the coach placed one through the API; the others reload their list.
    made = await coach.json("POST", f"{L}/comments", 201, json={"body": "look", "start_s": 5})
    await guest.send_str(
        json.dumps(
            {"seq": 2, "lesson": RID, "type": "comment", "comment_id": made["comment"]["id"]}
        )
    )
    assert (await until(late, "comments"))["comment_id"] == made["comment"]["id"]
    # A viewer-only participant sees comments but cannot announce one.
    await late.send_str(
        json.dumps(
            {"seq": 1, "lesson": RID, "type": "comment", "comment_id": made["comment"]["id"]}
        )
    )
    assert (await until(late, "refused"))["code"] == "forbidden"
    # A pointer reaches everyone.
    pointer = {"seq": 3, "lesson": RID, "type": "pointer", "screen": "main", "x": 0.25, "y": 0.5}
    await guest.send_str(json.dumps(pointer))
    assert (await until(host, "pointer"))["x"] == 0.25

    # Leaving says so to the others at once.
    await late.send_str(json.dumps({"seq": 2, "lesson": RID, "type": "leave"}))
    await until(host, "presence", where=lambda m: len(m["people"]) == 2)
    await guest.close()
    await until(host, "presence", where=lambda m: len(m["people"]) == 1)
    await anna.json("POST", f"/api/v1/watch-sessions/{sid}/end", 204)
    assert (await until(host, "ended"))["reason"] == "ended_by_host"
    history = (await anna.json("GET", f"{L}/watch-sessions"))["history"]
    assert history[0]["end_reason"] == "ended_by_host"
    who = {p["username"]: p for p in history[0]["participants"]}
    assert set(who) == {"anna", "coach", "colleague"}
    assert all(p["first_joined_at"] and p["last_left_at"] for p in who.values())
    assert all(p["present_s"] > 0 for p in who.values())
    # A viewer does not see who watched together; the session is gone for everyone.
    assert (await coach.json("GET", f"{L}/watch-sessions"))["history"] is None
    await coach.json("GET", f"/api/v1/watch-sessions/{sid}", 404)
    del services


async def test_the_socket_needs_cookie_origin_invitation_and_access(
    people: dict[str, Person],
    new_client: Callable[[], Awaitable[TestClient]],
    services: Services,
) -> None:
    sid = await start(people, "coach")
    path = f"/api/v1/watch-sessions/{sid}/socket"
    coach = people["coach"].client
    anonymous = await new_client()
    response = await anonymous.get(path, headers={"Origin": origin(anonymous)})
    assert response.status == 401
    for bad_origin in ({"Origin": "https://evil.example"}, {}):
        response = await coach.get(path, headers=bad_origin)
        assert response.status == 403, bad_origin
        assert (await response.json())["error"] == "cross_origin"
    # Not invited (colleague) and no access (otto): as if there were no session.
    for name in ("colleague", "otto"):
        client = people[name].client
        assert (await client.get(path, headers={"Origin": origin(client)})).status == 404
    assert (await coach.get(path, headers={"Origin": origin(coach)})).status == 400  # no upgrade
    denied = services.db.execute(
        "SELECT COUNT(*) FROM audit WHERE action = 'access_denied'"
    ).fetchone()[0]
    assert denied >= 3
    # Only the host invites, removes and ends.
    await people["coach"].json(
        "POST", f"/api/v1/watch-sessions/{sid}/invitations", 403, json={"username": "colleague"}
    )
    await people["coach"].json("POST", f"/api/v1/watch-sessions/{sid}/end", 403)


async def test_bad_messages_are_refused_logged_and_the_session_goes_on(
    people: dict[str, Person], services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="lessoncam_server.lessons.watching.rooms")
    sid = await start(people, "coach")
    host = await connect(people["anna"], sid)
    guest = await connect(people["coach"], sid)
    await until(guest, "welcome")
    bad = [
        "{not json",
        json.dumps({"seq": 1, "lesson": "01JDOTHER0000000000000001", "type": "leave"}),
        state(1, 3.0),
        state(1, 4.0),  # the same seq again: a replay
        json.dumps(
            {
                "seq": 2,
                "lesson": RID,
                "type": "state",
                "cause": "seek",
                "playing": True,
                "position_s": 1,
                "rate": 1,
                "by": 1,
            }
        ),
    ]
    codes = []
    for raw in bad:
        await guest.send_str(raw)
        if raw != state(1, 3.0):
            codes.append((await until(guest, "refused"))["code"])
    assert codes == ["malformed", "other_lesson", "replayed", "malformed"]
    assert (await until(host, "state"))["state"]["position_s"] == 3.0  # the good one went through
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "other_lesson" in logged and "replayed" in logged and "malformed" in logged
    audited = services.db.execute(
        "SELECT COUNT(*) FROM audit WHERE action = 'watch_refused'"
    ).fetchone()[0]
    assert audited >= 2

    # A flood: most of it is refused, the coach is cut off if it goes on, anna steers on.
    for seq in range(10, 400):
        await guest.send_str(state(seq, 7.0))
    assert (await until(guest, "refused"))["code"] == "rate_limited"
    assert await closed(guest) == 1008
    await host.send_str(state(1, 9.0, playing=False, cause="pause"))
    latest = await until(host, "state")
    while latest["state"]["position_s"] != 9.0:
        latest = await until(host, "state")
    assert latest["state"]["playing"] is False


async def test_a_revoked_share_disconnects_at_once(
    people: dict[str, Person], services: Services
) -> None:
    sid = await start(people, "coach", "colleague")
    anna = people["anna"]
    host = await connect(anna, sid)
    guest = await connect(people["coach"], sid)
    await until(guest, "welcome")
    shares = (await anna.json("GET", f"{L}/shares"))["shares"]
    coach_share = next(s for s in shares if s["username"] == "coach")
    await anna.json("DELETE", f"{L}/shares/{coach_share['id']}", 204)
    assert (await until(guest, "removed"))["reason"] == "no_access"
    assert await closed(guest) == 4403
    presence = await until(host, "presence")
    while len(presence["people"]) != 1:
        presence = await until(host, "presence")
    # And she cannot come back.
    client = people["coach"].client
    assert (
        await client.get(f"/api/v1/watch-sessions/{sid}/socket", headers={"Origin": origin(client)})
    ).status == 404
    # The host removes the colleague: out at once too.
    late = await connect(people["colleague"], sid)
    await until(late, "welcome")
    await anna.json("DELETE", f"/api/v1/watch-sessions/{sid}/invitations/colleague", 204)
    assert await closed(late) == 4403
    # Anna invites the colleague again, who then signs out in another tab: her connection
    # ends within a second (the sweep), though she sends nothing.
    await anna.json(
        "POST", f"/api/v1/watch-sessions/{sid}/invitations", 201, json={"username": "colleague"}
    )
    again = await connect(people["colleague"], sid)
    await until(again, "welcome")
    await people["colleague"].json("DELETE", "/api/v1/session", 204)
    assert await closed(again) == 4403
    assert (
        services.db.execute(
            "SELECT COUNT(*) FROM watch_participants WHERE session_id = ? AND removed_at IS NULL",
            [sid],
        ).fetchone()[0]
        == 3
    )  # invited still: anna, the coach (her share is what ended), colleague
    await host.close()


async def test_a_session_nobody_is_in_ends_after_the_grace(
    people: dict[str, Person], services: Services
) -> None:
    sid = await start(people, "coach")
    rooms = services_app_rooms(services, people)
    rooms.lifetime = type(rooms.lifetime)(empty_grace_s=0.0, unjoined_grace_s=3600, max_s=3600)
    ws = await connect(people["coach"], sid)
    await until(ws, "welcome")
    await ws.close()
    async with asyncio.timeout(WAIT_S):
        while sid in rooms.rooms:  # noqa: ASYNC110 (the sweep runs on its own clock)
            await asyncio.sleep(0.1)
    row = services.db.execute(
        "SELECT end_reason FROM watch_sessions WHERE id = ?", [sid]
    ).fetchone()
    assert row[0] == "empty"


def services_app_rooms(services: Services, people: dict[str, Person]) -> Any:
    app = people["anna"].client.server.app
    assert app is not None
    return app[WATCH_ROOMS]
