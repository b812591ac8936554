"""The unit's HTTP client for the wire format (``docs/wire-format.md``): register, tus uploads,
complete, status and heartbeat, on one aiohttp session.

tus goes through aiotus: it is asyncio-native and runs on our own session, so the school's CA,
the timeouts and a clean shutdown apply to every request, and ``aiotus.core.upload_buffer``
asks the server for the offset (HEAD) before sending, which is how a stored upload URL
resumes. aiotus has no per-chunk checksums, so ``send`` hands it one chunk at a time with its
``Upload-Checksum``. Every failure becomes one of three exceptions: ``Unavailable`` (try again
later), ``Refused`` (the server said no; ``status`` says why) and ``Unauthorized`` (revoked).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import logging
import ssl
from collections.abc import Mapping
from typing import Any, BinaryIO, cast

import aiohttp
import aiotus
import aiotus.core
import aiotus.creation
import yarl

from ..enrolment import Credentials

log = logging.getLogger(__name__)
# aiotus logs every finished PATCH at INFO: one line per chunk drowns the unit's log.
logging.getLogger("aiotus").setLevel(logging.WARNING)

UPLOADS_PATH = "/api/v1/uploads/"
REVOKED_MESSAGE = "the server refused this unit's token; enrol it again"
# Answers that mean "not now" rather than "no": retried with backoff, like a network error.
_TRY_LATER = frozenset({408, 423, 425, 429})


class UploadError(Exception):
    """A request failed; ``status`` is the HTTP status, or None when no answer came."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Unavailable(UploadError):
    """No usable answer (network down, timeout, 5xx, busy): try again after a backoff."""


class TimedOut(Unavailable):
    """No answer within the request timeout (a stalled connection, or a link too slow)."""


class Refused(UploadError):
    """The server refused the request (4xx); retrying the same thing soon will not help."""


class Unauthorized(Refused):
    """HTTP 401: the unit's token was revoked (or never valid)."""


def _message(text: str, fallback: str) -> str:
    """The ``message`` of a JSON error body, else a short plain-text body, else ``fallback``."""
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    text = text.strip()
    return text[:200] if text and not text.startswith("<") else fallback


def answer_error(status: int, message: str, *, conflict_is_transient: bool = False) -> UploadError:
    """The exception for an HTTP error answer."""
    if status == 401:
        return Unauthorized(REVOKED_MESSAGE, status)
    if status == 507 and "disk" not in message:
        # tus clients keep no body; the status alone says it all.
        message = "the server's disk is full; uploads wait and resume (ICT: free space there)"
    text = f"the server answered HTTP {status}: {message}" if message else f"HTTP {status}"
    if status >= 500 or status in _TRY_LATER or (status == 409 and conflict_is_transient):
        return Unavailable(text, status)
    return Refused(text, status)


def _sha1_b64(stream: BinaryIO, start: int, end: int) -> str:
    stream.seek(start)
    # An integrity check against damage on the way (tus names sha1), not a security measure.
    digest = hashlib.sha1(stream.read(end - start), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode("ascii")


class _Window:
    """The first ``end`` bytes of a file: aiotus then stops at a chunk boundary we chose."""

    def __init__(self, raw: BinaryIO, end: int) -> None:
        self._raw = raw
        self._end = end
        self._pos = 0

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._end}[whence]
        self._pos = max(0, min(self._end, base + offset))
        self._raw.seek(self._pos)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, size: int = -1) -> bytes:
        left = self._end - self._pos
        data = self._raw.read(left if size < 0 else min(size, left))
        self._pos += len(data)
        return data


class ServerClient:
    """Requests to the unit's server with its bearer token (and its school CA, if any).

    Use ``async with`` (or call ``close``): the aiohttp session opens on first use.
    """

    def __init__(
        self,
        creds: Credentials,
        *,
        request_timeout_s: float = 120.0,
        connect_timeout_s: float = 15.0,
    ) -> None:
        self._base = yarl.URL(creds.server_url.rstrip("/"))
        self._auth = {"Authorization": f"Bearer {creds.token}"}
        try:
            self._ssl: ssl.SSLContext | bool = creds.ssl_context()
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"cannot use the CA file {creds.ca_file!r}: {exc}") from None
        self._timeout = aiohttp.ClientTimeout(total=request_timeout_s, connect=connect_timeout_s)
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ServerClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session (idempotent)."""
        if self._http is not None:
            await self._http.close()
            self._http = None

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                timeout=self._timeout, connector=aiohttp.TCPConnector(ssl=self._ssl)
            )
        return self._http

    def _api(self, path: str) -> yarl.URL:
        return yarl.URL(f"{self._base}{path}", encoded=True)

    def _unreachable(self, exc: BaseException) -> Unavailable:
        if isinstance(exc, TimeoutError):
            return TimedOut(f"the server at {self._base} did not answer in time")
        detail = str(exc) or type(exc).__name__
        return Unavailable(f"cannot reach the server at {self._base}: {detail}")

    def _tus_error(self, exc: Exception) -> UploadError:
        if isinstance(exc, aiohttp.ClientResponseError):
            # With Upload-Offset, 409 and 460 concern one PATCH (offset mismatch, a chunk
            # damaged on the way): the next attempt asks for the offset and goes on. Without
            # it they concern the segment: held with another sha256, or the whole file's
            # sha256 differs.
            per_chunk = exc.headers is not None and "Upload-Offset" in exc.headers
            if exc.status == 460 and per_chunk:
                return Unavailable("a chunk arrived damaged (checksum); it is sent again", 460)
            return answer_error(exc.status, exc.message, conflict_is_transient=per_chunk)
        if isinstance(exc, aiotus.ProtocolError):
            return Unavailable(f"the server's tus answer was not understood: {exc}")
        return self._unreachable(exc)

    async def _call(
        self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200,)
    ) -> Any:
        try:
            async with self._session().request(
                method, self._api(path), json=body, headers=self._auth, ssl=self._ssl
            ) as response:
                text = await response.text()
                if response.status not in expect:
                    raise answer_error(response.status, _message(text, response.reason or ""))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._unreachable(exc) from None
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except ValueError:
            # A captive portal or a proxy's error page, not our server.
            raise Unavailable(f"{method} {path}: the answer is not JSON") from None

    # --- recordings -------------------------------------------------------------------------

    async def register(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """``PUT /api/v1/recordings/{id}`` (idempotent); returns the recording's status."""
        result = await self._call(
            "PUT", f"/api/v1/recordings/{manifest['recording_id']}", dict(manifest), (200, 201)
        )
        return cast(dict[str, Any], result)

    async def complete(self, recording_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /api/v1/recordings/{id}/complete`` (idempotent); returns the status."""
        result = await self._call("POST", f"/api/v1/recordings/{recording_id}/complete", dict(body))
        return cast(dict[str, Any], result)

    async def recording_status(self, recording_id: str) -> dict[str, Any]:
        """``GET /api/v1/recordings/{id}``: state and every segment held, with sha256."""
        result = await self._call("GET", f"/api/v1/recordings/{recording_id}")
        if not isinstance(result, dict):
            raise Unavailable(f"status of {recording_id}: unexpected answer")
        return result

    async def heartbeat(self, body: Mapping[str, Any]) -> None:
        """``POST /api/v1/unit/heartbeat``."""
        await self._call("POST", "/api/v1/unit/heartbeat", dict(body), (200, 204))

    # --- tus --------------------------------------------------------------------------------

    async def create_upload(self, size: int, metadata: Mapping[str, str]) -> str:
        """Create a tus upload; returns its URL relative to the server (path and query).

        Only the path is kept: the upload continues at the configured server URL even if the
        server, behind a TLS-terminating proxy, names itself ``http://...``.
        """
        endpoint = self._api(UPLOADS_PATH)
        headers = {**self._auth, "Upload-Length": str(size)}
        encoded = {key: value.encode() for key, value in metadata.items()}
        try:
            location = await aiotus.creation.create(
                self._session(), endpoint, None, encoded, ssl=self._ssl, headers=headers
            )
        except (aiohttp.ClientError, TimeoutError, aiotus.ProtocolError) as exc:
            raise self._tus_error(exc) from None
        return str(endpoint.join(location).raw_path_qs)

    def _location(self, upload_url: str) -> yarl.URL:
        return self._base.join(yarl.URL(upload_url, encoded=True))

    async def upload_offset(self, upload_url: str) -> int:
        """HEAD: how many bytes of the upload the server holds."""
        try:
            return await aiotus.core.offset(
                self._session(), self._location(upload_url), ssl=self._ssl, headers=self._auth
            )
        except (aiohttp.ClientError, TimeoutError, aiotus.ProtocolError) as exc:
            raise self._tus_error(exc) from None

    async def send(self, upload_url: str, stream: BinaryIO, start: int, end: int) -> None:
        """Send the stream's bytes ``start`` to ``end`` in one PATCH with an Upload-Checksum.

        The server keeps the chunk only if its sha1 matches (else HTTP 460 and the chunk is
        sent again). When ``end`` is the upload's length, the PATCH answers only after the
        server checked the whole file's sha256 (HTTP 460 without Upload-Offset if it differs).
        """
        if not 0 <= start < end:
            raise ValueError(f"bad byte range {start}-{end}")
        checksum = await asyncio.to_thread(_sha1_b64, stream, start, end)
        headers = {**self._auth, "Upload-Checksum": f"sha1 {checksum}"}
        try:
            # aiotus asks for the offset (HEAD) first and sends from there; the window ends
            # at ``end`` and the chunk size spans it, so this is exactly one PATCH.
            await aiotus.core.upload_buffer(
                self._session(),
                self._location(upload_url),
                cast(BinaryIO, _Window(stream, end)),
                ssl=self._ssl,
                chunksize=end - start,
                headers=headers,
            )
        except (aiohttp.ClientError, TimeoutError, aiotus.ProtocolError) as exc:
            raise self._tus_error(exc) from None
