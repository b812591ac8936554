"""A lesson's media file as an HTTP answer: aiohttp's ``FileResponse`` (sendfile, Range) with
the Range edge cases answered as RFC 9110 says.

aiohttp reads ``If-Range`` as a date only: an entity tag there (what browsers send when they
resume a download) was ignored, so a resumed download of a lesson assembled again meanwhile
got a piece of the new file glued to the old one. Several ranges answered 416 (aiohttp does
not do multipart); ``bytes=-0`` answered the whole file as 206.
"""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import hdrs, web
from aiohttp.abc import AbstractStreamWriter
from multidict import CIMultiDict

from ..middleware import ApiError

_SUFFIX_ZERO = re.compile(r"\s*bytes\s*=\s*-0+\s*", re.IGNORECASE)


def current_etag(path: Path) -> str:
    """The entity tag aiohttp's FileResponse sends for ``path`` (mtime and size)."""
    st = path.stat()
    return f'"{st.st_mtime_ns:x}-{st.st_size:x}"'


def unsatisfiable(range_header: str | None) -> bool:
    """``bytes=-0``: the last zero bytes, which no file has (RFC 9110 14.1.2)."""
    return range_header is not None and _SUFFIX_ZERO.fullmatch(range_header) is not None


def whole_file_instead(range_header: str | None, if_range: str | None, etag: str) -> bool:
    """Answer 200 with the whole file rather than the ranges asked for: several ranges (no
    multipart here, and a 200 is always a valid answer), or an ``If-Range`` entity tag that
    is not the file's current one (weak tags never match, RFC 9110 13.1.5)."""
    if range_header is None:
        return False
    if "," in range_header:
        return True
    if if_range is None:
        return False
    is_tag = if_range.startswith(('"', "W/"))
    return is_tag and if_range != etag


def refuse_unsatisfiable(request: web.Request, path: Path) -> None:
    """Raise the 416 for ``bytes=-0`` (with the file's length, as the RFC asks)."""
    if unsatisfiable(request.headers.get(hdrs.RANGE)):
        raise ApiError(
            416,
            "range_not_satisfiable",
            "the range asks for no bytes",
            **{hdrs.CONTENT_RANGE: f"bytes */{path.stat().st_size}"},
        )


class MediaFile(web.FileResponse):
    """``FileResponse`` that serves the whole file when the ranges asked for should not be."""

    def __init__(self, path: Path, headers: dict[str, str]) -> None:
        super().__init__(path, headers=headers)
        self.file_path = path

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        try:
            etag = current_etag(self.file_path)
        except OSError:
            etag = ""  # gone: FileResponse answers that
        asked = request.headers.get(hdrs.RANGE)
        if whole_file_instead(asked, request.headers.get(hdrs.IF_RANGE), etag):
            headers = CIMultiDict(request.headers)
            headers.popall(hdrs.RANGE, None)
            headers.popall(hdrs.IF_RANGE, None)
            request = request.clone(headers=headers)
        return await super().prepare(request)
