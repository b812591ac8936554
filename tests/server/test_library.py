"""The library's one query agrees with the permission policy, share by share."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lessoncam_server.access import accounts
from lessoncam_server.access.permissions import Access
from lessoncam_server.infra.db import open_database
from lessoncam_server.infra.timeutil import to_iso
from lessoncam_server.lessons.library import access, visible_lessons

from .helpers import PASSWORD

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
# (role, expires in hours or None, revoked): every kind of share a person can hold.
SHARES = {
    "none": [],
    "viewer": [("viewer", None, False)],
    "commenter until tomorrow": [("commenter", 24, False)],
    "revoked commenter": [("commenter", None, True)],
    "expired commenter": [("commenter", -1, False)],
    "viewer and revoked commenter": [("viewer", None, False), ("commenter", None, True)],
    "viewer and commenter": [("viewer", 2, False), ("commenter", None, False)],
}


def test_the_library_shows_exactly_what_the_policy_allows(tmp_path: Path) -> None:
    db = open_database(tmp_path / "library.db")
    anna, bert, carl = (
        accounts.create_user(db, name, PASSWORD, "teacher", NOW)["id"]
        for name in ("anna", "bert", "carl")
    )
    lessons = []
    # Every owner with every pair of shares for two people (the third gets the first's again),
    # a share to the owner herself included.
    combinations = itertools.product((anna, bert, None), SHARES.values(), SHARES.values())
    for n, (owner, first, second) in enumerate(combinations):
        lesson_id = f"lesson{n:04d}"
        started = NOW - timedelta(minutes=n)
        db.table("recordings").insert(
            {
                "id": lesson_id,
                "owner_id": owner,
                "started_at": to_iso(started),
                "manifest": "{}",
                "state": "ready",
                "created_at": to_iso(started),
            }
        )
        for user, shares in ((anna, first), (bert, second), (carl, first)):
            for role, hours, revoked in shares:
                db.table("shares").insert(
                    {
                        "recording_id": lesson_id,
                        "user_id": user,
                        "role": role,
                        "created_at": to_iso(NOW - timedelta(days=1)),
                        "expires_at": to_iso(NOW + timedelta(hours=hours)) if hours else None,
                        "revoked_at": to_iso(NOW) if revoked else None,
                    }
                )
        lessons.append(db.execute("SELECT * FROM recordings WHERE id = ?", [lesson_id]))
    rows = [
        dict(zip([c[0] for c in cur.description], cur.fetchone(), strict=True)) for cur in lessons
    ]

    for user in (anna, bert, carl):
        found, total = visible_lessons(db, user, NOW, limit=1000, offset=0)
        by_query = {row["id"]: acc for row, acc in found}
        by_policy = {row["id"]: acc for row in rows if (acc := access(db, user, row, NOW)).view}
        assert by_query == by_policy and total == len(by_policy)
        assert [row["id"] for row, _ in found] == sorted(by_query)  # newest first
        assert Access(view=True, comment=False) in by_query.values()
        assert Access(view=True, comment=True) in by_query.values()
        page, _ = visible_lessons(db, user, NOW, limit=5, offset=5)
        assert [row["id"] for row, _ in page] == sorted(by_query)[5:10]
