"""The steps of the coaching cycle written down in a trajectory: the intake (notes and the
agreed question; once per trajectory), the coach's analysis of a lesson with the fragments it
refers to, each conversation (its date, who took part, how many minutes, the fragments
discussed and the agreements made: "what I will try"), and the evaluation. The teacher and the
members write them while the trajectory is open; the author may rewrite one, and the author
(or the teacher) may delete one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from sqlite_utils import Database

from ..access.permissions import TrajectoryAccess
from ..access.principal import User
from ..infra.db import query_rows
from ..infra.errors import Conflict, Forbidden, Invalid
from ..infra.timeutil import to_iso
from ..services import Services
from . import fragments
from .fragments import Fragment
from .lookup import row_in
from .rules import require_open

StepKind = Literal["intake", "analysis", "conversation", "evaluation"]
KINDS: tuple[StepKind, ...] = ("intake", "analysis", "conversation", "evaluation")
TEXT_MAX = 5000
MINUTES_MAX = 600


@dataclass(frozen=True)
class StepDraft:
    """A step as its author writes it; the fields each kind uses are named."""

    kind: str
    body: str
    held_on: date
    agreed_question: str = ""  # intake
    lesson_id: str | None = None  # analysis: the lesson it is about
    minutes: int | None = None  # conversation
    participants: tuple[str, ...] = ()  # conversation: usernames
    agreements: str = ""  # conversation: what the teacher will try
    fragments: tuple[Fragment, ...] = ()


def _text(value: str, code: str, what: str, *, required: bool) -> str:
    text = value.replace("\x00", "").strip()
    if required and not text:
        raise Invalid(f"{code}_empty", f"write the {what} first: it is empty")
    if len(text) > TEXT_MAX:
        raise Invalid(f"{code}_too_long", f"the {what} may be at most {TEXT_MAX} characters")
    return text


def _people(db: Database, trajectory: dict[str, Any], usernames: tuple[str, ...]) -> list[int]:
    """The user ids of ``usernames``: the teacher or members of the trajectory."""
    ids = []
    for username in dict.fromkeys(usernames):
        row = db.execute(
            """SELECT u.id FROM users u WHERE u.username = :name COLLATE NOCASE
               AND (u.id = :teacher OR u.id IN (SELECT user_id FROM trajectory_members
                    WHERE trajectory_id = :t AND accepted_at IS NOT NULL AND ended_at IS NULL))""",
            {"name": username, "teacher": trajectory["teacher_id"], "t": trajectory["id"]},
        ).fetchone()
        if row is None:
            raise Invalid(
                "participant_unknown", f"{username[:64]!r} is not the teacher or a member here"
            )
        ids.append(int(row[0]))
    return ids


def _checked(
    services: Services, author: User, trajectory: dict[str, Any], draft: StepDraft
) -> tuple[dict[str, Any], list[Fragment], list[int]]:
    """The row values, fragments and participants of a valid ``draft`` (nothing stored)."""
    require_open(trajectory)
    if draft.kind not in KINDS:
        raise Invalid("step_kind_invalid", f"a step is one of {', '.join(KINDS)}")
    now = services.now()
    if draft.held_on > now.date():
        raise Invalid("step_date_future", "write a step down once it has happened")
    db = services.db
    values: dict[str, Any] = {
        "held_on": draft.held_on.isoformat(),
        "body": _text(draft.body, "body", "notes", required=True),
        "agreed_question": "",
        "recording_id": None,
        "minutes": None,
        "agreements": "",
    }
    spans = fragments.checked(db, trajectory["id"], author.id, now, draft.fragments)
    participants: list[int] = []
    if draft.kind == "intake":
        values["agreed_question"] = _text(
            draft.agreed_question, "agreed_question", "agreed question", required=False
        )
    elif draft.kind == "analysis":
        if not draft.lesson_id:
            raise Invalid("analysis_needs_lesson", "an analysis is about one lesson: choose it")
        lesson = fragments.lesson_of(db, trajectory["id"], author.id, now, draft.lesson_id)
        if any(f.lesson_id != lesson["id"] for f in spans):
            raise Invalid(
                "fragment_other_lesson", "an analysis refers to fragments of its own lesson"
            )
        values["recording_id"] = lesson["id"]
    elif draft.kind == "conversation":
        if draft.minutes is None or not 1 <= draft.minutes <= MINUTES_MAX:
            raise Invalid("minutes_invalid", f"a conversation lasts 1 to {MINUTES_MAX} minutes")
        values["minutes"] = draft.minutes
        values["agreements"] = _text(draft.agreements, "agreements", "agreements", required=False)
        participants = _people(db, trajectory, draft.participants)
    return values, list(spans), participants


def _keep_links(db: Database, step_id: int, spans: list[Fragment], people: list[int]) -> None:
    for user_id in people:
        db.table("step_participants").insert({"step_id": step_id, "user_id": user_id})
    fragments.store(db, spans, step_id=step_id)


def add(
    services: Services,
    author: User,
    trajectory: dict[str, Any],
    draft: StepDraft,
    *,
    address: str,
) -> dict[str, Any]:
    """``author`` (who may contribute: the caller checked) writes a step, from ``address``;
    audited. Returns it as ``of_trajectory`` lists it. Raises Conflict ``trajectory_closed``,
    ``intake_exists``; Invalid ``step_kind_invalid``, ``step_date_future``, ``body_empty``,
    ``body_too_long``, ``agreed_question_too_long``, ``agreements_too_long``,
    ``analysis_needs_lesson``, ``fragment_other_lesson``, ``minutes_invalid``,
    ``participant_unknown`` and those of ``fragments.checked``."""
    values, spans, participants = _checked(services, author, trajectory, draft)
    values.update(
        trajectory_id=trajectory["id"],
        kind=draft.kind,
        author_id=author.id,
        created_at=to_iso(services.now()),
    )
    db = services.db
    with db.atomic():
        if draft.kind == "intake":
            held = db.execute(
                "SELECT 1 FROM trajectory_steps WHERE trajectory_id = ? AND kind = 'intake'",
                [trajectory["id"]],
            ).fetchone()
            if held is not None:
                raise Conflict("intake_exists", "the intake is written down already")
        table = db.table("trajectory_steps").insert(values)
        assert table.last_pk is not None
        step_id = int(table.last_pk)
        _keep_links(db, step_id, spans, participants)
        _audit(services, address, author, "step_create", trajectory, step_id, draft.kind)
    return next(s for s in of_trajectory(db, trajectory["id"]) if s["id"] == step_id)


def change(
    services: Services,
    author: User,
    trajectory: dict[str, Any],
    raw_id: str,
    draft: StepDraft,
    *,
    address: str,
) -> dict[str, Any]:
    """Its author rewrites a step while the trajectory is open (a slip in the notes, a
    participant forgotten, a fragment's time): every field is replaced, the kind stays;
    audited. Returns it as ``of_trajectory`` lists it. Raises NotFound ``not_found``;
    Forbidden ``not_author`` (only the author: the notes are hers); Invalid
    ``step_kind_fixed`` and those of :func:`add`; nothing is changed when one is raised."""
    db = services.db
    step = row_in(db, "trajectory_steps", trajectory, raw_id, "step")
    require_open(trajectory)
    if step["author_id"] != author.id:
        raise Forbidden("not_author", "only its author may change a step")
    if draft.kind != step["kind"]:
        raise Invalid("step_kind_fixed", f"this step stays a {step['kind']}: write a new one")
    values, spans, participants = _checked(services, author, trajectory, draft)
    with db.atomic():
        db.table("trajectory_steps").update(step["id"], values)
        db.execute("DELETE FROM step_participants WHERE step_id = ?", [step["id"]])
        db.execute("DELETE FROM step_fragments WHERE step_id = ?", [step["id"]])
        _keep_links(db, step["id"], spans, participants)
        _audit(services, address, author, "step_update", trajectory, step["id"], step["kind"])
    return next(s for s in of_trajectory(db, trajectory["id"]) if s["id"] == step["id"])


def remove(
    services: Services,
    user: User,
    trajectory: dict[str, Any],
    acc: TrajectoryAccess,
    raw_id: str,
    *,
    address: str,
) -> None:
    """Delete a step (its author, or the teacher) while the trajectory is open; audited.
    Raises NotFound ``not_found``, Forbidden ``not_author``, Conflict ``trajectory_closed``."""
    step = row_in(services.db, "trajectory_steps", trajectory, raw_id, "step")
    require_open(trajectory)
    if step["author_id"] != user.id and not acc.manage:
        raise Forbidden("not_author", "only its author or the teacher may delete a step")
    db = services.db
    with db.atomic():
        db.execute("DELETE FROM trajectory_steps WHERE id = ?", [step["id"]])
        _audit(services, address, user, "step_delete", trajectory, step["id"], step["kind"])


def _audit(
    services: Services,
    address: str,
    actor: User,
    action: str,
    trajectory: dict[str, Any],
    step_id: int,
    kind: str,
) -> None:
    # In the step's own transaction: a step is never written without its audit entry.
    services.audit_from(
        address,
        actor,
        action,
        object_kind="trajectory",
        object_id=trajectory["id"],
        detail={"step": step_id, "kind": kind},
    )


def of_trajectory(db: Database, trajectory_id: int) -> list[dict[str, Any]]:
    """The trajectory's steps in the order they happened: each row with ``author_name``,
    ``lesson_title`` and ``lesson_started_at`` (an analysis), ``participants`` (display names)
    and ``participant_usernames``
    and ``fragments`` (``lesson_id``, ``start_s``, ``end_s``, ``lesson_title``, ...)."""
    steps = query_rows(
        db,
        """SELECT s.*, u.display_name AS author_name, u.username AS author_username,
                  r.title AS lesson_title, r.started_at AS lesson_started_at
           FROM trajectory_steps s LEFT JOIN users u ON u.id = s.author_id
           LEFT JOIN recordings r ON r.id = s.recording_id
           WHERE s.trajectory_id = ? ORDER BY s.held_on, s.created_at, s.id""",
        [trajectory_id],
    )
    people: dict[int, list[str]] = {}
    usernames: dict[int, list[str]] = {}
    for step_id, name, username in db.execute(
        """SELECT p.step_id, u.display_name, u.username FROM step_participants p
           JOIN users u ON u.id = p.user_id JOIN trajectory_steps s ON s.id = p.step_id
           WHERE s.trajectory_id = ? ORDER BY u.display_name""",
        [trajectory_id],
    ).fetchall():
        people.setdefault(step_id, []).append(name)
        usernames.setdefault(step_id, []).append(username)
    spans: dict[int, list[dict[str, Any]]] = {}
    for fragment in fragments.of_trajectory(db, trajectory_id):
        if fragment["step_id"] is not None:
            spans.setdefault(fragment["step_id"], []).append(fragment)
    for step in steps:
        step["participants"] = people.get(step["id"], [])
        step["participant_usernames"] = usernames.get(step["id"], [])
        step["fragments"] = spans.get(step["id"], [])
    return steps
