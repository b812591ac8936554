"""ICT names units and gives them a teacher: a name of 1 to 60 characters, a teacher from the
list (no admin, no disabled account); a refused form changes nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from lessoncam_server.services import Services

from ..server.helpers import Person, UnitClient
from .pages import Reader

NAME_RULE = "Geef de unit een naam van 1 tot 60 tekens, zoals Groep 5."
TEACHER_RULE = "Kies een leraar uit de lijst."


async def test_enrolment_code_form_refuses_a_bad_name_or_teacher(
    admin: Person,
    anna: Person,
    reader: Callable[[str], Awaitable[Reader]],
    services: Services,
) -> None:
    def codes() -> int:
        return int(services.db.execute("SELECT COUNT(*) FROM enrolment_codes").fetchone()[0])

    before = codes()
    boss = await reader("ict-admin")
    await boss.get("/admin/units")
    for name in ("", "   ", "x" * 61):
        html = await boss.post("/admin/units/codes", {"unit_name": name}, 400)
        assert NAME_RULE in html
    for teacher in ("nobody", "ict-admin"):
        html = await boss.post(
            "/admin/units/codes", {"unit_name": "Group 7", "teacher": teacher}, 400
        )
        assert TEACHER_RULE in html
    assert codes() == before

    await boss.post("/admin/units/codes", {"unit_name": " Group 7 ", "teacher": "anna"})
    assert codes() == before + 1
    row = services.db.execute(
        "SELECT c.unit_name, u.username FROM enrolment_codes c JOIN users u ON u.id = c.teacher_id"
        " ORDER BY c.rowid DESC"
    ).fetchone()
    assert row == ("Group 7", "anna")


async def test_unit_form_refuses_a_bad_name_or_teacher_and_keeps_the_unit(
    admin: Person,
    anna: Person,
    unit: UnitClient,
    reader: Callable[[str], Awaitable[Reader]],
    services: Services,
) -> None:
    def the_unit() -> tuple[str, int | None]:
        row = services.db.execute(
            "SELECT name, teacher_id FROM units WHERE id = ?", [unit.unit_id]
        ).fetchone()
        return (row[0], row[1])

    before = the_unit()
    boss = await reader("ict-admin")
    await boss.get("/admin/units")
    html = await boss.post(f"/admin/units/{unit.unit_id}", {"name": ""}, 400)
    assert NAME_RULE in html
    html = await boss.post(f"/admin/units/{unit.unit_id}", {"name": "Lab", "teacher": "x"}, 400)
    assert TEACHER_RULE in html
    assert the_unit() == before

    await boss.post(f"/admin/units/{unit.unit_id}", {"name": "Lab", "teacher": ""})
    assert the_unit() == ("Lab", None)
    await boss.post(f"/admin/units/{unit.unit_id}", {"name": "Lab 2", "teacher": "anna"})
    anna_id = services.db.execute("SELECT id FROM users WHERE username = 'anna'").fetchone()[0]
    assert the_unit() == ("Lab 2", anna_id)
