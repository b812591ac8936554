"""Unit claims: lessons that start while a teacher holds a unit are hers, and only those."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lessoncam_server.access.principal import Role, User
from lessoncam_server.infra.errors import Conflict, Forbidden, Invalid, NotFound
from lessoncam_server.services import Services
from lessoncam_server.units import claims
from lessoncam_server.units.claims import ClaimFacts

from .helpers import FakeClock, Person, UnitClient
from .lesson_fixtures import record, send_lesson

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def test_the_owner_is_whoever_held_the_claim_when_the_lesson_started() -> None:
    morning = ClaimFacts(7, T0, T0 + timedelta(hours=8), ended_at=T0 + timedelta(hours=2))
    later = ClaimFacts(9, T0 + timedelta(hours=3), T0 + timedelta(hours=4), None)
    assert claims.owner_at(1, [morning, later], T0 - timedelta(seconds=1)) == 1
    assert claims.owner_at(1, [morning, later], T0) == 7
    assert claims.owner_at(1, [morning, later], T0 + timedelta(hours=2)) == 1  # released
    assert claims.owner_at(1, [morning, later], T0 + timedelta(hours=3, minutes=5)) == 9
    assert claims.owner_at(1, [morning, later], T0 + timedelta(hours=4)) == 1  # expired
    assert claims.owner_at(None, [], T0) is None


async def test_claiming_a_unit(
    anna: Person,
    admin: Person,
    unit: UnitClient,
    sign_in: Callable[..., Awaitable[Person]],
    services: Services,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    bert = await sign_in("bert")
    carla = await sign_in("carla")
    segments = record(tmp_path, seconds=10)

    before = clock.now - timedelta(minutes=5)  # started before Bert claimed: stays Anna's
    claimed = await bert.json(
        "POST", "/api/v1/unit-claims", 201, json={"unit_id": unit.unit_id, "hours": 2}
    )
    assert claimed["claim"]["mine"] and claimed["claim"]["username"] == "bert"
    listing = await anna.json("GET", "/api/v1/unit-claims")
    entry = next(u for u in listing["units"] if u["unit_id"] == unit.unit_id)
    assert entry["default_teacher"]["username"] == "anna" and entry["name"] == "Group 5"
    assert entry["claim"]["username"] == "bert" and not entry["claim"]["mine"]
    fleet = await admin.json("GET", "/api/v1/units")
    assert fleet["units"][0]["claim"]["username"] == "bert"

    # One holder at a time; claiming one's own again extends it.
    taken = await carla.json("POST", "/api/v1/unit-claims", 409, json={"unit_id": unit.unit_id})
    assert taken["error"] == "unit_claimed" and "until" in taken["message"]
    await bert.json("POST", "/api/v1/unit-claims", 200, json={"unit_id": unit.unit_id, "hours": 3})

    clock.advance(minutes=10)
    await send_lesson(unit, "01JD0000000000000000000030", clock.now, segments)
    await send_lesson(unit, "01JD0000000000000000000031", before, segments)
    owners = dict(
        services.db.execute(
            "SELECT r.id, u.username FROM recordings r JOIN users u ON u.id = r.owner_id"
        ).fetchall()
    )
    assert owners == {
        "01JD0000000000000000000030": "bert",
        "01JD0000000000000000000031": "anna",
    }

    # Carla may not end Bert's claim; Anna (the unit's own teacher) may.
    assert (await carla.json("DELETE", f"/api/v1/unit-claims/{unit.unit_id}", 403))[
        "error"
    ] == "forbidden"
    await anna.json("DELETE", f"/api/v1/unit-claims/{unit.unit_id}", 204)
    await anna.json("DELETE", f"/api/v1/unit-claims/{unit.unit_id}", 404)
    clock.advance(minutes=1)
    await send_lesson(unit, "01JD0000000000000000000032", clock.now, segments)
    row = services.db.execute(
        "SELECT owner_id FROM recordings WHERE id = '01JD0000000000000000000032'"
    ).fetchone()
    assert (
        row[0] == services.db.execute("SELECT id FROM users WHERE username = 'anna'").fetchone()[0]
    )

    # A claim expires by itself.
    await carla.json("POST", "/api/v1/unit-claims", 201, json={"unit_id": unit.unit_id, "hours": 1})
    clock.advance(hours=1)
    listing = await carla.json("GET", "/api/v1/unit-claims")
    assert listing["units"][0]["claim"] is None

    actions = [
        r[0]
        for r in services.db.execute(
            "SELECT action FROM audit WHERE action LIKE 'unit_%' ORDER BY id"
        ).fetchall()
    ]
    assert actions.count("unit_claim") == 3 and actions.count("unit_release") == 1


async def test_bad_claims(
    anna: Person, admin: Person, unit: UnitClient, services: Services
) -> None:
    hours = services.config.unit_claims.hours
    too_long = {"unit_id": unit.unit_id, "hours": hours + 1}
    assert (await anna.json("POST", "/api/v1/unit-claims", 422, json=too_long))[
        "error"
    ] == "claim_hours"
    assert (
        await anna.json(
            "POST", "/api/v1/unit-claims", 422, json={"unit_id": unit.unit_id, "hours": 0}
        )
    )["error"] == "claim_hours"
    await anna.json("POST", "/api/v1/unit-claims", 404, json={"unit_id": "f" * 32})
    await anna.json("POST", "/api/v1/unit-claims", 404, json={"unit_id": "../etc"})
    await admin.json("POST", "/api/v1/unit-claims", 403, json={"unit_id": unit.unit_id})
    await admin.json("POST", f"/api/v1/units/{unit.unit_id}/revoke", 204)
    await anna.json("POST", "/api/v1/unit-claims", 404, json={"unit_id": unit.unit_id})
    assert services.db.execute("SELECT COUNT(*) FROM unit_claims").fetchone()[0] == 0


async def test_claiming_and_ending_as_the_concern_does_it_for_the_api_and_the_pages(
    unit: UnitClient, services: Services, make_user: Callable[..., dict[str, Any]]
) -> None:
    def user(name: str, role: Role = "teacher") -> User:
        row = make_user(name, role)
        return User(id=row["id"], username=name, display_name=name, role=role)

    bert, carla, boss = user("bert"), user("carla"), user("boss", "admin")
    here = "192.0.2.9"
    too_long = services.config.unit_claims.hours + 1
    with pytest.raises(NotFound):
        claims.claim_unit(services, bert, "f" * 32, 1, address=here)
    with pytest.raises(Forbidden):
        claims.claim_unit(services, boss, unit.unit_id, 1, address=here)
    for hours in (0, too_long):
        with pytest.raises(Invalid, match="a claim lasts from 1 to"):
            claims.claim_unit(services, bert, unit.unit_id, hours, address=here)
    held, created = claims.claim_unit(services, bert, unit.unit_id, None, address=here)
    assert created and held["username"] == "bert"
    with pytest.raises(Conflict) as taken:
        claims.claim_unit(services, carla, unit.unit_id, 1, address=here)
    assert taken.value.code == "unit_claimed"

    with pytest.raises(Forbidden):
        claims.end_claim(services, carla, unit.unit_id, address=here, path="/units/x/release")
    denied = services.db.execute(
        "SELECT detail, client_ip FROM audit WHERE action = 'access_denied'"
    ).fetchall()
    assert denied == [('{"path": "/units/x/release"}', here)]
    assert claims.end_claim(services, boss, unit.unit_id, address=here, path="/") is not None
    assert claims.end_claim(services, bert, unit.unit_id, address=here, path="/") is None
    actions = [row[0] for row in services.db.execute("SELECT action FROM audit")]
    assert actions.count("unit_claim") == 1 and actions.count("unit_release") == 1
