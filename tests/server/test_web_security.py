"""Web security, systematically (issue 6, part 7): CSRF on every state-changing route the
router knows, security headers and script-free HTML on every page and answer, sessions
rotated and revoked through the pages too, and no secret in a log line, a URL or the audit log.

The routes come from ``app.router``: a route added later is covered without touching this file.
Figures for ``make reliability``: csrf_routes_checked, csrf_unprotected, pages_checked,
header_failures, secrets_checked, secrets_leaked.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse, TraceConfig, TraceRequestEndParams, web
from aiohttp.test_utils import TestClient, TestServer

from lessoncam_device.enrolment import enrol
from lessoncam_server.access.sessions import COOKIE_NAME
from lessoncam_server.api.support import API_PREFIX
from lessoncam_server.app import API_GROUPS, init_app
from lessoncam_server.config import ServerConfig
from lessoncam_server.middleware import ACCESS_LOG, CONTENT_SECURITY_POLICY, CSRF_EXEMPT
from lessoncam_server.services import Services
from lessoncam_server.web.errors import API_MESSAGES
from lessoncam_server.web.i18n import CATALOGUES

from .. import reliability
from ..device.upload_helpers import copy_lesson, make_plan, make_pool, make_rig
from ..web.pages import Reader, csrf_in, reader_for
from .helpers import PASSWORD, FakeClock, Person, UnitClient, as_person
from .lesson_fixtures import assembled, record, send_lesson

RID = "01JDSEC0000000000000000001"
EVIL = "https://evil.example"
STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")
# Signing in needs no session's token (signing in again rotates the session); a cross-site
# sign-in is still refused by the Origin check, and the API's needs a JSON body.
EXEMPT_REASONS = {
    ("POST", "/api/v1/session"): "sign-in (JSON): no session yet; Origin checked",
    ("POST", "/login"): "sign-in (form): no session yet; Origin checked",
}
# Routes a unit drives with its bearer token: a teacher's cookie, even with its CSRF token,
# must not drive them. The tus segment endpoint is the unit's too.
UNIT_TUS_PREFIX = "/api/v1/uploads/"
UNIT_ROUTES = {
    (op.method, API_PREFIX + op.path)
    for group in API_GROUPS
    for op in group.operations
    if op.auth == "unit"
}


@pytest.fixture
def config_data(tmp_path: Path) -> dict[str, Any]:
    """With a school sign-in provider (issue 17) whose issuer does not answer, so its routes
    are in the router and answer (a "cannot be reached" page, a refused callback)."""
    secret = tmp_path / "oidc-secret"
    secret.write_text("an oidc client secret\n")
    provider = {
        "key": "school",
        "name": "School",
        "issuer": "http://127.0.0.1:9/",
        "client_id": "lessoncam",
        "client_secret_file": str(secret),
        "timeout_s": 1,
    }
    return {"storage": {"data_dir": str(tmp_path / "data")}, "oidc": [provider]}


@pytest.fixture
async def server(
    config: ServerConfig, clock: FakeClock, aiohttp_server: Callable[..., Awaitable[TestServer]]
) -> TestServer:
    """The real app, with the access log the CLI gives it (``lessoncam-server serve``)."""
    app: web.Application = init_app(config, clock=clock)
    return await aiohttp_server(app, access_log=logging.getLogger(ACCESS_LOG))


# --- helpers --------------------------------------------------------------------------------


def state_changing_routes(app: web.Application) -> list[tuple[str, str]]:
    """(method, path template) of every route that may change state, from the router."""
    found = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        template = info.get("formatter") or info.get("path")
        if route.method in STATE_CHANGING and template:
            found.append((route.method, str(template)))
    return sorted(set(found))


def fill(template: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)


def snapshot(services: Services) -> dict[str, Any]:
    """Everything a request could change: every table's rows (the audit log and a session's
    last-seen time aside: reading them is not a state change) and the data files (the
    database's own files aside: their sizes move with the audit log)."""
    tables = [
        r[0]
        for r in services.db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
    ]
    state: dict[str, Any] = {}
    for table in tables:
        if table == "audit":
            continue
        columns = "token_hash, user_id, csrf_token, created_at" if table == "sessions" else "*"
        rows = services.db.execute(f"SELECT {columns} FROM {table}").fetchall()  # noqa: S608
        state[table] = sorted(map(repr, rows))
    root = services.paths.root
    state["files"] = sorted(
        (str(p.relative_to(root)), p.stat().st_size)
        for p in root.rglob("*")
        if p.is_file() and not p.name.startswith(services.paths.database.name)
    )
    return state


def cookie_of(client: TestClient) -> str:
    return client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE_NAME].value


async def refusal_reason(app: web.Application, response: ClientResponse) -> str:
    """Why a request was refused: the JSON error code, or the error page's message."""
    text = await response.text()
    if response.content_type == "application/json":
        return str((await response.json()).get("error", ""))
    for code, message in API_MESSAGES.items():
        for catalogue in app[CATALOGUES].by_language.values():
            if f'id="error-message">{catalogue.gettext(message)}<' in text:
                return code
    return text[-600:]


async def world(
    admin: Person,
    unit: UnitClient,
    sign_in: Callable[..., Awaitable[Person]],
    services: Services,
    clock: FakeClock,
    tmp_path: Path,
) -> tuple[Person, dict[str, str]]:
    """A ready lesson of anna's with a share and a comment, a second teacher, the unit."""
    anna = await sign_in("anna")
    await sign_in("bert")
    await admin.json("PATCH", f"/api/v1/units/{unit.unit_id}", json={"teacher": "anna"})
    await send_lesson(unit, RID, clock.now, record(tmp_path, seconds=10))
    await assembled(services)
    lesson = f"/api/v1/lessons/{RID}"
    share = await anna.json("POST", f"{lesson}/shares", 201, json={"username": "bert"})
    comment = await anna.json("POST", f"{lesson}/comments", 201, json={"body": "hm", "start_s": 1})
    watch = await anna.json("POST", f"{lesson}/watch-sessions", 201, json={"invite": ["bert"]})
    users = await admin.json("GET", "/api/v1/users")
    bert = next(u["id"] for u in users["users"] if u["username"] == "bert")
    trajectory = await anna.json(
        "POST",
        "/api/v1/trajectories",
        201,
        json={
            "title": "Rust",
            "question": "How?",
            "pupil": {"label": "Pupil A", "group": "5"},
            "support": "colleague",
            "start_date": "2026-11-02",
        },
    )
    trajectory_id = trajectory["trajectory"]["id"]
    member = await anna.json(
        "POST", f"/api/v1/trajectories/{trajectory_id}/members", 201, json={"username": "bert"}
    )
    allowed = {"given_on": "2026-10-30", "watchers": ["bert"]}
    await anna.json("POST", f"/api/v1/trajectories/{trajectory_id}/consent", 201, json=allowed)
    await anna.json("PUT", f"/api/v1/trajectories/{trajectory_id}/lessons/{RID}", 201)
    step = await anna.json(
        "POST",
        f"/api/v1/trajectories/{trajectory_id}/steps",
        201,
        json={"kind": "evaluation", "body": "So far.", "held_on": "2026-11-02"},
    )
    goal = await anna.json(
        "POST", f"/api/v1/trajectories/{trajectory_id}/goals", 201, json={"text": "Starts"}
    )
    scores = {"emotional": 4, "conduct": 5, "hyperactivity": 8, "peer": 3, "prosocial": 4}
    measure = await anna.json(
        "POST",
        f"/api/v1/trajectories/{trajectory_id}/measures",
        201,
        json={"moment": "start", "measured_on": "2026-11-02", "scores": {**scores, "impact": 2}},
    )
    coding = await anna.json("POST", f"{lesson}/codings", 201, json={"scheme_id": 1})
    coded = await anna.json(
        "POST", f"{lesson}/codings/{coding['coding']['id']}/events", json={"key": "r", "t": 1}
    )
    values = {
        "lesson_id": RID,
        "recording_id": RID,
        "camera": "main",
        "user_id": str(bert),
        "unit_id": unit.unit_id,
        "share_id": str(share["share"]["id"]),
        "comment_id": str(comment["comment"]["id"]),
        "trajectory_id": str(trajectory_id),
        "member_id": str(member["member"]["id"]),
        "step_id": str(step["step"]["id"]),
        "goal_id": str(goal["goal"]["id"]),
        "measure_id": str(measure["measure"]["id"]),
        "coding_id": str(coding["coding"]["id"]),
        "event_id": str(coded["events"][0]["id"]),
        "scheme_id": "1",
        "table": "codebook",
        "username": "bert",
        "session_id": watch["session"]["id"],
        "key": "school",  # the [[oidc]] provider's
        # CSRF is refused before any lookup; the snapshot shows nothing changed either way.
        "upload_id": "0123456789abcdef0123456789abcdef",
    }
    return anna, values


# --- CSRF on every state-changing route -----------------------------------------------------


@pytest.mark.slow
async def test_every_state_changing_route_needs_the_csrf_token_and_our_origin(
    admin: Person,
    unit: UnitClient,
    sign_in: Callable[..., Awaitable[Person]],
    services: Services,
    server: TestServer,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    anna, values = await world(admin, unit, sign_in, services, clock, tmp_path)
    routes = state_changing_routes(server.app)
    assert len(routes) > 40  # the router was read, not a hand-made list
    exempt = set(EXEMPT_REASONS)
    assert exempt == set(CSRF_EXEMPT), "an exemption without a stated reason"
    checked, unprotected, report = 0, 0, []
    for method, template in routes:
        path = fill(template, values)
        is_page = not path.startswith("/api/")
        variants: list[tuple[str, dict[str, str], dict[str, str]]] = [
            ("cross-site Origin", {"Origin": EVIL}, {}),
        ]
        if (method, template) not in exempt:
            variants += [
                ("no token", {}, {}),
                ("wrong token", {"X-CSRF-Token": "x" * 43}, {"csrf_token": "x" * 43}),
            ]
        route_ok = True
        for caller in (anna, admin):
            for name, extra, form_extra in variants:
                headers = dict(extra)
                if name == "cross-site Origin":
                    headers["X-CSRF-Token"] = caller.csrf  # the right token does not help
                    form_extra = {"csrf_token": caller.csrf}
                before = snapshot(services)
                body: dict[str, Any] = (
                    {"data": {"x": "1", **form_extra}} if is_page else {"json": {}}
                )
                response = await caller.client.request(
                    method, path, headers=headers, allow_redirects=False, **body
                )
                reason = await refusal_reason(server.app, response)
                after = snapshot(services)
                if response.status != 403 or reason not in ("csrf", "cross_origin"):
                    route_ok = False
                    report.append(
                        f"{caller.username} {method} {path} {name}: {response.status} {reason!r}"
                    )
                if after != before:
                    route_ok = False
                    changed = [k for k in before if before[k] != after[k]]
                    report.append(f"{caller.username} {method} {path} {name}: changed {changed}")
        checked += 1
        unprotected += not route_ok
    reliability.add("csrf_routes_checked", checked)
    reliability.add("csrf_unprotected", unprotected)
    assert not report, "\n".join(report)
    # The same callers are still signed in: the refusals were about CSRF, not the session.
    assert (await anna.request("GET", "/api/v1/session")).status == 200


@pytest.mark.slow
async def test_the_watch_together_socket_needs_the_cookie_and_our_origin(
    admin: Person,
    unit: UnitClient,
    sign_in: Callable[..., Awaitable[Person]],
    services: Services,
    new_client: Callable[[], Awaitable[TestClient]],
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    """A WebSocket is a GET the CSRF check does not see, and browsers send cookies with
    cross-site WebSocket requests: the socket checks Origin itself."""
    anna, values = await world(admin, unit, sign_in, services, clock, tmp_path)
    path = f"/api/v1/watch-sessions/{values['session_id']}/socket"
    ours = str(anna.client.make_url("")).rstrip("/")
    refusals = [
        (anna.client, {"Origin": EVIL}, 403),
        (anna.client, {}, 403),
        (anna.client, {"Origin": "null"}, 403),
        (admin.client, {"Origin": ours}, 404),  # not invited, no access to the lesson
    ]
    anonymous = await new_client()
    refusals.append((anonymous, {"Origin": ours}, 401))
    upgrade = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    report = []
    for client, headers, want in refusals:
        response = await client.get(path, headers={**upgrade, **headers})
        if response.status != want:
            report.append(f"{headers}: {response.status} != {want}")
    ws = await anna.client.ws_connect(path, headers={"Origin": ours})
    assert (await ws.receive_json())["type"] == "welcome"
    await ws.close()
    reliability.add("csrf_routes_checked", 1)
    reliability.add("csrf_unprotected", 1 if report else 0)
    assert not report, "\n".join(report)


async def test_a_cookie_alone_cannot_drive_the_units_routes(
    admin: Person,
    unit: UnitClient,
    sign_in: Callable[..., Awaitable[Person]],
    services: Services,
    server: TestServer,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    anna, values = await world(admin, unit, sign_in, services, clock, tmp_path)
    unit_routes = sorted(
        (m, t)
        for m, t in state_changing_routes(server.app)
        if (m, t) in UNIT_ROUTES or t.startswith(UNIT_TUS_PREFIX)
    )
    assert ("POST", "/api/v1/unit/heartbeat") in unit_routes
    assert ("PATCH", UNIT_TUS_PREFIX + "{upload_id}") in unit_routes
    report = []
    for caller in (anna, admin):
        for method, template in unit_routes:
            path = fill(template, values)
            tus = {"Tus-Resumable": "1.0.0", "Upload-Length": "10", "Upload-Offset": "0"}
            before = snapshot(services)
            # Signed in, with the right CSRF token: still not the unit.
            response = await caller.request(method, path, json={}, headers=tus)
            await response.read()
            if response.status < 400 or snapshot(services) != before:
                report.append(f"{caller.username} {method} {path}: {response.status}")
    assert not report, "\n".join(report)


# --- headers and script-free pages ----------------------------------------------------------


class PageAudit(HTMLParser):
    """What a page would need that the CSP forbids, and every URL it links to."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.urls: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag in ("script", "style") and not named.get("src"):
            self._in = tag
        if tag == "script" and not named.get("src"):
            self.problems.append("inline <script>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>")
            if name == "style":
                self.problems.append(f"<{tag} style=...> (blocked by style-src 'self')")
            if name in ("href", "src", "action", "formaction", "poster", "data-src") and value:
                self.urls.append(value)
                if value.strip().lower().startswith("javascript:"):
                    self.problems.append(f"<{tag} {name}=javascript:...>")

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "style" and data.strip():
            self.problems.append("inline <style>")


def test_the_page_audit_finds_what_the_csp_would_block() -> None:
    audit = PageAudit()
    audit.feed(
        '<script>alert(1)</script><script src="/static/player.js"></script>'
        '<a href=" JavaScript:go()">x</a><button onclick="go()">y</button>'
        '<p style="color: red">z</p><style>p {}</style><img src="/static/favicon.svg">'
    )
    assert sorted(audit.problems) == sorted(
        [
            "inline <script>",
            "<a href=javascript:...>",
            "<button onclick=...>",
            "<p style=...> (blocked by style-src 'self')",
            "inline <style>",
        ]
    )
    assert audit.urls == ["/static/player.js", " JavaScript:go()", "/static/favicon.svg"]


def header_problems(response: ClientResponse) -> list[str]:
    problems = []
    headers = response.headers
    if headers.get("Content-Security-Policy") != CONTENT_SECURITY_POLICY:
        problems.append(f"CSP {headers.get('Content-Security-Policy')!r}")
    if headers.get("X-Content-Type-Options") != "nosniff":
        problems.append("no X-Content-Type-Options: nosniff")
    if headers.get("X-Frame-Options") != "DENY" and "frame-ancestors 'none'" not in (
        headers.get("Content-Security-Policy") or ""
    ):
        problems.append("may be framed")
    return problems


def test_the_policy_itself_forbids_inline_script_and_framing() -> None:
    directives = dict(
        (d.split(" ", 1)[0], d.split(" ", 1)[1]) for d in CONTENT_SECURITY_POLICY.split("; ")
    )
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "unsafe-eval" not in CONTENT_SECURITY_POLICY
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"


@pytest.mark.slow
async def test_every_page_and_answer_carries_the_headers_and_no_inline_script(
    admin: Person,
    unit: UnitClient,
    sign_in: Callable[..., Awaitable[Person]],
    new_client: Callable[[], Awaitable[TestClient]],
    services: Services,
    server: TestServer,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    anna, values = await world(admin, unit, sign_in, services, clock, tmp_path)
    anonymous = await new_client()
    gets = []
    for route in server.app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        template = info.get("formatter") or info.get("path")
        if route.method == "GET" and template:
            gets.append(fill(str(template), values))
    static = next(
        Path(r.get_info()["directory"])
        for r in server.app.router.resources()
        if isinstance(r, web.StaticResource)
    )
    files = [f"/static/{p.relative_to(static)}" for p in static.rglob("*") if p.is_file()]
    extra = [
        "/nope",  # 404 page
        "/api/v1/nope",  # JSON 404
        "/admin/users",  # 403 page for anna
        f"/api/v1/lessons/{RID}/cameras/main/video?download=1",
        "/login?reason=expired",
        f"/library?q={RID}",
    ]
    answers, pages, report = 0, 0, []
    for caller in (anna.client, admin.client, anonymous):
        for path in sorted(set(gets)) + extra + files:
            response = await caller.get(path, allow_redirects=False)
            body = await response.read()
            answers += 1
            problems = header_problems(response)
            if response.content_type == "text/html":
                pages += 1
                audit = PageAudit()
                audit.feed(body.decode())
                problems += sorted(set(audit.problems))
            report += [f"GET {path} ({response.status}): {p}" for p in problems]
    # tus answers (OPTIONS, an unknown upload), a wrong method, a body over the limit.
    too_big = b"x" * (services.config.http.max_request_kib * 1024 + 1)
    others: list[tuple[Any, str, str, dict[str, Any]]] = [
        (unit, "OPTIONS", UNIT_TUS_PREFIX, {"headers": {"Tus-Resumable": "1.0.0"}}),
        (unit, "HEAD", UNIT_TUS_PREFIX + "0" * 32, {"headers": {"Tus-Resumable": "1.0.0"}}),
        (anna, "PUT", "/login", {}),
        (anna, "PUT", "/api/v1/lessons", {}),
        (anna, "POST", f"/api/v1/lessons/{RID}/comments", {"data": io.BytesIO(too_big)}),
    ]
    for caller, method, path, kw in others:
        response = await caller.request(method, path, **kw)
        await response.read()
        answers += 1
        report += [f"{method} {path} ({response.status}): {p}" for p in header_problems(response)]
    reliability.add("pages_checked", pages)
    reliability.add("header_failures", len(report))
    assert pages > 30 and answers > 100
    assert not report, "\n".join(report)


# --- sessions through the pages -------------------------------------------------------------


async def test_the_sign_in_form_rotates_the_session_and_sign_out_revokes_it(
    make_user: Callable[..., Any], new_client: Callable[[], Awaitable[TestClient]]
) -> None:
    make_user("anna")
    reader = await reader_for(await new_client(), "anna")
    first = cookie_of(reader.client)
    await reader.get("/login")  # signed in: it sends her on
    await reader.post("/login", {"username": "anna", "password": PASSWORD, "next": "/library"})
    second = cookie_of(reader.client)
    assert second != first
    stale = await new_client()
    stale.session.cookie_jar.update_cookies({COOKIE_NAME: first})
    assert (await stale.get("/library", allow_redirects=False)).status == 303

    await reader.get("/library")
    await reader.post("/logout", {})
    replay = await new_client()
    replay.session.cookie_jar.update_cookies({COOKIE_NAME: second})
    assert (await replay.get("/library", allow_redirects=False)).status == 303
    assert (await replay.get("/api/v1/session")).status == 401


async def test_disabling_a_user_on_the_admin_page_ends_her_sessions(
    make_user: Callable[..., Any],
    new_client: Callable[[], Awaitable[TestClient]],
    services: Services,
) -> None:
    make_user("anna")
    make_user("ict", "admin")
    anna = await reader_for(await new_client(), "anna")
    anna_api = await as_person(await new_client(), "anna", PASSWORD)
    admin = await reader_for(await new_client(), "ict")
    await admin.get("/admin/users")
    anna_id = services.db.execute("SELECT id FROM users WHERE username = 'anna'").fetchone()[0]
    await admin.post(f"/admin/users/{anna_id}/disabled", {"disabled": "1"})
    assert (await anna.client.get("/library", allow_redirects=False)).status == 303
    assert (await anna_api.request("GET", "/api/v1/lessons")).status == 401
    again = await anna.client.post(
        "/login", data={"username": "anna", "password": PASSWORD}, allow_redirects=False
    )
    assert again.status == 401


async def test_the_sign_in_form_is_throttled_per_account_and_per_address(
    make_user: Callable[..., Any],
    new_client: Callable[[], Awaitable[TestClient]],
    clock: FakeClock,
) -> None:
    make_user("anna")
    make_user("bert")
    client = await new_client()

    async def sign_in(username: str, password: str) -> int:
        response = await client.post(
            "/login", data={"username": username, "password": password}, allow_redirects=False
        )
        await response.read()
        return response.status

    for _ in range(5):
        assert await sign_in("anna", "wrong") == 401
    assert await sign_in("anna", PASSWORD) == 429  # the account, even with her password
    assert await sign_in("bert", PASSWORD) == 303  # others are not locked out by it
    # One address guessing across many accounts (20 failures per address per window).
    for n in range(15):
        assert await sign_in(f"guess{n}", "wrong") == 401
    assert await sign_in("bert", PASSWORD) == 429
    clock.advance(minutes=16)
    assert await sign_in("bert", PASSWORD) == 303


# --- no secret in a log line, a URL or the audit log ----------------------------------------


class Seen:
    """Every URL the clients asked for and every Location the server answered with."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def trace(self) -> TraceConfig:
        config = TraceConfig()

        async def on_end(_session: Any, _context: Any, params: TraceRequestEndParams) -> None:
            self.urls.append(str(params.url))
            location = params.response.headers.get("Location")
            if location:
                self.urls.append(location)

        config.on_request_end.append(on_end)
        return config


@pytest.fixture
def seen() -> Seen:
    return Seen()


@pytest.fixture
async def new_client(
    server: TestServer, seen: Seen
) -> AsyncIterator[Callable[[], Awaitable[TestClient]]]:
    """Browser-like clients (as in conftest) whose URLs and redirects are recorded."""
    made: list[TestClient] = []

    async def make() -> TestClient:
        client = TestClient(server, trace_configs=[seen.trace()])
        await client.start_server()
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


@pytest.mark.slow
async def test_no_secret_in_a_log_line_a_url_or_the_audit_log(
    make_user: Callable[..., Any],
    new_client: Callable[[], Awaitable[TestClient]],
    services: Services,
    server: TestServer,
    seen: Seen,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, aiohttp's access log included
    secrets: dict[str, str] = {"first password": PASSWORD}
    links: list[str] = []

    page_problems: list[str] = []

    def keep(reader: Reader, text: str) -> str:
        audit = PageAudit()
        audit.feed(text)
        links.extend(audit.urls)
        page_problems.extend(audit.problems)  # pages only a POST shows (a new code, a password)
        if 'name="csrf_token"' in text:
            secrets[f"csrf token {len(secrets)}"] = csrf_in(text)
        secrets[f"session {len(secrets)}"] = cookie_of(reader.client)
        return text

    make_user("ict", "admin")
    admin = await reader_for(await new_client(), "ict")
    keep(admin, await admin.get("/account/password"))
    new_password = "a much longer admin secret"
    secrets["changed password"] = new_password
    keep(
        admin,
        await admin.post(
            "/account/password",
            {"current": PASSWORD, "new": new_password, "repeat": new_password},
            expect=200,
        ),
    )
    # Accounts: one with a password chosen by the admin, one generated and shown once.
    chosen = "chosen for anna, long enough"
    secrets["chosen password"] = chosen
    keep(admin, await admin.get("/admin/users"))
    keep(
        admin,
        await admin.post(
            "/admin/users", {"username": "anna", "role": "teacher", "password": chosen}
        ),
    )
    page = keep(admin, await admin.post("/admin/users", {"username": "bert", "role": "teacher"}))
    generated = re.search(r"<code[^>]*>([^<]{16,})</code>", page)
    assert generated, "the generated password is shown once"
    secrets["generated password"] = generated.group(1)
    # A mistyped password is nearly the real one: it must not be kept either.
    mistyped = new_password[:-1] + "?"
    secrets["mistyped password"] = mistyped
    wrong = await (await new_client()).post(
        "/api/v1/session", json={"username": "ict", "password": mistyped}
    )
    assert wrong.status == 401
    api_admin = await as_person(await new_client(), "ict", new_password)
    secrets["api csrf"] = api_admin.csrf
    secrets["api session"] = cookie_of(api_admin.client)
    made = await api_admin.json(
        "POST", "/api/v1/users", 201, json={"username": "coach.jan", "role": "coach"}
    )
    secrets["api generated password"] = made["password"]
    reset_api = await api_admin.json(
        "POST", f"/api/v1/users/{made['user']['id']}/password-reset", 200
    )
    secrets["api reset password"] = reset_api["password"]

    # Enrol a unit (code shown on the page, entered on the unit), upload a lesson, heartbeat.
    keep(admin, await admin.get("/admin/units"))
    page = keep(admin, await admin.post("/admin/units/codes", {"unit_name": "Group 5"}))
    code = re.search(r"\b([A-Z0-9]{4}(?:-[A-Z0-9]{4})+)\b", page)
    assert code, "the enrolment code is on the page"
    secrets["enrolment code"] = code.group(1)
    creds = await enrol(str(server.make_url("")), code.group(1))
    secrets["unit token"] = creds.token
    api_code = await api_admin.json(
        "POST", "/api/v1/enrolment-codes", 201, json={"unit_name": "Group 6"}
    )
    secrets["api enrolment code"] = api_code["code"]

    anna = await reader_for(await new_client(), "anna", chosen)
    keep(anna, await anna.get("/units"))
    keep(anna, await anna.post(f"/units/{creds.unit_id}/claim", {"hours": "2"}))
    rig = await make_rig(tmp_path / "state", creds.server_url, creds.unit_id, creds.token)
    try:
        lesson = copy_lesson(make_pool(tmp_path / "pool", seconds=10), tmp_path / "rec", RID)
        rig.queue.add_recording(make_plan(RID))
        for infos in lesson.values():
            for info in infos:
                rig.queue.add_segment(info)
        rig.queue.close_recording(RID, {cam: len(infos) for cam, infos in lesson.items()})
        await rig.drain()
        upload_urls = [s.upload_url or "" for s in rig.queue.segments(RID)]
        await rig.client.heartbeat({"state": "idle", "queue_length": 0})
    finally:
        await rig.close()
    await assembled(services)

    # Share, comment, clip; a password reset; sign out of everything.
    keep(anna, await anna.get(f"/lessons/{RID}"))
    keep(anna, await anna.get(f"/lessons/{RID}/sharing"))
    keep(anna, await anna.post(f"/lessons/{RID}/sharing", {"username": "bert"}))
    anna_api = await as_person(await new_client(), "anna", chosen)
    secrets["anna api csrf"] = anna_api.csrf
    secrets["anna api session"] = cookie_of(anna_api.client)
    anna_password = "anna changed it herself"
    secrets["anna's new password"] = anna_password
    changed = await anna_api.json(
        "POST",
        "/api/v1/session/password",
        json={"current_password": chosen, "new_password": anna_password},
    )
    anna_api.csrf = secrets["anna api csrf after change"] = changed["csrf_token"]
    secrets["anna api session after change"] = cookie_of(anna_api.client)
    lesson_api = f"/api/v1/lessons/{RID}"
    await anna_api.json("POST", f"{lesson_api}/comments", 201, json={"body": "ok", "start_s": 2})
    await anna_api.json("POST", f"{lesson_api}/clips", 202, json={"start_s": 1, "end_s": 4})
    bert_id = services.db.execute("SELECT id FROM users WHERE username = 'bert'").fetchone()[0]
    page = keep(admin, await admin.post(f"/admin/users/{bert_id}/password-reset", {}))
    reset = re.search(r"<code[^>]*>([^<]{16,})</code>", page)
    assert reset
    secrets["reset password"] = reset.group(1)
    keep(admin, await admin.get("/admin/audit"))
    await anna.get("/library")
    await anna.post("/logout", {})
    await anna_api.json("DELETE", "/api/v1/session", 204)
    await admin.post("/logout", {})

    formatter = logging.Formatter("%(name)s %(message)s")
    lines = [formatter.format(record) for record in caplog.records]
    access = [line for line in lines if line.startswith(ACCESS_LOG + " ")]
    assert any("/api/v1/uploads/" in line for line in access)  # the access log was captured
    audit_rows = [repr(row) for row in services.db.execute("SELECT * FROM audit").fetchall()]
    assert len(audit_rows) > 10
    places = {
        "log lines": lines,
        "URLs asked for and redirected to": seen.urls,
        "links in pages": links,
        "tus upload URLs": upload_urls,
        "audit log": audit_rows,
    }
    leaks = [
        f"{name} in {place}"
        for name, secret in secrets.items()
        for place, texts in places.items()
        if any(secret in text for text in texts)
    ]
    reliability.add("secrets_checked", len(set(secrets.values())))
    reliability.add("secrets_leaked", len(leaks))
    assert len(set(secrets.values())) >= 20 and len(seen.urls) > 20
    assert not leaks, leaks
    reliability.add("header_failures", len(page_problems))
    assert not page_problems, page_problems


async def test_the_sign_in_callback_keeps_code_and_state_out_of_the_access_log(
    new_client: Callable[[], Awaitable[TestClient]],
    server: TestServer,
    services: Services,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The provider sends the authorization code in the callback's query string; the access
    log line of that request shows ``code=***`` (issue 17)."""
    caplog.set_level(logging.DEBUG)
    code, state = "oidc-code-4f1c9a77e2", "oidc-state-8d2e51b0c3"
    client = await new_client()
    response = await client.get(f"/login/oidc/school/callback?code={code}&state={state}")
    assert response.status == 400  # no such sign-in under way
    assert "Start again" in await response.text() or "Begin opnieuw" in await response.text()
    formatter = logging.Formatter("%(name)s %(message)s")
    lines = [formatter.format(record) for record in caplog.records]
    access = [line for line in lines if line.startswith(ACCESS_LOG + " ")]
    assert any("/login/oidc/school/callback?code=***&state=***" in line for line in access)
    audit = [repr(r) for r in services.db.execute("SELECT * FROM audit").fetchall()]
    assert not [line for line in lines + audit if code in line or state in line]
