"""Signing in with the school's account, in Chromium, against a real OpenID Provider process
(oidc-provider; tests/oidc_op): a first sign-in makes the account with the role of her group,
the next sign-in follows a group change, the provider's own refusal and a disabled account,
key rotation, signing out at both ends, and every spoiled answer refused with a page in Dutch,
an audit line and no account made or changed (issue 17)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page

from lessoncam_server.access import accounts
from lessoncam_server.services import Services

from ..server.helpers import FakeClock
from .browser import chromium, screenshot
from .oidc_op import CLIENT_SECRET, TestProvider, free_port, provider_entry

PEOPLE: dict[str, dict[str, Any]] = {
    "anna": {"name": "Anna de Vries", "groups": ["coaches"]},
    "bert": {"name": "Bert Jansen", "groups": ["teachers"], "disabled": True},
    "carl": {"name": "Carl Smit", "groups": ["teachers"]},
    "dave": {"name": "Dave Bakker"},  # no groups claim at all
}


class WallClock(FakeClock):
    """The real time (the provider stamps its tokens with it), movable forward by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@pytest.fixture
def clock() -> WallClock:
    return WallClock()


@pytest.fixture
def op_port() -> int:
    return free_port()


@pytest.fixture
def config_data(tmp_path: Path, op_port: int) -> dict[str, Any]:
    secret = tmp_path / "client-secret"
    secret.write_text(CLIENT_SECRET + "\n")
    return {
        "storage": {"data_dir": str(tmp_path / "data")},
        "oidc": [provider_entry(f"http://127.0.0.1:{op_port}", secret, session_hours=2)],
    }


@pytest.fixture
async def op(server: TestServer, op_port: int) -> AsyncIterator[TestProvider]:
    provider = TestProvider(op_port, base_of(server), "school")
    provider.people = dict(PEOPLE)
    await provider.start()
    yield provider
    await provider.stop()


def base_of(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


async def through_provider(browser: Browser, base: str, login: str) -> Page:
    """A fresh browser that presses "Sign in with Test School" and signs in there as
    ``login``; returns the page lessoncam ends on (the library, or a refusal)."""
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{base}/login")
    await page.click("a[data-provider=school]")
    await page.fill("input[name=login]", login)
    await page.click("#op-sign-in")
    await page.wait_for_url(
        lambda url: url.startswith((f"{base}/library", f"{base}/login/oidc/school/callback"))
    )
    return page


def user_row(services: Services, username: str) -> dict[str, Any] | None:
    return accounts.find_user(services.db, username)


def audit_lines(services: Services, since: int = 0) -> list[tuple[str, str, dict[str, Any]]]:
    rows = services.db.execute(
        "SELECT action, outcome, detail FROM audit WHERE id > ? ORDER BY id", [since]
    ).fetchall()
    return [(a, o, json.loads(d) if d else {}) for a, o, d in rows]


def last_audit_id(services: Services) -> int:
    return int(services.db.execute("SELECT COALESCE(MAX(id), 0) FROM audit").fetchone()[0])


def accounts_snapshot(services: Services) -> list[tuple[Any, ...]]:
    users = services.db.execute("SELECT * FROM users ORDER BY id").fetchall()
    links = services.db.execute("SELECT * FROM oidc_identities ORDER BY subject").fetchall()
    return [tuple(r) for r in users] + [("link", *(tuple(r)[:3])) for r in links]


@pytest.mark.slow
async def test_first_sign_in_makes_the_account_and_the_next_follows_the_group(
    op: TestProvider, server: TestServer, services: Services
) -> None:
    base = base_of(server)
    async with chromium() as browser:
        login = await (await browser.new_context()).new_page()
        await login.goto(f"{base}/login")
        await screenshot(login, "oidc-login")
        page = await through_provider(browser, base, "anna")
        assert page.url == f"{base}/library"
        assert "Anna de Vries" in await page.inner_text(".who")
        await screenshot(page, "oidc-signed-in")
        anna = user_row(services, "anna")
        assert anna is not None and anna["role"] == "coach"
        assert anna["display_name"] == "Anna de Vries"
        lines = audit_lines(services)
        assert ("user_create", "ok") in [(a, o) for a, o, _ in lines]
        created = next(d for a, _, d in lines if a == "user_create")
        assert created == {"via": "school", "role": "coach", "subject": "anna"}
        assert ("login", "ok", {"via": "school"}) in lines

        # ICT moves her from the coaches to the teachers: her next sign-in says so.
        mark = last_audit_id(services)
        await op.set_people({**PEOPLE, "anna": {"name": "Anna de Vries", "groups": ["teachers"]}})
        page = await through_provider(browser, base, "anna")
        assert page.url == f"{base}/library"
        again = user_row(services, "anna")
        assert again is not None and again["id"] == anna["id"] and again["role"] == "teacher"
        assert services.db.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 1
        lines = audit_lines(services, mark)
        assert ("user_update", "ok", {"via": "school", "role": ["coach", "teacher"]}) in lines


@pytest.mark.slow
async def test_refused_by_the_provider_or_disabled_here(
    op: TestProvider, server: TestServer, services: Services
) -> None:
    base = base_of(server)
    async with chromium() as browser:
        # Disabled at the provider: it answers access_denied; nothing is made here.
        page = await through_provider(browser, base, "bert")
        assert "heeft je niet aangemeld" in await page.inner_text("#error-message")
        assert user_row(services, "bert") is None
        assert ("login", "denied") in [(a, o) for a, o, _ in audit_lines(services)]
        refused = [d for a, o, d in audit_lines(services) if o == "denied"][-1]
        assert refused == {"via": "school", "reason": "provider_error", "error": "access_denied"}

        # A lessoncam account disabled by ICT cannot come in through the provider either.
        page = await through_provider(browser, base, "carl")
        assert page.url == f"{base}/library"
        carl = user_row(services, "carl")
        assert carl is not None
        services.db.table("users").update(carl["id"], {"disabled": 1})
        before, mark = accounts_snapshot(services), last_audit_id(services)
        page = await through_provider(browser, base, "carl")
        assert "uitgeschakeld" in await page.inner_text("#error-message")
        await screenshot(page, "oidc-disabled")
        assert accounts_snapshot(services) == before
        assert audit_lines(services, mark) == [
            (
                "login",
                "denied",
                {"via": "school", "reason": "account_disabled", "subject": "carl"},
            )
        ]

        # A token without the groups claim the mapping needs: refused, nothing made.
        before, mark = accounts_snapshot(services), last_audit_id(services)
        page = await through_provider(browser, base, "dave")
        assert "geeft geen toegang" in await page.inner_text("#error-message")
        assert accounts_snapshot(services) == before
        assert [d for _, _, d in audit_lines(services, mark)] == [
            {"via": "school", "reason": "missing_claim", "claim": "groups"}
        ]


@pytest.mark.slow
async def test_a_rotated_key_is_fetched_and_the_session_is_capped(
    op: TestProvider, server: TestServer, services: Services, clock: WallClock
) -> None:
    base = base_of(server)
    async with chromium() as browser:
        page = await through_provider(browser, base, "carl")
        assert page.url == f"{base}/library"
        # The provider now signs with key-2 only: lessoncam's cached keys know key-1.
        await op.rotate_keys("key-2")
        page = await through_provider(browser, base, "carl")
        assert page.url == f"{base}/library"
        # The entry caps these sessions at 2 hours, below the 12 of [security].
        clock.advance(hours=2, minutes=1)
        await page.goto(f"{base}/library")
        assert page.url.startswith(f"{base}/login")


@pytest.mark.slow
async def test_sign_out_here_and_at_the_provider(
    op: TestProvider, server: TestServer, services: Services
) -> None:
    base = base_of(server)
    async with chromium() as browser:
        page = await through_provider(browser, base, "carl")
        cookies = {c["name"]: c["value"] for c in await page.context.cookies()}
        await page.click("#sign-out")
        await page.wait_for_url(f"{base}/logout/oidc/school")
        assert services.db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0
        assert ("logout", "ok", {"via": "school"}) in audit_lines(services)
        link = await page.get_attribute("#provider-logout", "href")
        assert (
            link is not None and "id_token" not in link and cookies["lessoncam_session"] not in link
        )
        await page.click("#provider-logout")
        await page.click("button[name=logout][value=yes]")  # the provider asks to confirm
        await page.wait_for_url(f"{base}/login?notice=signed_out")
        # Signed out at the provider too: the next sign-in asks who she is again.
        await page.click("a[data-provider=school]")
        await page.wait_for_selector("input[name=login]")


@pytest.mark.slow
async def test_spoiled_answers_are_refused_with_a_page_and_an_audit_line(
    op: TestProvider, server: TestServer, services: Services
) -> None:
    base = base_of(server)
    expected = {
        "aud": "id_token_wrong_audience",
        "iss": "id_token_wrong_issuer",
        "expired": "id_token_expired",
        "nonce": "id_token_wrong_nonce",
        "drop:nonce": "id_token_missing_nonce",
        "alg-none": "id_token_algorithm_not_allowed",
        "unknown-key": "id_token_unknown_key",
        "token-error": "token_refused",
        "slow:8000": "provider_unreachable",
    }
    report = []
    async with chromium() as browser:
        for mode, reason in expected.items():
            before, mark = accounts_snapshot(services), last_audit_id(services)
            await op.tamper(mode)
            page = await through_provider(browser, base, "carl")
            text = await page.inner_text("#error-message") if page.url != base else ""
            lines = audit_lines(services, mark)
            if "niet aangemeld" not in text:
                report.append(f"{mode}: page {page.url} says {text!r}")
            if [(a, o, d.get("reason")) for a, o, d in lines] != [("login", "denied", reason)]:
                report.append(f"{mode}: audit {lines}")
            if accounts_snapshot(services) != before:
                report.append(f"{mode}: accounts changed")
            await page.context.close()
    assert not report, "\n".join(report)
    # The same provider, unspoiled, still signs carl in.
    async with chromium() as browser:
        page = await through_provider(browser, base, "carl")
        assert page.url == f"{base}/library"


@pytest.mark.slow
async def test_a_wrong_or_replayed_state_is_refused(
    op: TestProvider, server: TestServer, services: Services
) -> None:
    base = base_of(server)
    async with chromium() as browser:
        # A sign-in under way, and an answer with a state this browser was not given.
        context = await browser.new_context()
        page = await context.new_page()
        await page.goto(f"{base}/login")
        await page.click("a[data-provider=school]")
        await page.wait_for_selector("input[name=login]")
        await page.goto(f"{base}/login/oidc/school/callback?code=made-up&state=not-ours")
        assert "verlopen of al gebruikt" in await page.inner_text("#error-message")
        assert user_row(services, "carl") is None
        await context.close()

        # Replayed: the callback that signed carl in, opened again, signs nobody in.
        context = await browser.new_context()
        page = await context.new_page()
        callbacks: list[str] = []
        page.on(
            "request",
            lambda request: callbacks.append(request.url) if "/callback?" in request.url else None,
        )
        await page.goto(f"{base}/login")
        await page.click("a[data-provider=school]")
        await page.fill("input[name=login]", "carl")
        await page.click("#op-sign-in")
        await page.wait_for_url(f"{base}/library")
        await context.clear_cookies()
        mark = last_audit_id(services)
        await page.goto(callbacks[0])
        assert "verlopen of al gebruikt" in await page.inner_text("#error-message")
        assert [(a, o, d["reason"]) for a, o, d in audit_lines(services, mark)] == [
            ("login", "denied", "unknown_state")
        ]
        await context.close()


@pytest.mark.slow
async def test_no_secret_of_the_flow_in_a_log_line_a_url_we_write_or_the_audit_log(
    op: TestProvider,
    server: TestServer,
    services: Services,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, the access log included
    base = base_of(server)
    async with chromium() as browser:
        page = await (await browser.new_context()).new_page()
        urls: list[str] = []
        page.on("request", lambda request: urls.append(request.url))
        await page.goto(f"{base}/login")
        await page.click("a[data-provider=school]")
        await page.wait_for_selector("input[name=login]")
        verifier, nonce = services.db.execute(
            "SELECT code_verifier, nonce FROM oidc_pending"
        ).fetchone()
        await page.fill("input[name=login]", "carl")
        await page.click("#op-sign-in")
        await page.wait_for_url(f"{base}/library")
        session = {c["name"]: c["value"] for c in await page.context.cookies()}["lessoncam_session"]
        await page.click("#sign-out")
        await page.wait_for_url(f"{base}/logout/oidc/school")
        logout_link = await page.get_attribute("#provider-logout", "href")
    callback = next(u for u in urls if "/callback?" in u)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    formatter = logging.Formatter("%(name)s %(message)s")
    lines = [formatter.format(record) for record in caplog.records]
    assert any("/login/oidc/school/callback?code=***&state=***" in line for line in lines)
    audit_rows = [repr(r) for r in services.db.execute("SELECT * FROM audit").fetchall()]
    # Ours: every URL on this server the browser was sent to, and the provider sign-out link.
    written = [u for u in urls if u.startswith(base) and u != callback] + [str(logout_link)]
    secrets = {
        "client secret": CLIENT_SECRET,
        "authorization code": code,
        "PKCE verifier": verifier,
        "nonce": nonce,
        "session": session,
        "a JWT (ID token)": "eyJ",
    }
    places = {"log lines": lines, "audit log": audit_rows, "URLs we wrote": written}
    leaks = [
        f"{name} in {place}"
        for name, secret in secrets.items()
        for place, texts in places.items()
        if any(secret in text for text in texts)
    ]
    assert not leaks, leaks
