"""The school's reflection forms, versioned: the teacher's after a lesson and the coach's or
colleague's after a conversation, from ``[reflection]`` in the server config. Each version
the server has used is kept in the database, so an answer keeps the version it was given
on and changing the form never rewrites old answers. A version that has answers cannot be
changed in place: the school gives the changed form a new version number."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from sqlite_utils import Database

from ..config import ReflectionConfig, ReflectionForm
from ..infra.errors import Conflict, Invalid
from ..infra.timeutil import to_iso

FormKind = Literal["lesson", "conversation"]
KINDS: tuple[FormKind, ...] = ("lesson", "conversation")
TEXT_MAX = 2000
MINUTES_MAX = 24 * 60


def configured(config: ReflectionConfig, kind: FormKind) -> ReflectionForm:
    return config.lesson_form if kind == "lesson" else config.conversation_form


def _definition(form: ReflectionForm) -> str:
    return json.dumps(form.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)


def sync(db: Database, kind: FormKind, form: ReflectionForm, now: datetime) -> int:
    """The id of ``form`` as version ``form.version`` of ``kind``, stored on first use. Raises
    Conflict ``form_version_answered`` when that version was stored with other questions and
    has answers (nothing is changed then)."""
    text = _definition(form)
    with db.atomic():
        row = db.execute(
            "SELECT id, definition FROM reflection_forms WHERE kind = ? AND version = ?",
            [kind, form.version],
        ).fetchone()
        if row is None:
            table = db.table("reflection_forms").insert(
                {
                    "kind": kind,
                    "version": form.version,
                    "definition": text,
                    "created_at": to_iso(now),
                }
            )
            assert table.last_pk is not None
            return int(table.last_pk)
        form_id, stored = int(row[0]), row[1]
        if stored == text:
            return form_id
        answered = db.execute(
            "SELECT 1 FROM reflections WHERE form_id = ? LIMIT 1", [form_id]
        ).fetchone()
        if answered:
            raise Conflict(
                "form_version_answered",
                f"[reflection] {kind}_form version {form.version} was changed, but answers were "
                f"given on it; give the changed form version {form.version + 1}",
            )
        db.execute("UPDATE reflection_forms SET definition = ? WHERE id = ?", [text, form_id])
        return form_id


def sync_all(db: Database, config: ReflectionConfig, now: datetime) -> dict[FormKind, int]:
    """Store both configured forms (at start-up, so a form changed in place is refused
    before anyone answers); their ids by kind."""
    return {kind: sync(db, kind, configured(config, kind), now) for kind in KINDS}


def current(
    db: Database, config: ReflectionConfig, kind: FormKind, now: datetime
) -> tuple[int, ReflectionForm]:
    """The form now in use for ``kind`` and its id."""
    form = configured(config, kind)
    return sync(db, kind, form, now), form


def stored(db: Database, form_id: int) -> ReflectionForm:
    """The version of a form an answer was given on."""
    row = db.execute("SELECT definition FROM reflection_forms WHERE id = ?", [form_id]).fetchone()
    assert row is not None, form_id
    return ReflectionForm.model_validate_json(row[0])


def check_answers(form: ReflectionForm, answers: dict[str, Any]) -> dict[str, Any]:
    """``answers`` (question key -> value) cleaned, if they fit ``form``. Raises Invalid
    ``unknown_question``, ``answer_required``, ``answer_invalid``, ``answer_out_of_range``,
    ``answer_too_long``. Pure."""
    known = {q.key for q in form.questions}
    unknown = sorted(set(answers) - known)
    if unknown:
        raise Invalid("unknown_question", f"{unknown[0][:40]!r} is not a question of this form")
    out: dict[str, Any] = {}
    for question in form.questions:
        value = answers.get(question.key)
        if isinstance(value, str):
            value = value.replace("\x00", "").strip()
        if value is None or value == "":
            if question.required:
                raise Invalid("answer_required", f"answer {question.key!r}: it is required")
            continue
        if question.type in ("scale", "minutes"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise Invalid("answer_invalid", f"answer {question.key!r} with a whole number")
            low, high = (
                (question.min, question.max) if question.type == "scale" else (0, MINUTES_MAX)
            )
            if not low <= value <= high:
                raise Invalid(
                    "answer_out_of_range", f"answer {question.key!r} from {low} to {high}"
                )
        elif question.type == "choice":
            if value not in {o.key for o in question.options}:
                raise Invalid(
                    "answer_invalid", f"{question.key!r} has no option {str(value)[:40]!r}"
                )
        else:
            if not isinstance(value, str):
                raise Invalid("answer_invalid", f"answer {question.key!r} with text")
            if len(value) > TEXT_MAX:
                raise Invalid(
                    "answer_too_long", f"answer {question.key!r} in at most {TEXT_MAX} characters"
                )
        out[question.key] = value
    return out


def parse_form_answers(form: ReflectionForm, posted: dict[str, str]) -> dict[str, Any]:
    """Answers as an HTML form posts them (all text): numbers for scale and minutes questions
    (a value that is no number is kept as text, so ``check_answers`` refuses it). Pure."""
    out: dict[str, Any] = {}
    for question in form.questions:
        raw = posted.get(question.key, "").strip()
        if question.type in ("scale", "minutes") and raw.lstrip("-").isdigit() and len(raw) < 7:
            out[question.key] = int(raw)
        elif raw:
            out[question.key] = raw
    return out
