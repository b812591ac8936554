"""Videos uploaded from a browser (say, recorded with a phone) become lessons of the uploader.

A second tus endpoint, ``/api/v1/lesson-uploads/``, with the same tus implementation as the
units' segment uploads but its own store, size limit and hooks. Only signed-in teachers and
coaches upload (with the session's CSRF token, like every change). When all bytes are in, the
file is probed (``media/probing.py``):

- clearly no video from its first bytes (a photo, a PDF, a sound file): refused (415,
  ``not_a_video``) as soon as the first chunk is stored, the upload deleted;
- not a video container at all when probed: the upload is refused (415, ``not_a_video``)
  and nothing is kept;
- a video whose codecs a browser cannot play (H.265/HEVC, say): a lesson in state ``failed``
  with ``state_reason`` ``"video_codec_unsupported: hevc"`` (or ``audio_codec_unsupported``),
  and the file is not kept;
- H.264 video (AAC audio or none): a lesson in state ``assembling``; the assembler remuxes it
  (never re-encoding) into a faststart MP4 with poster and thumbnails, then ``ready``.

The lesson's id follows from the upload's id, so a completion repeated after a crash finds the
lesson it made. Its ``started_at`` is the moment of the upload; retention counts from there.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from ..access.principal import Principal, User
from ..config import ServerConfig
from ..infra.paths import DataPaths
from ..infra.timeutil import Clock
from ..media.cutting import MediaRefused
from ..media.probing import inspect, sniff
from ..services import SERVICES, Services
from ..units import recordings
from ..units.manifest import CameraSpec, Manifest, VideoFormat
from .store import UploadStore
from .tus.endpoint import TusEndpoint
from .tus.hooks import TusRejected
from .tus.openapi import tus_operations

log = logging.getLogger(__name__)

UPLOAD_PREFIX = "/api/v1/lesson-uploads"
# Signed-in people only (the session cookie and the CSRF token), not units.
TUS_OPERATIONS = [{**op, "security": [{"session": []}]} for op in tus_operations(UPLOAD_PREFIX)]
MAX_TITLE = 200


def lesson_id_for(upload_id: str) -> str:
    """The lesson made from an upload (deterministic, so completion is idempotent)."""
    return "up" + hashlib.sha256(upload_id.encode()).hexdigest()[:30]


def _uploader(principal: Principal) -> User:
    if not isinstance(principal, User):
        raise TusRejected(403, "units upload segments at /api/v1/uploads/, not here")
    if principal.role == "admin":
        raise TusRejected(
            403, "administrator accounts do not own lessons; sign in as a teacher to upload"
        )
    return principal


def _title(metadata: Mapping[str, str]) -> str:
    title = metadata.get("title") or Path(metadata.get("filename", "")).stem
    return title.strip()[:MAX_TITLE]


class BrowserUploadHooks:
    """The tus hooks of the browser upload endpoint (see ``tus/hooks.py``)."""

    def __init__(self, app: web.Application) -> None:
        self._app = app

    @property
    def services(self) -> Services:
        return self._app[SERVICES]

    async def on_create(self, principal: Principal, metadata: dict[str, str], length: int) -> None:
        """Refuse other callers than teachers and coaches, and files the browser says are no
        video (``filetype``, as tus-js-client sends it)."""
        _uploader(principal)
        filetype = metadata.get("filetype", "")
        if (
            filetype
            and not filetype.startswith("video/")
            and filetype != "application/octet-stream"
        ):
            raise TusRejected(
                415, f"not_a_video: a {filetype[:60]} file is not a video; choose a video file"
            )
        if length == 0:
            raise TusRejected(400, "not_a_video: the file is empty")

    async def on_first_bytes(
        self, principal: Principal, metadata: dict[str, str], head: bytes
    ) -> None:
        """Refuse a photo, a document or a sound file after its first chunk, not its last."""
        found = sniff(head)
        if found is not None:
            raise TusRejected(
                415, f"not_a_video: this is {found}, not a video; choose a video file"
            )

    async def on_complete(
        self, principal: Principal, upload_id: str, metadata: dict[str, str], path: Path
    ) -> dict[str, Any]:
        """Probe the file and make the lesson (see the module docstring)."""
        user = _uploader(principal)
        services = self.services
        db, paths = services.db, services.paths
        lesson_id = lesson_id_for(upload_id)
        existing = recordings.get(db, lesson_id)
        if existing is not None:
            return {"lesson_id": lesson_id, "state": existing["state"]}
        original = paths.upload_original(lesson_id)
        if not path.exists() and original.exists():
            path = original  # moved there before a crash: go on from there
        try:
            found = await asyncio.to_thread(inspect, path)
        except MediaRefused as exc:
            raise TusRejected(415, exc.reason) from None
        now = services.now()
        manifest = Manifest(
            recording_id=lesson_id,
            started_at=now,
            cameras=[
                CameraSpec(
                    id="main",
                    role="main",
                    label="",
                    video=VideoFormat(
                        container="mp4", width=found.width, height=found.height, fps=found.fps
                    ),
                )
            ],
            audio_camera="main" if found.has_audio else None,
            software_version="browser upload",
        )
        if found.refusal is None:
            original.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, original)
        else:
            path.unlink(missing_ok=True)  # nothing to make of it: do not keep a copy
        state = "failed" if found.refusal else "assembling"
        lesson = recordings.NewLesson(
            manifest=manifest,
            owner_id=user.id,
            state=state,
            kind="upload",
            title=_title(metadata),
            state_reason=found.refusal,
            completed=True,
        )
        recordings.insert(db, lesson, now)
        services.audit(
            None,
            user,
            "lesson_upload",
            object_kind="lesson",
            object_id=lesson_id,
            detail={"state": state, "reason": found.refusal},
        )
        if services.assembler is not None and state == "assembling":
            services.assembler.submit(lesson_id)
        return {"lesson_id": lesson_id, "state": state}


def setup(app: web.Application, paths: DataPaths, config: ServerConfig, clock: Clock) -> None:
    """Add the browser upload endpoint to ``app`` (its routes, recovery and sweeps)."""
    store = UploadStore(
        paths.root / "lesson-uploads",
        clock=clock,
        expire_after=timedelta(hours=config.uploads.expire_hours),
    )
    endpoint = TusEndpoint(
        store,
        BrowserUploadHooks(app),
        max_size=config.uploads.browser_max_size_mib * 1024 * 1024,
        stall_timeout_s=config.uploads.stall_timeout_s,
        prefix=UPLOAD_PREFIX,
    )
    endpoint.add_routes(app.router)
    app.cleanup_ctx.append(endpoint.lifecycle)
