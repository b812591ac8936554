"""What the tus endpoint does with a finished upload: a checked segment lands in its recording."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from lessoncam_common.durable import fsync_path
from lessoncam_common.hashing import sha256_file

from ..access.principal import Principal, Unit
from ..infra.timeutil import to_iso
from ..services import SERVICES, Services
from ..units import recordings
from ..units.manifest import SegmentMeta
from ..units.recordings import RecordingError
from .tus.hooks import TusRejected

log = logging.getLogger(__name__)


def _segment_meta(metadata: dict[str, str]) -> SegmentMeta:
    try:
        return SegmentMeta.model_validate(metadata)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        raise TusRejected(
            400,
            f"Upload-Metadata must name recording, camera, sequence, sha256, start_s and "
            f"duration_s of the segment; wrong or missing: {fields}",
        ) from None


def _as_unit(principal: Principal) -> Unit:
    if not isinstance(principal, Unit):
        raise TusRejected(403, "only classroom units upload segments")
    return principal


class SegmentUploadHooks:
    """The tus hooks for segment uploads from units (see ``tus/hooks.py``)."""

    def __init__(self, app: web.Application) -> None:
        self._app = app

    @property
    def services(self) -> Services:
        # Bound at start-up (the database opens in a cleanup context), so looked up late.
        return self._app[SERVICES]

    async def on_create(self, principal: Principal, metadata: dict[str, str], length: int) -> None:
        unit = _as_unit(principal)
        meta = _segment_meta(metadata)
        try:
            recordings.check_segment(self.services.db, unit, meta)
        except RecordingError as exc:
            raise TusRejected(exc.status, exc.message) from None

    async def is_obsolete(self, principal: Principal, metadata: dict[str, str]) -> bool:
        """An unfinished upload of a segment the recording already holds, or of a recording
        that is gone, can never be of use: a crash lost our answer to the POST that created it
        and the unit uploaded the segment again, or the lesson was deleted."""
        try:
            meta = SegmentMeta.model_validate(metadata)
        except ValidationError:
            return False  # refused at creation; never here
        db = self.services.db
        if recordings.get(db, meta.recording) is None:
            return True
        return recordings.held_segment(db, meta.recording, meta.camera, meta.sequence) is not None

    async def on_complete(
        self, principal: Principal, upload_id: str, metadata: dict[str, str], path: Path
    ) -> dict[str, Any]:
        unit = _as_unit(principal)
        meta = _segment_meta(metadata)
        db, paths = self.services.db, self.services.paths
        try:
            row = recordings.check_segment(db, unit, meta)
        except RecordingError as exc:
            raise TusRejected(exc.status, exc.message) from None
        result = {"recording": meta.recording, "camera": meta.camera, "sequence": meta.sequence}
        dest = paths.segment(meta.recording, meta.camera, meta.sequence)
        held = recordings.held_segment(db, meta.recording, meta.camera, meta.sequence)
        if held is not None:
            # A repeat of a segment we hold (the unit missed our answer): confirm, keep ours.
            if held["sha256"] != meta.sha256:
                raise TusRejected(
                    409, f"segment {meta.sequence} is already held with another sha256"
                )
            path.unlink(missing_ok=True)
            return {**result, "sha256": held["sha256"], "status": "duplicate"}
        if path.exists():
            actual = await asyncio.to_thread(sha256_file, path)
            if actual != meta.sha256:
                raise TusRejected(460, f"segment sha256 mismatch: received {actual}")
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, dest)
            await asyncio.to_thread(fsync_path, dest.parent)
        elif not (dest.exists() and await asyncio.to_thread(sha256_file, dest) == meta.sha256):
            raise TusRejected(410, "the upload's data is gone; upload the segment again")
        db.table("segments").insert(
            {
                "recording_id": meta.recording,
                "camera": meta.camera,
                "sequence": meta.sequence,
                "start_s": meta.start_s,
                "duration_s": meta.duration_s,
                "sha256": meta.sha256,
                "size": dest.stat().st_size,
                "received_at": to_iso(self.services.now()),
            },
            replace=True,
        )
        log.debug("segment %s/%s/%d stored", meta.recording, meta.camera, meta.sequence)
        if self.services.assembler is not None:
            self.services.assembler.segment_stored(row["id"], meta.camera)
            self.services.assembler.consider(row["id"])
        return {**result, "sha256": meta.sha256, "status": "stored"}
