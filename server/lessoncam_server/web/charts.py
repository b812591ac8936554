"""Small line charts of a pupil's measures as server-rendered SVG: one scale, its published
bands as grey zones (darker further from average: readable in print, no colour needed), and
the measures at each moment as points with their value written next to them. No script, no
style attribute (the pages' Content-Security-Policy), only presentation attributes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 320, 170
LEFT, RIGHT, TOP, BOTTOM = 34, 12, 12, 40
# Band zones, by level: the usual band white, the furthest the darkest.
ZONE_FILL = ("#ffffff", "#ececec", "#d6d6d6", "#bdbdbd")


@dataclass(frozen=True, slots=True)
class Zone:
    low: int
    high: int
    level: int


@dataclass(frozen=True, slots=True)
class Point:
    label: str  # the moment, in the reader's language
    sublabel: str  # its date
    value: int


def _y(value: float, low: int, high: int) -> float:
    span = HEIGHT - TOP - BOTTOM
    return round(TOP + span * (1 - (value - low) / (high - low)), 1)


def measure_chart(
    title: str, low: int, high: int, zones: Sequence[Zone], points: Sequence[Point]
) -> Markup:
    """An SVG chart of ``points`` on a scale from ``low`` to ``high`` over its ``zones``."""
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    right = WIDTH - RIGHT
    for zone in zones:
        top = _y(min(zone.high + 0.5, high), low, high)
        bottom = _y(max(zone.low - 0.5, low), low, high)
        parts.append(
            f'<rect class="zone zone-{zone.level}" x="{LEFT}" y="{top}" width="{right - LEFT}"'
            f' height="{round(bottom - top, 1)}" fill="{ZONE_FILL[zone.level]}"/>'
        )
    parts.append(
        f'<rect x="{LEFT}" y="{TOP}" width="{right - LEFT}" height="{HEIGHT - TOP - BOTTOM}"'
        ' fill="none" stroke="#777777" stroke-width="1"/>'
    )
    for tick in sorted({low, high, *(z.low for z in zones if z.low > low)}):
        y = _y(tick, low, high)
        parts.append(
            f'<text x="{LEFT - 5}" y="{y + 4}" text-anchor="end" font-size="11"'
            f' fill="#333333">{tick}</text>'
        )
    if points:
        step = (right - LEFT) / len(points)
        xy = [
            (round(LEFT + step * (i + 0.5), 1), _y(p.value, low, high))
            for i, p in enumerate(points)
        ]
        if len(xy) > 1:
            line = " ".join(f"{x},{y}" for x, y in xy)
            parts.append(
                f'<polyline points="{line}" fill="none" stroke="#1f2933" stroke-width="2"/>'
            )
        for (x, y), point in zip(xy, points, strict=True):
            parts.append(f'<circle class="point" cx="{x}" cy="{y}" r="4" fill="#1f2933"/>')
            above = y - 8 if y > TOP + 14 else y + 16
            parts.append(
                f'<text class="value" x="{x}" y="{above}" text-anchor="middle" font-size="12"'
                f' font-weight="bold" fill="#1f2933">{point.value}</text>'
            )
            base = HEIGHT - BOTTOM
            parts.append(
                f'<text x="{x}" y="{base + 15}" text-anchor="middle" font-size="11"'
                f' fill="#333333">{escape(point.label)}</text>'
            )
            parts.append(
                f'<text x="{x}" y="{base + 29}" text-anchor="middle" font-size="10"'
                f' fill="#555555">{escape(point.sublabel)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped
