"""The aiohttp application factory: ``init_app(config)`` builds the whole server."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web

from lessoncam_common.config_errors import ConfigError

from .api import (
    admin,
    claims,
    clips,
    coding,
    comments,
    lessons,
    measures,
    openapi,
    playback,
    recordings,
    reflections,
    research,
    session,
    shares,
    support,
    trajectories,
    trajectory_consent,
    trajectory_steps,
    units,
    users,
    watching,
)
from .api.support import API_PREFIX, ApiRoutes, json_response
from .coaching import reflection_forms
from .coding import store as coding_schemes
from .config import ServerConfig
from .infra.db import open_database
from .infra.disk_space import disk_space
from .infra.errors import DomainError
from .infra.paths import DataPaths
from .infra.timeutil import Clock, utc_now
from .lessons.housekeeping import housekeeping_ctx
from .media.assembly import assembler_ctx
from .media.live_assembly import LiveAssemblies
from .media.makers import ClipMaker, MediaMaker, UnitLessonMaker, UploadMaker
from .media.store.context import media_store_ctx
from .middleware import auth_middleware, forwarded_middleware, headers_middleware
from .services import SERVICES, Services
from .uploads import browser
from .uploads.segments import SegmentUploadHooks
from .uploads.store import UploadStore
from .uploads.tus.endpoint import setup_tus
from .uploads.tus.openapi import TUS_OPERATIONS
from .web import setup_web, web_error_middleware

log = logging.getLogger(__name__)

API_GROUPS: list[ApiRoutes] = [
    session.routes,
    users.routes,
    units.routes,
    recordings.routes,
    lessons.routes,
    playback.routes,
    shares.routes,
    admin.routes,
    comments.routes,
    clips.routes,
    claims.routes,
    trajectories.routes,
    trajectory_consent.routes,
    trajectory_steps.routes,
    reflections.routes,
    measures.routes,
    research.routes,
    watching.routes,
    coding.routes,
]
OPENAPI_DOC = web.AppKey("openapi", dict)


def init_app(config: ServerConfig, *, clock: Clock = utc_now) -> web.Application:
    """Build the server for ``config``. The database opens (and migrates) at start-up."""
    paths = DataPaths(config.storage.data_dir)
    paths.create()
    app = web.Application(
        middlewares=[
            forwarded_middleware,
            headers_middleware,
            web_error_middleware,
            support.error_middleware,
            auth_middleware,
        ],
        client_max_size=config.http.max_request_kib * 1024,
    )

    async def database_ctx(app: web.Application) -> AsyncIterator[None]:
        db = open_database(paths.database)
        try:
            # A reflection form changed in place after answers were given: refuse to start.
            reflection_forms.sync_all(db, config.reflection, clock())
        except DomainError as exc:
            db.close()
            raise ConfigError("[reflection]", [exc.message]) from None
        try:
            # The same for a coding scheme changed in place after codings were made with it.
            coding_schemes.sync_all(db, config.coding, clock())
        except DomainError as exc:
            db.close()
            raise ConfigError("[coding]", [exc.message]) from None
        app[SERVICES] = Services.build(config, db, clock)
        yield
        with contextlib.suppress(Exception):
            db.execute("PRAGMA optimize")
        db.close()

    app.cleanup_ctx.append(database_ctx)
    app.cleanup_ctx.append(media_store_ctx)
    operations = support.install(app, API_GROUPS)
    app[OPENAPI_DOC] = openapi.build(operations, TUS_OPERATIONS + browser.TUS_OPERATIONS)
    app.router.add_get(API_PREFIX + "/openapi.json", _openapi)
    app.router.add_get("/healthz", _health)
    store = UploadStore(
        paths.uploads, clock=clock, expire_after=timedelta(hours=config.uploads.expire_hours)
    )
    setup_tus(
        app,
        store,
        SegmentUploadHooks(app),
        max_size=config.uploads.max_size_mib * 1024 * 1024,
        stall_timeout_s=config.uploads.stall_timeout_s,
    )
    browser.setup(app, paths, config, clock)
    setup_web(app, config)
    watching.setup(app)
    app.cleanup_ctx.append(assembler_ctx(_makers))
    app.cleanup_ctx.append(housekeeping_ctx)
    return app


def _makers(services: Services, live: LiveAssemblies) -> dict[str, MediaMaker]:
    """How each kind of lesson gets its media."""
    return {
        "unit": UnitLessonMaker(services.db, services.paths, live),
        "clip": ClipMaker(services.db, services.paths, services.stores),
        "upload": UploadMaker(services.paths),
    }


async def _openapi(request: web.Request) -> web.StreamResponse:
    return json_response(request.app[OPENAPI_DOC])


async def _health(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    services.db.execute("SELECT 1").fetchone()
    # For ICT's monitoring: time to make room before uploads have to wait (no figures here,
    # the answer is public).
    store_ok, _why = await services.stores.health()
    return json_response(
        {
            "ok": True,
            "disk_low": disk_space(services.paths.root).low,
            # Which store new lessons go to and whether it answers (details in the log only).
            "media_store": {"kind": services.stores.target, "ok": store_ok},
        }
    )
