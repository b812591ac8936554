"""Helpers for the server crash tests: when to pull the plug, and what a clean data directory is.

:class:`Crasher` watches the server's data directory from the outside (the upload store's files,
the recordings' folders, the database) for a chosen moment (a PATCH body half written, an
upload's last bytes in, a live assembly open, a lesson assembling), then kills the server with
SIGKILL and starts it again. :func:`audit_data_dir` lists every file in a data directory that no
database row accounts for.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from lessoncam_server.infra.paths import DataPaths

from .live import LiveServer

# Moments during uploads and during assembly (see ``observe``); "anytime" is a random delay.
UPLOAD_MOMENTS = ("mid_patch", "upload_finish", "lesson_completed", "anytime")
# "start_up": kill at any time, then again while the server starts (recovering, resuming).
ASSEMBLY_MOMENTS = ("live_assembly", "full_assembly", "start_up")
POLL_S = 0.002


def _infos(paths: DataPaths) -> list[dict[str, object]]:
    out = []
    for info in paths.uploads.glob("*.json"):
        try:
            out.append(json.loads(info.read_bytes()))
        except (OSError, ValueError):
            continue  # replaced or removed while we looked
    return out


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


def _recordings(db: sqlite3.Connection) -> list[tuple[str, str, str | None]]:
    try:
        return db.execute("SELECT id, state, completed_at FROM recordings").fetchall()
    except sqlite3.Error:
        return []


def observe(paths: DataPaths, db: sqlite3.Connection) -> dict[str, str]:
    """The moments that hold right now, each with what shows it."""
    seen: dict[str, str] = {}
    for info in _infos(paths):
        length, state = info.get("length"), info.get("state")
        size = _size(paths.uploads / f"{info.get('id')}.bin")
        if not isinstance(length, int) or size is None:
            continue
        if state == "receiving" and 0 < size < length:
            seen["mid_patch"] = f"upload {info['id']} at {size} of {length} bytes"
        elif state == "received" or (state == "receiving" and size == length > 0):
            seen["upload_finish"] = f"upload {info['id']}: all {length} bytes in, {state}"
    for rid, state, completed_at in _recordings(db):
        folder = paths.recordings / rid
        if state == "assembling":
            seen["full_assembly"] = f"recording {rid} assembling"
        elif state == "receiving" and any(folder.glob(".*.tmp")):
            seen["live_assembly"] = f"recording {rid}: live assembly open"
        if state == "receiving" and completed_at is not None:
            seen["lesson_completed"] = f"recording {rid} completed, segments still coming"
    return seen


@dataclass
class Crash:
    """One kill -9: the moment aimed at and what was seen when the plug was pulled."""

    aimed: str
    seen: str
    restart_s: float = 0.0


@dataclass
class Crasher:
    """Kills and restarts ``server`` ``count`` times, alternating upload and assembly moments in
    an order drawn from ``rng``. Runs in its own thread (``run``); ``done`` is set at the end."""

    server: LiveServer
    count: int
    rng: random.Random
    wait_s: float = 4.0  # for a moment to come before pulling the plug anyway
    crashes: list[Crash] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def plan(self) -> list[str]:
        """Upload and assembly moments by turns; each moment of a kind once per round."""
        uploads = self._rounds(UPLOAD_MOMENTS, self.count)
        assemblies = self._rounds(ASSEMBLY_MOMENTS, self.count)
        return [m for pair in zip(uploads, assemblies, strict=True) for m in pair][: self.count]

    def _rounds(self, moments: tuple[str, ...], count: int) -> list[str]:
        out: list[str] = []
        while len(out) < count:
            out += self.rng.sample(moments, len(moments))
        return out[:count]

    def run(self) -> None:
        db = sqlite3.connect(f"file:{self.server.paths.database}?mode=ro", uri=True, timeout=5)
        try:
            for aimed in self.plan():
                if len(self.crashes) >= self.count:
                    break
                time.sleep(self.rng.uniform(0.05, 0.4))  # let the units get going again
                seen = self._wait_for(aimed, db)
                self.server.kill()
                self.crashes.append(Crash(aimed, seen))
                time.sleep(self.rng.uniform(0.0, 0.3))  # the units find the server gone
                if aimed == "start_up" and len(self.crashes) < self.count:
                    self.server.launch()
                    time.sleep(self.rng.uniform(0.3, 1.2))  # importing, or recovering
                    self.server.kill()
                    self.crashes.append(Crash(aimed, "start_up: while starting again"))
                started = time.monotonic()
                self.server.start()
                self.crashes[-1].restart_s = round(time.monotonic() - started, 2)
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.error = exc
        finally:
            db.close()
            self.done.set()

    def _wait_for(self, aimed: str, db: sqlite3.Connection) -> str:
        if aimed in ("anytime", "start_up"):
            time.sleep(self.rng.uniform(0.0, 1.0))
            return f"{aimed}: any time"
        deadline = time.monotonic() + self.wait_s
        while time.monotonic() < deadline:
            found = observe(self.server.paths, db).get(aimed)
            if found is not None:
                return f"{aimed}: {found}"
            time.sleep(POLL_S)
        return f"{aimed} not seen in {self.wait_s:g} s: any time"


def audit_data_dir(paths: DataPaths) -> list[str]:
    """Files in the data directory that no database row accounts for, and leftovers: temp
    files, partial or unfinished uploads, media of other versions. Empty when all is clean."""
    db = sqlite3.connect(f"file:{paths.database}?mode=ro", uri=True)
    try:
        versions = dict(db.execute("SELECT id, media_version FROM recordings").fetchall())
        held = {
            (rid, cam, seq)
            for rid, cam, seq in db.execute("SELECT recording_id, camera, sequence FROM segments")
        }
        media = db.execute("SELECT recording_id, camera, file_name FROM media").fetchall()
        snapshots = [r[0] for r in db.execute("SELECT id FROM units WHERE snapshot_at NOT NULL")]
    finally:
        db.close()
    expected: set[Path] = {paths.segment(rid, cam, seq) for rid, cam, seq in held}
    expected |= {paths.snapshot(unit_id) for unit_id in snapshots}
    for rid, cam, file_name in media:
        version = versions[rid]
        assert file_name == paths.video(rid, cam, version).name, (rid, file_name, version)
        expected |= {paths.video(rid, cam, version), paths.thumbnails(rid, cam, version)}
        expected.add(paths.poster(rid, version))
    database = {paths.database.name + suffix for suffix in ("", "-wal", "-shm")}
    problems: list[str] = []
    for path in sorted(p for p in paths.root.rglob("*") if p.is_file()):
        relative = path.relative_to(paths.root)
        if path.parent == paths.root and path.name in database:
            continue
        if path.parent == paths.uploads:
            problem = _upload_problem(path, held)
            if problem:
                problems.append(f"{relative}: {problem}")
            continue
        if path not in expected:
            problems.append(f"{relative}: no database row accounts for it")
    missing = sorted(str(p.relative_to(paths.root)) for p in expected if not p.exists())
    problems += [f"{m}: in the database but not on disk" for m in missing]
    return problems


def _upload_problem(path: Path, held: set[tuple[str, str, int]]) -> str | None:
    """Only records of completed uploads whose segment is held may stay (a unit that missed
    the answer asks for it with HEAD); their bytes have moved to the recording."""
    if path.suffix != ".json":
        return f"upload data or temp file left behind ({path.stat().st_size} bytes)"
    info = json.loads(path.read_bytes())
    meta = info.get("metadata", {})
    key = (meta.get("recording"), meta.get("camera"), int(meta.get("sequence", -1)))
    if info.get("state") != "completed":
        return f"an unfinished upload ({info.get('state')}) of segment {key}"
    if key not in held:
        return f"completed upload of segment {key}, which is not held"
    return None
