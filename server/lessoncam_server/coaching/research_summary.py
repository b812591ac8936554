"""The research summary: per form of support, the number of trajectories, recordings and
reflections, the mean of every answered number, and each measure's mean at the start and the
end, so that the conditions can be compared. Pure, over the export's rows."""

from __future__ import annotations

from collections.abc import Iterable
from statistics import fmean
from typing import Any

from sqlite_utils import Database

from .research import Dataset


def summary(data: Dataset, recordings: dict[str, int]) -> list[dict[str, Any]]:
    """Per form of support: ``support``, ``trajectories``, ``recordings``, ``reflections``,
    the mean of each answered number (``means``: question -> mean; scales and minutes), and
    each measure's mean at the start and the end (``measures``: instrument -> scale ->
    (start, end)). ``recordings`` counts the lessons by form of support. Pure."""
    out = []
    supports = sorted({r["support"] for r in data.reflections + data.measures} | set(recordings))
    for support in supports:
        mine = [r for r in data.reflections if r["support"] == support and r["form"] == "lesson"]
        numbers: dict[str, list[float]] = {}
        for row in mine:
            for column, value in row.items():
                if column.startswith("q_") and isinstance(value, int | float):
                    numbers.setdefault(column[2:], []).append(float(value))
        taken: dict[str, dict[str, tuple[float | None, float | None]]] = {}
        measured = [m for m in data.measures if m["support"] == support]
        for instrument in sorted({m["instrument"] for m in measured}):
            rows = [m for m in measured if m["instrument"] == instrument]
            scales = [
                c
                for c in rows[0]
                if c not in ("trajectory", "support", "instrument", "moment", "day")
                and not c.endswith("_band")
            ]
            taken[instrument] = {
                scale: (
                    _mean(m[scale] for m in rows if m["moment"] == "start"),
                    _mean(m[scale] for m in rows if m["moment"] == "end"),
                )
                for scale in scales
                if any(m[scale] is not None for m in rows)
            }
        out.append(
            {
                "support": support,
                "trajectories": len(
                    {
                        r["trajectory"]
                        for r in data.reflections + data.measures + data.conversations
                        if r["support"] == support
                    }
                ),
                "recordings": recordings.get(support, 0),
                "reflections": len(mine),
                "means": {key: round(fmean(values), 2) for key, values in numbers.items()},
                "measures": taken,
            }
        )
    return out


def _mean(values: Iterable[Any]) -> float | None:
    found = [float(v) for v in values if v is not None]
    return round(fmean(found), 2) if found else None


def recordings_by_support(db: Database, trajectory_ids: list[int]) -> dict[str, int]:
    """How many lessons the eligible trajectories hold, by form of support."""
    if not trajectory_ids:
        return {}
    marks = ",".join("?" * len(trajectory_ids))
    rows = db.execute(
        f"SELECT t.support, COUNT(tl.recording_id) FROM trajectories t"  # noqa: S608
        f" LEFT JOIN trajectory_lessons tl ON tl.trajectory_id = t.id"
        f" WHERE t.id IN ({marks}) GROUP BY t.support",
        trajectory_ids,
    ).fetchall()
    return {support: int(count) for support, count in rows}
