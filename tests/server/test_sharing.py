"""Sharing a lesson and revoking it, as the concern does it for the API and the pages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from lessoncam_server.access import directory
from lessoncam_server.access.principal import Unit, User
from lessoncam_server.infra.errors import Invalid
from lessoncam_server.lessons import sharing
from lessoncam_server.services import Services
from lessoncam_server.units import recordings
from lessoncam_server.units.manifest import Manifest

from .helpers import UnitClient, manifest

RID = "01JD0000000000000000000077"
HERE = "192.0.2.5"


def _people(make_user: Callable[..., dict[str, Any]], *names: str) -> list[User]:
    rows = [make_user(name) for name in names]
    return [User(id=r["id"], username=r["username"], display_name="", role="teacher") for r in rows]


async def test_a_share_is_refused_for_no_one_for_oneself_and_for_the_past(
    services: Services, unit: UnitClient, make_user: Callable[..., dict[str, Any]]
) -> None:
    anna, _bert, gone = _people(make_user, "anna", "bert", "gone")
    services.db.execute("UPDATE users SET disabled = 1 WHERE id = ?", [gone.id])
    lesson, _ = recordings.register(
        services.db,
        Unit(id=unit.unit_id, name="Group 5", teacher_id=anna.id),
        Manifest.model_validate(manifest(RID, services.now())),
        services.now(),
    )
    now = services.now()
    for username, expires, code in [
        ("nobody", None, "share_unknown_account"),
        ("", None, "share_unknown_account"),
        ("gone", None, "share_unknown_account"),
        ("anna", None, "share_own_lesson"),
        ("bert", now, "share_expired"),
    ]:
        with pytest.raises(Invalid) as refused:
            sharing.share_lesson(services, anna, lesson, username, "viewer", expires, address=HERE)
        assert (refused.value.code, refused.value.status) == (code, 400)
    assert sharing.shares_of(services.db, RID) == []

    first, created = sharing.share_lesson(
        services, anna, lesson, "bert", "viewer", None, address=HERE
    )
    again, created_again = sharing.share_lesson(
        services, anna, lesson, "bert", "commenter", now + timedelta(days=3), address=HERE
    )
    assert created and not created_again and again == first
    [share] = sharing.shares_of(services.db, RID)
    assert share["username"] == "bert" and share["role"] == "commenter"

    assert sharing.revoke_share(services, anna, lesson, str(first), address=HERE) == first
    assert sharing.revoke_share(services, anna, lesson, str(first), address=HERE) is None
    assert sharing.revoke_share(services, anna, lesson, "not-a-number", address=HERE) is None
    audit = services.db.execute(
        "SELECT action, client_ip FROM audit WHERE object_id = ? ORDER BY id", [RID]
    ).fetchall()
    assert audit == [("share_create", HERE), ("share_create", HERE), ("share_revoke", HERE)]


async def test_the_people_to_pick_are_the_active_accounts_by_name(
    services: Services,
    make_user: Callable[..., dict[str, Any]],
    sign_in: Callable[..., Any],
    new_client: Callable[[], Any],
) -> None:
    make_user("zoe")
    make_user("boss", "admin")
    gone = make_user("gone")
    services.db.execute("UPDATE users SET disabled = 1 WHERE id = ?", [gone["id"]])
    anna = await sign_in("anna")
    people = (await anna.json("GET", "/api/v1/directory"))["people"]
    names = [p["username"] for p in people]
    assert "gone" not in names and {"anna", "zoe"} <= set(names)
    shown = [p["display_name"] for p in people]
    assert shown == sorted(shown) and all(
        set(p) == {"username", "display_name", "role"} for p in people
    )
    assert (await (await new_client()).get("/api/v1/directory")).status == 401
    me = services.db.execute("SELECT id FROM users WHERE username = 'anna'").fetchone()[0]
    assert "anna" not in [p["username"] for p in directory.active_people(services.db, leave_out=me)]
    chosen = directory.active_people(services.db, admins=False)
    assert chosen and all(p["role"] != "admin" for p in chosen)
