"""A lesson's media from the bucket as an HTTP answer, after the caller's permission check:
the bytes streamed through this server (Range, seek, download), or, with ``presigned = true``,
a redirect to a URL the bucket honours for at most a minute.

The Range rules are those of ``media_response.py`` (the local files): one range is answered
206, several ranges or a stale ``If-Range`` tag 200 with the whole object, ``bytes=-0`` and a
range past the end 416. The bucket's URL is never logged, put in a page or in an error.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import hdrs, web

from ..media.store import MediaStore, ObjectMissing, StoreUnavailable
from ..media.store.base import RangeNotSatisfiable
from ..middleware import ApiError
from .media_response import unsatisfiable, whole_file_instead

log = logging.getLogger(__name__)

#: Seconds a player is asked to wait before trying again while the bucket fails.
RETRY_AFTER_S = 30


def store_down(exc: StoreUnavailable) -> ApiError:
    """The answer while the bucket fails: a clear 503 (the details go to the log only)."""
    log.error("media store failed while serving: %s", exc)
    return ApiError(
        503,
        "media_store_unavailable",
        "the video store cannot be reached just now; try again in a minute",
        **{hdrs.RETRY_AFTER: str(RETRY_AFTER_S)},
    )


def _wanted(request: web.Request, etag: str | None) -> tuple[int | None, int | None] | None:
    """The one range to ask the bucket for (first, last), or None for the whole object."""
    asked = request.headers.get(hdrs.RANGE)
    if asked is None:
        return None
    if whole_file_instead(asked, request.headers.get(hdrs.IF_RANGE), etag or ""):
        return None
    try:
        span = request.http_range
    except ValueError:
        raise ApiError(416, "range_not_satisfiable", "the Range header is not valid") from None
    start, stop = span.start, span.stop
    if start is None and stop is None:
        return None
    if start is not None and start < 0:  # bytes=-N: the last N bytes
        return None, -start
    return start, (stop - 1 if stop is not None else None)


async def bucket_media(
    request: web.Request,
    store: MediaStore,
    recording_id: str,
    name: str,
    headers: dict[str, str],
) -> web.StreamResponse:
    """Serve the object ``name`` of ``recording_id`` from ``store`` with ``headers``
    (Content-Type, Cache-Control, Content-Disposition)."""
    try:
        url = await store.presign(
            recording_id,
            name,
            headers[hdrs.CONTENT_TYPE],
            headers.get(hdrs.CONTENT_DISPOSITION),
        )
        if url is not None:
            raise web.HTTPTemporaryRedirect(
                url, headers={hdrs.CACHE_CONTROL: "no-store", "Referrer-Policy": "no-referrer"}
            )
        return await _stream(request, store, recording_id, name, headers)
    except ObjectMissing:
        log.error("lesson %s: %s is missing from the media store", recording_id, name)
        raise ApiError(404, "not_found", "the video is missing from the store") from None
    except StoreUnavailable as exc:
        raise store_down(exc) from None


async def _stream(
    request: web.Request,
    store: MediaStore,
    recording_id: str,
    name: str,
    headers: dict[str, str],
) -> web.StreamResponse:
    asked = request.headers.get(hdrs.RANGE)
    needs_tag = request.headers.get(hdrs.IF_RANGE) is not None or unsatisfiable(asked)
    head = await store.head(recording_id, name) if needs_tag or request.method == "HEAD" else None
    if unsatisfiable(asked):
        assert head is not None
        raise ApiError(
            416,
            "range_not_satisfiable",
            "the range asks for no bytes",
            **{hdrs.CONTENT_RANGE: f"bytes */{head.size}"},
        )
    base: dict[str, Any] = {**headers, hdrs.ACCEPT_RANGES: "bytes"}
    if request.method == "HEAD":
        assert head is not None
        base[hdrs.CONTENT_LENGTH] = str(head.size)
        base[hdrs.ETAG] = f'"{head.etag}"'
        response = web.StreamResponse(status=200, headers=base)
        await response.prepare(request)
        return response
    first_last = _wanted(request, f'"{head.etag}"' if head is not None else None)
    first, last = first_last if first_last is not None else (None, None)
    try:
        opened = await store.open_range(recording_id, name, first, last)
    except RangeNotSatisfiable as exc:
        raise ApiError(
            416,
            "range_not_satisfiable",
            "the range lies outside the video",
            **{hdrs.CONTENT_RANGE: f"bytes */{exc.size}"},
        ) from None
    try:
        base[hdrs.CONTENT_LENGTH] = str(opened.end - opened.start + 1)
        base[hdrs.ETAG] = f'"{opened.etag}"'
        if opened.partial:
            base[hdrs.CONTENT_RANGE] = f"bytes {opened.start}-{opened.end}/{opened.size}"
        response = web.StreamResponse(status=206 if opened.partial else 200, headers=base)
        await response.prepare(request)
        try:
            async for chunk in opened.body:
                await response.write(chunk)
        except StoreUnavailable as exc:
            # Headers are sent: all that is left is to cut the connection (the player retries).
            log.error("lesson %s: the media store failed mid-answer: %s", recording_id, exc)
            if request.transport is not None:
                request.transport.close()
            return response
        await response.write_eof()
        return response
    finally:
        await opened.close()
