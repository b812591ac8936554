"""The coding schemes in the database, by key and version: the school's from ``[coding]``
(stored at start-up, like the reflection forms) and those coaches make in the web app.

A coding keeps the scheme version it was made with, so a version that has codings is never
changed: the school gives a changed scheme a new version number in the config (the server
refuses to start otherwise), and a coach saves her changed scheme as a new version.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from ..access.principal import User
from ..infra.db import query_row, query_rows
from ..infra.errors import Conflict, Forbidden, NotFound
from ..infra.timeutil import to_iso
from .schemes import CodingConfig, Scheme, parse

MAKERS = ("coach", "admin")


def _definition(scheme: Scheme) -> str:
    return json.dumps(scheme.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)


def _in_use(db: Database, scheme_id: int) -> bool:
    found = db.execute("SELECT 1 FROM codings WHERE scheme_id = ? LIMIT 1", [scheme_id]).fetchone()
    return found is not None


def sync(db: Database, scheme: Scheme, now: datetime) -> int:
    """The id of a configured scheme's version, stored on first use. Raises Conflict
    ``scheme_version_in_use`` when that version was stored differently and has codings, or
    ``scheme_key_taken`` when a coach's scheme has the key (nothing changes then)."""
    text = _definition(scheme)
    with db.atomic():
        row = query_row(
            db,
            "SELECT id, definition, origin FROM coding_schemes WHERE key = ? AND version = ?",
            [scheme.key, scheme.version],
        )
        if row is None:
            taken = db.execute(
                "SELECT 1 FROM coding_schemes WHERE key = ? AND origin = 'coach'", [scheme.key]
            ).fetchone()
            if taken:
                raise Conflict(
                    "scheme_key_taken",
                    f"[coding] scheme {scheme.key!r}: a coach made a scheme with that key; "
                    "give the school's scheme another key",
                )
            return _insert(db, scheme, "config", None, now)
        if row["definition"] == text:
            return int(row["id"])
        if _in_use(db, int(row["id"])) or row["origin"] != "config":
            raise Conflict(
                "scheme_version_in_use",
                f"[coding] scheme {scheme.key!r} version {scheme.version} was changed, but "
                f"codings were made with it; give the changed scheme version "
                f"{scheme.version + 1}",
            )
        db.execute("UPDATE coding_schemes SET definition = ? WHERE id = ?", [text, row["id"]])
        return int(row["id"])


def sync_all(db: Database, config: CodingConfig, now: datetime) -> list[int]:
    """Store every configured scheme (at start-up); their ids."""
    return [sync(db, scheme, now) for scheme in config.schemes]


def _insert(
    db: Database, scheme: Scheme, origin: str, created_by: int | None, now: datetime
) -> int:
    table = db.table("coding_schemes").insert(
        {
            "key": scheme.key,
            "version": scheme.version,
            "origin": origin,
            "definition": _definition(scheme),
            "created_by": created_by,
            "created_at": to_iso(now),
        }
    )
    assert table.last_pk is not None
    return int(table.last_pk)


def get(db: Database, scheme_id: int) -> tuple[dict[str, Any], Scheme]:
    """A stored scheme version and its row. Raises NotFound ``not_found``."""
    row = query_row(db, "SELECT * FROM coding_schemes WHERE id = ?", [scheme_id])
    if row is None:
        raise NotFound("not_found", "no such coding scheme")
    return row, Scheme.model_validate_json(row["definition"])


def listing(db: Database, config: CodingConfig) -> list[dict[str, Any]]:
    """Every scheme version that can be used: the configured ones as configured now, and
    each coach's scheme at its latest version; older versions with codings stay readable
    through their codings."""
    configured = {(s.key, s.version) for s in config.schemes}
    rows = query_rows(
        db,
        """SELECT s.*, (SELECT COUNT(*) FROM codings c WHERE c.scheme_id = s.id) AS codings,
                  (SELECT MAX(version) FROM coding_schemes o WHERE o.key = s.key) AS latest
           FROM coding_schemes s ORDER BY s.origin DESC, s.key, s.version""",
    )
    out = []
    for row in rows:
        if row["origin"] == "config" and (row["key"], row["version"]) not in configured:
            continue
        if row["origin"] == "coach" and row["version"] != row["latest"]:
            continue
        out.append(row)
    return out


def describe(row: dict[str, Any], scheme: Scheme, user_id: int) -> dict[str, Any]:
    """A scheme version as the API returns it."""
    return {
        "id": row["id"],
        "key": row["key"],
        "version": row["version"],
        "origin": row["origin"],
        "is_mine": row["created_by"] == user_id,
        "in_use": bool(row.get("codings", 0)),
        "created_at": row["created_at"],
        "definition": scheme.model_dump(mode="json"),
    }


def _require_maker(user: User) -> None:
    if user.role not in MAKERS:
        raise Forbidden("coaches_only", "only coaches (and administrators) make coding schemes")


def create(db: Database, user: User, definition: Any, now: datetime) -> int:
    """A coach's new scheme, version 1. Raises Forbidden ``coaches_only``, Invalid
    ``scheme_invalid``, Conflict ``scheme_key_taken``."""
    _require_maker(user)
    scheme = parse({**definition, "version": 1} if isinstance(definition, dict) else definition)
    with db.atomic():
        if db.execute("SELECT 1 FROM coding_schemes WHERE key = ?", [scheme.key]).fetchone():
            raise Conflict(
                "scheme_key_taken", f"a scheme with the key {scheme.key!r} exists; choose another"
            )
        return _insert(db, scheme, "coach", user.id, now)


def _own(db: Database, user: User, scheme_id: int) -> dict[str, Any]:
    row, _scheme = get(db, scheme_id)
    if row["origin"] == "config":
        raise Forbidden(
            "scheme_from_config", "this scheme comes from the server config: ICT changes it there"
        )
    if row["created_by"] != user.id:
        raise Forbidden("not_scheme_author", "only the coach who made a scheme changes it")
    return row


def new_version(db: Database, user: User, scheme_id: int, definition: Any, now: datetime) -> int:
    """The next version of a coach's scheme (codings keep theirs). Raises Forbidden
    ``scheme_from_config`` or ``not_scheme_author``, Invalid ``scheme_invalid``."""
    _require_maker(user)
    with db.atomic():
        row = _own(db, user, scheme_id)
        latest = db.execute(
            "SELECT MAX(version) FROM coding_schemes WHERE key = ?", [row["key"]]
        ).fetchone()[0]
        body = definition if isinstance(definition, dict) else {}
        scheme = parse({**body, "key": row["key"], "version": int(latest) + 1})
        return _insert(db, scheme, "coach", user.id, now)


def replace(db: Database, user: User, scheme_id: int, definition: Any) -> int:
    """Change a version of a coach's scheme in place, while no coding uses it. Raises
    Conflict ``scheme_in_use`` (save a new version instead), Forbidden, Invalid."""
    _require_maker(user)
    with db.atomic():
        row = _own(db, user, scheme_id)
        body = definition if isinstance(definition, dict) else {}
        scheme = parse({**body, "key": row["key"], "version": row["version"]})
        if _in_use(db, scheme_id):
            raise Conflict(
                "scheme_in_use",
                "codings were made with this version: save your changes as a new version "
                "(those codings keep this one)",
            )
        db.execute(
            "UPDATE coding_schemes SET definition = ? WHERE id = ?",
            [_definition(scheme), scheme_id],
        )
        return scheme_id
