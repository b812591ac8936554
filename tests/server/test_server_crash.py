"""Server crashes (issue 6, part 4): ``kill -9`` of the server while units upload lessons and
while it assembles them, then a restart on the same data directory and port.

The server runs as its own process. Units upload real synthetic segments with the unit's own
uploader (queue, tus client, retries), one with aiotus and retries of its own, recording lesson
after lesson, while a crasher thread pulls the plug at chosen moments: a PATCH body half
written, an upload's last bytes in, a lesson completed while its last segments still come, a
live assembly open while segments arrive, a lesson assembling at the end, the server starting
again (recovering), or any time at all. The units carry on by themselves. Afterwards every
lesson is ready, each camera's video holds every uploaded frame exactly once and in order (and
every sound packet once), the database holds each lesson, segment and video once, and after
the server's start-up clean-up no file in the data directory is orphaned.

4 crashes in ``make test``, 30 under ``make reliability``. The seed is printed; set
``LESSONCAM_CRASH_SEED`` to replay a run's choice of moments (their timing still varies).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import os
import random
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import aiotus
import av
import cv2
import numpy as np
import pytest

from lessoncam_device.segments import RecordingPlan, SegmentInfo
from lessoncam_device.uploader import KeepPolicy, UploadError, UploadSettings
from lessoncam_server.access import accounts
from lessoncam_server.infra.db import open_database
from lessoncam_server.units import fleet

from .. import reliability
from ..device.upload_helpers import Rig, make_plan, make_rig
from ..mediagen import GeneratedSegment, make_segments, video_frames
from .crash_helpers import Crasher, audit_data_dir
from .helpers import segment_metadata
from .live import PASSWORD, LiveServer, free_port, prepare_data

SEED = int(os.environ.get("LESSONCAM_CRASH_SEED", "37"))
CRASHES = reliability.sized(4, 30)
UNITS = reliability.sized(2, 3)
CAMERAS = ("main", "pupils")
SEGMENT_S = 2.0
SEGMENTS = 3  # per camera and lesson
# The smallest chunk the uploader takes: many PATCHes per segment, so kills land mid-body.
CHUNK = 16 * 1024
# A unit records the next segment of each camera this often (real time); a lesson takes
# SEGMENTS of these. Faster than real life, slow enough for live assembly to keep up.
RECORD_EVERY_S = 0.15
BACKLOG = 8  # segments a unit lets pile up before it records more (keeps the tail short)
TEACHER = "crash-teacher"
HEARTBEAT_EVERY = 10  # uploader steps
SNAPSHOT = base64.b64encode(
    cv2.imencode(".jpg", np.tile(np.arange(160, dtype=np.uint8), (120, 1)))[1].tobytes()
).decode()
# After the last crash, for the units to send what they still hold.
SEND_DEADLINE_S = 60


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[GeneratedSegment]]:
    """One lesson's segments per camera (main with sound), shared by every lesson."""
    base = tmp_path_factory.mktemp("crash-media")
    return {
        cam: make_segments(
            base / cam, seconds=SEGMENT_S * SEGMENTS, segment_s=SEGMENT_S, audio=cam == "main"
        )
        for cam in CAMERAS
    }


@dataclass
class UnitSide:
    """One classroom unit: its upload rig and the lessons it recorded."""

    number: int
    rig: Rig
    lessons: list[str] = field(default_factory=list)
    closed: set[str] = field(default_factory=set)


def _plan(recording_id: str) -> RecordingPlan:
    return make_plan(recording_id, datetime.now(UTC).isoformat(timespec="microseconds"), SEGMENT_S)


def _info(recording_id: str, camera: str, seg: GeneratedSegment) -> SegmentInfo:
    return SegmentInfo(
        recording_id=recording_id,
        camera=camera,
        sequence=seg.sequence,
        start_s=seg.start_s,
        duration_s=seg.duration_s,
        path=seg.path,
        sha256=seg.sha256,
        size=seg.path.stat().st_size,
    )


async def _record(
    unit: UnitSide, media: dict[str, list[GeneratedSegment]], stop: threading.Event
) -> None:
    """Record lessons one after another until the crasher is done (at least one)."""
    queue = unit.rig.queue
    while not unit.lessons or not stop.is_set():
        rid = f"01JDCRASHU{unit.number}L{len(unit.lessons):04d}00000000"
        queue.add_recording(_plan(rid))
        unit.lessons.append(rid)
        for seq in range(SEGMENTS):
            while queue.queue_length() > BACKLOG:  # noqa: ASYNC110 (the state is in SQLite)
                await asyncio.sleep(0.05)
            await asyncio.sleep(RECORD_EVERY_S)
            for cam in CAMERAS:
                queue.add_segment(_info(rid, cam, media[cam][seq]))
        queue.close_recording(rid, dict.fromkeys(CAMERAS, SEGMENTS))
        unit.closed.add(rid)


async def _aiotus_unit(
    number: int,
    base: str,
    token: str,
    media: dict[str, list[GeneratedSegment]],
    stop: threading.Event,
    lessons: list[str],
) -> None:
    """A unit that uploads with aiotus, an unmodified third-party tus client, and its own
    retries: requests are repeated until answered, a segment whose upload gave up is uploaded
    again from the start (leaving the abandoned upload for the server to clear)."""
    auth = {"Authorization": f"Bearer {token}"}
    retry = aiotus.RetryConfiguration(retry_attempts=40, max_retry_period_seconds=0.5)
    async with aiohttp.ClientSession(headers=auth) as session:

        async def call(method: str, path: str, body: dict[str, object]) -> None:
            while True:
                try:
                    async with session.request(method, f"{base}{path}", json=body) as answer:
                        if answer.status < 500:
                            assert answer.status in (200, 201), await answer.text()
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)

        while not lessons or not stop.is_set():
            rid = f"01JDCRASHT{number}L{len(lessons):04d}00000000"
            lessons.append(rid)
            await call("PUT", f"/api/v1/recordings/{rid}", _plan(rid).manifest())
            for seq in range(SEGMENTS):
                await asyncio.sleep(RECORD_EVERY_S)
                for cam in CAMERAS:
                    seg = media[cam][seq]
                    data = seg.path.read_bytes()
                    meta = segment_metadata(rid, cam, seq, data, seg.start_s, seg.duration_s)
                    while not await aiotus.upload(  # noqa: ASYNC110 (retrying, not waiting)
                        f"{base}/api/v1/uploads/",
                        io.BytesIO(data),
                        meta,
                        client_session=session,
                        config=retry,
                        chunksize=CHUNK,
                    ):
                        await asyncio.sleep(0.1)
            counts = dict.fromkeys(CAMERAS, SEGMENTS)
            await call("POST", f"/api/v1/recordings/{rid}/complete", {"segments": counts})


def _all_sent(unit: UnitSide) -> bool:
    queue = unit.rig.queue
    return queue.queue_length() == 0 and all(
        (rec := queue.recording(rid)) is not None and rec.completed for rid in unit.lessons
    )


async def _upload(unit: UnitSide, recording: asyncio.Task[None], tally: dict[str, int]) -> None:
    """The unit's uploader, stepped until everything it recorded is on the server, with a
    heartbeat (and an aiming snapshot) now and then."""
    rig = unit.rig
    steps = 0
    while not (recording.done() and _all_sent(unit)):
        steps += 1
        if steps % HEARTBEAT_EVERY == 0:
            with contextlib.suppress(UploadError):  # the server may be down: next time
                await rig.client.heartbeat({"state": "recording", "snapshot_jpeg_base64": SNAPSHOT})
        step = await rig.uploader.step()
        tally[step.outcome] = tally.get(step.outcome, 0) + 1
        assert step.outcome != "refused", step.detail
        if step.wait_s:
            rig.clock.advance(step.wait_s)  # backoff passes in virtual time
        if step.outcome != "done":
            await asyncio.sleep(0.02)


@pytest.fixture
def crash_server(tmp_path: Path) -> Iterator[tuple[LiveServer, list[tuple[str, str]]]]:
    """The server process with a teacher and ``UNITS`` units enrolled for her."""
    paths = prepare_data(tmp_path, {TEACHER: "teacher", "crash-admin": "admin"})
    db = open_database(paths.database)
    now = datetime.now(UTC)
    teacher = accounts.find_user(db, TEACHER)
    assert teacher is not None
    enrolled = []
    for n in range(UNITS + 1):  # the last one uploads with aiotus
        code, _ = fleet.new_enrolment_code(
            db, f"Room {n}", teacher["id"], now, timedelta(minutes=5), teacher["id"]
        )
        unit, token = fleet.enrol(db, code, now)
        enrolled.append((unit.id, token))
    db.close()
    running = LiveServer(paths, free_port(), tmp_path / "server.log")
    running.start()
    try:
        yield running, enrolled
    finally:
        running.stop()


async def _lesson_states(base: str, lessons: list[str]) -> dict[str, dict[str, object]]:
    """Each lesson as its teacher sees it, once none is still on its way (or time is up)."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as teacher:
        async with teacher.post(
            f"{base}/api/v1/session", json={"username": TEACHER, "password": PASSWORD}
        ) as answer:
            assert answer.status == 200, await answer.text()
        states: dict[str, dict[str, object]] = {}
        for _ in range(600):
            for rid in lessons:
                if states.get(rid, {}).get("state") in ("ready", "failed"):
                    continue
                async with teacher.get(f"{base}/api/v1/lessons/{rid}") as answer:
                    states[rid] = await answer.json() if answer.status == 200 else {}
            if all(s.get("state") in ("ready", "failed") for s in states.values()):
                break
            await asyncio.sleep(0.1)
        async with teacher.get(f"{base}/api/v1/lessons?limit=500") as answer:
            listing = await answer.json()
        listed = [lesson["id"] for lesson in listing["lessons"]]
        assert sorted(listed) == sorted(lessons), "each lesson listed exactly once"
        return states


async def _frames_lost(
    base: str, rid: str, media: dict[str, list[GeneratedSegment]], folder: Path
) -> list[str]:
    """What is wrong with the lesson's videos, fetched through the API: every uploaded frame
    must be there exactly once, in order."""
    problems = []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as teacher:
        async with teacher.post(
            f"{base}/api/v1/session", json={"username": TEACHER, "password": PASSWORD}
        ) as answer:
            assert answer.status == 200
        for cam in CAMERAS:
            async with teacher.get(f"{base}/api/v1/lessons/{rid}/cameras/{cam}/video") as answer:
                if answer.status != 200:
                    problems.append(f"{rid}/{cam}: video HTTP {answer.status}")
                    continue
                path = folder / f"{rid}-{cam}.mp4"
                path.write_bytes(await answer.read())
            indices = [f.index for f in await asyncio.to_thread(video_frames, path)]
            uploaded = sum(seg.frames for seg in media[cam])
            if indices != list(range(uploaded)):
                problems.append(
                    f"{rid}/{cam}: {len(indices)} frames, {len(set(indices))} distinct, "
                    f"{uploaded} uploaded"
                )
            sent = _packets(*(seg.path for seg in media[cam]))
            held = await asyncio.to_thread(_packets, path)
            if held != sent:
                problems.append(f"{rid}/{cam}: packets {held}, {sent} uploaded")
    return problems


def _packets(*paths: Path) -> dict[str, int]:
    """Packets with data per kind of stream (video, audio) in ``paths`` together."""
    counts: dict[str, int] = {}
    for path in paths:
        with av.open(str(path)) as container:
            for packet in container.demux():
                if packet.size:
                    counts[packet.stream.type] = counts.get(packet.stream.type, 0) + 1
    return counts


def _database_duplicates(db_path: Path, lessons: list[str]) -> list[str]:
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        problems = []
        ids = [r[0] for r in db.execute("SELECT id FROM recordings ORDER BY id")]
        if ids != sorted(lessons):
            problems.append(f"recordings {ids} != lessons {sorted(lessons)}")
        for table, key, per_lesson in (
            ("segments", "recording_id, camera, sequence", len(CAMERAS) * SEGMENTS),
            ("media", "recording_id, camera", len(CAMERAS)),
        ):
            twice = db.execute(
                f"SELECT {key}, count(*) FROM {table} GROUP BY {key} HAVING count(*) > 1"  # noqa: S608
            ).fetchall()
            problems += [f"{table}: {row} twice" for row in twice]
            counts = dict(
                db.execute(f"SELECT recording_id, count(*) FROM {table} GROUP BY recording_id")  # noqa: S608
            )
            problems += [
                f"{table}: {rid} has {counts.get(rid, 0)} rows, not {per_lesson}"
                for rid in lessons
                if counts.get(rid, 0) != per_lesson
            ]
        return problems
    finally:
        db.close()


@pytest.mark.slow
async def test_lessons_survive_server_crashes_during_uploads_and_assembly(
    crash_server: tuple[LiveServer, list[tuple[str, str]]],
    media: dict[str, list[GeneratedSegment]],
    tmp_path: Path,
) -> None:
    live, enrolled = crash_server
    print(f"server crash test: seed {SEED} (LESSONCAM_CRASH_SEED), {CRASHES} crashes")
    crasher = Crasher(live, CRASHES, random.Random(SEED))
    settings = UploadSettings(keep=KeepPolicy("keep_all"), chunk_bytes=CHUNK)
    sides = [
        UnitSide(
            n,
            await make_rig(tmp_path / f"unit-{n}", live.base, unit_id, token, settings=settings),
        )
        for n, (unit_id, token) in enumerate(enrolled[:UNITS])
    ]
    tus_lessons: list[str] = []
    tally: dict[str, int] = {}
    crashing = asyncio.create_task(asyncio.to_thread(crasher.run))
    recording = [asyncio.create_task(_record(u, media, crasher.done)) for u in sides]
    units = [
        asyncio.create_task(_upload(u, r, tally)) for u, r in zip(sides, recording, strict=True)
    ]
    tus_unit = _aiotus_unit(UNITS, live.base, enrolled[UNITS][1], media, crasher.done, tus_lessons)
    units.append(asyncio.create_task(tus_unit))
    try:
        await crashing
        assert crasher.error is None, f"{crasher.error!r}\n{live.log_tail()}"
        try:
            async with asyncio.timeout(SEND_DEADLINE_S):
                await asyncio.gather(*recording, *units)
        except TimeoutError:
            pass  # what did not arrive counts as lost below
        lessons = [rid for side in sides for rid in side.lessons] + tus_lessons
        states = await _lesson_states(live.base, lessons)
    finally:
        for task in (*recording, *units):
            task.cancel()
        await asyncio.gather(*recording, *units, return_exceptions=True)
        for side in sides:
            await side.rig.close()
        for crash in crasher.crashes:
            back = f" (back in {crash.restart_s} s)" if crash.restart_s else ""
            print(f"  kill -9 at {crash.seen}{back}")
        print(f"  {len(sides) + 1} units; uploader steps {tally}")
    print(f"  {len(lessons)} lessons")

    lost: dict[str, list[str]] = {}
    for rid in lessons:
        state = states.get(rid, {})
        if state.get("state") != "ready":
            lost[rid] = [f"state {state.get('state')}: {state.get('state_reason')}"]
            continue
        problems = await _frames_lost(live.base, rid, media, tmp_path)
        if problems:
            lost[rid] = problems
    reliability.add("server_crashes", len(crasher.crashes))
    reliability.add("lessons_lost", len(lost))
    reliability.add("server_crash_lessons", len(lessons))
    assert len(crasher.crashes) == CRASHES
    assert not lost, f"{lost}\n{live.log_tail()}"

    # The start-up clean-up runs at the next (clean) start; then nothing may be left over.
    live.restart()
    live.stop()
    duplicates = _database_duplicates(live.paths.database, lessons)
    assert not duplicates, duplicates
    orphans = audit_data_dir(live.paths)
    assert not orphans, "\n".join(orphans)
