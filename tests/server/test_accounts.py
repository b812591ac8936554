"""Accounts and sessions: sign-in, rotation, expiry, revocation, CSRF, throttling."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient

from lessoncam_server.access.sessions import COOKIE_NAME, token_hash

from .helpers import PASSWORD, FakeClock, Person


async def test_sign_in_sets_a_hardened_cookie_and_returns_csrf(
    new_client: Callable[[], Awaitable[TestClient]], make_user: Callable[..., Any]
) -> None:
    make_user("anna")
    client = await new_client()
    response = await client.post("/api/v1/session", json={"username": "anna", "password": PASSWORD})
    assert response.status == 200
    body = await response.json()
    assert body["user"]["username"] == "anna" and "password_hash" not in body["user"]
    assert len(body["csrf_token"]) >= 32
    cookie = response.cookies[COOKIE_NAME]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert not cookie["secure"]  # plain HTTP on loopback; Secure comes with HTTPS
    assert len(cookie.value) >= 43  # 256 bits in URL-safe base64


async def test_session_token_is_stored_only_as_a_hash(
    sign_in: Callable[..., Awaitable[Person]], services: Any
) -> None:
    person = await sign_in("anna")
    token = person.client.session.cookie_jar.filter_cookies(person.client.make_url("/"))[
        COOKIE_NAME
    ].value
    stored = [r[0] for r in services.db.execute("SELECT token_hash FROM sessions").fetchall()]
    assert token not in stored and token_hash(token) in stored


async def test_wrong_password_and_unknown_user_get_the_same_answer(
    new_client: Callable[[], Awaitable[TestClient]], make_user: Callable[..., Any], services: Any
) -> None:
    make_user("anna")
    client = await new_client()
    wrong = await client.post("/api/v1/session", json={"username": "anna", "password": "nope"})
    ghost = await client.post("/api/v1/session", json={"username": "ghost", "password": "nope"})
    assert wrong.status == ghost.status == 401
    assert (await wrong.json()) == (await ghost.json())
    outcomes = services.db.execute(
        "SELECT actor_name, outcome FROM audit WHERE action = 'login'"
    ).fetchall()
    assert ("anna", "failed") in outcomes and ("ghost", "failed") in outcomes


async def test_login_rotates_the_session_token(
    new_client: Callable[[], Awaitable[TestClient]], make_user: Callable[..., Any]
) -> None:
    make_user("anna")
    client = await new_client()
    creds = {"username": "anna", "password": PASSWORD}
    first = (await client.post("/api/v1/session", json=creds)).cookies[COOKIE_NAME].value
    second_response = await client.post("/api/v1/session", json=creds)
    second = second_response.cookies[COOKIE_NAME].value
    assert first != second
    # The old token no longer works.
    stale = await new_client()
    stale.session.cookie_jar.update_cookies({COOKIE_NAME: first})
    assert (await stale.get("/api/v1/session")).status == 401


async def test_logout_revokes_on_the_server(
    sign_in: Callable[..., Awaitable[Person]], new_client: Any
) -> None:
    person = await sign_in("anna")
    token = person.client.session.cookie_jar.filter_cookies(person.client.make_url("/"))[
        COOKIE_NAME
    ].value
    await person.json("DELETE", "/api/v1/session", 204)
    replay = await new_client()
    replay.session.cookie_jar.update_cookies({COOKIE_NAME: token})
    assert (await replay.get("/api/v1/lessons")).status == 401


async def test_idle_and_absolute_expiry(
    sign_in: Callable[..., Awaitable[Person]], clock: FakeClock
) -> None:
    person = await sign_in("anna")
    clock.advance(minutes=119)
    assert (await person.request("GET", "/api/v1/session")).status == 200
    clock.advance(minutes=119)  # active again within the idle limit
    assert (await person.request("GET", "/api/v1/session")).status == 200
    clock.advance(minutes=121)
    assert (await person.request("GET", "/api/v1/session")).status == 401

    person = await sign_in("anna", create=False)
    for _ in range(12):  # busy all day: the absolute limit (12 h) still ends it
        clock.advance(minutes=61)
        status = (await person.request("GET", "/api/v1/session")).status
    assert status == 401


async def test_disabling_a_user_revokes_their_sessions(
    sign_in: Callable[..., Awaitable[Person]], admin: Person
) -> None:
    anna = await sign_in("anna")
    users = await admin.json("GET", "/api/v1/users")
    anna_id = next(u["id"] for u in users["users"] if u["username"] == "anna")
    await admin.json("PATCH", f"/api/v1/users/{anna_id}", json={"disabled": True})
    assert (await anna.request("GET", "/api/v1/lessons")).status == 401
    again = await anna.client.post(
        "/api/v1/session", json={"username": "anna", "password": PASSWORD}
    )
    assert again.status == 401


async def test_state_changes_need_the_csrf_token(
    sign_in: Callable[..., Awaitable[Person]],
) -> None:
    person = await sign_in("anna")
    no_token = await person.client.request("DELETE", "/api/v1/session")
    assert no_token.status == 403 and (await no_token.json())["error"] == "csrf"
    wrong = await person.client.request(
        "DELETE", "/api/v1/session", headers={"X-CSRF-Token": "x" * 43}
    )
    assert wrong.status == 403
    assert (await person.request("GET", "/api/v1/session")).status == 200  # still signed in


async def test_cross_site_requests_are_refused(
    new_client: Callable[[], Awaitable[TestClient]], make_user: Callable[..., Any]
) -> None:
    make_user("anna")
    client = await new_client()
    response = await client.post(
        "/api/v1/session",
        json={"username": "anna", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status == 403


async def test_login_throttling_per_account(
    new_client: Callable[[], Awaitable[TestClient]], make_user: Callable[..., Any], clock: FakeClock
) -> None:
    make_user("anna")
    client = await new_client()
    for _ in range(5):
        r = await client.post("/api/v1/session", json={"username": "anna", "password": "wrong"})
        assert r.status == 401
    blocked = await client.post("/api/v1/session", json={"username": "anna", "password": PASSWORD})
    assert blocked.status == 429 and int(blocked.headers["Retry-After"]) > 0
    clock.advance(minutes=16)
    ok = await client.post("/api/v1/session", json={"username": "anna", "password": PASSWORD})
    assert ok.status == 200


async def test_change_password_signs_out_other_sessions(
    sign_in: Callable[..., Awaitable[Person]],
) -> None:
    here = await sign_in("anna")
    elsewhere = await sign_in("anna", create=False)
    short = await here.request(
        "POST",
        "/api/v1/session/password",
        json={"current_password": PASSWORD, "new_password": "short"},
    )
    assert short.status == 400 and "at least" in (await short.json())["message"]
    body = await here.json(
        "POST",
        "/api/v1/session/password",
        json={"current_password": PASSWORD, "new_password": "a much longer secret"},
    )
    here.csrf = body["csrf_token"]
    assert (await here.request("GET", "/api/v1/session")).status == 200
    assert (await elsewhere.request("GET", "/api/v1/session")).status == 401


async def test_admin_manages_accounts_but_teachers_cannot(
    sign_in: Callable[..., Awaitable[Person]], admin: Person
) -> None:
    created = await admin.json(
        "POST", "/api/v1/users", 201, json={"username": "coach.jan", "role": "coach"}
    )
    assert created["user"]["role"] == "coach" and len(created["password"]) >= 16
    dup = await admin.request(
        "POST", "/api/v1/users", json={"username": "coach.jan", "role": "coach"}
    )
    assert dup.status == 400
    teacher = await sign_in("anna")
    assert (await teacher.request("GET", "/api/v1/users")).status == 403
    assert (
        await teacher.request("POST", "/api/v1/users", json={"username": "x1", "role": "admin"})
    ).status == 403


async def test_malformed_bodies_get_clear_4xx(sign_in: Callable[..., Awaitable[Person]]) -> None:
    person = await sign_in("anna")
    not_json = await person.request(
        "POST", "/api/v1/session", data=b"{", headers={"Content-Type": "application/json"}
    )
    assert not_json.status == 400 and (await not_json.json())["error"] == "invalid_json"
    form = await person.request("POST", "/api/v1/session", data={"username": "a"})
    assert form.status == 415
    missing = await person.request("POST", "/api/v1/session", json={"username": "anna"})
    assert missing.status == 400 and "password" in (await missing.json())["message"]


async def test_security_headers_on_every_answer(
    new_client: Callable[[], Awaitable[TestClient]],
) -> None:
    client = await new_client()
    for path in ("/", "/api/v1/lessons", "/api/v1/nope", "/healthz"):
        response = await client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        if path.startswith("/api/"):
            assert response.headers["Cache-Control"] == "no-store", path
            assert response.content_type == "application/json", path


async def test_behind_a_trusted_tls_proxy_cookies_are_secure(
    aiohttp_server: Any, clock: FakeClock, tmp_path: Any
) -> None:
    from lessoncam_server.access import accounts as accounts_module
    from lessoncam_server.app import init_app
    from lessoncam_server.config import parse_config
    from lessoncam_server.services import SERVICES

    config = parse_config(
        {"storage": {"data_dir": str(tmp_path / "d")}, "http": {"trust_forwarded_proto": True}}
    )
    server = await aiohttp_server(init_app(config, clock=clock))
    services = server.app[SERVICES]
    accounts_module.create_user(services.db, "anna", PASSWORD, "teacher", clock.now)
    client = TestClient(server)
    await client.start_server()
    try:
        response = await client.post(
            "/api/v1/session",
            json={"username": "anna", "password": PASSWORD},
            headers={
                "X-Forwarded-Proto": "https",
                "Origin": f"https://{server.host}:{server.port}",
            },
        )
        assert response.status == 200
        assert response.cookies[COOKIE_NAME]["secure"]
        assert response.headers["Strict-Transport-Security"]
    finally:
        await client.close()
