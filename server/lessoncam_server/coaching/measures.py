"""Measures of the focus pupil: the scale scores of an instrument (by default the SDQ teacher
version) at the moments the teacher chooses (start, middle, end), entered from the paper form
she scored. The total (the sum of the scales marked ``in_total``, for the SDQ the four
difficulty scales) and the published bands are computed here; the items never are.
The teacher enters and deletes measures; the members read them."""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Literal

from sqlite_utils import Database

from ..access.principal import User
from ..config import BandRange, Instrument, MeasuresConfig
from ..infra.db import query_rows
from ..infra.errors import Conflict, Invalid
from ..infra.timeutil import to_iso
from ..services import Services
from .lookup import row_in
from .rules import require_open

Moment = Literal["start", "middle", "end"]
MOMENTS: tuple[Moment, ...] = ("start", "middle", "end")
TOTAL = "total"


def instrument(config: MeasuresConfig, key: str) -> Instrument:
    """The configured instrument ``key``. Raises Invalid ``instrument_unknown``."""
    found = next((i for i in config.instruments if i.key == key), None)
    if found is None:
        raise Invalid("instrument_unknown", f"there is no instrument {key[:40]!r}")
    return found


def check_scores(tool: Instrument, scores: dict[str, Any]) -> dict[str, int]:
    """The scale scores, if every scale has a whole number within it. Raises Invalid
    ``unknown_scale``, ``score_required``, ``score_out_of_range``. Pure."""
    known = {s.key for s in tool.scales}
    unknown = sorted(set(scores) - known)
    if unknown:
        raise Invalid("unknown_scale", f"{unknown[0][:40]!r} is not a scale of {tool.key}")
    out: dict[str, int] = {}
    for scale in tool.scales:
        value = scores.get(scale.key)
        if value is None or value == "":
            raise Invalid("score_required", f"give the score of {scale.key!r}")
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid("score_out_of_range", f"{scale.key!r} is a whole number")
        if not scale.min <= value <= scale.max:
            raise Invalid(
                "score_out_of_range",
                f"{scale.key!r} lies from {scale.min} to {scale.max}; {value} is outside it",
            )
        out[scale.key] = value
    return out


def total(tool: Instrument, scores: dict[str, int]) -> int | None:
    """The sum of the scales marked ``in_total`` (None for an instrument without a total)."""
    if not tool.total_en:
        return None
    return sum(scores[s.key] for s in tool.scales if s.in_total)


def band(bands: tuple[BandRange, ...], value: int | None) -> BandRange | None:
    """The band ``value`` falls in, or None (no bands, no value). Pure."""
    if value is None:
        return None
    return next((b for b in bands if b.min <= value <= b.max), None)


def rows(tool: Instrument) -> list[dict[str, Any]]:
    """What a measure shows, in order: each scale, then the total (``key``, ``en``, ``nl``,
    ``min``, ``max``, ``bands``)."""
    out = [
        {"key": s.key, "en": s.en, "nl": s.nl, "min": s.min, "max": s.max, "bands": s.bands}
        for s in tool.scales
    ]
    if tool.total_en:
        added = [s for s in tool.scales if s.in_total]
        out.append(
            {
                "key": TOTAL,
                "en": tool.total_en,
                "nl": tool.total_nl or tool.total_en,
                "min": sum(s.min for s in added),
                "max": sum(s.max for s in added),
                "bands": tool.total_bands,
            }
        )
    return out


def with_total(tool: Instrument, scores: dict[str, int]) -> dict[str, int]:
    """The scores with the total added under ``total`` (when the instrument has one)."""
    summed = total(tool, scores)
    return scores if summed is None else {**scores, TOTAL: summed}


def progress(tool: Instrument, measures: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per scale (and the total): its values by moment and the change from the first
    measure to the last with the band at each end: ``row`` (as ``rows``), ``points``
    ([(moment, measured_on, value)]), ``first``, ``last``, ``change``, ``first_band``,
    ``last_band``. Pure."""
    ordered = sorted(
        (m for m in measures if m["instrument"] == tool.key),
        key=lambda m: (MOMENTS.index(m["moment"]), m["measured_on"]),
    )
    out = []
    for row in rows(tool):
        points = [
            (m["moment"], m["measured_on"], with_total(tool, m["scores"])[row["key"]])
            for m in ordered
        ]
        first = points[0][2] if points else None
        last = points[-1][2] if len(points) > 1 else None
        out.append(
            {
                "row": row,
                "points": points,
                "first": first,
                "last": last,
                "change": last - first if first is not None and last is not None else None,
                "first_band": band(row["bands"], first),
                "last_band": band(row["bands"], last),
            }
        )
    return out


def add(
    services: Services,
    teacher: User,
    trajectory: dict[str, Any],
    instrument_key: str,
    moment: str,
    measured_on: date,
    scores: dict[str, Any],
) -> dict[str, Any]:
    """The teacher enters a measure (one per instrument and moment). Raises Conflict
    ``trajectory_closed``, ``measure_exists``; Invalid ``instrument_unknown``,
    ``moment_invalid``, ``measure_date_future`` and those of ``check_scores``."""
    require_open(trajectory)
    tool = instrument(services.config.measures, instrument_key)
    if moment not in MOMENTS:
        raise Invalid("moment_invalid", f"a measure is taken at {', '.join(MOMENTS)}")
    if measured_on > services.now().date():
        raise Invalid("measure_date_future", "enter a measure once it was taken")
    checked = check_scores(tool, scores)
    db = services.db
    with db.atomic():
        held = db.execute(
            "SELECT 1 FROM trajectory_measures WHERE trajectory_id = ? AND instrument = ?"
            " AND moment = ?",
            [trajectory["id"], tool.key, moment],
        ).fetchone()
        if held is not None:
            raise Conflict(
                "measure_exists", f"the {moment} measure is entered already; delete it to redo it"
            )
        table = db.table("trajectory_measures").insert(
            {
                "trajectory_id": trajectory["id"],
                "instrument": tool.key,
                "moment": moment,
                "measured_on": measured_on.isoformat(),
                "scores": json.dumps(checked, sort_keys=True),
                "entered_by": teacher.id,
                "created_at": to_iso(services.now()),
            }
        )
        assert table.last_pk is not None
    return next(m for m in of_trajectory(db, trajectory["id"]) if m["id"] == table.last_pk)


def remove(services: Services, trajectory: dict[str, Any], raw_id: str) -> None:
    """The teacher deletes a measure (to enter it again). Raises NotFound ``not_found``,
    Conflict ``trajectory_closed``."""
    found = row_in(services.db, "trajectory_measures", trajectory, raw_id, "measure")
    require_open(trajectory)
    services.db.execute("DELETE FROM trajectory_measures WHERE id = ?", [found["id"]])


def of_trajectory(db: Database, trajectory_id: int) -> list[dict[str, Any]]:
    """The trajectory's measures (``scores`` decoded), by moment."""
    found = query_rows(
        db,
        """SELECT * FROM trajectory_measures WHERE trajectory_id = ?
           ORDER BY CASE moment WHEN 'start' THEN 0 WHEN 'middle' THEN 1 ELSE 2 END, id""",
        [trajectory_id],
    )
    for measure in found:
        measure["scores"] = json.loads(measure["scores"])
    return found
