"""Uploading a video recorded elsewhere (a phone): the page; the bytes go through tus to
``/api/v1/lesson-uploads/`` with the vendored tus-js-client (static/upload.js)."""

from __future__ import annotations

from aiohttp import web

from ..services import services_of
from .i18n import N_
from .render import PageError, render, signed_in

routes = web.RouteTableDef()


@routes.get("/upload")
async def upload_page(request: web.Request) -> web.StreamResponse:
    user = signed_in(request)
    if user.role == "admin":
        raise PageError(
            403, N_("Administrator accounts do not own lessons. Sign in as a teacher to upload.")
        )
    max_mib = services_of(request).config.uploads.browser_max_size_mib
    return render(request, "upload.html", {"max_bytes": max_mib * 1024 * 1024})
