"""QR codes drawn on the server as inline SVG (no script, no external service)."""

from __future__ import annotations

import segno
from markupsafe import Markup


def qr_svg(text: str, title: str) -> Markup:
    """``text`` as a QR code in an SVG element that can be placed straight into a page."""
    code = segno.make(text, error="m")
    svg: str = code.svg_inline(scale=6, border=4, dark="#111", light="#fff", title=title)
    return Markup(svg)  # noqa: S704 - segno escapes the title and draws only paths
