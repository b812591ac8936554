"""Rendered pieces of pages, memoized on exactly what they are made of.

The key is a hash of the data a piece shows (as the reader sees it), her language and her
rights: a change to any of these makes a new key, so nothing stale is ever served. The
library and a lesson's comment list render once and are then reused until they change.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from aiohttp import web
from markupsafe import Markup

from .i18n import catalogue_for
from .render import render_fragment


class RenderedPieces:
    """A small LRU of rendered HTML by content key."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._html: OrderedDict[str, str] = OrderedDict()

    def get(self, key: str) -> str | None:
        html = self._html.get(key)
        if html is not None:
            self._html.move_to_end(key)
        return html

    def put(self, key: str, html: str) -> None:
        self._html[key] = html
        self._html.move_to_end(key)
        while len(self._html) > self.size:
            self._html.popitem(last=False)


RENDERED = web.AppKey("web_rendered_pieces", RenderedPieces)


def rendered(
    request: web.Request,
    template: str,
    context: dict[str, Any] | Callable[[], dict[str, Any]],
    made_of: Any,
) -> Markup:
    """``template`` rendered with ``context`` (or what the callable returns, asked only when
    the piece is not at hand); ``made_of`` must determine the output completely, apart from
    the language (which is added here)."""
    language = catalogue_for(request).language
    # repr, not json: as exact for these plain dicts, lists and strings, and several times
    # faster on a few hundred comments.
    key = hashlib.sha256(repr((template, language, made_of)).encode()).hexdigest()
    cache = request.app[RENDERED]
    html = cache.get(key)
    if html is None:
        html = render_fragment(request, template, context() if callable(context) else context)
        cache.put(key, html)
    return Markup(html)  # noqa: S704 - our own template's escaped output
