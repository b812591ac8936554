"""Account administration, as the concern does it for the API and the admin pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lessoncam_server.access import accounts, administration, signing_in
from lessoncam_server.access.passwords import WeakPassword
from lessoncam_server.access.principal import User
from lessoncam_server.infra.errors import Invalid, NotFound
from lessoncam_server.services import Services

from .helpers import PASSWORD

HERE = "192.0.2.3"


@pytest.fixture
def boss(services: Services, make_user: Callable[..., dict[str, Any]]) -> User:
    row = make_user("boss", "admin")
    return User(id=row["id"], username="boss", display_name="Boss", role="admin")


def test_accounts_are_created_with_a_generated_password_or_refused_with_a_code(
    services: Services, boss: User
) -> None:
    for username, role, password, code in [
        ("anna", "janitor", None, "role_unknown"),
        ("a", "teacher", None, "username_invalid"),
        ("boss", "teacher", None, "username_taken"),
        ("anna", "teacher", "short", "weak_password"),
    ]:
        with pytest.raises(Invalid) as refused:
            administration.create_account(
                services, boss, username, role, password=password, address=HERE
            )
        assert (refused.value.code, refused.value.status) == (code, 400)
    assert isinstance(refused.value, WeakPassword)

    anna, generated = administration.create_account(
        services, boss, "anna", "teacher", display_name="Anna de Vries", address=HERE
    )
    assert anna["display_name"] == "Anna de Vries" and generated is not None
    assert signing_in.sign_in(services, "anna", generated, address=HERE).user_id == anna["id"]
    bert, chosen = administration.create_account(
        services, boss, "bert", "coach", password=PASSWORD, address=HERE
    )
    assert chosen is None and bert["role"] == "coach"
    audit = services.db.execute("SELECT action, detail FROM audit WHERE action = 'user_create'")
    assert [row[1] for row in audit.fetchall()] == ['{"role": "teacher"}', '{"role": "coach"}']


def test_an_admin_cannot_lock_herself_out_and_disabling_signs_out(
    services: Services, boss: User, make_user: Callable[..., dict[str, Any]]
) -> None:
    anna = make_user("anna")
    session = signing_in.sign_in(services, "anna", PASSWORD, address=HERE)
    for changes in ({"disabled": True}, {"role": "teacher"}):
        with pytest.raises(Invalid) as refused:
            administration.update_account(services, boss, str(boss.id), changes, address=HERE)
        assert refused.value.code == "self_lockout"
    for unknown in ("999", "abc", "1" * 13):
        with pytest.raises(NotFound):
            administration.update_account(services, boss, unknown, {}, address=HERE)
        with pytest.raises(NotFound):
            administration.reset_password(services, boss, unknown, address=HERE)

    changed = administration.update_account(
        services, boss, str(anna["id"]), {"disabled": True}, address=HERE
    )
    assert changed["disabled"] is True
    assert services.sessions.lookup(session.token, services.now()) is None
    assert accounts.authenticate(services.db, "anna", PASSWORD) is None


def test_a_password_reset_gives_a_new_password_and_signs_out(
    services: Services, boss: User, make_user: Callable[..., dict[str, Any]]
) -> None:
    anna = make_user("anna")
    session = signing_in.sign_in(services, "anna", PASSWORD, address=HERE)
    user, password = administration.reset_password(services, boss, str(anna["id"]), address=HERE)
    assert user["username"] == "anna"
    assert services.sessions.lookup(session.token, services.now()) is None
    assert accounts.authenticate(services.db, "anna", PASSWORD) is None
    assert accounts.authenticate(services.db, "anna", password) is not None
    audit = services.db.execute("SELECT client_ip FROM audit WHERE action = 'password_reset'")
    assert audit.fetchall() == [(HERE,)]
