"""The measures as the trajectory page shows them: per instrument a table and a chart per
scale (and the total), with the moments' names in the reader's language."""

from __future__ import annotations

from datetime import date
from typing import Any

from aiohttp import web
from babel.dates import format_date

from ..coaching import measures
from ..config import MeasuresConfig
from .charts import Point, Zone, measure_chart
from .i18n import N_, t

MOMENT_NAMES = {"start": N_("Start"), "middle": N_("Middle"), "end": N_("End")}


def measure_panels(
    request: web.Request, config: MeasuresConfig, found: list[dict[str, Any]], language: str
) -> list[dict[str, Any]]:
    """Per instrument: its ``tool``, its ``measures`` and per scale (and total) a ``progress``
    item with its ``chart`` (SVG, labels in ``language``)."""
    panels = []
    for tool in config.instruments:
        taken = [m for m in found if m["instrument"] == tool.key]
        items = measures.progress(tool, taken)
        for item in items:
            row = item["row"]
            item["chart"] = measure_chart(
                row["nl"] if language == "nl" else row["en"],
                row["min"],
                row["max"],
                [Zone(b.min, b.max, b.level) for b in row["bands"]],
                [
                    Point(
                        t(request, MOMENT_NAMES[moment]),
                        format_date(date.fromisoformat(day), "d MMM y", locale=language),
                        value,
                    )
                    for moment, day, value in item["points"]
                ],
            )
        panels.append({"tool": tool, "measures": taken, "progress": items})
    return panels
