"""Signing in, out and changing a password, as the concern does it for the API and the pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lessoncam_server.access import signing_in
from lessoncam_server.access.passwords import WeakPassword
from lessoncam_server.access.principal import User
from lessoncam_server.infra.errors import BadCredentials, Invalid, Throttled
from lessoncam_server.services import Services

from .helpers import PASSWORD

ADDRESS = "192.0.2.7"


def _audit(services: Services, action: str) -> list[tuple[str | None, str | None, str]]:
    rows = services.db.execute(
        "SELECT actor_name, client_ip, outcome FROM audit WHERE action = ? ORDER BY id", [action]
    ).fetchall()
    return [tuple(row) for row in rows]


def _user(row: dict[str, Any]) -> User:
    return User(id=row["id"], username=row["username"], display_name="", role=row["role"])


def test_a_right_password_opens_a_session_and_ends_the_previous_one(
    services: Services, make_user: Callable[..., dict[str, Any]]
) -> None:
    make_user("anna")
    first = signing_in.sign_in(services, "anna", PASSWORD, address=ADDRESS)
    assert services.sessions.lookup(first.token, services.now()) is not None
    second = signing_in.sign_in(
        services, "anna", PASSWORD, address=ADDRESS, previous_token=first.token
    )
    assert services.sessions.lookup(first.token, services.now()) is None
    seen = services.sessions.lookup(second.token, services.now())
    assert seen is not None and seen.csrf_token == second.csrf_token
    assert _audit(services, "login") == [("anna", ADDRESS, "ok"), ("anna", ADDRESS, "ok")]


def test_wrong_passwords_are_counted_until_the_throttle_refuses(
    services: Services, make_user: Callable[..., dict[str, Any]]
) -> None:
    make_user("anna")
    limit = services.throttle.per_account
    for _ in range(limit):
        with pytest.raises(BadCredentials) as wrong:
            signing_in.sign_in(services, "anna", "not the password", address=ADDRESS)
        assert wrong.value.code == "bad_credentials" and wrong.value.status == 401
    with pytest.raises(Throttled) as refused:
        signing_in.sign_in(services, "anna", PASSWORD, address=ADDRESS)  # even the right one
    assert refused.value.code == "throttled" and refused.value.retry_after_s > 0
    outcomes = [outcome for _name, _ip, outcome in _audit(services, "login")]
    assert outcomes == ["failed"] * limit + ["denied"]


def test_signing_out_ends_the_session(
    services: Services, make_user: Callable[..., dict[str, Any]]
) -> None:
    anna = _user(make_user("anna"))
    session = signing_in.sign_in(services, "anna", PASSWORD, address=ADDRESS)
    signing_in.sign_out(services, anna, session.token, address=ADDRESS)
    assert services.sessions.lookup(session.token, services.now()) is None
    assert _audit(services, "logout") == [("anna", ADDRESS, "ok")]


def test_a_password_change_checks_in_order_and_signs_out_everywhere(
    services: Services, make_user: Callable[..., dict[str, Any]]
) -> None:
    anna = _user(make_user("anna"))
    elsewhere = signing_in.sign_in(services, "anna", PASSWORD, address=ADDRESS)
    new = "a much better passphrase"
    with pytest.raises(BadCredentials) as wrong:
        # The current password is checked first, even when the repeat differs too.
        signing_in.change_password(services, anna, "wrong", new, address=ADDRESS, repeated="other")
    assert wrong.value.status == 400
    with pytest.raises(Invalid) as differ:
        signing_in.change_password(services, anna, PASSWORD, new, address=ADDRESS, repeated="other")
    assert differ.value.code == "passwords_differ"
    with pytest.raises(WeakPassword) as weak:
        signing_in.change_password(services, anna, PASSWORD, "short", address=ADDRESS)
    assert weak.value.code == "weak_password" and weak.value.status == 400
    assert [outcome for *_, outcome in _audit(services, "password_change")] == ["failed"]

    fresh = signing_in.change_password(services, anna, PASSWORD, new, address=ADDRESS)
    assert services.sessions.lookup(elsewhere.token, services.now()) is None
    assert services.sessions.lookup(fresh.token, services.now()) is not None
    assert signing_in.sign_in(services, "anna", new, address=ADDRESS).user_id == anna.id
