"""The video route's Range edge cases (RFC 9110): what a browser, a download manager resuming
a download and a hostile client send."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lessoncam_server.services import Services

from .helpers import FakeClock, Person, UnitClient
from .lesson_fixtures import ready_lesson

RID = "01JD0000000000000000000050"
VIDEO = f"/api/v1/lessons/{RID}/cameras/main/video"


@pytest.fixture
async def whole(
    anna: Person, unit: UnitClient, services: Services, clock: FakeClock, tmp_path: Path
) -> bytes:
    """The lesson's main video, as a plain GET gets it."""
    await ready_lesson(unit, services, clock.now, tmp_path, RID, seconds=4)
    response = await anna.request("GET", VIDEO)
    assert response.status == 200
    return await response.read()


async def test_a_range_of_no_bytes_is_not_satisfiable(anna: Person, whole: bytes) -> None:
    response = await anna.request("GET", VIDEO, headers={"Range": "bytes=-0"})
    assert response.status == 416
    assert response.headers["Content-Range"] == f"bytes */{len(whole)}"
    assert (await response.json())["error"] == "range_not_satisfiable"


async def test_if_range_with_a_stale_entity_tag_gets_the_whole_file(
    anna: Person, whole: bytes, services: Services
) -> None:
    first = await anna.request("GET", VIDEO, headers={"Range": "bytes=0-99"})
    etag = first.headers["ETag"]
    assert first.status == 206 and etag.startswith('"') and await first.read() == whole[:100]
    resumed = await anna.request("GET", VIDEO, headers={"Range": "bytes=100-", "If-Range": etag})
    assert resumed.status == 206 and await resumed.read() == whole[100:]
    # The lesson's file is made again (a new version, as a re-assembly writes): the old tag
    # no longer names it, so the whole new file comes, never half of each.
    path = next(services.paths.root.rglob("main.v*.mp4"))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    stale = await anna.request("GET", VIDEO, headers={"Range": "bytes=100-", "If-Range": etag})
    assert stale.status == 200 and await stale.read() == whole
    weak = await anna.request(
        "GET", VIDEO, headers={"Range": "bytes=100-", "If-Range": "W/" + etag}
    )
    assert weak.status == 200 and await weak.read() == whole


async def test_head_answers_like_get_without_a_body(anna: Person, whole: bytes) -> None:
    response = await anna.request("HEAD", VIDEO)
    assert response.status == 200
    assert int(response.headers["Content-Length"]) == len(whole)
    assert response.headers["Accept-Ranges"] == "bytes"
    assert await response.read() == b""


async def test_two_ranges_get_the_whole_file(anna: Person, whole: bytes) -> None:
    response = await anna.request("GET", VIDEO, headers={"Range": "bytes=0-1,5-6"})
    assert response.status == 200 and await response.read() == whole
