"""From unit to player: register, upload (aiotus), complete, assemble, play with Range."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import av
import pytest

from lessoncam_server.media.remux import SegmentFile, assemble_camera
from lessoncam_server.services import Services

from ..mediagen import make_segments
from .helpers import FakeClock, Person, UnitClient, manifest, segment_metadata, upload_segment
from .lesson_fixtures import assembled, record, send_lesson

RID = "01JD0000000000000000000001"


async def test_a_two_camera_lesson_becomes_playable(
    anna: Person, unit: UnitClient, services: Services, clock: FakeClock, tmp_path: Path
) -> None:
    segments = record(tmp_path, seconds=20, cameras=("main", "pupils"))
    status = await send_lesson(unit, RID, clock.now, segments)
    assert status["expected"] == 4 and status["received"] == 4
    await assembled(services)

    lesson = await anna.json("GET", f"/api/v1/lessons/{RID}")
    assert lesson["state"] == "ready", lesson
    assert lesson["is_owner"] and lesson["access"]["manage"]
    assert abs(lesson["duration_s"] - 20.0) <= 1 / 30 + 1e-6
    main, pupils = lesson["cameras"]
    assert main["has_audio"] and not pupils["has_audio"] and main["gaps"] == []
    assert main["thumbnails"]["count"] >= 2

    data = await (await anna.request("GET", main["video_url"])).read()
    with av.open(io.BytesIO(data)) as container:
        kinds = sorted(s.type for s in container.streams)
        assert kinds == ["audio", "video"]
        assert abs(float(container.duration / av.time_base) - 20.0) < 0.1
    with av.open(io.BytesIO(await (await anna.request("GET", pupils["video_url"])).read())) as c:
        assert [s.type for s in c.streams] == ["video"]

    poster = await anna.request("GET", lesson["poster_url"])
    assert poster.status == 200 and (await poster.read()).startswith(b"\xff\xd8")
    thumbs = await anna.request("GET", main["thumbnails_url"])
    assert thumbs.status == 200

    library = await anna.json("GET", "/api/v1/lessons")
    assert [entry["id"] for entry in library["lessons"]] == [RID]
    # Both cameras were remuxed while their segments arrived: the stop left only the index.
    assert services.assembler is not None and services.assembler.live.used == 2


@pytest.mark.slow
async def test_segments_arriving_out_of_order_are_assembled_as_they_come(
    anna: Person, unit: UnitClient, services: Services, clock: FakeClock, tmp_path: Path
) -> None:
    segs = record(tmp_path, seconds=40)["main"]
    await unit.json("PUT", f"/api/v1/recordings/{RID}", 201, json=manifest(RID, clock.now))
    for seg in (segs[1], segs[0], segs[3], segs[2]):  # a retry reorders them
        await upload_segment(unit, RID, "main", seg.sequence, seg.path, seg.start_s, seg.duration_s)
    await unit.json("POST", f"/api/v1/recordings/{RID}/complete", json={"segments": {"main": 4}})
    await assembled(services)
    assert services.assembler is not None and services.assembler.live.used == 1
    lesson = await anna.json("GET", f"/api/v1/lessons/{RID}")
    assert lesson["state"] == "ready" and lesson["cameras"][0]["gaps"] == []
    live_file = tmp_path / "live.mp4"
    live_file.write_bytes(
        await (await anna.request("GET", lesson["cameras"][0]["video_url"])).read()
    )
    # The same packets, at the same times, as the full assembly of the same segments.
    full = assemble_camera(
        [SegmentFile(s.sequence, s.start_s, s.duration_s, s.path) for s in segs],
        4,
        tmp_path / "full.mp4",
    )
    assert packets(live_file) == packets(full.path)


def packets(path: Path) -> list[tuple[str, int | None, int | None, int, bool]]:
    with av.open(str(path)) as container:
        return [
            (p.stream.type, p.pts, p.dts, p.size, p.is_keyframe)
            for p in container.demux()
            if p.size
        ]


async def test_range_requests(
    anna: Person, unit: UnitClient, services: Services, clock: FakeClock, tmp_path: Path
) -> None:
    await send_lesson(unit, RID, clock.now, record(tmp_path, seconds=10))
    await assembled(services)
    url = f"/api/v1/lessons/{RID}/cameras/main/video"
    whole = await anna.request("GET", url)
    body = await whole.read()
    assert whole.status == 200 and whole.headers["Accept-Ranges"] == "bytes"
    assert whole.headers["Cache-Control"] == "no-store" and "Content-Encoding" not in whole.headers
    assert whole.headers["Content-Type"] == "video/mp4" and whole.headers.get("ETag")

    part = await anna.request(
        "GET", url, headers={"Range": "bytes=100-1099", "Accept-Encoding": "gzip"}
    )
    assert part.status == 206 and await part.read() == body[100:1100]
    assert part.headers["Content-Range"] == f"bytes 100-1099/{len(body)}"
    assert "Content-Encoding" not in part.headers
    tail = await anna.request("GET", url, headers={"Range": "bytes=-500"})
    assert tail.status == 206 and await tail.read() == body[-500:]
    beyond = await anna.request("GET", url, headers={"Range": f"bytes={len(body) + 10}-"})
    assert beyond.status == 416
    same = await anna.request("GET", url, headers={"If-None-Match": whole.headers["ETag"]})
    assert same.status == 304


@pytest.mark.slow
async def test_a_missing_segment_stays_a_gap(
    anna: Person, unit: UnitClient, services: Services, clock: FakeClock, tmp_path: Path
) -> None:
    segments = record(tmp_path, seconds=30)
    await send_lesson(
        unit, RID, clock.now, segments, skip=frozenset({("main", 1)}), declare_missing=True
    )
    await assembled(services)
    lesson = await anna.json("GET", f"/api/v1/lessons/{RID}")
    assert lesson["state"] == "ready"
    (gap,) = lesson["cameras"][0]["gaps"]
    assert gap[0] == pytest.approx(10.0, abs=0.05) and gap[1] == pytest.approx(20.0, abs=0.05)
    assert lesson["duration_s"] == pytest.approx(30.0, abs=0.05)
    assert services.assembler is not None and services.assembler.live.fell_back == 1


async def test_assembly_waits_for_the_last_segment(
    anna: Person, unit: UnitClient, services: Services, clock: FakeClock, tmp_path: Path
) -> None:
    segments = record(tmp_path, seconds=20)
    status = await send_lesson(unit, RID, clock.now, segments, skip=frozenset({("main", 1)}))
    assert status["waiting"] == {"main": [1]} and status["state"] == "receiving"
    lesson = await anna.json("GET", f"/api/v1/lessons/{RID}")
    assert lesson["state"] == "receiving" and lesson["progress"] == {"received": 1, "expected": 2}
    late = segments["main"][1]
    await upload_segment(unit, RID, "main", 1, late.path, late.start_s, late.duration_s)
    await assembled(services)
    assert (await anna.json("GET", f"/api/v1/lessons/{RID}"))["state"] == "ready"


async def test_every_unit_step_is_idempotent(
    unit: UnitClient, clock: FakeClock, tmp_path: Path
) -> None:
    body = manifest(RID, clock.now)
    path = f"/api/v1/recordings/{RID}"
    await unit.json("PUT", path, 201, json=body)
    await unit.json("PUT", path, 200, json=body)
    other = manifest(RID, clock.now, cameras=("main", "pupils"))
    assert (await unit.request("PUT", path, json=other)).status == 409
    seg = make_segments(tmp_path, seconds=10)[0]
    for _ in range(2):  # the same segment twice: confirmed twice, stored once
        await upload_segment(unit, RID, "main", 0, seg.path, seg.start_s, seg.duration_s)
    status = await unit.json("GET", path)
    assert status["segments"] == {"main": [{"sequence": 0, "sha256": seg.sha256}]}
    done = {"segments": {"main": 1}}
    await unit.json("POST", f"{path}/complete", json=done)
    await unit.json("POST", f"{path}/complete", json=done)
    assert (
        await unit.request("POST", f"{path}/complete", json={"segments": {"main": 2}})
    ).status == 409


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"recording": "01JDUNKNOWN00000000000000"}, 404, "unknown recording"),
        ({"camera": "ceiling"}, 400, "not in the recording"),
        ({"sha256": "zz"}, 400, "sha256"),
        ({"sequence": "-1"}, 400, "sequence"),
    ],
)
async def test_segment_uploads_are_checked_before_any_byte(
    unit: UnitClient, clock: FakeClock, change: dict[str, str], status: int, words: str
) -> None:
    await unit.json("PUT", f"/api/v1/recordings/{RID}", 201, json=manifest(RID, clock.now))
    meta = {
        k: (v or b"").decode() for k, v in segment_metadata(RID, "main", 0, b"x", 0, 10).items()
    }
    meta.update(change)
    response = await unit.request(
        "POST",
        "/api/v1/uploads/",
        headers={
            **unit.headers,
            "Tus-Resumable": "1.0.0",
            "Upload-Length": "1",
            "Upload-Metadata": _encode(meta),
        },
    )
    assert response.status == status and words in await response.text()


async def test_a_corrupted_segment_is_refused(
    unit: UnitClient, clock: FakeClock, services: Services
) -> None:
    await unit.json("PUT", f"/api/v1/recordings/{RID}", 201, json=manifest(RID, clock.now))
    meta = {
        k: (v or b"").decode() for k, v in segment_metadata(RID, "main", 0, b"good", 0, 10).items()
    }
    headers = {
        **unit.headers,
        "Tus-Resumable": "1.0.0",
        "Upload-Length": "4",
        "Upload-Metadata": _encode(meta),
        "Content-Type": "application/offset+octet-stream",
    }
    response = await unit.request("POST", "/api/v1/uploads/", headers=headers, data=b"evil")
    assert response.status == 460
    status = await unit.json("GET", f"/api/v1/recordings/{RID}")
    assert status["segments"] == {}


async def test_unassigned_recordings_wait_for_an_admin(
    admin: Person,
    unit: UnitClient,
    sign_in: Callable[..., Awaitable[Person]],
    services: Services,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    anna = await sign_in("anna")
    await send_lesson(unit, RID, clock.now, record(tmp_path, seconds=10))
    await assembled(services)
    assert (await anna.json("GET", "/api/v1/lessons"))["lessons"] == []
    assert (await anna.request("GET", f"/api/v1/lessons/{RID}")).status == 404
    assert (await admin.request("GET", f"/api/v1/lessons/{RID}")).status == 404
    waiting = await admin.json("GET", "/api/v1/unassigned-recordings")
    assert [r["id"] for r in waiting["recordings"]] == [RID]
    refused = await admin.request(
        "POST", f"/api/v1/unassigned-recordings/{RID}/assign", json={"teacher": "ict-admin"}
    )
    assert refused.status == 400
    await admin.json(
        "POST", f"/api/v1/unassigned-recordings/{RID}/assign", json={"teacher": "anna"}
    )
    assert (await anna.json("GET", f"/api/v1/lessons/{RID}"))["state"] == "ready"
    again = await admin.request(
        "POST", f"/api/v1/unassigned-recordings/{RID}/assign", json={"teacher": "anna"}
    )
    assert again.status == 404


async def test_assembly_resumes_after_a_restart(
    anna: Person,
    unit: UnitClient,
    services: Services,
    clock: FakeClock,
    tmp_path: Path,
    config: Any,
    aiohttp_server: Any,
) -> None:
    """A recording left 'assembling' (server killed mid-way) is assembled at the next start."""
    await send_lesson(unit, RID, clock.now, record(tmp_path, seconds=10))
    await assembled(services)
    services.db.table("recordings").update(RID, {"state": "assembling"})
    (services.paths.recording_dir(RID) / "main.v2.mp4.tmp").write_bytes(b"half a file")
    from lessoncam_server.app import init_app
    from lessoncam_server.services import SERVICES

    second = await aiohttp_server(init_app(config, clock=clock))
    await assembled(second.app[SERVICES])
    row = second.app[SERVICES].db.table("recordings").get(RID)
    assert row["state"] == "ready" and row["media_version"] == 2
    names = sorted(p.name for p in services.paths.recording_dir(RID).iterdir())
    assert names == ["main.v2.mp4", "main.v2.thumbs.jpg", "poster.v2.jpg", "segments"]


def _encode(meta: dict[str, str]) -> str:
    import base64

    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items())


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (lambda m: m.pop("started_at"), "started_at"),
        (lambda m: m.update(started_at="2026-11-25T08:30:00"), "timezone"),
        (lambda m: m["cameras"][0].update(role="second"), "exactly one camera"),
        (lambda m: m.update(audio_camera="ceiling"), "audio_camera"),
        (lambda m: m["cameras"][0].update(id="../etc"), "cameras.0.id"),
        (lambda m: m.update(cameras=[]), "cameras"),
        (lambda m: m.update(extra_field=1), "extra_field"),
    ],
)
async def test_malformed_manifests_get_400_naming_the_field(
    unit: UnitClient, clock: FakeClock, mutate: Any, words: str
) -> None:
    body = manifest(RID, clock.now)
    mutate(body)
    response = await unit.request("PUT", f"/api/v1/recordings/{RID}", json=body)
    answer = await response.json()
    assert response.status == 400 and words in answer["message"], answer
    assert (await unit.request("GET", f"/api/v1/recordings/{RID}")).status == 404


async def test_a_recording_id_in_the_url_must_match(unit: UnitClient, clock: FakeClock) -> None:
    response = await unit.request(
        "PUT", "/api/v1/recordings/01JDOTHER0000000000000000", json=manifest(RID, clock.now)
    )
    assert response.status == 400


async def test_the_library_comes_a_page_at_a_time_newest_first(
    anna: Person, unit: UnitClient, clock: FakeClock
) -> None:
    ids = [f"01JD000000000000000000000{n}" for n in (4, 5, 6)]
    for hours, rid in enumerate(ids):
        started = clock.now - timedelta(hours=3 - hours)  # the last one is the newest
        await unit.json("PUT", f"/api/v1/recordings/{rid}", 201, json=manifest(rid, started))
    first = await anna.json("GET", "/api/v1/lessons?limit=2")
    assert [x["id"] for x in first["lessons"]] == [ids[2], ids[1]]
    assert first["total"] == 3 and first["next_offset"] == 2
    rest = await anna.json("GET", "/api/v1/lessons?limit=2&offset=2")
    assert [x["id"] for x in rest["lessons"]] == [ids[0]] and rest["next_offset"] is None
    refused = await anna.request("GET", "/api/v1/lessons?limit=0")
    assert refused.status == 400


async def test_a_start_that_recorded_nothing_leaves_no_lesson_behind(
    anna: Person, unit: UnitClient, services: Services, clock: FakeClock, tmp_path: Path
) -> None:
    """The camera did not open: the unit closes the recording with no segment. Each press
    must not leave an empty "failed" lesson in the teacher's library."""
    path = f"/api/v1/recordings/{RID}"
    await unit.json("PUT", path, 201, json=manifest(RID, clock.now))
    done = {"segments": {"main": 0}, "interrupted": True}
    answer = await unit.json("POST", f"{path}/complete", json=done)
    assert answer["state"] == "discarded" and answer["received"] == 0
    assert (await anna.json("GET", "/api/v1/lessons"))["lessons"] == []
    assert services.db.execute("SELECT COUNT(*) FROM recordings").fetchone()[0] == 0
    # The unit was not sure and asks again: unknown now (it registers it again, and so on).
    await unit.json("POST", f"{path}/complete", 404, json=done)
    await assembled(services)
    assert services.db.execute("SELECT COUNT(*) FROM recordings").fetchone()[0] == 0

    # One camera with segments and one without is a lesson as before.
    other = "01JD0000000000000000000002"
    segs = record(tmp_path, seconds=10)["main"]
    await unit.json("PUT", f"/api/v1/recordings/{other}", 201, json=manifest(other, clock.now))
    for seg in segs:
        await upload_segment(
            unit, other, "main", seg.sequence, seg.path, seg.start_s, seg.duration_s
        )
    kept = await unit.json(
        "POST", f"/api/v1/recordings/{other}/complete", json={"segments": {"main": len(segs)}}
    )
    assert kept["state"] != "discarded"
