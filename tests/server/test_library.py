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


# (status, anna's membership): every way a person can stand to a trajectory of bert's.
MEMBERSHIPS = {
    "none": None,
    "invited": ("invited", None),
    "member": ("member", None),
    "declined": ("invited", "declined"),
    "left": ("member", "left"),
    "removed": ("member", "removed"),
}


def test_the_library_shows_a_trajectorys_lessons_exactly_as_the_policy_allows(
    tmp_path: Path,
) -> None:
    db = open_database(tmp_path / "library.db")
    anna, bert, carl = (
        accounts.create_user(db, name, PASSWORD, "teacher", NOW)["id"]
        for name in ("anna", "bert", "carl")
    )
    stamp = to_iso(NOW - timedelta(days=1))
    rows = []
    # Bert's trajectories in every status, with Anna in every state of membership, each with a
    # lesson of Bert's, one of Carl's (not the teacher's own: never shown to members) and one
    # of Bert's that is also shared with Anna as viewer.
    combinations = itertools.product(
        ("intake", "running", "closed"), MEMBERSHIPS.values(), ("names her", "not her", "ended")
    )
    for n, (status, membership, consent_state) in enumerate(combinations):
        trajectory = (
            db.table("trajectories")
            .insert(
                {
                    "teacher_id": bert,
                    "title": f"t{n}",
                    "question": "q",
                    "pupil_label": "Pupil A",
                    "pupil_group": "5",
                    "support": "colleague",
                    "viewing_guide": "open",
                    "start_date": "2026-11-01",
                    "status": status,
                    "created_at": stamp,
                }
            )
            .last_pk
        )
        # The parents' consent names Anna, or only Carl (who is in none: being named is not
        # enough), or named her but was withdrawn.
        withdrawn = consent_state == "ended"
        consent = (
            db.table("trajectory_consents")
            .insert(
                {
                    "trajectory_id": trajectory,
                    "recording": 1,
                    "research": 0,
                    "given_on": "2026-10-30",
                    "recorded_at": stamp,
                    "ended_at": stamp if withdrawn else None,
                    "ended_how": "withdrawn" if withdrawn else None,
                }
            )
            .last_pk
        )
        for watcher in (carl,) if consent_state == "not her" else (anna, carl):
            db.table("consent_watchers").insert({"consent_id": consent, "user_id": watcher})
        if membership is not None:
            state, ended = membership
            db.table("trajectory_members").insert(
                {
                    "trajectory_id": trajectory,
                    "user_id": anna,
                    "role": "coach",
                    "invited_at": stamp,
                    "accepted_at": stamp if state == "member" else None,
                    "ended_at": stamp if ended else None,
                    "ended_how": ended,
                }
            )
        for k, owner in enumerate((bert, carl, bert)):
            lesson_id = f"t{n:03d}-{k}"
            started = to_iso(NOW - timedelta(minutes=3 * n + k))
            db.table("recordings").insert(
                {
                    "id": lesson_id,
                    "owner_id": owner,
                    "started_at": started,
                    "manifest": "{}",
                    "state": "ready",
                    "created_at": started,
                }
            )
            db.table("trajectory_lessons").insert(
                {"recording_id": lesson_id, "trajectory_id": trajectory, "linked_at": stamp}
            )
            if k == 2:
                db.table("shares").insert(
                    {
                        "recording_id": lesson_id,
                        "user_id": anna,
                        "role": "viewer",
                        "created_at": stamp,
                    }
                )
            rows.append(db.execute("SELECT * FROM recordings WHERE id = ?", [lesson_id]))
    lessons = [
        dict(zip([c[0] for c in cur.description], cur.fetchone(), strict=True)) for cur in rows
    ]
    for user in (anna, bert, carl):
        found, total = visible_lessons(db, user, NOW, limit=1000, offset=0)
        by_query = {row["id"]: acc for row, acc in found}
        by_policy = {r["id"]: acc for r in lessons if (acc := access(db, user, r, NOW)).view}
        assert by_query == by_policy and total == len(by_policy)
    # Anna sees, through membership, the teacher's own lessons of the two open trajectories she
    # is a member of whose consent in force names her, and may comment on them; the shared
    # ones always, as viewer elsewhere.
    seen = {row["id"]: acc for row, acc in visible_lessons(db, anna, NOW, limit=1000, offset=0)[0]}
    members = {k for k, acc in seen.items() if acc.comment}
    assert members == {"t006-0", "t006-2", "t024-0", "t024-2"}
    assert {k for k, acc in seen.items() if not acc.comment} == {
        f"t{n:03d}-2" for n in range(54) if n not in (6, 24)
    }
