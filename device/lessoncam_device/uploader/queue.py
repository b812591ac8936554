"""The upload queue: a SQLite table is the queue, one explicit status per row.

Recordings (manifest, state, final counts, registered / completed on the server) and their
segment files (status ``queued`` -> ``uploading`` -> ``uploaded`` -> ``deleted``, attempts,
backoff deadline, last error, and the tus upload URL so an upload resumes after a restart).

The recorder and the daemon call ``add_recording``, ``add_segment`` and ``close_recording``
(from any thread); the heartbeat reads ``queue_length`` and ``last_error``; the uploader does
the rest. The database runs in WAL mode with ``synchronous = FULL``: a segment the recorder
handed over survives a power cut.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from ..segments import RecordingPlan, SegmentInfo

log = logging.getLogger(__name__)

DB_FILE = "uploads.sqlite3"
SegmentStatus = Literal["queued", "uploading", "uploaded", "deleted"]
RecordingState = Literal["recording", "closed", "interrupted"]
SegmentKey = tuple[str, str, int]  # (recording_id, camera, sequence)

migrations = Migrations("lessoncam_device_uploads")


@migrations()
def m001_queue(db: Database) -> None:
    for statement in (
        """CREATE TABLE recordings (
            id TEXT PRIMARY KEY,
            manifest TEXT NOT NULL,
            started_at TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('recording', 'closed', 'interrupted')),
            counts TEXT,
            missing TEXT,
            registered INTEGER NOT NULL DEFAULT 0,
            completed INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            last_error TEXT,
            last_error_at TEXT,
            added_at TEXT NOT NULL,
            closed_at TEXT,
            completed_at TEXT
        )""",
        """CREATE TABLE segments (
            recording_id TEXT NOT NULL REFERENCES recordings(id),
            camera TEXT NOT NULL,
            sequence INTEGER NOT NULL,
            camera_rank INTEGER NOT NULL,
            path TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            size INTEGER NOT NULL,
            start_s REAL NOT NULL,
            duration_s REAL NOT NULL,
            status TEXT NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'uploading', 'uploaded', 'deleted')),
            attempts INTEGER NOT NULL DEFAULT 0,
            checksum_failures INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            last_error TEXT,
            last_error_at TEXT,
            upload_url TEXT,
            added_at TEXT NOT NULL,
            uploaded_at TEXT,
            deleted_at TEXT,
            PRIMARY KEY (recording_id, camera, sequence)
        )""",
        "CREATE INDEX segments_status ON segments(status)",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)",
    ):
        db.execute(statement)


def _iso(moment: datetime) -> str:
    # One fixed-width UTC form, so text comparison in SQL is time comparison.
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _utc(iso: str) -> str:
    moment = datetime.fromisoformat(iso)
    return _iso(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class QueuedRecording:
    """A recording as the queue holds it."""

    recording_id: str
    manifest: dict[str, Any]
    state: RecordingState
    counts: dict[str, int] | None
    missing: dict[str, list[int]] | None
    interrupted: bool
    registered: bool
    completed: bool
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None

    def completion(self) -> dict[str, Any]:
        """The body of ``POST .../complete`` (only once the recording is closed)."""
        return {
            "segments": dict(self.counts or {}),
            "missing": {cam: list(seqs) for cam, seqs in (self.missing or {}).items() if seqs},
            "interrupted": self.interrupted,
        }


@dataclass(frozen=True)
class QueuedSegment:
    """A segment file as the queue holds it."""

    recording_id: str
    camera: str
    sequence: int
    path: Path
    sha256: str
    size: int
    start_s: float
    duration_s: float
    status: SegmentStatus
    attempts: int
    checksum_failures: int
    next_attempt_at: datetime | None
    last_error: str | None
    upload_url: str | None
    uploaded_at: datetime | None

    @property
    def key(self) -> SegmentKey:
        return (self.recording_id, self.camera, self.sequence)

    @property
    def name(self) -> str:
        """How logs and errors name the segment."""
        return f"{self.camera}/{self.sequence} of {self.recording_id}"

    def metadata(self) -> dict[str, str]:
        """The tus ``Upload-Metadata`` of the wire format."""
        return {
            "recording": self.recording_id,
            "camera": self.camera,
            "sequence": str(self.sequence),
            "sha256": self.sha256,
            "start_s": f"{self.start_s:.6f}",
            "duration_s": f"{self.duration_s:.6f}",
        }


def _recording(row: Mapping[str, Any]) -> QueuedRecording:
    return QueuedRecording(
        recording_id=row["id"],
        manifest=json.loads(row["manifest"]),
        state=row["state"],
        counts=json.loads(row["counts"]) if row["counts"] else None,
        missing=json.loads(row["missing"]) if row["missing"] else None,
        interrupted=row["state"] == "interrupted",
        registered=bool(row["registered"]),
        completed=bool(row["completed"]),
        attempts=row["attempts"],
        next_attempt_at=_when(row["next_attempt_at"]),
        last_error=row["last_error"],
    )


def _segment(row: Mapping[str, Any]) -> QueuedSegment:
    return QueuedSegment(
        recording_id=row["recording_id"],
        camera=row["camera"],
        sequence=row["sequence"],
        path=Path(row["path"]),
        sha256=row["sha256"],
        size=row["size"],
        start_s=row["start_s"],
        duration_s=row["duration_s"],
        status=row["status"],
        attempts=row["attempts"],
        checksum_failures=row["checksum_failures"],
        next_attempt_at=_when(row["next_attempt_at"]),
        last_error=row["last_error"],
        upload_url=row["upload_url"],
        uploaded_at=_when(row["uploaded_at"]),
    )


def _camera_ranks(manifest: Mapping[str, Any]) -> dict[str, int]:
    """The main camera ranks 0, the others follow in manifest order (upload order at a tie)."""
    cameras = manifest.get("cameras", [])
    ordered = sorted(cameras, key=lambda c: c.get("role") != "main")
    return {c["id"]: rank for rank, c in enumerate(ordered)}


def open_database(path: Path) -> Database:
    """Open (creating if needed) and migrate the queue database at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    db = Database(conn)
    db.execute("PRAGMA journal_mode = WAL")
    # FULL: a committed row survives a power cut even in WAL mode (NORMAL may lose it).
    db.execute("PRAGMA synchronous = FULL")
    db.execute("PRAGMA busy_timeout = 5000")
    migrations.apply(db)
    return db


class UploadQueue:
    """The unit's upload queue in SQLite; safe to call from several threads."""

    def __init__(self, db: Database, now: Callable[[], datetime] | None = None) -> None:
        self._db = db
        self._now = now or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        self._listeners: list[Callable[[], None]] = []

    @classmethod
    def open(cls, state_dir: Path, now: Callable[[], datetime] | None = None) -> UploadQueue:
        """The queue in ``state_dir`` (file ``uploads.sqlite3``); ``now`` gives UTC time."""
        return cls(open_database(state_dir / DB_FILE), now)

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    # --- plumbing ---------------------------------------------------------------------------

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._db.query(sql, params))

    def _run(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._lock:
            return self._db.execute(sql, params).rowcount

    @contextmanager
    def _changing(self) -> Iterator[Database]:
        """A transaction; listeners hear about it after it committed."""
        with self._lock, self._db.atomic() as db:
            yield db
        self._notify()

    def add_listener(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after the recorder adds or closes something (any thread)."""
        with self._lock:
            self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[], None]) -> None:
        """Stop calling ``callback``."""
        with self._lock:
            if callback in self._listeners:
                self._listeners.remove(callback)

    def _notify(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for callback in listeners:
            try:
                callback()
            except Exception:
                log.exception("upload queue listener failed")

    # --- what the recorder and the daemon call ----------------------------------------------

    def add_recording(self, plan: RecordingPlan) -> None:
        """Queue a new recording (registered with the server as soon as possible).

        Adding the same plan again does nothing; another plan under the same id is an error.
        """
        manifest = json.dumps(plan.manifest(), sort_keys=True)
        if not _camera_ranks(plan.manifest()):
            raise ValueError(f"recording {plan.recording_id} has no cameras")
        with self._changing() as db:
            existing = self._rows(
                "SELECT manifest FROM recordings WHERE id = ?", [plan.recording_id]
            )
            if existing:
                # Compared as data: a plan re-read after a crash may spell 10 as 10.0.
                if json.loads(existing[0]["manifest"]) != json.loads(manifest):
                    raise ValueError(f"recording {plan.recording_id} was queued with another plan")
                return
            db.execute(
                """INSERT INTO recordings (id, manifest, started_at, state, added_at)
                   VALUES (?, ?, ?, 'recording', ?)""",
                [plan.recording_id, manifest, _utc(plan.started_at_iso), _iso(self._now())],
            )

    def add_segment(self, info: SegmentInfo) -> None:
        """Queue a closed, fsync'd segment file of a queued recording (idempotent)."""
        with self._changing() as db:
            rows = self._rows("SELECT manifest FROM recordings WHERE id = ?", [info.recording_id])
            if not rows:
                raise ValueError(f"segment of unknown recording {info.recording_id}; add it first")
            ranks = _camera_ranks(json.loads(rows[0]["manifest"]))
            if info.camera not in ranks:
                raise ValueError(
                    f"camera {info.camera!r} is not in recording {info.recording_id}'s plan"
                )
            held = self._rows(
                """SELECT sha256 FROM segments
                   WHERE recording_id = ? AND camera = ? AND sequence = ?""",
                [info.recording_id, info.camera, info.sequence],
            )
            if held:
                if held[0]["sha256"] != info.sha256:
                    raise ValueError(
                        f"segment {info.camera}/{info.sequence} of {info.recording_id} "
                        "was queued with another sha256"
                    )
                return
            db.execute(
                """INSERT INTO segments (recording_id, camera, sequence, camera_rank, path,
                       sha256, size, start_s, duration_s, status, added_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?)""",
                [
                    info.recording_id,
                    info.camera,
                    info.sequence,
                    ranks[info.camera],
                    str(info.path),
                    info.sha256,
                    info.size,
                    info.start_s,
                    info.duration_s,
                    _iso(self._now()),
                ],
            )

    def close_recording(
        self,
        recording_id: str,
        counts: Mapping[str, int],
        missing: Mapping[str, Sequence[int]] | None = None,
        interrupted: bool = False,
    ) -> None:
        """No more segments will come: ``counts`` per camera, ``missing`` sequences lost.

        Sequences below a count that were never queued count as missing too (the server
        makes them gaps), so a completion is never held up by a file that does not exist.
        ``interrupted``: recovered after a crash or power cut.
        """
        with self._changing() as db:
            rows = self._rows("SELECT manifest FROM recordings WHERE id = ?", [recording_id])
            if not rows:
                raise ValueError(f"unknown recording {recording_id}")
            ranks = _camera_ranks(json.loads(rows[0]["manifest"]))
            unknown = (set(counts) | set(missing or {})) - set(ranks)
            if unknown:
                raise ValueError(f"cameras not in the plan: {', '.join(sorted(unknown))}")
            have: dict[str, set[int]] = {}
            for row in self._rows(
                "SELECT camera, sequence FROM segments WHERE recording_id = ?", [recording_id]
            ):
                have.setdefault(row["camera"], set()).add(row["sequence"])
            lost: dict[str, list[int]] = {}
            for camera, count in counts.items():
                if count < 0:
                    raise ValueError(f"negative segment count for {camera!r}")
                beyond = [seq for seq in have.get(camera, set()) if seq >= count]
                if beyond:
                    raise ValueError(f"{camera!r} has queued sequences {beyond} >= count {count}")
                declared = {s for s in (missing or {}).get(camera, []) if 0 <= s < count}
                never = set(range(count)) - have.get(camera, set()) - declared
                if never:
                    log.warning(
                        "recording %s: %s segments %s were never queued; declaring them missing",
                        recording_id,
                        camera,
                        sorted(never),
                    )
                if declared | never:
                    lost[camera] = sorted(declared | never)
            extra = set(have) - set(counts)
            if extra:
                raise ValueError(f"no count for cameras with segments: {', '.join(sorted(extra))}")
            db.execute(
                """UPDATE recordings SET state = ?, counts = ?, missing = ?, closed_at = ?
                   WHERE id = ?""",
                [
                    "interrupted" if interrupted else "closed",
                    json.dumps(dict(counts), sort_keys=True),
                    json.dumps(lost, sort_keys=True),
                    _iso(self._now()),
                    recording_id,
                ],
            )

    def open_recordings(self) -> list[str]:
        """Recordings never closed (after a crash the daemon closes them as interrupted)."""
        rows = self._rows(
            "SELECT id FROM recordings WHERE state = 'recording' ORDER BY started_at, added_at"
        )
        return [row["id"] for row in rows]

    # --- figures for the heartbeat ----------------------------------------------------------

    def queue_length(self) -> int:
        """Segments not yet confirmed by the server."""
        rows = self._rows(
            "SELECT count(*) AS n FROM segments WHERE status IN ('queued', 'uploading')"
        )
        return int(rows[0]["n"])

    def last_error(self) -> str | None:
        """What currently holds uploads up: the unit-wide error, else the newest item error."""
        rows = self._rows("SELECT value FROM meta WHERE key = 'global_error'")
        if rows and rows[0]["value"]:
            return str(rows[0]["value"])
        # Items back off on their own (next_attempt_at set) only for their own trouble; a
        # network failure is the unit-wide error above, cleared when the network is back.
        rows = self._rows(
            """SELECT last_error, last_error_at FROM segments
                   WHERE status IN ('queued', 'uploading') AND next_attempt_at IS NOT NULL
                     AND last_error IS NOT NULL
               UNION ALL
               SELECT last_error, last_error_at FROM recordings
                   WHERE (registered = 0 OR completed = 0) AND next_attempt_at IS NOT NULL
                     AND last_error IS NOT NULL
               ORDER BY last_error_at DESC LIMIT 1"""
        )
        return str(rows[0]["last_error"]) if rows else None

    def set_global_error(self, message: str | None) -> None:
        """Set (or clear, with None) the error that concerns the whole unit."""
        self._run("INSERT OR REPLACE INTO meta (key, value) VALUES ('global_error', ?)", [message])

    # --- reading, for the uploader and for people -------------------------------------------

    def recording(self, recording_id: str) -> QueuedRecording | None:
        """One recording, or None."""
        rows = self._rows("SELECT * FROM recordings WHERE id = ?", [recording_id])
        return _recording(rows[0]) if rows else None

    def segments(self, recording_id: str) -> list[QueuedSegment]:
        """A recording's segments in upload order."""
        rows = self._rows(
            """SELECT s.* FROM segments s JOIN recordings r ON r.id = s.recording_id
                WHERE s.recording_id = ?
                ORDER BY s.start_s, s.camera_rank, s.sequence""",
            [recording_id],
        )
        return [_segment(row) for row in rows]

    def segment(self, key: SegmentKey) -> QueuedSegment | None:
        """One segment, or None."""
        rows = self._rows(
            "SELECT * FROM segments WHERE recording_id = ? AND camera = ? AND sequence = ?",
            list(key),
        )
        return _segment(rows[0]) if rows else None

    def pending_registrations(self) -> list[QueuedRecording]:
        """Recordings the server has not acknowledged yet, oldest first."""
        rows = self._rows(
            "SELECT * FROM recordings WHERE registered = 0 ORDER BY started_at, added_at, id"
        )
        return [_recording(row) for row in rows]

    def pending_completions(self) -> list[QueuedRecording]:
        """Closed, registered recordings whose every segment the server confirmed."""
        rows = self._rows(
            """SELECT * FROM recordings r
               WHERE r.state IN ('closed', 'interrupted') AND r.registered = 1
                 AND r.completed = 0
                 AND NOT EXISTS (SELECT 1 FROM segments s WHERE s.recording_id = r.id
                                 AND s.status IN ('queued', 'uploading'))
               ORDER BY r.started_at, r.added_at, r.id"""
        )
        return [_recording(row) for row in rows]

    def pending_segments(self) -> list[QueuedSegment]:
        """Segments to upload, of registered recordings, in upload order: the oldest recording
        first, then by time, the main camera first at equal time."""
        rows = self._rows(
            """SELECT s.* FROM segments s JOIN recordings r ON r.id = s.recording_id
                WHERE s.status IN ('queued', 'uploading') AND r.registered = 1
                ORDER BY r.started_at, r.added_at, r.id, s.start_s, s.camera_rank, s.sequence"""
        )
        return [_segment(row) for row in rows]

    def confirmed_segments(self, confirmed_by: datetime | None = None) -> list[QueuedSegment]:
        """Segments the server confirmed whose local file still exists (for the keep policy),
        only those confirmed at or before ``confirmed_by`` if given."""
        sql = "SELECT * FROM segments WHERE status = 'uploaded'"
        params: list[Any] = []
        if confirmed_by is not None:
            sql += " AND uploaded_at <= ?"
            params.append(_iso(confirmed_by))
        rows = self._rows(sql + " ORDER BY uploaded_at", params)
        return [_segment(row) for row in rows]

    def oldest_confirmation(self) -> datetime | None:
        """When the longest-kept confirmed segment was confirmed (None: there is none)."""
        rows = self._rows("SELECT min(uploaded_at) AS at FROM segments WHERE status = 'uploaded'")
        return _when(rows[0]["at"])

    # --- what the uploader records ----------------------------------------------------------

    def mark_registered(self, recording_id: str, registered: bool = True) -> None:
        """The server acknowledged the manifest (or, with False, has forgotten it)."""
        self._run(
            """UPDATE recordings SET registered = ?, next_attempt_at = NULL, last_error = NULL
               WHERE id = ?""",
            [int(registered), recording_id],
        )

    def finished_folder(self, recording_id: str) -> Path | None:
        """The recording's folder once nothing in it is needed any more: closed, completed on
        the server, and every segment file confirmed and deleted. None until then."""
        rows = self._rows(
            """SELECT r.state, r.completed,
                      (SELECT count(*) FROM segments s
                       WHERE s.recording_id = r.id AND s.status != 'deleted') AS kept,
                      (SELECT path FROM segments s WHERE s.recording_id = r.id LIMIT 1) AS path
               FROM recordings r WHERE r.id = ?""",
            [recording_id],
        )
        if not rows or rows[0]["state"] == "recording" or not rows[0]["completed"]:
            return None
        if rows[0]["kept"] or rows[0]["path"] is None:
            return None
        folder = Path(rows[0]["path"]).parent.parent  # <recording>/<camera>/<segment>
        return folder if folder.name == recording_id else None

    def mark_completed(self, recording_id: str) -> None:
        """The server accepted the completion."""
        self._run(
            """UPDATE recordings SET completed = 1, completed_at = ?, next_attempt_at = NULL,
                   last_error = NULL WHERE id = ?""",
            [_iso(self._now()), recording_id],
        )

    def recording_failed(
        self, recording_id: str, message: str, next_attempt_at: datetime | None
    ) -> None:
        """A register or complete failed; try again after ``next_attempt_at`` (None: any time)."""
        self._run(
            """UPDATE recordings SET attempts = attempts + 1, last_error = ?, last_error_at = ?,
                   next_attempt_at = ? WHERE id = ?""",
            [
                message,
                _iso(self._now()),
                _iso(next_attempt_at) if next_attempt_at else None,
                recording_id,
            ],
        )

    def start_upload(self, key: SegmentKey, upload_url: str) -> None:
        """The server created a tus upload for the segment: remember where it is."""
        self._run(
            """UPDATE segments SET status = 'uploading', upload_url = ?
               WHERE recording_id = ? AND camera = ? AND sequence = ? AND status = 'queued'""",
            [upload_url, *key],
        )

    def restart_upload(
        self, key: SegmentKey, message: str, *, checksum_failure: bool = False
    ) -> None:
        """Forget the tus upload (gone, or refused by its checksum): start from byte 0."""
        self._run(
            """UPDATE segments SET status = 'queued', upload_url = NULL,
                   checksum_failures = checksum_failures + ?, attempts = attempts + 1,
                   last_error = ?, last_error_at = ?
               WHERE recording_id = ? AND camera = ? AND sequence = ?
                 AND status IN ('queued', 'uploading')""",
            [int(checksum_failure), message, _iso(self._now()), *key],
        )

    def segment_failed(
        self, key: SegmentKey, message: str, next_attempt_at: datetime | None
    ) -> None:
        """An upload attempt failed; try again after ``next_attempt_at`` (None: any time)."""
        self._run(
            """UPDATE segments SET attempts = attempts + 1, last_error = ?, last_error_at = ?,
                   next_attempt_at = ?
               WHERE recording_id = ? AND camera = ? AND sequence = ?""",
            [
                message,
                _iso(self._now()),
                _iso(next_attempt_at) if next_attempt_at else None,
                *key,
            ],
        )

    def mark_uploaded(self, key: SegmentKey) -> None:
        """The server listed the segment with the same sha256."""
        self._run(
            """UPDATE segments SET status = 'uploaded', uploaded_at = ?, upload_url = NULL,
                   next_attempt_at = NULL, last_error = NULL
               WHERE recording_id = ? AND camera = ? AND sequence = ?
                 AND status IN ('queued', 'uploading')""",
            [_iso(self._now()), *key],
        )

    def mark_deleted(self, key: SegmentKey) -> bool:
        """The local file was removed; only a confirmed (``uploaded``) segment can be."""
        changed = self._run(
            """UPDATE segments SET status = 'deleted', deleted_at = ?
               WHERE recording_id = ? AND camera = ? AND sequence = ? AND status = 'uploaded'""",
            [_iso(self._now()), *key],
        )
        return changed == 1
