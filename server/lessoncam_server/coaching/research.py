"""The export for research: for the trajectories whose parents' consent covers research and
whose teacher agreed, one row per reflection, per measure and per conversation, with
pseudonymous ids only (no names, no account names, no dates: days since the trajectory's
start), the form of support so that conditions can be compared, and a codebook describing
every column and form version. A trajectory whose consent is withdrawn leaves the export at
once. Who may export is ``coordinators.py``'s; every export is audited by the caller.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from sqlite_utils import Database

from ..access.principal import User
from ..config import MeasuresConfig, ReflectionForm
from ..infra import spreadsheets
from ..infra.db import query_rows
from ..infra.errors import Conflict
from ..infra.timeutil import to_iso
from ..services import Services
from . import measures, reflection_forms, session_conversations
from .codebook import codebook

Table = Literal["reflections", "measures", "conversations", "codebook"]
TABLES: tuple[Table, ...] = ("reflections", "measures", "conversations", "codebook")
_PREFIX = {"trajectory": "T", "person": "R"}

# The trajectories in the export: research consent in force and the teacher's agreement.
_ELIGIBLE = """SELECT t.* FROM trajectories t
    WHERE t.research_agreed_at IS NOT NULL AND EXISTS (
        SELECT 1 FROM trajectory_consents c WHERE c.trajectory_id = t.id
          AND c.ended_at IS NULL AND c.research = 1)"""


def agree(
    services: Services, teacher: User, trajectory: dict[str, Any], agreed: bool, *, address: str
) -> None:
    """The teacher agrees (or no longer agrees) that her trajectory's pseudonymised answers
    and measures are used for research; audited. It counts only while the parents' consent
    covers research too."""
    stamp = to_iso(services.now()) if agreed else None
    services.db.execute(
        "UPDATE trajectories SET research_agreed_at = ? WHERE id = ?", [stamp, trajectory["id"]]
    )
    services.audit_from(
        address,
        teacher,
        "research_agreement",
        object_kind="trajectory",
        object_id=trajectory["id"],
        detail={"agreed": agreed},
    )


def eligible(db: Database) -> list[dict[str, Any]]:
    return query_rows(db, _ELIGIBLE + " ORDER BY t.id")


def require_eligible(db: Database, trajectory_id: int) -> None:
    """Raises Conflict ``research_consent_missing`` unless the trajectory is in the export."""
    if not any(t["id"] == trajectory_id for t in eligible(db)):
        raise Conflict(
            "research_consent_missing",
            "this trajectory is not in the export: the parents' consent does not cover research, "
            "or its teacher did not agree",
        )


def pseudonym(db: Database, kind: str, local_id: int) -> str:
    """The stable pseudonym of a trajectory (``T-...``) or a person (``R-...``)."""
    found = db.execute(
        "SELECT pseudonym FROM research_pseudonyms WHERE kind = ? AND local_id = ?",
        [kind, local_id],
    ).fetchone()
    if found:
        return str(found[0])
    while True:
        made = f"{_PREFIX[kind]}-{secrets.token_hex(3).upper()}"
        inserted = db.execute(
            "INSERT OR IGNORE INTO research_pseudonyms (kind, local_id, pseudonym)"
            " VALUES (?, ?, ?)",
            [kind, local_id, made],
        ).rowcount
        if inserted:
            return made


def _day(start: str, moment: str) -> int:
    """Days from the trajectory's start to ``moment`` (a date or an ISO time)."""
    return (date.fromisoformat(moment[:10]) - date.fromisoformat(start)).days


def _role(db: Database, trajectory: dict[str, Any], user_id: int) -> str:
    if user_id == trajectory["teacher_id"]:
        return "teacher"
    found = db.execute(
        "SELECT role FROM trajectory_members WHERE trajectory_id = ? AND user_id = ?"
        " ORDER BY id DESC LIMIT 1",
        [trajectory["id"], user_id],
    ).fetchone()
    return str(found[0]) if found else "member"


@dataclass
class Dataset:
    """The export's tables (rows as dicts with their columns in order) and the codebook."""

    reflections: list[dict[str, Any]] = field(default_factory=list)
    measures: list[dict[str, Any]] = field(default_factory=list)
    conversations: list[dict[str, Any]] = field(default_factory=list)
    codebook: list[dict[str, str]] = field(default_factory=list)
    trajectories: int = 0

    def table(self, name: Table) -> list[dict[str, Any]]:
        return list(getattr(self, name))


def _forms_used(db: Database) -> list[tuple[str, int, ReflectionForm]]:
    rows = db.execute("SELECT kind, version, id FROM reflection_forms ORDER BY kind, version")
    return [(k, v, reflection_forms.stored(db, i)) for k, v, i in rows.fetchall()]


def dataset(db: Database, config: MeasuresConfig, trajectory_id: int | None = None) -> Dataset:
    """The export of every eligible trajectory (or of ``trajectory_id`` alone, which must be
    eligible: Conflict ``research_consent_missing`` otherwise)."""
    if trajectory_id is not None:
        require_eligible(db, trajectory_id)
    chosen = [t for t in eligible(db) if trajectory_id is None or t["id"] == trajectory_id]
    out = Dataset(trajectories=len(chosen))
    forms = _forms_used(db)
    keys = list(dict.fromkeys(q.key for _, _, form in forms for q in form.questions))
    scale_keys = list(
        dict.fromkeys(row["key"] for tool in config.instruments for row in measures.rows(tool))
    )
    for trajectory in chosen:
        tid = trajectory["id"]
        common = {"trajectory": pseudonym(db, "trajectory", tid), "support": trajectory["support"]}
        start = trajectory["start_date"]
        lessons = [
            r[0]
            for r in db.execute(
                "SELECT r.id FROM trajectory_lessons tl JOIN recordings r ON r.id = tl.recording_id"
                " WHERE tl.trajectory_id = ? ORDER BY r.started_at",
                [tid],
            ).fetchall()
        ]
        talks = query_rows(
            db,
            "SELECT * FROM trajectory_steps WHERE trajectory_id = ? AND kind = 'conversation'"
            " ORDER BY held_on, id",
            [tid],
        )
        talk_number = {talk["id"]: n for n, talk in enumerate(talks, 1)}
        watched = session_conversations.by_step(db, tid)
        answered = query_rows(
            db,
            """SELECT f.*, fm.version, fm.kind AS form_kind FROM reflections f
               JOIN reflection_forms fm ON fm.id = f.form_id
               WHERE f.trajectory_id = ? AND f.state = 'answered' AND f.private = 0
               ORDER BY substr(f.subject_at, 1, 10), f.kind = 'conversation', f.id""",
            [tid],
        )
        for reflection in answered:
            given = json.loads(reflection["answers"])
            number = (
                (
                    lessons.index(reflection["recording_id"]) + 1
                    if reflection["recording_id"] in lessons
                    else None
                )
                if reflection["kind"] == "lesson"
                else talk_number.get(reflection["step_id"])
            )
            row = {
                **common,
                "respondent": pseudonym(db, "person", reflection["author_id"]),
                "respondent_role": _role(db, trajectory, reflection["author_id"]),
                "form": reflection["form_kind"],
                "form_version": reflection["version"],
                "number": number,
                "day": _day(start, reflection["subject_at"]),
            }
            row.update({f"q_{key}": given.get(key) for key in keys})
            out.reflections.append(row)
        for measure in measures.of_trajectory(db, tid):
            tool = next((i for i in config.instruments if i.key == measure["instrument"]), None)
            if tool is None:
                continue
            scores = measures.with_total(tool, measure["scores"])
            row = {
                **common,
                "instrument": tool.key,
                "moment": measure["moment"],
                "day": _day(start, measure["measured_on"]),
            }
            bands = {
                r["key"]: measures.band(r["bands"], scores.get(r["key"]))
                for r in measures.rows(tool)
            }
            for key in scale_keys:
                row[key] = scores.get(key)
                found = bands.get(key)
                row[f"{key}_band"] = found.level if found else None
            out.measures.append(row)
        for talk in talks:
            roles = [
                _role(db, trajectory, r[0])
                for r in db.execute(
                    "SELECT user_id FROM step_participants WHERE step_id = ?", [talk["id"]]
                ).fetchall()
            ]
            fragments = db.execute(
                "SELECT COUNT(*) FROM step_fragments WHERE step_id = ?", [talk["id"]]
            ).fetchone()[0]
            out.conversations.append(
                {
                    **common,
                    "number": talk_number[talk["id"]],
                    "day": _day(start, talk["held_on"]),
                    "minutes": talk["minutes"],
                    "participants": len(roles),
                    "participant_roles": ";".join(sorted(roles)),
                    "fragments": int(fragments),
                    "agreements_made": int(bool(talk["agreements"])),
                    "watched_together": int(talk["id"] in watched),
                }
            )
    out.codebook = codebook(forms, keys, config, scale_keys)
    return out


def to_csv(rows: list[dict[str, Any]], separator: str = ",") -> str:
    """Rows as CSV text with a header (an empty table: no header either); free text that a
    spreadsheet would run as a formula is guarded (``infra/spreadsheets``)."""
    return spreadsheets.rows_to_csv(rows, separator)


def to_xlsx(data: Dataset) -> bytes:
    """The whole export as one workbook: a sheet per table, the codebook last."""
    return spreadsheets.workbook({name: data.table(name) for name in TABLES})
