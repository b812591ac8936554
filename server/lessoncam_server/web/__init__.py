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
    claim_pages,
    coding_pages,
    comment_pages,
    consent_pages,
    cycle_pages,
    formatting,
    library_pages,
    measure_pages,
    oidc_admin_pages,
    oidc_pages,
    player_pages,
    reflection_pages,
    research_pages,
    sharing_pages,
    trajectory_pages,
    upload_pages,
)
from .errors import web_error_middleware
from .i18n import CATALOGUES, N_, Catalogues, current_gettext, current_ngettext
from .memo import RENDERED, RenderedPieces

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

PAGE_ROUTES = [
    auth_pages.routes,
    library_pages.routes,
    player_pages.routes,
    comment_pages.routes,
    sharing_pages.routes,
    admin_pages.routes,
    upload_pages.routes,
    claim_pages.routes,
    trajectory_pages.routes,
    consent_pages.routes,
    cycle_pages.routes,
    reflection_pages.routes,
    measure_pages.routes,
    research_pages.routes,
    coding_pages.routes,
    oidc_admin_pages.routes,
]

# Why a clip or a browser upload failed (the code before ':' in state_reason), for people.
FAILURE_REASONS = {
    "not_a_video": N_("The file is not a video."),
    "video_codec_unsupported": N_(
        "Browsers cannot play this kind of video (for example HEVC). Record in H.264 "
        "('most compatible' on a phone) and upload again."
    ),
    "audio_codec_unsupported": N_("Browsers cannot play the sound of this video."),
    "source_gone": N_("The lesson was deleted before the clip could be cut."),
    "upload_gone": N_("The uploaded file is gone; upload it again."),
}

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
    env.globals["failure_reasons"] = FAILURE_REASONS
    # The sign-in page's ways in (web/oidc_pages.py).
    env.globals["oidc_providers"] = [{"key": p.key, "name": p.name} for p in config.oidc]
    env.globals["local_sign_in"] = config.sign_in.local
    app[CATALOGUES] = Catalogues(config.web.default_language)
    app[RENDERED] = RenderedPieces()
    for routes in PAGE_ROUTES:
        app.router.add_routes(routes)
    oidc_pages.setup_oidc(app, config)
    # Our own code only (CSS, JS, vendored libraries); users' files never go through add_static.
    app.router.add_static("/static/", STATIC, name="static", append_version=False)
