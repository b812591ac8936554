"""A reflection after every recording: the teacher answers the school's form about her ready
lesson (asked in the library and on the lesson page until she answers or declines), and a
coach or colleague answers the short form after a conversation they took part in. Answers are
seen by the trajectory's teacher and members, unless their author marked them private.

Which lessons are asked about: ``[reflection] ask`` = ``trajectory`` (the lessons of her
trajectories, the default) or ``all`` (every lesson of hers).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlite_utils import Database

from ..access.principal import User
from ..config import ReflectionConfig
from ..infra.db import query_row, query_rows
from ..infra.errors import Conflict, Forbidden, NotFound
from ..infra.timeutil import to_iso
from ..lessons import viewings
from ..services import Services
from . import reflection_forms
from .reflection_forms import FormKind
from .rules import url_id

# The lessons :user is asked about: hers, ready, not answered or declined.
_ASKED = """SELECT r.id, r.title, r.started_at, tl.trajectory_id FROM recordings r
    LEFT JOIN trajectory_lessons tl ON tl.recording_id = r.id
    WHERE r.owner_id = :user AND r.state = 'ready' AND (:all OR tl.trajectory_id IS NOT NULL)
      AND NOT EXISTS (SELECT 1 FROM reflections f
                      WHERE f.recording_id = r.id AND f.author_id = :user)"""


def asked_lessons(db: Database, user_id: int, config: ReflectionConfig) -> list[dict[str, Any]]:
    """The teacher's ready lessons still waiting for her reflection, newest first."""
    return query_rows(
        db,
        _ASKED + " ORDER BY r.started_at DESC",
        {"user": user_id, "all": config.ask == "all"},
    )


def is_asked(
    db: Database, lesson: Mapping[str, Any], user_id: int, config: ReflectionConfig
) -> bool:
    """Whether ``user_id`` is asked for a reflection on ``lesson`` now."""
    found = db.execute(
        _ASKED + " AND r.id = :lesson",
        {"user": user_id, "all": config.ask == "all", "lesson": lesson["id"]},
    ).fetchone()
    return found is not None


def asked_conversations(db: Database, user_id: int) -> list[dict[str, Any]]:
    """The conversations a coach or colleague took part in (in a trajectory she is still a
    member of, while it is open) and has not answered the short form for: ``id``,
    ``trajectory_id``, ``title`` (the trajectory's), ``held_on``."""
    return query_rows(
        db,
        """SELECT s.id, s.trajectory_id, t.title, s.held_on FROM trajectory_steps s
           JOIN step_participants p ON p.step_id = s.id AND p.user_id = :user
           JOIN trajectories t ON t.id = s.trajectory_id
           JOIN trajectory_members m ON m.trajectory_id = t.id AND m.user_id = :user
                AND m.accepted_at IS NOT NULL AND m.ended_at IS NULL
           WHERE s.kind = 'conversation' AND t.teacher_id != :user AND t.status != 'closed'
             AND NOT EXISTS (SELECT 1 FROM reflections f
                             WHERE f.step_id = s.id AND f.author_id = :user)
           ORDER BY s.held_on DESC, s.id DESC""",
        {"user": user_id},
    )


def watching_minutes(played_s: float) -> int:
    """Seconds played as whole minutes: to the nearest (half up), at least 1 if any. Pure."""
    return 0 if played_s <= 0 else max(1, int(played_s / 60 + 0.5))


def prefill(
    db: Database, kind: FormKind, config: ReflectionConfig, lesson_id: str | None, user_id: int
) -> dict[str, Any]:
    """What the form shows filled in before she answers: the minutes she played the lesson
    (to the nearest minute, and at least 1 once she played any of it), in every minutes
    question marked ``prefill = "watching"``."""
    if lesson_id is None:
        return {}
    minutes = watching_minutes(viewings.played_seconds(db, lesson_id, user_id))
    form = reflection_forms.configured(config, kind)
    return {q.key: minutes for q in form.questions if q.prefill == "watching"}


def _store(
    services: Services,
    user: User,
    kind: FormKind,
    *,
    recording_id: str | None,
    step_id: int | None,
    subject_at: str,
    trajectory_id: int | None,
    answers: dict[str, Any] | None,
    private: bool,
) -> dict[str, Any]:
    """Keep an answer (``answers``) or a refusal (None); an answer replaces a refusal, and an
    answer is final. Raises Conflict ``reflection_exists`` and Invalid as
    ``reflection_forms.check_answers``."""
    db = services.db
    now = services.now()
    form_id, form = reflection_forms.current(db, services.config.reflection, kind, now)
    cleaned = reflection_forms.check_answers(form, answers) if answers is not None else {}
    where = ("recording_id", recording_id) if recording_id is not None else ("step_id", step_id)
    with db.atomic():
        held = query_row(
            db,
            f"SELECT id, state FROM reflections WHERE {where[0]} = ? AND author_id = ?",  # noqa: S608
            [where[1], user.id],
        )
        if held is not None and (held["state"] == "answered" or answers is None):
            raise Conflict("reflection_exists", "you have answered (or declined) this already")
        if held is not None:
            db.execute("DELETE FROM reflections WHERE id = ?", [held["id"]])
        table = db.table("reflections").insert(
            {
                "form_id": form_id,
                "kind": kind,
                "recording_id": recording_id,
                "step_id": step_id,
                "subject_at": subject_at,
                "trajectory_id": trajectory_id,
                "author_id": user.id,
                "state": "answered" if answers is not None else "declined",
                "private": int(private),
                "answers": json.dumps(cleaned, sort_keys=True, ensure_ascii=False),
                "created_at": to_iso(now),
            }
        )
        assert table.last_pk is not None
    found = get(db, int(table.last_pk))
    assert found is not None
    return found


def _lesson_target(db: Database, user: User, lesson: Mapping[str, Any]) -> int | None:
    if lesson["owner_id"] != user.id:
        raise Forbidden("forbidden", "only the lesson's teacher reflects on it")
    if lesson["state"] != "ready":
        raise Conflict("lesson_not_ready", "reflect once the lesson is ready")
    found = db.execute(
        "SELECT trajectory_id FROM trajectory_lessons WHERE recording_id = ?", [lesson["id"]]
    ).fetchone()
    return int(found[0]) if found else None


def answer_lesson(
    services: Services,
    user: User,
    lesson: Mapping[str, Any],
    answers: dict[str, Any],
    private: bool = False,
) -> dict[str, Any]:
    """The teacher answers the lesson form about her ready ``lesson``. Returns the reflection.
    Raises Forbidden (not hers), Conflict ``lesson_not_ready``, ``reflection_exists``, Invalid
    as ``reflection_forms.check_answers``."""
    trajectory_id = _lesson_target(services.db, user, lesson)
    return _store(
        services,
        user,
        "lesson",
        recording_id=lesson["id"],
        step_id=None,
        subject_at=lesson["started_at"],
        trajectory_id=trajectory_id,
        answers=answers,
        private=private,
    )


def decline_lesson(services: Services, user: User, lesson: Mapping[str, Any]) -> None:
    """The teacher does not want to reflect on ``lesson``: she is no longer asked. Raises as
    ``answer_lesson``."""
    trajectory_id = _lesson_target(services.db, user, lesson)
    _store(
        services,
        user,
        "lesson",
        recording_id=lesson["id"],
        step_id=None,
        subject_at=lesson["started_at"],
        trajectory_id=trajectory_id,
        answers=None,
        private=False,
    )


def answer_conversation(
    services: Services,
    user: User,
    trajectory: Mapping[str, Any],
    raw_step_id: str,
    answers: dict[str, Any],
    private: bool = False,
) -> dict[str, Any]:
    """A coach or colleague who took part in a conversation answers the short form about it.
    Raises NotFound ``not_found`` (no such conversation here), Forbidden ``not_participant``,
    Conflict ``reflection_exists``, Invalid as ``reflection_forms.check_answers``."""
    step_id = url_id(raw_step_id)
    step = query_row(
        services.db,
        "SELECT * FROM trajectory_steps WHERE id = ? AND trajectory_id = ?"
        " AND kind = 'conversation'",
        [step_id, trajectory["id"]],
    )
    if step is None:
        raise NotFound("not_found", "no such conversation in this trajectory")
    took_part = services.db.execute(
        "SELECT 1 FROM step_participants WHERE step_id = ? AND user_id = ?", [step_id, user.id]
    ).fetchone()
    if took_part is None or user.id == trajectory["teacher_id"]:
        raise Forbidden("not_participant", "the coach or colleague who took part answers this form")
    return _store(
        services,
        user,
        "conversation",
        recording_id=None,
        step_id=step_id,
        subject_at=step["held_on"],
        trajectory_id=trajectory["id"],
        answers=answers,
        private=private,
    )


_SELECT = """SELECT f.*, u.display_name AS author_name, u.username AS author_username,
    fm.version AS form_version FROM reflections f JOIN users u ON u.id = f.author_id
    JOIN reflection_forms fm ON fm.id = f.form_id"""


def _shaped(db: Database, row: dict[str, Any]) -> dict[str, Any]:
    row["answers"] = json.loads(row["answers"])
    row["private"] = bool(row["private"])
    row["form"] = reflection_forms.stored(db, row["form_id"])
    return row


def get(db: Database, reflection_id: int) -> dict[str, Any] | None:
    """One reflection with its ``answers`` (decoded), ``form`` (the version it was given on),
    ``form_version``, ``author_name``."""
    row = query_row(db, f"{_SELECT} WHERE f.id = ?", [reflection_id])
    return _shaped(db, row) if row else None


def of_lesson(db: Database, lesson_id: str, author_id: int) -> dict[str, Any] | None:
    """``author_id``'s reflection on the lesson (answered or declined), or None."""
    row = query_row(
        db, f"{_SELECT} WHERE f.recording_id = ? AND f.author_id = ?", [lesson_id, author_id]
    )
    return _shaped(db, row) if row else None


def of_trajectory(db: Database, trajectory_id: int, reader_id: int) -> list[dict[str, Any]]:
    """The answered reflections of the trajectory that ``reader_id`` (its teacher or a member:
    the caller checked) may read: all but others' private ones; in the order given."""
    rows = query_rows(
        db,
        f"""{_SELECT} WHERE f.trajectory_id = :t AND f.state = 'answered'
            AND (f.private = 0 OR f.author_id = :reader) ORDER BY f.subject_at, f.id""",
        {"t": trajectory_id, "reader": reader_id},
    )
    return [_shaped(db, row) for row in rows]
