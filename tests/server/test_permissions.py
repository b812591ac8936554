"""Object-level permissions: every lesson endpoint x every relationship x method.

Each matrix adds its cells and any unauthorised 2xx to the reliability suite's figures."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from lessoncam_server.access import accounts
from lessoncam_server.lessons.watching import records
from lessoncam_server.services import Services

from .. import reliability
from .helpers import FakeClock, Person, UnitClient, enrol_unit
from .lesson_fixtures import assembled, record, send_lesson

RID = "01JD0000000000000000000002"
L = f"/api/v1/lessons/{RID}"

C = f"{L}/comments/1"  # the owner's comment, made before the matrix runs
CD = f"{L}/codings/1"  # the owner's shared coding with scheme 1, made before the matrix runs

# (method, path, body, (owner, commenter, viewer) statuses) for every object endpoint of a
# lesson, in the order they are called; the lesson's DELETE comes last. Anybody else gets
# 401 (anonymous, unit) or 404 (as if the lesson did not exist).
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None, tuple[int, int, int]]] = [
    ("GET", L, None, (200, 200, 200)),
    ("GET", f"{L}/cameras/main/video", None, (200, 200, 200)),
    ("GET", f"{L}/cameras/main/video?download=1", None, (200, 403, 403)),
    ("GET", f"{L}/poster.jpg", None, (200, 200, 200)),
    ("GET", f"{L}/cameras/main/thumbnails.jpg", None, (200, 200, 200)),
    ("PATCH", L, {"title": "Rekenen"}, (200, 403, 403)),
    ("GET", f"{L}/shares", None, (200, 403, 403)),
    ("POST", f"{L}/shares", {"username": "bert", "role": "viewer"}, (201, 403, 403)),
    ("DELETE", f"{L}/shares/1", None, (204, 403, 403)),
    ("GET", f"{L}/comments", None, (200, 200, 200)),
    ("POST", f"{L}/comments", {"body": "hm", "start_s": 1}, (201, 201, 403)),
    ("PATCH", C, {"body": "changed"}, (200, 403, 403)),
    ("GET", f"{L}/comments.csv", None, (200, 200, 200)),
    ("DELETE", C, None, (204, 403, 403)),
    ("GET", f"{L}/views", None, (200, 403, 403)),
    ("GET", f"{L}/clips", None, (200, 403, 403)),
    ("POST", f"{L}/clips", {"start_s": 1, "end_s": 5}, (202, 403, 403)),
    ("POST", f"{L}/playback", {"played_s": 5}, (200, 200, 200)),
    ("GET", f"{L}/reflection", None, (200, 200, 200)),
    ("PUT", f"{L}/reflection", {"answers": {}}, (422, 403, 403)),  # the owner: answers missing
    ("POST", f"{L}/reflection/decline", None, (204, 403, 403)),
    ("POST", f"{L}/watch-sessions", {"invite": []}, (201, 201, 201)),  # anyone who may view
    ("GET", f"{L}/watch-sessions", None, (200, 200, 200)),
    ("GET", f"{L}/codings", None, (200, 200, 200)),
    ("POST", f"{L}/codings", {"scheme_id": 1}, (409, 201, 403)),  # the owner codes it already
    ("GET", CD, None, (200, 200, 200)),
    ("POST", f"{CD}/events", {"key": "r", "t": 1}, (200, 403, 403)),  # only its coder codes
    ("PATCH", f"{CD}/events/1", {"start_s": 2}, (200, 403, 403)),
    ("POST", f"{CD}/undo", None, (200, 403, 403)),
    ("DELETE", f"{CD}/events/1", None, (200, 403, 403)),
    ("GET", f"{CD}/analysis", None, (200, 200, 200)),
    ("GET", f"{L}/coding-agreement?a=1&b=1", None, (200, 200, 200)),
    ("GET", f"{CD}/events.csv", None, (200, 200, 200)),
    ("GET", f"{CD}/boris.tsv", None, (200, 200, 200)),
    ("GET", f"{CD}/elan.eaf", None, (200, 200, 200)),
    # The file is read before anything is stored: a malformed one is refused to all who code.
    (
        "POST",
        f"{L}/coding-imports",
        {"format": "boris", "scheme_id": 1, "content": "x"},
        (422, 422, 403),
    ),
    ("PATCH", CD, {"shared": True}, (200, 403, 403)),
    ("DELETE", CD, None, (204, 403, 403)),
    ("DELETE", L, None, (204, 403, 403)),
]


async def owner_coding(owner: Person) -> None:
    """The owner's coding ``CD``, shared with the lesson's viewers."""
    await owner.json("POST", f"{L}/codings", 201, json={"scheme_id": 1})
    await owner.json("PATCH", CD, json={"shared": True})


def expected(relationship: str, index: int) -> int:
    if relationship in ("anonymous", "unit", "revoked unit"):
        return 401
    roles = ("owner", "commenter", "viewer")
    if relationship in roles:
        return ENDPOINTS[index][3][roles.index(relationship)]
    return 404  # expired or revoked share, other teacher, coach, admin: as if it did not exist


@dataclass(frozen=True)
class Raw:
    """A call's request sent as it is (headers, bytes or a form) instead of a JSON body."""

    headers: dict[str, str] | None = None
    data: Any = None


Call = tuple[str, str, dict[str, Any] | Raw | None]
Hook = Callable[[str], Awaitable[None]]


def _sent(body: dict[str, Any] | Raw | None) -> dict[str, Any]:
    if isinstance(body, Raw):
        return {"headers": body.headers, "data": body.data}
    return {"json": body}


async def check_cells(
    callers: dict[str, Any],
    calls: list[Call],
    want: Callable[[str, int], int],
    *,
    before: Hook | None = None,
    after: Hook | None = None,
    **request_kw: Any,
) -> list[str]:
    """Every caller makes every call in order (``before`` and ``after`` each caller's calls,
    with her relationship); what differs from ``want(relationship, index)`` is reported, an
    unauthorised 2xx twice over. Adds to the reliability figures."""
    report = []
    unauthorised = 0
    for relationship, caller in callers.items():
        if before is not None:
            await before(relationship)
        for index, (method, path, body) in enumerate(calls):
            response = await caller.request(method, path, **_sent(body), **request_kw)
            # Read every answer: a video left half-sent keeps its handler (and the test
            # server's shutdown) waiting for a minute.
            await response.read()
            wanted = want(relationship, index)
            if response.status != wanted:
                report.append(f"{relationship} {method} {path}: {response.status} != {wanted}")
            if 200 <= response.status < 300 and not 200 <= wanted < 300:
                unauthorised += 1
                report.append(f"UNAUTHORISED {relationship} {method} {path}")
        if after is not None:
            await after(relationship)
    reliability.add("matrix_cells", len(callers) * len(calls))
    reliability.add("unauthorised_2xx", unauthorised)
    return report


@pytest.fixture
async def owner(
    anna: Person, unit: UnitClient, services: Services, clock: FakeClock, tmp_path: Path
) -> Person:
    """Anna, with her ready lesson ``RID`` recorded on her unit."""
    await send_lesson(unit, RID, clock.now, record(tmp_path, seconds=10))
    await assembled(services)
    return anna


@pytest.mark.slow
async def test_permission_matrix(
    owner: Person,
    admin: Person,
    unit: UnitClient,
    sign_in: Callable[..., Awaitable[Person]],
    new_client: Callable[[], Awaitable[TestClient]],
    services: Services,
    clock: FakeClock,
) -> None:
    people = {
        name: await sign_in(name)
        for name in ("viewer", "commenter", "expired", "revoked", "other", "bert")
    }
    people["coach"] = await sign_in("coach", "coach")
    soon = (clock.now + timedelta(hours=1)).isoformat()
    await owner.json("POST", f"{L}/shares", 201, json={"username": "viewer"})
    await owner.json(
        "POST", f"{L}/shares", 201, json={"username": "commenter", "role": "commenter"}
    )
    await owner.json("POST", f"{L}/shares", 201, json={"username": "expired", "expires_at": soon})
    revoked = await owner.json("POST", f"{L}/shares", 201, json={"username": "revoked"})
    await owner.json("DELETE", f"{L}/shares/{revoked['share']['id']}", 204)
    await owner.json("POST", f"{L}/comments", 201, json={"body": "mine", "start_s": 2})
    await owner_coding(owner)
    clock.advance(minutes=61)  # past the share's expiry, within the sessions' idle limit
    anonymous = await new_client()
    revoked_unit = await enrol_unit(admin, await new_client(), "Group 6")
    await admin.json("PATCH", f"/api/v1/units/{revoked_unit.unit_id}", json={"teacher": "anna"})
    await admin.json("POST", f"/api/v1/units/{revoked_unit.unit_id}/revoke", 204)

    callers: dict[str, Any] = {
        **{k: v for k, v in people.items() if k != "bert"},
        "admin": admin,
        "unit": unit,
        "revoked unit": revoked_unit,
        "anonymous": anonymous,
        "owner": owner,  # last: its DELETE removes the lesson
    }
    calls = [(method, path, body) for method, path, body, _ in ENDPOINTS]
    report = await check_cells(callers, calls, expected)
    assert not report, "\n".join(report)
    assert not services.paths.recording_dir(RID).exists()  # the owner's DELETE removed the files
    denied = services.db.execute(
        "SELECT COUNT(*) FROM audit WHERE action = 'access_denied'"
    ).fetchone()[0]
    assert denied > 0


async def test_claim_permission_matrix(
    admin: Person,
    unit: UnitClient,
    sign_in: Callable[..., Awaitable[Person]],
    new_client: Callable[[], Awaitable[TestClient]],
    services: Services,
) -> None:
    """Bert holds the unit whose own teacher is Anna; who may do what with the claim."""
    anna = await sign_in("anna")
    await admin.json("PATCH", f"/api/v1/units/{unit.unit_id}", json={"teacher": "anna"})
    bert = await sign_in("bert")
    claim = {"unit_id": unit.unit_id}
    end = f"/api/v1/unit-claims/{unit.unit_id}"
    # (GET list, POST claim, DELETE claim) per caller, while Bert holds the unit.
    table: dict[str, tuple[Any, tuple[int, int, int]]] = {
        "anonymous": (await new_client(), (401, 401, 401)),
        "unit": (unit, (401, 401, 401)),
        "other": (await sign_in("other"), (200, 409, 403)),
        "coach": (await sign_in("coach", "coach"), (200, 409, 403)),
        "admin": (admin, (200, 403, 204)),
        "default teacher": (anna, (200, 409, 204)),
        "holder": (bert, (200, 200, 204)),
    }
    calls: list[Call] = [
        ("GET", "/api/v1/unit-claims", None),
        ("POST", "/api/v1/unit-claims", claim),
        ("DELETE", end, None),
    ]

    async def bert_claims(_name: str) -> None:
        await bert.json("POST", "/api/v1/unit-claims", json=claim, expect=201)

    async def bert_releases(name: str) -> None:
        if table[name][1][2] != 204:  # the caller did not end the claim
            await bert.json("DELETE", end, 204)

    report = await check_cells(
        {name: caller for name, (caller, _) in table.items()},
        calls,
        lambda name, index: table[name][1][index],
        before=bert_claims,
        after=bert_releases,
    )
    assert not report, "\n".join(report)
    holders = services.db.execute("SELECT DISTINCT user_id FROM unit_claims").fetchall()
    assert len(holders) == 1  # nobody but Bert ever held the unit


async def test_browser_upload_permission_matrix(
    admin: Person,
    unit: UnitClient,
    sign_in: Callable[..., Awaitable[Person]],
    new_client: Callable[[], Awaitable[TestClient]],
) -> None:
    """An upload from Anna's browser exists for Anna only."""
    anna = await sign_in("anna")
    tus = {"Tus-Resumable": "1.0.0"}
    created = await anna.request(
        "POST", "/api/v1/lesson-uploads/", headers={**tus, "Upload-Length": "100"}
    )
    assert created.status == 201
    item = created.headers["Location"][created.headers["Location"].index("/api/v1/") :]
    patch = {**tus, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
    calls: list[Call] = [
        ("HEAD", item, Raw(tus)),
        ("PATCH", item, Raw(patch, b"x" * 10)),
        ("POST", item, Raw({**patch, "X-HTTP-Method-Override": "PATCH"}, b"x" * 10)),
        ("DELETE", item, Raw(tus)),
    ]
    callers: dict[str, Any] = {
        "anonymous": await new_client(),
        "unit": unit,
        "other": await sign_in("other"),
        "coach": await sign_in("coach", "coach"),
        "admin": admin,
    }
    report = await check_cells(
        callers, calls, lambda name, _index: 401 if name == "anonymous" else 404
    )
    assert not report, "\n".join(report)
    head = await anna.request("HEAD", item, headers=tus)
    assert head.status == 200 and head.headers["Upload-Offset"] == "0"
    assert (await anna.request("DELETE", item, headers=tus)).status == 204


TRAJECTORY = {
    "title": "Rust in groep 5",
    "question": "How do I help Pupil A start?",
    "pupil": {"label": "Pupil A", "group": "Groep 5"},
    "support": "video_coach",
    "viewing_guide": "open",
    "start_date": "2026-11-02",
}


async def _trajectory_with_everyone(
    owner: Person, people: dict[str, Person], lesson_id: str
) -> tuple[int, dict[str, int]]:
    """Anna's trajectory with ``lesson_id`` in it and a person in every state of membership:
    member, invited, declined, left, removed (``people`` by those names). Returns its id and
    the member ids by name."""
    tid = (await owner.json("POST", "/api/v1/trajectories", 201, json=TRAJECTORY))["trajectory"]
    path = f"/api/v1/trajectories/{tid['id']}"
    ids = {}
    for name in people:
        invited = await owner.json("POST", f"{path}/members", 201, json={"username": name})
        ids[name] = invited["member"]["id"]
    # The parents' consent names everyone but "unnamed": membership decides for the others.
    allowed = {"given_on": "2026-10-30", "watchers": [n for n in people if n != "unnamed"]}
    await owner.json("POST", f"{path}/consent", 201, json=allowed)
    await owner.json("PUT", f"{path}/lessons/{lesson_id}", 201)
    for name, person in people.items():
        if name in ("member", "unnamed", "left", "removed"):
            await person.json("POST", f"{path}/invitation", json={"accept": True})
        if name == "declined":
            await person.json("POST", f"{path}/invitation", json={"accept": False})
        if name == "left":
            await person.json("DELETE", f"{path}/membership", 204)
        if name == "removed":
            await owner.json("DELETE", f"{path}/members/{ids[name]}", 204)
    return tid["id"], ids


@pytest.mark.slow
async def test_trajectory_members_on_the_lesson_permission_matrix(
    owner: Person, sign_in: Callable[..., Awaitable[Person]]
) -> None:
    """A member of the open trajectory a lesson is in, named by the parents' consent, may do
    what a commenter may; a member the consent does not name, invited, declined, left and
    removed people nothing; after the consent is withdrawn or the trajectory closed, the member
    nothing either."""
    await sign_in("bert")  # the share endpoint's account
    states = ("member", "unnamed", "invited", "declined", "left", "removed")
    people = {name: await sign_in(name, "coach") for name in states}
    tid, _ids = await _trajectory_with_everyone(owner, people, RID)
    await owner.json("POST", f"{L}/comments", 201, json={"body": "mine", "start_s": 2})
    await owner_coding(owner)

    def want(relationship: str, index: int) -> int:
        return expected("commenter" if relationship == "member" else relationship, index)

    calls = [(method, path, body) for method, path, body, _ in ENDPOINTS]
    report = await check_cells(dict(people), calls, want)
    # Consent withdrawn (lessons taken out), recorded again, the lesson put back: the member
    # sees it again; then the trajectory closes.
    path = f"/api/v1/trajectories/{tid}"
    await owner.json("POST", f"{path}/consent/withdrawal", json={"lessons": "take_out"})
    report += await check_cells(
        {"member after withdrawal": people["member"]}, calls, lambda _r, _i: 404
    )
    again = {"given_on": "2026-11-02", "watchers": ["member"]}
    await owner.json("POST", f"{path}/consent", 201, json=again)
    await owner.json("PUT", f"{path}/lessons/{RID}", 201)
    assert (await people["member"].request("GET", L)).status == 200
    note = {"status": "closed", "closing_note": "done"}
    await owner.json("POST", f"/api/v1/trajectories/{tid}/status", json=note)
    report += await check_cells(
        {"member after closing": people["member"]}, calls, lambda _r, _i: 404
    )
    report += await check_cells({"owner": owner}, calls, expected)
    assert not report, "\n".join(report)


@pytest.mark.slow
async def test_trajectory_permission_matrix(
    owner: Person,
    admin: Person,
    unit: UnitClient,
    sign_in: Callable[..., Awaitable[Person]],
    new_client: Callable[[], Awaitable[TestClient]],
    services: Services,
) -> None:
    """Every trajectory endpoint x every relationship to it. Anybody who is not its teacher,
    a member or invited gets 404 (as if it did not exist); anonymous callers and units 401."""
    states = ("member", "invited", "declined", "left", "removed", "pending")
    people = {name: await sign_in(name, "coach") for name in states}
    tid, ids = await _trajectory_with_everyone(owner, people, RID)
    await sign_in("newcomer")
    path = f"/api/v1/trajectories/{tid}"
    note = {"kind": "evaluation", "body": "So far.", "held_on": "2026-11-02"}
    step = (await owner.json("POST", f"{path}/steps", 201, json=note))["step"]["id"]
    talk = {**note, "kind": "conversation", "minutes": 20, "participants": ["member"]}
    conversation = (await owner.json("POST", f"{path}/steps", 201, json=talk))["step"]["id"]
    short = {"answers": {"useful": 4, "insight_question": 4, "minutes_preparing": 10}}
    scores = {"emotional": 4, "conduct": 5, "hyperactivity": 8, "peer": 3, "prosocial": 4}
    sdq = {"moment": "end", "measured_on": "2026-11-02", "scores": {**scores, "impact": 3}}
    made = await owner.json("POST", f"{path}/measures", 201, json={**sdq, "moment": "start"})
    measure = made["measure"]["id"]
    goal = (await owner.json("POST", f"{path}/goals", 201, json={"text": "Starts"}))["goal"]["id"]
    watched = watched_together(services, RID, host="anna", guests=tuple(states))
    # (method, path, body, (teacher, member, invited)) in the order they are called.
    endpoints: list[tuple[str, str, dict[str, Any] | None, tuple[int, int, int]]] = [
        ("GET", "/api/v1/trajectories", None, (200, 200, 200)),
        ("GET", path, None, (200, 200, 200)),
        ("GET", f"{path}/lessons", None, (200, 200, 403)),
        ("GET", f"{path}/watch-sessions", None, (200, 200, 403)),
        # Recorded once: by the member first; the teacher is told it is written down already.
        ("POST", f"{path}/watch-sessions/{watched}/conversation", {}, (409, 201, 403)),
        ("PATCH", path, {"title": "Rust"}, (200, 403, 403)),
        ("POST", f"{path}/members", {"username": "newcomer"}, (201, 403, 403)),
        ("DELETE", f"{path}/members/{ids['pending']}", None, (204, 403, 403)),
        ("PUT", f"{path}/lessons/{RID}", None, (200, 403, 403)),
        ("DELETE", f"{path}/lessons/{RID}", None, (204, 403, 403)),
        ("GET", f"{path}/consent", None, (200, 200, 403)),
        ("POST", f"{path}/consent", {"given_on": "2026-10-30"}, (201, 403, 403)),
        ("POST", f"{path}/consent/withdrawal", {"lessons": "take_out"}, (200, 403, 403)),
        ("GET", f"{path}/timeline", None, (200, 200, 403)),
        ("POST", f"{path}/steps", note, (201, 201, 403)),
        ("PUT", f"{path}/steps/{step}", note, (200, 403, 403)),  # only its author rewrites
        ("DELETE", f"{path}/steps/{step}", None, (204, 403, 403)),  # the member is no author
        ("POST", f"{path}/goals", {"text": "Asks for help"}, (201, 201, 403)),
        ("PATCH", f"{path}/goals/{goal}", {"state": "working"}, (200, 200, 403)),
        ("GET", f"{path}/reflections", None, (200, 200, 403)),
        ("GET", f"{path}/measures", None, (200, 200, 403)),
        ("POST", f"{path}/measures", sdq, (201, 403, 403)),
        ("DELETE", f"{path}/measures/{measure}", None, (204, 403, 403)),
        ("PUT", f"{path}/research", {"agreed": True}, (200, 403, 403)),
        # Only the member took part: the teacher does not answer the coach's form.
        ("PUT", f"{path}/steps/{conversation}/reflection", short, (403, 201, 403)),
        ("POST", f"{path}/status", {"status": "running"}, (200, 403, 403)),
        ("POST", f"{path}/invitation", {"accept": True}, (403, 403, 200)),
        ("DELETE", f"{path}/membership", None, (403, 204, 204)),  # invited accepted just now
    ]
    callers: dict[str, Any] = {
        **{k: v for k, v in people.items() if k != "pending"},
        "other": await sign_in("other"),
        "admin": admin,
        "unit": unit,
        "anonymous": await new_client(),
        "teacher": owner,  # last: its changes would change the others' answers
    }

    def want(relationship: str, index: int) -> int:
        if relationship in ("unit", "anonymous"):
            return 401
        if index == 0:
            return 200  # everyone signed in lists her own
        roles = ("teacher", "member", "invited")
        return endpoints[index][3][roles.index(relationship)] if relationship in roles else 404

    report = await check_cells(callers, [(m, p, b) for m, p, b, _ in endpoints], want)
    assert not report, "\n".join(report)
    denied = services.db.execute(
        "SELECT COUNT(*) FROM audit WHERE action = 'access_denied' AND object_kind = 'trajectory'"
    ).fetchone()[0]
    assert denied > 0


def watched_together(services: Services, lesson_id: str, host: str, guests: tuple[str, ...]) -> str:
    """A finished watch-together session on ``lesson_id`` that ``host`` and ``guests`` (the
    people of the matrix, whatever their state) took part in; its id."""
    db, now = services.db, services.now()
    found = {name: accounts.find_user(db, name) for name in (host, *guests)}
    ids = {name: int(user["id"]) for name, user in found.items() if user is not None}
    records.create(db, "matrix-session", lesson_id, ids[host], now)
    for name in guests:
        records.invite(db, "matrix-session", ids[name], ids[host], now)
    for user_id in ids.values():
        records.joined(db, "matrix-session", user_id, now)
        records.left(db, "matrix-session", user_id, 600.0, now)
    records.end(db, "matrix-session", "ended_by_host", now)
    return "matrix-session"


async def test_research_permission_matrix(
    admin: Person,
    sign_in: Callable[..., Awaitable[Person]],
    new_client: Callable[[], Awaitable[TestClient]],
    unit: UnitClient,
) -> None:
    """Only a coordinator an admin named exports; only admins name coordinators."""
    cora = await sign_in("cora")
    await sign_in("dirk")
    await admin.json("PUT", "/api/v1/research/coordinators/cora", 204)
    r = "/api/v1/research"
    # (method, path, (coordinator, teacher, admin)): anonymous callers and units get 401.
    endpoints: list[tuple[str, str, tuple[int, int, int]]] = [
        ("GET", f"{r}/export", (200, 403, 403)),
        ("GET", f"{r}/export/reflections.csv", (200, 403, 403)),
        ("GET", f"{r}/export/codebook.csv", (200, 403, 403)),
        ("GET", f"{r}/export.xlsx", (200, 403, 403)),
        ("GET", f"{r}/summary", (200, 403, 403)),
        ("GET", f"{r}/coordinators", (403, 403, 200)),
        ("PUT", f"{r}/coordinators/dirk", (403, 403, 204)),
        ("DELETE", f"{r}/coordinators/dirk", (403, 403, 204)),
    ]
    callers: dict[str, Any] = {
        "anonymous": await new_client(),
        "unit": unit,
        "teacher": await sign_in("teacher"),
        "coordinator": cora,
        "admin": admin,
    }

    def want(relationship: str, index: int) -> int:
        roles = ("coordinator", "teacher", "admin")
        return endpoints[index][2][roles.index(relationship)] if relationship in roles else 401

    report = await check_cells(callers, [(m, p, None) for m, p, _ in endpoints], want)
    assert not report, "\n".join(report)


async def test_coding_scheme_permission_matrix(
    unit: UnitClient,
    sign_in: Callable[..., Awaitable[Person]],
    new_client: Callable[[], Awaitable[TestClient]],
    admin: Person,
) -> None:
    """Schemes hold no lesson: every signed-in person reads them; coaches (and admins) make
    them; only a scheme's own coach changes it; the school's come from the config."""
    author = await sign_in("carla", "coach")
    talk = {
        "key": "talk",
        "en": "Talk",
        "nl": "Praten",
        "behaviours": [{"key": "asks", "shortcut": "q", "en": "Asks", "nl": "Vraagt"}],
    }
    made = await author.json("POST", "/api/v1/coding-schemes", 201, json={"definition": talk})
    path = f"/api/v1/coding-schemes/{made['scheme']['id']}"
    mine = {"definition": {**talk, "key": "mine"}}
    calls: list[Call] = [
        ("GET", "/api/v1/coding-schemes", None),
        ("GET", path, None),
        ("PUT", path, {"definition": talk}),
        ("POST", f"{path}/versions", {"definition": talk}),
        ("POST", "/api/v1/coding-schemes", mine),
        ("POST", "/api/v1/coding-schemes/1/versions", {"definition": talk}),  # the config's
    ]
    table: dict[str, tuple[Any, tuple[int, ...]]] = {
        "anonymous": (await new_client(), (401,) * 6),
        "unit": (unit, (401,) * 6),
        "teacher": (await sign_in("tess"), (200, 200, 403, 403, 403, 403)),
        "other coach": (await sign_in("otto", "coach"), (200, 200, 403, 403, 201, 403)),
        "admin": (admin, (200, 200, 403, 403, 409, 403)),  # "mine" is taken by then
        "author": (author, (200, 200, 200, 201, 409, 403)),
    }
    report = await check_cells(
        {name: caller for name, (caller, _) in table.items()},
        calls,
        lambda name, index: table[name][1][index],
    )
    assert not report, "\n".join(report)


async def test_school_sign_in_permission_matrix(
    admin: Person,
    unit: UnitClient,
    sign_in: Callable[..., Awaitable[Person]],
    new_client: Callable[[], Awaitable[TestClient]],
    services: Services,
) -> None:
    """Only an admin links an account to a school account (issue 17); anyone else is sent to
    sign in or refused. The sign-in routes name a provider: one not configured is not found."""
    callers: dict[str, Any] = {
        "anonymous": await new_client(),
        "unit": unit,
        "teacher": await sign_in("teacher"),
        "coach": await sign_in("coach", "coach"),
        "admin": admin,
    }
    link = {"username": "teacher", "provider": "school", "subject": "s-1"}
    # (method, path, form, {caller: status}); admin's 422: no provider "school" in this config.
    calls: list[tuple[str, str, dict[str, str] | None, dict[str, int]]] = [
        ("POST", "/admin/users/links", link, {"teacher": 403, "coach": 403, "admin": 422}),
        ("GET", "/login/oidc/school", None, {}),
        ("GET", "/login/oidc/school/callback?code=c&state=s", None, {}),
        ("GET", "/logout/oidc/school", None, {}),
    ]
    defaults = {"POST": 303, "GET": 404}  # not signed in as a person: to the sign-in page

    def want(relationship: str, index: int) -> int:
        method, _path, _form, statuses = calls[index]
        return statuses.get(relationship, defaults[method])

    report = await check_cells(
        callers,
        [(method, path, Raw(data=form)) for method, path, form, _ in calls],
        want,
        allow_redirects=False,
    )
    assert not report, "\n".join(report)
    assert services.db.execute("SELECT COUNT(*) FROM oidc_identities").fetchone()[0] == 0
