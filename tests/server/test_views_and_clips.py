"""Who viewed a lesson, and clips: a fragment cut into a lesson of its own."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from pathlib import Path

import av
import pytest

from lessoncam_server.lessons import clips, housekeeping, retention
from lessoncam_server.services import Services

from ..mediagen import read_frame_index
from .helpers import FakeClock, Person, UnitClient
from .lesson_fixtures import assembled, ready_lesson, record, send_lesson

RID = "01JD0000000000000000000020"
L = f"/api/v1/lessons/{RID}"


async def test_the_owner_sees_who_viewed_and_when(
    anna: Person,
    unit: UnitClient,
    services: Services,
    clock: FakeClock,
    tmp_path: Path,
    sign_in: Callable[..., Awaitable[Person]],
) -> None:
    await ready_lesson(unit, services, clock.now, tmp_path, RID, seconds=10)
    bert = await sign_in("bert")
    carla = await sign_in("carla")
    for name in ("bert", "carla"):
        await anna.json("POST", f"{L}/shares", 201, json={"username": name})
    first = clock.now
    await anna.json("GET", L)  # the owner's own visits are not counted
    await bert.json("GET", L)
    clock.advance(minutes=30)
    await bert.json("GET", L)
    await carla.json("GET", L)
    media = await bert.request("GET", f"{L}/cameras/main/video")  # fetching media: not "opening"
    await media.read()  # all of it: a half-sent video holds the server's shutdown for minutes

    views = (await anna.json("GET", f"{L}/views"))["views"]
    assert [(v["username"], v["count"]) for v in views] == [("bert", 2), ("carla", 1)]
    assert views[0]["first_viewed_at"].startswith(first.strftime("%Y-%m-%dT%H:%M"))
    assert views[0]["last_viewed_at"] == views[1]["last_viewed_at"] > views[0]["first_viewed_at"]
    assert views[0]["display_name"]
    for person in (bert, carla):
        assert (await person.json("GET", f"{L}/views", 403))["error"] == "forbidden"


def _packets(data: bytes, start_s: float, end_s: float) -> list[bytes]:
    with av.open(io.BytesIO(data)) as c:
        stream = c.streams.video[0]
        out = []
        for p in c.demux(stream):
            if p.pts is not None and p.size and start_s - 1e-3 <= p.pts * stream.time_base < end_s:
                out.append(bytes(p))
        return out


def _first_frame(data: bytes) -> tuple[float, int]:
    with av.open(io.BytesIO(data)) as c:
        frame = next(c.decode(video=0))
        return float(frame.time), read_frame_index(frame)


@pytest.mark.slow
async def test_a_clip_is_a_lesson_of_its_own_with_only_its_minutes(
    anna: Person,
    unit: UnitClient,
    services: Services,
    clock: FakeClock,
    tmp_path: Path,
    sign_in: Callable[..., Awaitable[Person]],
) -> None:
    await ready_lesson(
        unit, services, clock.now, tmp_path, RID, seconds=20, cameras=("main", "pupils")
    )
    made = await anna.json(
        "POST", f"{L}/clips", 202, json={"start_s": 5.2, "end_s": 11.5, "title": "Wait time"}
    )
    clip = made["clip"]
    assert clip["state"] == "assembling" and clip["kind"] == "clip"
    await assembled(services)
    C = f"/api/v1/lessons/{clip['id']}"
    clip = await anna.json("GET", C)
    assert clip["state"] == "ready", clip
    assert clip["title"] == "Wait time" and clip["clip_of"]["id"] == RID
    # Cut at keyframes (one per second): from 5 s to 12 s of the lesson.
    assert (clip["clip_of"]["start_s"], clip["clip_of"]["end_s"]) == (5.0, 12.0)
    assert abs(clip["duration_s"] - 7.0) < 0.1
    assert [c["id"] for c in clip["cameras"]] == ["main", "pupils"]
    assert all(c["video_url"] and c["thumbnails"] for c in clip["cameras"])

    # Never re-encoded: the clip's video packets are the lesson's, byte for byte.
    source = await (await anna.request("GET", f"{L}/cameras/main/video")).read()
    main = await (await anna.request("GET", f"{C}/cameras/main/video")).read()
    assert _packets(main, 0, 99) == _packets(source, 5.0, 12.0)
    # Both cameras on the clip's timeline: at 0 s both show the lesson's frame at 5 s.
    pupils = await (await anna.request("GET", f"{C}/cameras/pupils/video")).read()
    assert _first_frame(main) == (0.0, 150)
    time_s, index = _first_frame(pupils)
    assert index == round((5.0 + time_s) * 30)
    with av.open(io.BytesIO(main)) as c:
        assert sorted(s.type for s in c.streams) == ["audio", "video"]
    poster = await anna.request("GET", clip["poster_url"])
    assert poster.status == 200

    # Shared on its own: the colleague sees the clip, never the lesson it came from.
    bert = await sign_in("bert")
    await anna.json("POST", f"{C}/shares", 201, json={"username": "bert"})
    library = (await bert.json("GET", "/api/v1/lessons"))["lessons"]
    assert [entry["id"] for entry in library] == [clip["id"]]
    assert library[0]["clip_of"] is None and library[0]["kind"] == "clip"
    assert (await bert.request("GET", f"{C}/cameras/pupils/video")).status == 200
    for path in (L, f"{L}/cameras/main/video", f"{L}/comments"):
        assert (await bert.request("GET", path)).status == 404
    # The unit that recorded the lesson has nothing to do with the clip.
    assert (await unit.request("GET", f"/api/v1/recordings/{clip['id']}")).status == 404
    complete = {"segments": {"main": 1}}
    done = await unit.request("POST", f"/api/v1/recordings/{clip['id']}/complete", json=complete)
    assert done.status == 404
    listed = (await anna.json("GET", f"{L}/clips"))["clips"]
    assert [c["id"] for c in listed] == [clip["id"]]

    # The lesson deleted: the clip stays (its owner's to delete), no longer linked.
    await anna.json("DELETE", L, 204)
    kept = await anna.json("GET", C)
    assert kept["state"] == "ready" and kept["clip_of"]["id"] is None
    assert (await bert.request("GET", C)).status == 200


async def test_bad_clips_and_deleting_with_clips(
    anna: Person,
    unit: UnitClient,
    services: Services,
    clock: FakeClock,
    tmp_path: Path,
    sign_in: Callable[..., Awaitable[Person]],
) -> None:
    await ready_lesson(unit, services, clock.now, tmp_path, RID, seconds=10)
    for body, code in (
        ({"start_s": 4, "end_s": 2}, "end_before_start"),
        ({"start_s": 4, "end_s": 4.5}, "clip_too_short"),
        ({"start_s": 4, "end_s": 30}, "time_past_end"),
        ({"start_s": -1, "end_s": 3}, "time_negative"),
        ({"start_s": 1, "end_s": 3, "title": "t" * 201}, "title_too_long"),
    ):
        assert (await anna.json("POST", f"{L}/clips", 422, json=body))["error"] == code
    viewer = await sign_in("viewer")
    await anna.json("POST", f"{L}/shares", 201, json={"username": "viewer", "role": "commenter"})
    await viewer.json("POST", f"{L}/clips", 403, json={"start_s": 1, "end_s": 3})
    assert services.db.execute("SELECT COUNT(*) FROM recordings").fetchone()[0] == 1

    clip = (await anna.json("POST", f"{L}/clips", 202, json={"start_s": 1, "end_s": 3}))["clip"]
    tail = (await anna.json("POST", f"{L}/clips", 202, json={"start_s": 6.5, "end_s": 10}))["clip"]
    await assembled(services)
    tail = await anna.json("GET", f"/api/v1/lessons/{tail['id']}")
    assert tail["state"] == "ready" and abs(tail["duration_s"] - 4.0) < 0.1  # up to the end
    await anna.json("DELETE", f"{L}?with_clips=1", 204)
    assert services.db.execute("SELECT COUNT(*) FROM recordings").fetchone()[0] == 0
    assert not services.paths.recording_dir(clip["id"]).exists()


async def test_a_clip_expires_with_its_lesson(
    anna: Person, unit: UnitClient, services: Services, clock: FakeClock, tmp_path: Path
) -> None:
    await ready_lesson(unit, services, clock.now, tmp_path, RID, seconds=10)
    await anna.json("POST", f"{L}/clips", 202, json={"start_s": 2, "end_s": 6})
    await assembled(services)
    days = retention.retention_days(services.db, services.config.retention.days)
    clock.advance(days=days, seconds=1)
    deleted = housekeeping.sweep(services)
    assert len(deleted) == 1 and deleted == [RID]  # the clip starts 2 s later
    clock.advance(seconds=2)
    assert len(housekeeping.sweep(services)) == 1
    assert services.db.execute("SELECT COUNT(*) FROM recordings").fetchone()[0] == 0


@pytest.mark.slow
async def test_a_hole_in_the_lesson_stays_a_hole_in_its_clip(
    anna: Person, unit: UnitClient, services: Services, clock: FakeClock, tmp_path: Path
) -> None:
    segments = record(tmp_path, seconds=30)
    await send_lesson(
        unit, RID, clock.now, segments, skip=frozenset({("main", 1)}), declare_missing=True
    )
    await assembled(services)
    lesson = await anna.json("GET", L)
    assert lesson["cameras"][0]["gaps"] == [[10.0, 20.0]]
    clip = (await anna.json("POST", f"{L}/clips", 202, json={"start_s": 5, "end_s": 25}))["clip"]
    await assembled(services)
    clip = await anna.json("GET", f"/api/v1/lessons/{clip['id']}")
    assert clip["state"] == "ready" and abs(clip["duration_s"] - 20.0) < 0.1
    assert clip["cameras"][0]["gaps"] == [[5.0, 15.0]]
    data = await (await anna.request("GET", clip["cameras"][0]["video_url"])).read()
    times = []
    with av.open(io.BytesIO(data)) as c:
        for frame in c.decode(video=0):
            times.append((float(frame.time), read_frame_index(frame)))
    assert times[0] == (0.0, 150)
    after_hole = next(t for t in times if t[0] >= 15.0 - 1e-3)
    assert after_hole == (15.0, 600)  # the content after the hole keeps its true time


async def test_a_clip_cut_short_by_a_restart_is_cut_after_it(
    anna: Person, unit: UnitClient, services: Services, clock: FakeClock, tmp_path: Path
) -> None:
    await ready_lesson(unit, services, clock.now, tmp_path, RID, seconds=10)
    source = services.db.execute("SELECT * FROM recordings WHERE id = ?", [RID])
    row = dict(zip([c[0] for c in source.description], source.fetchone(), strict=True))
    # Registered, then the server stopped before the assembler got to it.
    clip = clips.create(services.db, row, 2.0, 6.0, "after restart", clock.now)
    assert services.assembler is not None
    services.assembler.resume()  # what the server does at start-up
    await assembled(services)
    summary = await anna.json("GET", f"/api/v1/lessons/{clip['id']}")
    assert summary["state"] == "ready" and abs(summary["duration_s"] - 4.0) < 0.1
