"""Videos uploaded from a browser (say, recorded with a phone) become lessons of the uploader.

A second tus endpoint, ``/api/v1/lesson-uploads/``, with the same tus implementation as the
units' segment uploads but its own store, size limit and hooks. Only signed-in teachers and
coaches upload (with the session's CSRF token, like every change). When all bytes are in, the
file is probed with PyAV:

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
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av
import av.error
from aiohttp import web

from ..access.principal import Principal, User
from ..config import ServerConfig
from ..infra.paths import DataPaths
from ..infra.timeutil import Clock, to_iso
from ..media.cutting import MediaRefused, cut
from ..media.remux import AssembledVideo
from ..services import SERVICES
from ..units import recordings
from ..units.manifest import CameraSpec, Manifest, VideoFormat
from .store import UploadStore
from .tus.endpoint import TusEndpoint
from .tus.hooks import TusRejected
from .tus.openapi import tus_operations

if TYPE_CHECKING:
    from ..services import Services

log = logging.getLogger(__name__)

UPLOAD_PREFIX = "/api/v1/lesson-uploads"
# Signed-in people only (the session cookie and the CSRF token), not units.
TUS_OPERATIONS = [{**op, "security": [{"session": []}]} for op in tus_operations(UPLOAD_PREFIX)]
#: What every current browser plays in an MP4.
PLAYABLE_VIDEO = frozenset({"h264"})
PLAYABLE_AUDIO = frozenset({"aac"})
# FFmpeg's names of containers that hold video (the "mov,mp4,..." family, mkv/webm, ts, avi).
_VIDEO_CONTAINERS = ("mov", "mp4", "matroska", "mpegts", "avi", "3gp")
ORIGINAL_NAME = "original.upload"
MAX_TITLE = 200


# What teachers pick by mistake, recognised from the first bytes (offset, signature, name).
_NOT_VIDEO_SIGNATURES = (
    (0, b"\xff\xd8\xff", "a JPEG photo"),
    (0, b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (0, b"GIF8", "a GIF image"),
    (0, b"%PDF", "a PDF document"),
    (0, b"PK\x03\x04", "a ZIP archive or an Office document"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Office document"),
    (0, b"{\\rtf", "an RTF document"),
    (0, b"ID3", "an MP3 sound file"),
    (0, b"fLaC", "a FLAC sound file"),
    (8, b"WAVE", "a WAV sound file"),
    (8, b"WEBP", "a WebP image"),
)
# ISO BMFF brands of photos and sound files: same box structure as an MP4 video.
_NOT_VIDEO_BRANDS = {
    b"heic": "a HEIC photo",
    b"heix": "a HEIC photo",
    b"mif1": "a HEIF photo",
    b"msf1": "a HEIF photo sequence",
    b"avif": "an AVIF image",
    b"M4A ": "an M4A sound file",
    b"M4B ": "an audio book",
}


def sniff(head: bytes) -> str | None:
    """What a file clearly is when it is clearly no video (``"a PDF document"``), from its
    first bytes; None when it may be a video (the probe at the end decides). Pure."""
    for offset, signature, name in _NOT_VIDEO_SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            if offset == 8 and head[:4] != b"RIFF":
                continue
            return name
    if head[4:8] == b"ftyp":
        return _NOT_VIDEO_BRANDS.get(head[8:12])
    return None


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


class Inspection:
    """What the probe found: the picture, and why a browser could not play it (or None)."""

    def __init__(
        self, width: int, height: int, fps: float, has_audio: bool, refusal: str | None
    ) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.has_audio = has_audio
        self.refusal = refusal


def inspect(path: Path) -> Inspection:
    """Probe an uploaded file. Raises TusRejected(415, "not_a_video: ...") when it is not a
    video at all."""
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError):
        raise TusRejected(
            415, "not_a_video: the file is not a video; choose a video file (MP4 or MOV)"
        ) from None
    with container:
        fmt = container.format.name
        video = container.streams.video[0] if container.streams.video else None
        if (
            video is None
            or not any(name in fmt.split(",") for name in _VIDEO_CONTAINERS)
            or not container.duration
        ):
            raise TusRejected(
                415, "not_a_video: the file holds no video; choose a video file (MP4 or MOV)"
            )
        ctx = video.codec_context
        width, height = int(ctx.width or 0), int(ctx.height or 0)
        rate = video.average_rate or video.guessed_rate or Fraction(30)
        fps = min(max(float(rate), 1.0), 240.0)
        audio = container.streams.audio[0] if container.streams.audio else None
        refusal = None
        if ctx.name not in PLAYABLE_VIDEO:
            refusal = (
                f"video_codec_unsupported: {ctx.name}; set the camera to H.264 "
                "('most compatible') or convert the video"
            )
        elif audio is not None and audio.codec_context.name not in PLAYABLE_AUDIO:
            refusal = f"audio_codec_unsupported: {audio.codec_context.name}; convert the video"
        if not (16 <= width <= 7680 and 16 <= height <= 4320):
            raise TusRejected(415, f"not_a_video: a picture of {width}x{height} is not usable")
        return Inspection(width, height, fps, audio is not None, refusal)


class BrowserUploadHooks:
    """The tus hooks of the browser upload endpoint (see ``tus.TusHooks``)."""

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
        folder = paths.recording_dir(lesson_id)
        if not path.exists() and (folder / ORIGINAL_NAME).exists():
            path = folder / ORIGINAL_NAME  # moved there before a crash: go on from there
        found = await asyncio.to_thread(inspect, path)
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
            folder.mkdir(parents=True, exist_ok=True)
            os.replace(path, folder / ORIGINAL_NAME)
        else:
            path.unlink(missing_ok=True)  # nothing to make of it: do not keep a copy
        state = "failed" if found.refusal else "assembling"
        db.table("recordings").insert(
            {
                "id": lesson_id,
                "unit_id": None,
                "owner_id": user.id,
                "title": _title(metadata),
                "description": "",
                "started_at": to_iso(now),
                "manifest": manifest.model_dump_json(),
                "state": state,
                "state_reason": found.refusal,
                "created_at": to_iso(now),
                "completed_at": to_iso(now),
                "kind": "upload",
            }
        )
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


async def remux_media(
    services: Services, row: Mapping[str, Any], version: int
) -> tuple[list[tuple[str, AssembledVideo]], str]:
    """Remux the uploaded original into the lesson's MP4 (run by the assembler)."""
    paths = services.paths
    original = paths.recording_dir(row["id"]) / ORIGINAL_NAME
    if not original.exists():
        raise MediaRefused("upload_gone", "the uploaded file is gone; upload it again")
    out = paths.video(row["id"], "main", version)
    video = await asyncio.to_thread(cut, original, out, 0.0)
    return [("main", video)], "main"


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
