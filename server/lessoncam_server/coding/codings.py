"""Codings of lessons: one per coder, lesson and scheme version, with its events and the
history its undo walks back.

A coding is private to its coder until she shares it: then everyone who may view the lesson
sees it (the lesson's owner included, no sooner). Every query takes the caller's id and shows
her own codings and shared ones only. Access to the lesson itself (view to read, comment to
code) is checked by the caller first.

Every change goes through ``_apply``: the new events are checked as a whole coding
(``events.check_events``), written in one transaction, and the rows they replaced are kept
in the undo history, so an undo restores exactly what was there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from ..access.permissions import Access
from ..infra.db import query_row, query_rows
from ..infra.errors import Conflict, Forbidden, NotFound
from ..infra.timeutil import to_iso
from . import events as policy
from . import store
from .events import Event, Modifiers
from .schemes import Scheme

UNDO_DEPTH = 200
SOURCES = ("keyboard", "boris", "elan")


@dataclass(frozen=True)
class Limits:
    duration_s: float
    max_events: int


def lesson_duration(lesson: Mapping[str, Any]) -> float:
    """The length of a ready lesson. Raises Conflict ``lesson_not_ready``."""
    if lesson["state"] != "ready" or lesson["duration_s"] is None:
        raise Conflict("lesson_not_ready", "a lesson can be coded once it is ready")
    return float(lesson["duration_s"])


def pseudonym(coding_id: int) -> str:
    """How exports and the agreement name a coder: never her name."""
    return f"coder-{coding_id}"


def _not_found() -> NotFound:
    return NotFound("not_found", "no such coding, or you cannot see it")


def visible(db: Database, recording_id: str, user_id: int) -> list[dict[str, Any]]:
    """The codings of a lesson ``user_id`` may see (hers and shared ones), oldest first, with
    the coder's display name and the number of events."""
    return query_rows(
        db,
        """SELECT c.*, u.display_name AS coder_name,
                  (SELECT COUNT(*) FROM coding_events e WHERE e.coding_id = c.id) AS events
           FROM codings c LEFT JOIN users u ON u.id = c.coder_id
           WHERE c.recording_id = :rid AND (c.shared = 1 OR c.coder_id = :user)
           ORDER BY c.id""",
        {"rid": recording_id, "user": user_id},
    )


def get(db: Database, recording_id: str, coding_id: int, user_id: int) -> dict[str, Any]:
    """One coding the caller may see. Raises NotFound ``not_found``."""
    row = query_row(
        db,
        """SELECT c.*, u.display_name AS coder_name FROM codings c
           LEFT JOIN users u ON u.id = c.coder_id
           WHERE c.id = :id AND c.recording_id = :rid AND (c.shared = 1 OR c.coder_id = :user)""",
        {"id": coding_id, "rid": recording_id, "user": user_id},
    )
    if row is None:
        raise _not_found()
    return row


def own(db: Database, recording_id: str, coding_id: int, user_id: int) -> dict[str, Any]:
    """One of the caller's own codings. Raises NotFound, or Forbidden ``not_coder`` for a
    shared coding of someone else."""
    row = get(db, recording_id, coding_id, user_id)
    if row["coder_id"] != user_id:
        raise Forbidden("not_coder", "only its coder changes a coding")
    return row


def scheme_of(db: Database, row: Mapping[str, Any]) -> Scheme:
    return store.get(db, int(row["scheme_id"]))[1]


def create(
    db: Database,
    lesson: Mapping[str, Any],
    user_id: int,
    scheme_id: int,
    now: datetime,
    source: str = "keyboard",
) -> dict[str, Any]:
    """A new empty coding of ``lesson`` by ``user_id`` (who has comment access). Raises
    Conflict ``lesson_not_ready`` or ``coding_exists``, NotFound for an unknown scheme."""
    lesson_duration(lesson)
    store.get(db, scheme_id)
    with db.atomic():
        if db.execute(
            "SELECT 1 FROM codings WHERE recording_id = ? AND coder_id = ? AND scheme_id = ?",
            [lesson["id"], user_id, scheme_id],
        ).fetchone():
            raise Conflict(
                "coding_exists", "you already code this lesson with this scheme: open that coding"
            )
        table = db.table("codings").insert(
            {
                "recording_id": lesson["id"],
                "coder_id": user_id,
                "scheme_id": scheme_id,
                "shared": 0,
                "source": source,
                "created_at": to_iso(now),
                "changed_at": to_iso(now),
            }
        )
    assert table.last_pk is not None
    return get(db, lesson["id"], int(table.last_pk), user_id)


def load(db: Database, coding_id: int) -> list[Event]:
    """A coding's events in time order."""
    return [
        Event(
            r["behaviour"],
            r["start_s"],
            r["end_s"],
            tuple(sorted(json.loads(r["modifiers"]).items())),
            id=r["id"],
        )
        for r in query_rows(
            db,
            "SELECT * FROM coding_events WHERE coding_id = ? ORDER BY start_s, id",
            [coding_id],
        )
    ]


def _event_row(coding_id: int, scheme: Scheme, event: Event) -> dict[str, Any]:
    behaviour = scheme.behaviour(event.behaviour)
    return {
        "coding_id": coding_id,
        "behaviour": event.behaviour,
        "kind": behaviour.type if behaviour else "point",
        "start_s": event.start_s,
        "end_s": event.end_s,
        "modifiers": json.dumps(dict(event.modifiers), sort_keys=True),
    }


def _apply(
    db: Database,
    coding_id: int,
    scheme: Scheme,
    before: Sequence[Event],
    after: Sequence[Event],
    limits: Limits,
    now: datetime,
    journal: bool = True,
) -> list[Event]:
    """Check ``after`` as a whole coding and write the difference from ``before``."""
    policy.check_events(scheme, after, limits.duration_s, limits.max_events)
    old = {e.id: e for e in before if e.id is not None}
    kept = {e.id for e in after if e.id is not None}
    undo: list[dict[str, Any]] = []
    with db.atomic():
        for event_id in sorted(set(old) - kept):
            undo.append({"id": event_id, "row": _stored(db, event_id)})
            db.execute("DELETE FROM coding_events WHERE id = ?", [event_id])
        for event in after:
            if event.id is None:
                pk = db.table("coding_events").insert(_event_row(coding_id, scheme, event)).last_pk
                undo.append({"id": pk, "row": None})
            elif event != old[event.id]:
                undo.append({"id": event.id, "row": _stored(db, event.id)})
                db.table("coding_events").update(event.id, _event_row(coding_id, scheme, event))
        if journal and undo:
            db.table("coding_undo").insert({"coding_id": coding_id, "before": json.dumps(undo)})
            db.execute(
                """DELETE FROM coding_undo WHERE coding_id = ? AND id NOT IN (
                     SELECT id FROM coding_undo WHERE coding_id = ? ORDER BY id DESC LIMIT ?)""",
                [coding_id, coding_id, UNDO_DEPTH],
            )
        db.execute("UPDATE codings SET changed_at = ? WHERE id = ?", [to_iso(now), coding_id])
    return load(db, coding_id)


def _stored(db: Database, event_id: int) -> dict[str, Any]:
    row = query_row(db, "SELECT * FROM coding_events WHERE id = ?", [event_id])
    assert row is not None, event_id
    return row


def code(
    db: Database,
    row: Mapping[str, Any],
    key: str | None,
    behaviour_key: str | None,
    t: float,
    modifiers: Mapping[str, str],
    action: policy.Action,
    limits: Limits,
    now: datetime,
) -> list[Event]:
    """A key press (``key``) or a named behaviour at ``t`` in the caller's own coding."""
    scheme = scheme_of(db, row)
    if key is not None:
        behaviour = policy.behaviour_for_key(scheme, key)
    else:
        behaviour = policy.known_behaviour(scheme, behaviour_key or "")
    chosen = policy.check_modifiers(scheme, behaviour, modifiers)
    moment = policy.check_time(t, limits.duration_s)
    before = load(db, row["id"])
    after = policy.press(scheme, before, behaviour, moment, chosen, action)
    return _apply(db, row["id"], scheme, before, after, limits, now)


def change(
    db: Database,
    row: Mapping[str, Any],
    event_id: int,
    start_s: float | None,
    end_s: float | None,
    modifiers: Mapping[str, str] | None,
    limits: Limits,
    now: datetime,
) -> list[Event]:
    """Drag an event to a new start and/or stop, or change its modifiers."""
    scheme = scheme_of(db, row)
    before = load(db, row["id"])
    target = policy.find(before, event_id)
    chosen: Modifiers | None = None
    if modifiers is not None:
        behaviour = policy.known_behaviour(scheme, target.behaviour)
        chosen = policy.check_modifiers(scheme, behaviour, modifiers)
    start = None if start_s is None else policy.check_time(start_s, limits.duration_s)
    end = None if end_s is None else policy.check_time(end_s, limits.duration_s)
    after = policy.move(before, event_id, start, end, chosen)
    return _apply(db, row["id"], scheme, before, after, limits, now)


def remove(
    db: Database, row: Mapping[str, Any], event_id: int, limits: Limits, now: datetime
) -> list[Event]:
    scheme = scheme_of(db, row)
    before = load(db, row["id"])
    return _apply(db, row["id"], scheme, before, policy.remove(before, event_id), limits, now)


def undo(db: Database, row: Mapping[str, Any], now: datetime) -> list[Event]:
    """Take back the last change of the caller's coding. Raises Conflict ``nothing_to_undo``."""
    with db.atomic():
        last = query_row(
            db,
            "SELECT id, before FROM coding_undo WHERE coding_id = ? ORDER BY id DESC LIMIT 1",
            [row["id"]],
        )
        if last is None:
            raise Conflict("nothing_to_undo", "there is nothing (more) to undo in this coding")
        for item in reversed(json.loads(last["before"])):
            db.execute("DELETE FROM coding_events WHERE id = ?", [item["id"]])
            if item["row"] is not None:
                db.table("coding_events").insert(item["row"])
        db.execute("DELETE FROM coding_undo WHERE id = ?", [last["id"]])
        db.execute("UPDATE codings SET changed_at = ? WHERE id = ?", [to_iso(now), row["id"]])
    return load(db, row["id"])


def share(db: Database, row: Mapping[str, Any], shared: bool, now: datetime) -> dict[str, Any]:
    """Share the caller's coding with the lesson's viewers, or make it private again."""
    db.execute(
        "UPDATE codings SET shared = ?, changed_at = ? WHERE id = ?",
        [int(shared), to_iso(now), row["id"]],
    )
    return get(db, row["recording_id"], row["id"], row["coder_id"])


def delete(db: Database, row: Mapping[str, Any], user_id: int, access: Access) -> None:
    """Delete a coding: by its coder, or a shared one by the lesson's owner."""
    if row["coder_id"] != user_id and not access.manage:
        raise Forbidden("not_coder", "only its coder or the lesson's owner deletes a coding")
    db.execute("DELETE FROM codings WHERE id = ?", [row["id"]])


def import_coding(
    db: Database,
    lesson: Mapping[str, Any],
    user_id: int,
    scheme_id: int,
    imported: Sequence[Event],
    source: str,
    limits: Limits,
    now: datetime,
) -> dict[str, Any]:
    """A new coding of the caller's holding ``imported``: all of it or, on any error,
    nothing (the coding is not created)."""
    scheme = store.get(db, scheme_id)[1]
    policy.check_events(scheme, imported, limits.duration_s, limits.max_events)
    with db.atomic():
        row = create(db, lesson, user_id, scheme_id, now, source)
        _apply(db, row["id"], scheme, [], imported, limits, now, journal=False)
    return row


def describe(
    row: Mapping[str, Any],
    user_id: int,
    access: Access,
    scheme_row: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A coding as the API returns it (without its events)."""
    mine = row["coder_id"] == user_id
    return {
        "id": row["id"],
        "lesson_id": row["recording_id"],
        "scheme_id": row["scheme_id"],
        "scheme": None
        if scheme_row is None
        else {"key": scheme_row["key"], "version": scheme_row["version"]},
        "coder": {"pseudonym": pseudonym(row["id"]), "display_name": row.get("coder_name")},
        "is_mine": mine,
        "shared": bool(row["shared"]),
        "source": row["source"],
        "events": row.get("events"),
        "can_code": mine and access.comment,
        "can_delete": mine or access.manage,
        "created_at": row["created_at"],
        "changed_at": row["changed_at"],
    }


def event_json(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "behaviour": event.behaviour,
        "start_s": event.start_s,
        "end_s": event.end_s,
        "modifiers": dict(event.modifiers),
    }
