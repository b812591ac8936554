"""Error pages in the reader's language, and the library: filters, progress, rename, delete."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest

from lessoncam_server.services import Services

from ..server.helpers import FakeClock, Person, UnitClient
from ..server.lesson_fixtures import record, send_lesson
from .pages import Reader


async def test_unknown_page_and_server_error_pages(
    lesson_id: str, reader: Callable[[str], Awaitable[Reader]], services: Services
) -> None:
    anna = await reader("anna")
    html = await anna.get("/no/such/page", 404)
    assert "Deze pagina bestaat niet." in html and "Foutcode 404" in html
    # A broken row (a damaged database) gives a calm page, never a stack trace.
    services.db.execute("UPDATE recordings SET manifest = '{' WHERE id = ?", [lesson_id])
    html = await anna.get(f"/lessons/{lesson_id}", 500)
    assert "Er ging iets mis op de server." in html
    assert "Traceback" not in html and "ValidationError" not in html
    await anna.post("/language", {"language": "en", "next": "/library"})
    html = await anna.get("/admin/users", 403)
    assert "Only an administrator may open this page." in html


@pytest.mark.slow
async def test_library_shows_progress_filters_renames_and_deletes(
    anna: Person,
    unit: UnitClient,
    reader: Callable[[str], Awaitable[Reader]],
    services: Services,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    # A lesson still uploading: 2 of its 3 segments are in.
    segments = record(tmp_path, seconds=30)
    await send_lesson(unit, "01JDLIB0000000000000000001", clock.now, segments, skip={("main", 2)})
    services.db.execute(
        "UPDATE recordings SET title = 'Rekenen groep 5', duration_s = 30 WHERE id = ?",
        ["01JDLIB0000000000000000001"],
    )
    reader_anna = await reader("anna")
    await reader_anna.post("/language", {"language": "en", "next": "/library"})
    html = await reader_anna.get("/library")
    assert "Uploading: 2 of 3 segments" in html and '<progress value="2" max="3">' in html
    assert 'name="lessoncam-refresh"' in html  # it reloads itself until ready

    # A failed one says why; the filter finds by title and by date.
    clock.advance(days=-3)
    await send_lesson(unit, "01JDLIB0000000000000000002", clock.now, record(tmp_path / "b", 10))
    services.db.execute(
        "UPDATE recordings SET state = 'failed', state_reason = 'assembly failed: no video' "
        "WHERE id = ?",
        ["01JDLIB0000000000000000002"],
    )
    html = await reader_anna.get("/library")
    assert "Failed" in html and "assembly failed: no video" in html
    html = await reader_anna.get("/library?q=rekenen")
    assert "Rekenen groep 5" in html and "01JDLIB0000000000000000002" not in html
    day = (clock.now + timedelta(days=3)).date().isoformat()
    html = await reader_anna.get(f"/library?from={day}&to={day}")
    assert "01JDLIB0000000000000000001" in html and "01JDLIB0000000000000000002" not in html
    html = await reader_anna.get("/library?q=nothing-like-this")
    assert "No lessons match this filter." in html

    # Rename and describe; a title that is too long is refused and kept in the form.
    await reader_anna.get("/lessons/01JDLIB0000000000000000001/edit")
    html = await reader_anna.post(
        "/lessons/01JDLIB0000000000000000001/edit", {"title": "x" * 201, "description": ""}, 400
    )
    assert "at most 200 characters" in html and "x" * 201 in html
    await reader_anna.post(
        "/lessons/01JDLIB0000000000000000001/edit",
        {"title": "Fractions with group 5", "description": "Second try; pupils at tables."},
    )
    html = await reader_anna.get("/library?q=tables")
    assert "Fractions with group 5" in html

    # Delete with confirmation.
    html = await reader_anna.get("/lessons/01JDLIB0000000000000000002/delete")
    assert "cannot be undone" in html
    html = await reader_anna.post("/lessons/01JDLIB0000000000000000002/delete", {})
    assert "The lesson was deleted." in html and "01JDLIB0000000000000000002" not in html
    assert services.db.execute(
        "SELECT COUNT(*) FROM recordings WHERE id = '01JDLIB0000000000000000002'"
    ).fetchone() == (0,)


async def test_a_colleague_cannot_rename_delete_or_share(
    lesson_id: str,
    anna: Person,
    reader: Callable[[str], Awaitable[Reader]],
    make_user: Callable[..., object],
) -> None:
    make_user("bert")
    await anna.json("POST", f"/api/v1/lessons/{lesson_id}/shares", 201, json={"username": "bert"})
    bert = await reader("bert")
    html = await bert.get("/library")
    assert lesson_id in html and "Gedeeld door anna" in html
    assert f"/lessons/{lesson_id}/delete" not in html
    for path in ("edit", "delete", "sharing"):
        html = await bert.get(f"/lessons/{lesson_id}/{path}", 403)
        assert "Alleen de eigenaar van deze les mag dit doen." in html
    await bert.post(f"/lessons/{lesson_id}/delete", {}, 403)
