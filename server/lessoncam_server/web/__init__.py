"""The web app: server-rendered pages (Jinja2) in Dutch and English, with a little plain JavaScript.

``setup_web(app, config)`` adds the pages, the static files and the template environment;
``web_error_middleware`` turns page failures into error pages in the reader's language.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from ..config import ServerConfig
from . import (
    admin_pages,
    auth_pages,
    formatting,
    library_pages,
    player_pages,
    sharing_pages,
)
from .errors import web_error_middleware
from .i18n import CATALOGUES, Catalogues, current_gettext, current_ngettext

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

PAGE_ROUTES = [
    auth_pages.routes,
    library_pages.routes,
    player_pages.routes,
    sharing_pages.routes,
    admin_pages.routes,
]

__all__ = ["setup_web", "web_error_middleware"]


def setup_web(app: web.Application, config: ServerConfig) -> None:
    """Add the web app's pages, static files and templates to ``app``."""
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=current_gettext, ngettext=current_ngettext, newstyle=True
    )
    formatting.install(env)
    app[CATALOGUES] = Catalogues(config.web.default_language)
    for routes in PAGE_ROUTES:
        app.router.add_routes(routes)
    # Our own code only (CSS, JS, vendored libraries); users' files never go through add_static.
    app.router.add_static("/static/", STATIC, name="static", append_version=False)
