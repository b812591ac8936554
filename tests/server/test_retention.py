"""Retention: expired lessons, their files and rows go, each deletion logged; owners delete too."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from lessoncam_server.lessons import housekeeping
from lessoncam_server.services import Services

from .helpers import FakeClock, Person, UnitClient
from .lesson_fixtures import assembled, record, send_lesson

OLD, NEW = "01JD00000000000000000000AA", "01JD00000000000000000000BB"


@pytest.mark.slow
async def test_retention_sweep_deletes_only_expired_lessons(
    admin: Person,
    anna: Person,
    unit: UnitClient,
    services: Services,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    segments = record(tmp_path, seconds=10)
    await send_lesson(unit, OLD, clock.now - timedelta(days=40), segments)
    await send_lesson(unit, NEW, clock.now - timedelta(days=5), segments)
    await assembled(services)
    assert (await admin.json("GET", "/api/v1/settings")) == {"retention_days": 365}
    bad = await admin.request("PUT", "/api/v1/settings", json={"retention_days": 0})
    assert bad.status == 400
    await admin.json("PUT", "/api/v1/settings", json={"retention_days": 30})

    assert housekeeping.sweep(services) == [OLD]
    assert not services.paths.recording_dir(OLD).exists()
    assert services.paths.recording_dir(NEW).exists()
    assert (
        services.db.execute(
            "SELECT COUNT(*) FROM segments WHERE recording_id = ?", [OLD]
        ).fetchone()[0]
        == 0
    )
    ids = [lesson["id"] for lesson in (await anna.json("GET", "/api/v1/lessons"))["lessons"]]
    assert ids == [NEW]
    log = await admin.json("GET", "/api/v1/audit?action=lesson_expire")
    assert [e["object_id"] for e in log["entries"]] == [OLD]
    assert housekeeping.sweep(services) == []


async def test_owner_deletes_a_lesson_and_its_files(
    admin: Person,
    anna: Person,
    unit: UnitClient,
    services: Services,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    await send_lesson(unit, NEW, clock.now, record(tmp_path, seconds=10))
    await assembled(services)
    folder = services.paths.recording_dir(NEW)
    assert any(folder.rglob("*.mp4")) and any(folder.rglob("*.ts"))
    await anna.json("DELETE", f"/api/v1/lessons/{NEW}", 204)
    assert not folder.exists()
    assert (await anna.request("GET", f"/api/v1/lessons/{NEW}")).status == 404
    entries = (await admin.json("GET", "/api/v1/audit?action=lesson_delete"))["entries"]
    assert entries[0]["actor_name"] == "anna"


async def test_orphaned_folders_are_removed_at_start(services: Services) -> None:
    from lessoncam_server.lessons import deletion

    stray = services.paths.recording_dir("01JDORPHAN0000000000000000")
    (stray / "segments").mkdir(parents=True)
    assert deletion.remove_orphans(services.db, services.paths) == [stray.name]
    assert not stray.exists()
