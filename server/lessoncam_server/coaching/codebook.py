"""The research export's codebook: every column of every table, and for each question column
the wording of each form version it was asked in."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..config import MeasuresConfig, ReflectionForm
from . import measures

_COMMON = {
    "trajectory": "pseudonymous id of the trajectory (the same in every export)",
    "support": "form of support: video_coach, support_teacher, colleague, own",
}


def _question_text(question: Any) -> str:
    if question.type == "scale":
        ends = f": {question.low_en} .. {question.high_en}" if question.low_en else ""
        return f"{question.en} (scale {question.min}-{question.max}{ends})"
    if question.type == "minutes":
        return f"{question.en} (minutes)"
    if question.type == "choice":
        return f"{question.en} (one of: {', '.join(o.key for o in question.options)})"
    return f"{question.en} (free text as written: check it for names before use)"


def codebook(
    forms_used: Iterable[tuple[str, int, ReflectionForm]],
    keys: list[str],
    config: MeasuresConfig,
    scale_keys: list[str],
) -> list[dict[str, str]]:
    """The codebook rows (``table``, ``column``, ``description``) for the forms ``used`` (kind,
    version, form), the question ``keys`` and the measures' ``scale_keys``."""
    book: list[dict[str, str]] = []

    def entry(table: str, column: str, description: str) -> None:
        book.append({"table": table, "column": column, "description": description})

    for table in ("reflections", "measures", "conversations"):
        for column, text in _COMMON.items():
            entry(table, column, text)
    entry("reflections", "respondent", "pseudonymous id of the person who answered")
    entry("reflections", "respondent_role", "teacher, coach or colleague")
    entry("reflections", "form", "lesson (the teacher, after a recording) or conversation")
    entry("reflections", "form_version", "the version of the form the answer was given on")
    entry("reflections", "number", "which lesson (or conversation) of the trajectory, in order")
    entry("reflections", "day", "days from the trajectory's start to the lesson/conversation")
    used = list(forms_used)
    for key in keys:
        texts = [
            f"{kind} form v{version}: {_question_text(q)}"
            for kind, version, form in used
            for q in form.questions
            if q.key == key
        ]
        entry("reflections", f"q_{key}", "; ".join(texts) + "; empty when not answered")
    entry("measures", "instrument", "the instrument's key")
    entry("measures", "moment", "start, middle or end")
    entry("measures", "day", "days from the trajectory's start to the measure")
    for key in scale_keys:
        names = [
            f"{tool.key}: {row['en']} ({row['min']}-{row['max']})"
            + (" = the sum of the scales marked in_total" if key == measures.TOTAL else "")
            for tool in config.instruments
            for row in measures.rows(tool)
            if row["key"] == key
        ]
        entry("measures", key, "; ".join(names))
        entry(
            "measures",
            f"{key}_band",
            "the published band of the score: 0 close to average, 1 slightly raised (lowered "
            "for a strength), 2 high (low), 3 very high (very low); empty without bands",
        )
    entry("conversations", "number", "which conversation of the trajectory, in order")
    entry("conversations", "day", "days from the trajectory's start to the conversation")
    entry("conversations", "minutes", "how long the conversation took")
    entry("conversations", "participants", "how many people took part")
    entry("conversations", "participant_roles", "their roles, separated by ';'")
    entry("conversations", "fragments", "how many fragments of lessons were discussed")
    entry("conversations", "agreements_made", "1 when agreements were written down, else 0")
    entry(
        "conversations",
        "watched_together",
        "1 when the conversation was written down from a session of watching the lesson "
        "together, else 0",
    )
    return book
