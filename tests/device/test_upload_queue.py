"""The SQLite upload queue: what the recorder adds, the order of work, explicit statuses, and
that everything survives a restart (a new queue object on the same file)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lessoncam_device.enrolment import Credentials
from lessoncam_device.segments import SegmentInfo
from lessoncam_device.sim.clock import VirtualClock
from lessoncam_device.uploader import DB_FILE, QueuedSegment, ServerClient, Uploader, UploadQueue

from .upload_helpers import make_plan, wait_until

RID = "01JD7Q3W9X4M2N8P5R6S7T8V9W"
RID2 = "01JD7Q3W9X4M2N8P5R6S7T8V9X"


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[UploadQueue]:
    q = UploadQueue.open(tmp_path / "state")
    yield q
    q.close()


def seg(rid: str, camera: str, sequence: int, start_s: float | None = None) -> SegmentInfo:
    return SegmentInfo(
        recording_id=rid,
        camera=camera,
        sequence=sequence,
        start_s=sequence * 10.0 if start_s is None else start_s,
        duration_s=10.0,
        path=Path(f"/rec/{rid}/{camera}/{sequence}.ts"),
        sha256=f"{sequence:064x}",
        size=1000 + sequence,
    )


def names(segments: list[QueuedSegment]) -> list[str]:
    return [s.name for s in segments]


def test_adding_is_idempotent_and_contradictions_are_refused(queue: UploadQueue) -> None:
    plan = make_plan(RID)
    queue.add_recording(plan)
    queue.add_recording(plan)
    with pytest.raises(ValueError, match="another plan"):
        queue.add_recording(replace(plan, segment_seconds=6))
    queue.add_segment(seg(RID, "main", 0))
    queue.add_segment(seg(RID, "main", 0))
    assert queue.queue_length() == 1
    with pytest.raises(ValueError, match="another sha256"):
        queue.add_segment(replace(seg(RID, "main", 0), sha256="f" * 64))
    with pytest.raises(ValueError, match="unknown recording"):
        queue.add_segment(seg(RID2, "main", 0))
    with pytest.raises(ValueError, match="not in recording"):
        queue.add_segment(seg(RID, "ceiling", 0))
    rec = queue.recording(RID)
    assert rec is not None and rec.state == "recording" and not rec.registered
    assert rec.manifest == plan.manifest()
    assert queue.open_recordings() == [RID]


def test_upload_order_oldest_recording_then_time_then_main_camera(queue: UploadQueue) -> None:
    later = make_plan(RID2, "2026-11-02T10:00:00.000000+00:00")
    # The second camera listed first in the plan: the main one still goes first at a tie.
    earlier = replace(make_plan(RID), cameras=tuple(reversed(make_plan(RID).cameras)))
    queue.add_recording(later)
    queue.add_recording(earlier)
    for rid in (RID2, RID):
        for sequence in (1, 0):
            queue.add_segment(seg(rid, "pupils", sequence))
            queue.add_segment(seg(rid, "main", sequence))
    assert queue.pending_segments() == []  # nothing before the server knows the recording
    assert [r.recording_id for r in queue.pending_registrations()] == [RID, RID2]
    queue.mark_registered(RID)
    queue.mark_registered(RID2)
    expected = [
        f"{cam}/{n} of {rid}" for rid in (RID, RID2) for n in (0, 1) for cam in ("main", "pupils")
    ]
    assert names(queue.pending_segments()) == expected


def test_time_decides_before_the_camera(queue: UploadQueue) -> None:
    queue.add_recording(make_plan(RID))
    queue.mark_registered(RID)
    queue.add_segment(seg(RID, "main", 1, start_s=10.0))
    queue.add_segment(seg(RID, "pupils", 1, start_s=9.9))
    assert names(queue.pending_segments()) == [f"pupils/1 of {RID}", f"main/1 of {RID}"]


def test_closing_declares_never_queued_segments_missing(queue: UploadQueue) -> None:
    queue.add_recording(make_plan(RID))
    for sequence in (0, 2, 3):
        queue.add_segment(seg(RID, "main", sequence))
    queue.add_segment(seg(RID, "pupils", 0))
    queue.close_recording(RID, {"main": 4, "pupils": 2}, {"pupils": [1]}, interrupted=True)
    rec = queue.recording(RID)
    assert rec is not None and rec.state == "interrupted"
    assert rec.completion() == {
        "segments": {"main": 4, "pupils": 2},
        "missing": {"main": [1], "pupils": [1]},
        "interrupted": True,
    }
    assert queue.open_recordings() == []


@pytest.mark.parametrize(
    ("counts", "match"),
    [({"main": 1, "pupils": 0}, ">= count"), ({"main": 2}, "no count"), ({"x": 1}, "not in")],
)
def test_closing_with_counts_that_contradict_the_queue(
    queue: UploadQueue, counts: dict[str, int], match: str
) -> None:
    queue.add_recording(make_plan(RID))
    queue.add_segment(seg(RID, "main", 1))
    queue.add_segment(seg(RID, "pupils", 0))
    with pytest.raises(ValueError, match=match):
        queue.close_recording(RID, counts)


def test_a_recording_completes_only_when_closed_and_every_segment_confirmed(
    queue: UploadQueue,
) -> None:
    queue.add_recording(make_plan(RID))
    queue.add_segment(seg(RID, "main", 0))
    queue.mark_registered(RID)
    assert queue.pending_completions() == []  # still recording
    queue.close_recording(RID, {"main": 1, "pupils": 0})
    assert queue.pending_completions() == []  # main/0 not confirmed
    queue.start_upload((RID, "main", 0), "/api/v1/uploads/abc")
    assert queue.pending_completions() == []
    queue.mark_uploaded((RID, "main", 0))
    assert [r.recording_id for r in queue.pending_completions()] == [RID]
    queue.mark_completed(RID)
    assert queue.pending_completions() == []


def test_only_a_confirmed_segment_can_be_marked_deleted(queue: UploadQueue) -> None:
    queue.add_recording(make_plan(RID))
    queue.add_segment(seg(RID, "main", 0))
    key = (RID, "main", 0)
    assert not queue.mark_deleted(key)
    queue.start_upload(key, "/api/v1/uploads/abc")
    assert not queue.mark_deleted(key)
    assert queue.segment(key).status == "uploading"  # type: ignore[union-attr]
    queue.mark_uploaded(key)
    assert queue.mark_deleted(key)
    assert queue.segment(key).status == "deleted"  # type: ignore[union-attr]
    assert queue.queue_length() == 0


def test_last_error_prefers_the_unit_wide_one_then_the_newest_pending(tmp_path: Path) -> None:
    clock = VirtualClock()
    queue = UploadQueue.open(tmp_path, now=clock.now)
    try:
        queue.add_recording(make_plan(RID))
        queue.add_segment(seg(RID, "main", 0))
        queue.add_segment(seg(RID, "main", 1))
        assert queue.last_error() is None
        queue.segment_failed((RID, "main", 1), "cannot reach the server", None)  # unit-wide
        queue.segment_failed((RID, "main", 0), "main/0: HTTP 409", clock.now())
        clock.advance(1)
        queue.recording_failed(RID, "register: HTTP 400", clock.now() + timedelta(seconds=5))
        assert queue.last_error() == "register: HTTP 400"
        queue.set_global_error("cannot reach the server")
        assert queue.last_error() == "cannot reach the server"
        queue.set_global_error(None)
        queue.mark_registered(RID)  # clears the recording's error
        assert queue.last_error() == "main/0: HTTP 409"
        queue.mark_uploaded((RID, "main", 0))
        assert queue.last_error() is None
    finally:
        queue.close()


def test_everything_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = UploadQueue.open(state)
    first.add_recording(make_plan(RID))
    first.add_segment(seg(RID, "main", 0))
    first.add_segment(seg(RID, "main", 1))
    first.mark_registered(RID)
    first.start_upload((RID, "main", 0), "/api/v1/uploads/abc")
    first.segment_failed((RID, "main", 0), "cut", None)
    first.close()

    again = UploadQueue.open(state)  # migrations run once; a second open changes nothing
    try:
        (s0, s1) = again.pending_segments()
        assert (s0.status, s0.upload_url, s0.attempts, s0.last_error) == (
            "uploading",
            "/api/v1/uploads/abc",
            1,
            "cut",
        )
        assert s1.status == "queued" and s1.upload_url is None
        assert s0.metadata() == {
            "recording": RID,
            "camera": "main",
            "sequence": "0",
            "sha256": "0" * 64,
            "start_s": "0.000000",
            "duration_s": "10.000000",
        }
    finally:
        again.close()
    with contextlib.closing(sqlite3.connect(state / DB_FILE)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        applied = conn.execute("SELECT name FROM _sqlite_migrations").fetchall()
        assert applied == [("m001_queue",)]


def test_listeners_hear_of_changes_and_bad_ones_do_no_harm(queue: UploadQueue) -> None:
    heard: list[str] = []

    def broken() -> None:
        raise RuntimeError("boom")

    queue.add_listener(broken)
    queue.add_listener(lambda: heard.append("x"))
    queue.add_recording(make_plan(RID))
    queue.add_segment(seg(RID, "main", 0))
    queue.close_recording(RID, {"main": 1, "pupils": 0})
    assert heard == ["x", "x", "x"]
    queue.remove_listener(broken)
    with pytest.raises(ValueError):
        queue.add_segment(seg(RID2, "main", 0))
    assert heard == ["x", "x", "x"]  # a refused change is no change


async def test_the_recorder_thread_wakes_the_upload_loop(tmp_path: Path) -> None:
    clock = VirtualClock()
    queue = UploadQueue.open(tmp_path, now=clock.now)
    # Nothing listens on port 9: the attempt fails fast, which is enough to see it was made.
    client = ServerClient(Credentials("http://127.0.0.1:9", "unit", "token"))
    uploader = Uploader(queue, client, clock)
    task = asyncio.create_task(uploader.run())
    try:
        await asyncio.sleep(0.01)  # the loop idles: nothing is queued
        await asyncio.to_thread(queue.add_recording, make_plan(RID))

        def tried() -> bool:
            rec = queue.recording(RID)
            return rec is not None and rec.attempts > 0

        await wait_until(tried)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await client.close()
        queue.close()


def test_times_are_stored_in_utc(tmp_path: Path) -> None:
    moment = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    queue = UploadQueue.open(tmp_path, now=lambda: moment)
    try:
        queue.add_recording(make_plan(RID))
        queue.add_segment(seg(RID, "main", 0))
        queue.mark_uploaded((RID, "main", 0))
        assert queue.oldest_confirmation() == moment
        assert [s.uploaded_at for s in queue.confirmed_segments(moment)] == [moment]
        assert queue.confirmed_segments(moment - timedelta(seconds=1)) == []
    finally:
        queue.close()
