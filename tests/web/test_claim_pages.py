"""'I am using unit Group 5': a teacher claims a unit, a colleague is told who has it, the
unit's own teacher can end it, an admin cannot claim; the fleet shows the claim."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from lessoncam_server.services import Services

from ..server.helpers import Person, UnitClient
from .pages import Reader


@pytest.mark.slow
async def test_claim_refuse_release(
    anna: Person,
    unit: UnitClient,
    admin: Person,
    reader: Callable[[str], Awaitable[Reader]],
    make_user: Callable[..., object],
    services: Services,
) -> None:
    make_user("bert")
    make_user("carl")
    bert = await reader("bert")
    html = await bert.get("/units")
    assert "Group 5" in html and "Ik gebruik deze unit" in html
    html = await bert.post(f"/units/{unit.unit_id}/claim", {"hours": "2"})
    assert "De unit is nu van jou" in html and "Je gebruikt deze unit tot" in html
    claim = services.db.execute(
        "SELECT u.username FROM unit_claims c JOIN users u ON u.id = c.user_id "
        "WHERE c.ended_at IS NULL"
    ).fetchone()
    assert claim == ("bert",)

    carl = await reader("carl")
    await carl.get("/units")
    html = await carl.post(f"/units/{unit.unit_id}/claim", {"hours": "1"}, 409)
    assert "bert gebruikt deze unit nu." in html
    html = await carl.post(f"/units/{unit.unit_id}/release", {}, 403)
    assert "Alleen wie de unit gebruikt" in html
    await carl.post(f"/units/{unit.unit_id}/claim", {"hours": "99"}, 400)

    boss = await reader("ict-admin")
    html = await boss.get("/admin/units")
    assert "bert, tot" in html
    await boss.get("/units")
    await boss.post(f"/units/{unit.unit_id}/claim", {"hours": "1"}, 403)

    # anna is the unit's own teacher: she may end bert's claim.
    anna_reader = await reader("anna")
    await anna_reader.get("/units")
    html = await anna_reader.post(f"/units/{unit.unit_id}/release", {})
    assert "De claim is beëindigd." in html
    assert services.db.execute(
        "SELECT COUNT(*) FROM unit_claims WHERE ended_at IS NULL"
    ).fetchone() == (0,)
    actions = [r[0] for r in services.db.execute("SELECT action FROM audit").fetchall()]
    assert "unit_claim" in actions and "unit_release" in actions
    await bert.post("/units/nonexistent/claim", {"hours": "1"}, 404)
