"""Signing in with the school's account (issue 17), without a browser: the ``[[oidc]]``
config and check-config, the ID token checks one by one, the claims-to-account rules, the
authorizations under way, the use case's refusals and links, a provider that is down or slow,
and password sign-in turned off but for the break-glass admin.

The whole flow runs in Chromium against a real provider in tests/web/test_browser_oidc.py."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from lessoncam_common.config_errors import ConfigError
from lessoncam_server import cli
from lessoncam_server.access import accounts, signing_in
from lessoncam_server.access.oidc import check, identities, pending
from lessoncam_server.access.oidc.id_token import IdTokenRejected, verify
from lessoncam_server.access.oidc.settings import ProviderSettings
from lessoncam_server.config import parse_config
from lessoncam_server.infra.log_redaction import redact
from lessoncam_server.services import Services

from .helpers import PASSWORD, FakeClock

ISSUER = "https://login.example.org/school"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"})
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"})


def entry(**extra: Any) -> dict[str, Any]:
    return {"key": "school", "name": "School", "issuer": ISSUER, "client_id": "lc", **extra}


def provider(**extra: Any) -> ProviderSettings:
    return ProviderSettings.model_validate(entry(**extra))


# --- config ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"oidc": [entry(issuer="http://login.example.org")]}, "must use https"),
        ({"oidc": [entry(scopes=["profile"])]}, "scopes must include 'openid'"),
        (
            {"oidc": [entry(client_secret_env="X", client_secret_file="/x")]},
            "not both",
        ),
        ({"oidc": [entry(), entry()]}, "its own key"),
        ({"sign_in": {"local": False}}, "needs at least one [[oidc]] provider"),
        (
            {"oidc": [entry()], "sign_in": {"local": False, "break_glass": []}},
            "needs a break_glass admin",
        ),
        ({"oidc": [entry(default_role="owner")]}, "default_role"),
        ({"oidc": [entry(default_role="refuse")]}, "'refuse' needs admin_groups"),
        ({"oidc": [entry(colour="blue")]}, "colour"),
    ],
)
def test_oidc_config_errors_name_the_fix(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    assert message in caught.value.report()


def test_check_config_says_which_secret_is_missing_and_what_a_provider_offers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "server.toml"
    config.write_text(
        f'[storage]\ndata_dir = "{tmp_path}"\n\n[[oidc]]\nkey = "school"\nname = "School"\n'
        'issuer = "http://127.0.0.1:9"\nclient_id = "lc"\nclient_secret_env = "LC_TEST_SECRET"\n'
    )
    monkeypatch.delenv("LC_TEST_SECRET", raising=False)
    assert cli.main(["check-config", "--config", str(config)]) == 2
    assert "LC_TEST_SECRET is not set" in capsys.readouterr().err
    monkeypatch.setenv("LC_TEST_SECRET", "s3cret-value")
    assert cli.main(["check-config", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "environment variable LC_TEST_SECRET" in out and "s3cret-value" not in out
    assert "/login/oidc/school/callback" in out
    # Nothing listens on port 9: --fetch-discovery says so, and fails.
    assert cli.main(["check-config", "--config", str(config), "--fetch-discovery"]) == 2
    err = capsys.readouterr().err
    assert "error: oidc school: http://127.0.0.1:9/.well-known/openid-configuration" in err
    assert "unreachable" in err


# --- a small provider for the start of a sign-in and for check-config ------------------------


def discovery_app(issuer: list[str]) -> web.Application:
    async def document(request: web.Request) -> web.Response:
        base = issuer[0]
        return web.json_response(
            {
                "issuer": base,
                "authorization_endpoint": f"{base}/authorize",
                "token_endpoint": f"{base}/token",
                "jwks_uri": f"{base}/jwks",
                "end_session_endpoint": f"{base}/logout",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256", "none", "HS256"],
            }
        )

    async def jwks(request: web.Request) -> web.Response:
        return web.json_response(KeySet([KEY]).as_dict(private=False))

    app = web.Application()
    app.router.add_get("/.well-known/openid-configuration", document)
    app.router.add_get("/jwks", jwks)
    return app


@pytest.fixture
async def little_provider(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
) -> str:
    issuer: list[str] = []
    server = await aiohttp_server(discovery_app(issuer))
    issuer.append(str(server.make_url("")).rstrip("/"))
    return issuer[0]


async def test_check_config_fetches_the_discovery_document(little_provider: str) -> None:
    lines, ok = await check.fetch([provider(issuer=little_provider)])
    assert ok, lines
    text = "\n".join(lines)
    assert f"authorization endpoint {little_provider}/authorize" in text
    # "none" and HMAC are never used, whatever the provider offers.
    assert "1 signing key(s); ID token algorithms RS256" in text
    assert "(RP-initiated logout): offered" in text
    lines, ok = await check.fetch([provider(issuer=little_provider + "/other")])
    assert not ok and "bad_answer" in lines[0]


# --- the ID token ---------------------------------------------------------------------------

NOW = 1_800_000_000


def token(claims: dict[str, Any] | None = None, header: dict[str, Any] | None = None) -> str:
    body = {
        "iss": ISSUER,
        "aud": "lc",
        "sub": "s-1",
        "nonce": "n-1",
        "iat": NOW,
        "exp": NOW + 300,
        **(claims or {}),
    }
    return jwt.encode({"alg": "RS256", "kid": "k1", **(header or {})}, body, KEY)


def check_token(value: str, keys: KeySet | None = None) -> dict[str, Any]:
    return verify(
        value,
        keys or KeySet([KEY]),
        issuer=ISSUER,
        client_id="lc",
        nonce="n-1",
        algorithms=["RS256"],
        now=NOW + 10,
    )


def forged(header: dict[str, Any], claims: dict[str, Any], signature: str = "") -> str:
    """A token as an attacker writes it: any header, any claims, any signature."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part(header)}.{part(claims)}.{signature}"


def test_a_good_id_token_passes() -> None:
    assert check_token(token())["sub"] == "s-1"
    # Several audiences: only when it was issued to us (azp).
    assert check_token(token({"aud": ["lc", "api"], "azp": "lc"}))["sub"] == "s-1"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (token({"aud": "someone-else"}), "wrong_audience"),
        (token({"aud": ["lc", "api"], "azp": "api"}), "wrong_audience"),
        (token({"iss": "https://evil.example"}), "wrong_issuer"),
        (token({"exp": NOW - 3600, "iat": NOW - 7200}), "expired"),
        (token({"nonce": "n-2"}), "wrong_nonce"),
        (token({"nonce": None}), "missing_nonce"),
        (token({"iat": NOW + 3600, "exp": NOW + 7200}), "issued_in_future"),
        (token(header={"kid": "k9"}), "unknown_key"),
        (forged({"alg": "RS512", "kid": "k1"}, {"sub": "s"}, "c2ln"), "algorithm_not_allowed"),
        (forged({"alg": "HS256", "kid": "k1"}, {"sub": "s"}, "c2ln"), "algorithm_not_allowed"),
        (jwt.encode({"alg": "RS256", "kid": "k1"}, {"sub": "x"}, OTHER_KEY), "bad_signature"),
        ("not.a.token", "malformed"),
        ("x" * 20, "malformed"),
    ],
)
def test_a_spoiled_id_token_is_refused(value: str, reason: str) -> None:
    with pytest.raises(IdTokenRejected) as caught:
        check_token(value)
    assert caught.value.reason == reason


def test_alg_none_is_refused_even_when_the_provider_lists_it() -> None:
    claims = {"iss": ISSUER, "aud": "lc", "sub": "s", "nonce": "n-1", "iat": NOW, "exp": NOW + 9}
    with pytest.raises(IdTokenRejected) as caught:
        verify(
            forged({"alg": "none", "kid": "k1"}, claims),
            KeySet([KEY]),
            issuer=ISSUER,
            client_id="lc",
            nonce="n-1",
            algorithms=["none", "HS256", "RS256"],
            now=NOW,
        )
    assert caught.value.reason == "algorithm_not_allowed"


# --- claims to an account -------------------------------------------------------------------


def test_the_role_comes_from_the_highest_group_and_claims_can_refuse() -> None:
    mapped = provider(admin_groups=["ict"], coach_groups=["coaches"], teacher_groups=["staff"])
    person = identities.identity_from(mapped, {"sub": "s", "groups": ["staff", "coaches"]})
    assert person.role == "coach"
    assert identities.identity_from(mapped, {"sub": "s", "groups": ["ict"]}).role == "admin"
    assert identities.identity_from(mapped, {"sub": "s", "groups": []}).role == "teacher"
    refusing = provider(coach_groups=["coaches"], default_role="refuse")
    assert identities.identity_from(refusing, {"sub": "s", "groups": ["coaches"]}).role == "coach"
    cases = [
        (mapped, {"groups": ["staff"]}, "missing_claim", "sub"),
        (mapped, {"sub": "s"}, "missing_claim", "groups"),
        (refusing, {"sub": "s", "groups": ["other"]}, "no_group", "groups"),
        (provider(require={"hd": "school.nl"}), {"sub": "s"}, "missing_claim", "hd"),
        (provider(require={"hd": "school.nl"}), {"sub": "s", "hd": "x.nl"}, "requirement", "hd"),
        (provider(subject_claim="oid"), {"sub": "s"}, "missing_claim", "oid"),
    ]
    for settings, claims, reason, claim in cases:
        with pytest.raises(identities.ClaimsRefused) as caught:
            identities.identity_from(settings, claims)
        assert (caught.value.reason, caught.value.claim) == (reason, claim), claims
    # No groups mapped: the role stays lessoncam's to manage.
    assert identities.identity_from(provider(), {"sub": "s"}).role is None


def test_ict_links_an_account_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "server.toml"
    config.write_text(
        f'[storage]\ndata_dir = "{tmp_path}"\n\n[[oidc]]\nkey = "school"\nname = "School"\n'
        'issuer = "https://login.example.org"\nclient_id = "lc"\n'
    )
    assert cli.main(["user", "add", "anna", "--config", str(config)]) == 0
    link = ["user", "link", "anna", "--provider", "school", "--subject", "s-9"]
    assert cli.main([*link, "--config", str(config)]) == 0
    assert "anna now signs in through school as s-9" in capsys.readouterr().out
    with pytest.raises(SystemExit) as caught:
        cli.main([*link, "--config", str(config)])
    assert "already linked" in str(caught.value.code)


# --- the use case ---------------------------------------------------------------------------


@pytest.fixture
def config_data(tmp_path: Path) -> dict[str, Any]:
    return {
        "storage": {"data_dir": str(tmp_path / "data")},
        "oidc": [
            entry(issuer="http://127.0.0.1:9", timeout_s=1, session_hours=1),
            entry(key="strict", issuer="http://127.0.0.1:9", create_accounts=False),
            entry(key="groups", issuer="http://127.0.0.1:9", coach_groups=["coaches"]),
        ],
    }


def provider_of(services: Services, key: str) -> ProviderSettings:
    return next(p for p in services.config.oidc if p.key == key)


def audit(services: Services) -> list[tuple[str, str, dict[str, Any]]]:
    rows = services.db.execute("SELECT action, outcome, detail FROM audit ORDER BY id").fetchall()
    return [(a, o, json.loads(d) if d else {}) for a, o, d in rows]


def test_a_new_person_gets_an_account_never_someone_elses_by_name(services: Services) -> None:
    accounts.create_user(services.db, "anna", PASSWORD, "teacher", services.now())
    school = provider_of(services, "school")
    claims = {"sub": "s-anna", "name": "Anna B.", "preferred_username": "anna", "email": "a@x"}
    signed = signing_in.sign_in_with_provider(services, school, claims, address="10.0.0.1")
    made = accounts.get_user(services.db, signed.user_id)
    assert made is not None and made["username"] == "anna-2" and made["role"] == "teacher"
    # The same subject comes back to the same account, whatever name it now gives.
    again = signing_in.sign_in_with_provider(
        services, school, {**claims, "preferred_username": "bob"}, address="10.0.0.1"
    )
    assert again.user_id == signed.user_id
    # Nobody can sign in with the random password of an account made this way.
    assert services.db.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 2


def test_refusals_touch_no_account_and_say_why_in_the_audit_log(services: Services) -> None:
    strict, groups = provider_of(services, "strict"), provider_of(services, "groups")
    before = services.db.execute("SELECT * FROM users").fetchall()
    for settings, claims, reason in [
        (strict, {"sub": "s-new"}, "no_account"),
        (groups, {"sub": "s-new"}, "missing_claim"),
    ]:
        with pytest.raises(signing_in.ProviderSignInRefused) as caught:
            signing_in.sign_in_with_provider(services, settings, claims, address="10.0.0.2")
        assert caught.value.code == reason
    assert services.db.execute("SELECT * FROM users").fetchall() == before
    assert [(a, o, d["reason"]) for a, o, d in audit(services)] == [
        ("login", "denied", "no_account"),
        ("login", "denied", "missing_claim"),
    ]
    assert audit(services)[0][2]["subject"] == "s-new"  # what ICT needs to link her


async def test_an_admin_links_an_account_once(
    services: Services, sign_in: Callable[..., Awaitable[Any]], make_user: Callable[..., Any]
) -> None:
    admin = await sign_in("ict", "admin")
    bert = make_user("bert", "coach")
    make_user("carl")
    form = {"username": "bert", "provider": "strict", "subject": "s-bert"}
    response = await admin.request("POST", "/admin/users/links", data=form, allow_redirects=False)
    assert response.status == 303
    strict = provider_of(services, "strict")
    signed = signing_in.sign_in_with_provider(
        services, strict, {"sub": "s-bert"}, address="10.0.0.3"
    )
    assert signed.user_id == bert["id"]  # her own account, lessons and all
    for again, status in [
        ({**form, "subject": "s-other"}, 409),  # bert is linked already
        ({**form, "username": "carl"}, 409),  # the subject signs in to bert's account
        ({**form, "provider": "nope"}, 422),
        ({**form, "username": "nobody"}, 404),
    ]:
        response = await admin.request("POST", "/admin/users/links", data=again)
        assert response.status == status, again
    links = [d for a, _, d in audit(services) if a == "account_link"]
    assert links == [{"via": "strict", "subject": "s-bert"}]


async def test_role_follows_the_groups_and_the_session_is_capped(
    services: Services, clock: FakeClock
) -> None:
    groups = provider_of(services, "groups")
    first = signing_in.sign_in_with_provider(
        services, groups, {"sub": "s-c", "groups": ["coaches"]}, address="10.0.0.4"
    )
    row = accounts.get_user(services.db, first.user_id)
    assert row is not None and row["role"] == "coach"
    signing_in.sign_in_with_provider(services, groups, {"sub": "s-c", "groups": []}, address="x")
    row = accounts.get_user(services.db, first.user_id)
    assert row is not None and row["role"] == "teacher"
    changes = [d for a, _, d in audit(services) if a == "user_update"]
    assert changes == [{"via": "groups", "role": ["coach", "teacher"]}]
    # "school" caps its sessions at one hour; [security] would allow twelve.
    school = provider_of(services, "school")
    capped = signing_in.sign_in_with_provider(services, school, {"sub": "s-d"}, address="x")
    clock.advance(minutes=59)
    assert services.sessions.lookup(capped.token, clock.now) is not None
    clock.advance(minutes=2)
    assert services.sessions.lookup(capped.token, clock.now) is None


# --- an authorization under way --------------------------------------------------------------


def test_an_authorization_is_consumed_once_in_the_browser_that_started_it(
    services: Services, clock: FakeClock
) -> None:
    db = services.db
    started = pending.begin(db, "school", "/library", clock.now)
    assert pending.consume(db, "school", started.state, "another browser", clock.now) is None
    started = pending.begin(db, "school", "/library", clock.now)
    assert pending.consume(db, "other", started.state, started.browser_secret, clock.now) is None
    started = pending.begin(db, "school", "/lessons", clock.now)
    found = pending.consume(db, "school", started.state, started.browser_secret, clock.now)
    assert found is not None and found.next_path == "/lessons"
    assert pending.consume(db, "school", started.state, started.browser_secret, clock.now) is None
    late = pending.begin(db, "school", "/library", clock.now)
    later = clock.now + pending.LIFETIME + timedelta(seconds=1)
    assert pending.consume(db, "school", late.state, late.browser_secret, later) is None


def test_the_access_log_never_shows_a_code_or_a_state() -> None:
    line = 'GET /login/oidc/school/callback?code=abc&state=def&iss=x HTTP/1.1" 303'
    assert redact(line) == 'GET /login/oidc/school/callback?code=***&state=***&iss=x HTTP/1.1" 303'


# --- a provider that is down or slow ---------------------------------------------------------


async def test_a_provider_that_is_down_gives_a_clear_page(
    new_client: Callable[[], Awaitable[TestClient]], services: Services
) -> None:
    client = await new_client()
    response = await client.get("/login/oidc/school", allow_redirects=False)
    assert response.status == 503
    assert "is nu niet bereikbaar" in await response.text()
    assert [(a, o, d["reason"]) for a, o, d in audit(services)] == [
        ("login", "failed", "provider_unreachable")
    ]
    assert services.db.execute("SELECT COUNT(*) FROM oidc_pending").fetchone()[0] == 0
    # In the reader's language: English when she chose it.
    client.session.cookie_jar.update_cookies({"lessoncam_lang": "en"})
    response = await client.get("/login/oidc/school", allow_redirects=False)
    assert "School cannot be reached right now" in await response.text()


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A provider that accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield int(server.sockets[0].getsockname()[1])
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


@pytest.mark.slow
async def test_a_slow_provider_gives_a_clear_page_not_a_hang(
    silent_port: int,
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    tmp_path: Path,
    clock: FakeClock,
) -> None:
    from lessoncam_server.app import init_app

    config = parse_config(
        {
            "storage": {"data_dir": str(tmp_path / "slow")},
            "oidc": [entry(issuer=f"http://127.0.0.1:{silent_port}", timeout_s=1)],
        }
    )
    server = await aiohttp_server(init_app(config, clock=clock))
    client = TestClient(server)
    await client.start_server()
    try:
        response = await client.get("/login/oidc/school", allow_redirects=False)
        assert response.status == 503
        assert "is nu niet bereikbaar" in await response.text()
    finally:
        await client.close()


# --- the start: what goes to the provider ----------------------------------------------------


async def test_the_start_sends_pkce_state_and_nonce_and_keeps_the_next_page_on_this_site(
    little_provider: str,
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    tmp_path: Path,
    clock: FakeClock,
) -> None:
    from lessoncam_server.app import init_app
    from lessoncam_server.services import SERVICES

    secret = tmp_path / "secret"
    secret.write_text("the-client-secret\n")
    config = parse_config(
        {
            "storage": {"data_dir": str(tmp_path / "start")},
            "oidc": [entry(issuer=little_provider, client_secret_file=str(secret))],
        }
    )
    server = await aiohttp_server(init_app(config, clock=clock))
    client = TestClient(server)
    await client.start_server()
    try:
        for target, kept in [("//evil.example/x", "/library"), ("/lessons/1", "/lessons/1")]:
            response = await client.get(
                "/login/oidc/school", params={"next": target}, allow_redirects=False
            )
            assert response.status == 303
            location = response.headers["Location"]
            assert location.startswith(f"{little_provider}/authorize?")
            query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
            assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
            assert query["response_type"] == "code" and query["client_id"] == "lc"
            assert query["redirect_uri"].endswith("/login/oidc/school/callback")
            assert len(query["state"]) >= 43 and len(query["nonce"]) >= 43
            assert "the-client-secret" not in location and "code_verifier" not in location
            cookie = response.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
            db = server.app[SERVICES].db
            row = db.execute("SELECT next_path FROM oidc_pending ORDER BY rowid DESC").fetchone()
            assert row[0] == kept
    finally:
        await client.close()
