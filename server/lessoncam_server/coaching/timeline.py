"""The trajectory page's timeline: start, intake, each lesson (with its analyses, comments and,
later, reflection), each conversation, the evaluation and the closing, in the order they
happened. Pure: it only arranges what the callers read (and may show) for one reader."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# Within one day: the start first, the closing last, a lesson before what was said about it.
_RANK = {
    "start": 0,
    "intake": 1,
    "lesson": 2,
    "analysis": 3,
    "conversation": 4,
    "evaluation": 5,
    "closing": 6,
}


def timeline(
    trajectory: Mapping[str, Any],
    lessons: Iterable[Mapping[str, Any]],
    steps: Iterable[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """Entries ``{"kind", "day", ...}`` oldest first. ``lessons`` are the ones the reader may
    open (each ``id`` and ``started_at``); an analysis sits under its lesson when she may
    open it (``"analyses"`` of the lesson's entry) and on its own otherwise."""
    shown = {lesson["id"] for lesson in lessons}
    entries: list[dict[str, Any]] = [
        {"kind": "start", "day": trajectory["start_date"], "order": trajectory["start_date"]}
    ]
    under: dict[str, list[Mapping[str, Any]]] = {}
    for step in steps:
        if step["kind"] == "analysis" and step["recording_id"] in shown:
            under.setdefault(step["recording_id"], []).append(step)
            continue
        entries.append(
            {
                "kind": step["kind"],
                "day": step["held_on"],
                "order": step["created_at"],
                "step": step,
            }
        )
    for lesson in lessons:
        entries.append(
            {
                "kind": "lesson",
                "day": lesson["started_at"][:10],
                "order": lesson["started_at"],
                "lesson": lesson,
                "analyses": under.get(lesson["id"], []),
            }
        )
    if trajectory["status"] == "closed" and trajectory["closed_at"]:
        closed = trajectory["closed_at"]
        entries.append({"kind": "closing", "day": closed[:10], "order": closed})
    return sorted(entries, key=lambda e: (e["day"], _RANK[e["kind"]], e["order"]))
