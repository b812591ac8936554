"""Load on loopback: viewers streaming ranges of a real assembled lesson, units uploading
segments with a real tus client (aiotus) and colleagues posting comments, all at once.

The server runs as its own process. Every request must succeed (206 with exactly the asked
bytes, a finished upload, 201 for a comment); the run is bounded by a deadline and stops by
itself. The API latency (comments posted and read) is measured as a figure for the suite
(``load_api_p99_ms``), never asserted: a test does not time things.
"""

from __future__ import annotations

import asyncio
import io
import random
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import aiotus
import pytest
from yarl import URL

from lessoncam_server.access.sessions import COOKIE_NAME

from .. import reliability
from ..mediagen import GeneratedSegment, make_segments
from .helpers import manifest, segment_metadata
from .live import PASSWORD, LiveServer, live_server

DURATION_S = reliability.sized(3, 120)
VIEWERS = reliability.sized(4, 100)
UNITS = reliability.sized(2, 10)
COMMENTERS = reliability.sized(2, 10)
# Think times: a player asks for its next range about once a second, a person types.
VIEWER_PAUSE_S = 0.5
COMMENTER_PAUSE_S = 1.0
# A unit catching up after a Wi-Fi outage sends its lesson at most this many times faster than
# it was recorded: 1080p at ~6 Mbit/s over a ~25 Mbit/s share of the classroom's Wi-Fi. Unpaced
# on loopback each unit sent ~30x real time (10 units: ~1.8 Gbit/s of 1080p, more than the
# server's network port could carry), which measured the media remux, not the API.
CATCH_UP_SPEED = 4.0
LESSON = "01JDLQADLESS0N00000000000A"


@dataclass
class Tally:
    requests: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    api_ms: dict[str, list[float]] = field(default_factory=dict)  # by method

    def ok(self, kind: str) -> None:
        self.requests[kind] = self.requests.get(kind, 0) + 1

    def error(self, kind: str, what: str) -> None:
        self.ok(kind)
        self.errors.append(f"{kind}: {what}")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    users = {"load-admin": "admin", "load-teacher": "teacher"}
    users |= {f"colleague-{n}": "teacher" for n in range(COMMENTERS)}
    with live_server(tmp_path_factory.mktemp("load"), users) as running:
        yield running


def _jar() -> aiohttp.CookieJar:
    return aiohttp.CookieJar(unsafe=True)  # keep cookies from 127.0.0.1, as a browser does


async def _sign_in(session: aiohttp.ClientSession, base: str, username: str) -> str:
    """Sign ``session`` in; returns its CSRF token."""
    async with session.post(
        f"{base}/api/v1/session", json={"username": username, "password": PASSWORD}
    ) as answer:
        assert answer.status == 200, await answer.text()
        token: str = (await answer.json())["csrf_token"]
        return token


async def _call(
    session: aiohttp.ClientSession, method: str, url: str, expect: int, **kw: Any
) -> Any:
    async with session.request(method, url, **kw) as answer:
        body = await answer.json()
        assert answer.status == expect, (method, url, answer.status, body)
        return body


@dataclass
class Unit:
    unit_id: str
    headers: dict[str, str]


async def _enrol(admin: aiohttp.ClientSession, csrf: str, base: str, name: str) -> Unit:
    code = await _call(
        admin,
        "POST",
        f"{base}/api/v1/enrolment-codes",
        201,
        json={"unit_name": name},
        headers={"X-CSRF-Token": csrf},
    )
    async with aiohttp.ClientSession() as fresh:
        body = await _call(fresh, "POST", f"{base}/api/v1/enrol", 201, json={"code": code["code"]})
    await _call(
        admin,
        "PATCH",
        f"{base}/api/v1/units/{body['unit_id']}",
        200,
        json={"teacher": "load-teacher"},
        headers={"X-CSRF-Token": csrf},
    )
    return Unit(body["unit_id"], {"Authorization": f"Bearer {body['token']}"})


async def _upload(
    session: aiohttp.ClientSession,
    base: str,
    unit: Unit,
    recording: str,
    sequence: int,
    segment: GeneratedSegment,
    data: bytes,
) -> bool:
    url = await aiotus.upload(
        f"{base}/api/v1/uploads/",
        io.BytesIO(data),
        segment_metadata(
            recording, "main", sequence, data, sequence * segment.duration_s, segment.duration_s
        ),
        client_session=session,
        headers=unit.headers,
        config=aiotus.RetryConfiguration(retry_attempts=1, max_retry_period_seconds=1),
    )
    return url is not None


async def _assembled_lesson(
    base: str, unit: Unit, teacher: aiohttp.ClientSession, tmp: Path
) -> int:
    """A lesson recorded by ``unit``, uploaded and assembled; returns its video's size."""
    segments = make_segments(tmp / "lesson", seconds=20.0, segment_s=10.0, audio=True)
    started = datetime.now(UTC)
    async with aiohttp.ClientSession(headers=unit.headers) as session:
        await _call(
            session,
            "PUT",
            f"{base}/api/v1/recordings/{LESSON}",
            201,
            json=manifest(LESSON, started),
        )
        for seg in segments:
            data = seg.path.read_bytes()
            assert await _upload(session, base, unit, LESSON, seg.sequence, seg, data)
        await _call(
            session,
            "POST",
            f"{base}/api/v1/recordings/{LESSON}/complete",
            200,
            json={"segments": {"main": len(segments)}},
        )
    for _ in range(1200):  # assembly of 20 s takes seconds; give up after two minutes
        async with teacher.get(f"{base}/api/v1/lessons/{LESSON}") as answer:
            if answer.status == 200 and (await answer.json()).get("state") == "ready":
                break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the lesson never became ready")
    video = f"{base}/api/v1/lessons/{LESSON}/cameras/main/video"
    async with teacher.get(video, headers={"Range": "bytes=0-0"}) as answer:
        assert answer.status == 206
        return int(answer.headers["Content-Range"].rpartition("/")[2])


async def _viewer(base: str, cookie: str, size: int, deadline: float, tally: Tally) -> None:
    video = f"{base}/api/v1/lessons/{LESSON}/cameras/main/video"
    rng = random.Random()
    async with aiohttp.ClientSession(cookies={COOKIE_NAME: cookie}, cookie_jar=_jar()) as session:
        while time.monotonic() < deadline:
            start = rng.randrange(size)
            end = min(size - 1, start + rng.randrange(1, 256 * 1024))
            try:
                async with session.get(video, headers={"Range": f"bytes={start}-{end}"}) as answer:
                    body = await answer.read()
                    if answer.status != 206 or len(body) != end - start + 1:
                        tally.error("range", f"HTTP {answer.status}, {len(body)} bytes")
                    else:
                        tally.ok("range")
            except aiohttp.ClientError as exc:
                tally.error("range", repr(exc))
            await asyncio.sleep(VIEWER_PAUSE_S * rng.uniform(0.5, 1.5))


async def _uploader(
    base: str, unit: Unit, n: int, segments: list[GeneratedSegment], deadline: float, tally: Tally
) -> None:
    """A unit catching up on a long lesson: segment after segment, at ``CATCH_UP_SPEED``."""
    recording = f"01JDLQADUN1T{n:02d}000000000000"
    data = [seg.path.read_bytes() for seg in segments]
    async with aiohttp.ClientSession(headers=unit.headers) as session:
        await _call(
            session,
            "PUT",
            f"{base}/api/v1/recordings/{recording}",
            201,
            json=manifest(recording, datetime.now(UTC)),
        )
        sequence = 0
        began = time.monotonic()
        while time.monotonic() < deadline:
            seg = segments[sequence % len(segments)]
            due = began + sequence * seg.duration_s / CATCH_UP_SPEED
            await asyncio.sleep(max(0.0, min(due, deadline) - time.monotonic()))
            if time.monotonic() >= deadline:
                break
            try:
                done = await _upload(
                    session, base, unit, recording, sequence, seg, data[sequence % len(data)]
                )
            except (aiotus.ProtocolError, aiohttp.ClientError) as exc:
                done = False
                tally.errors.append(f"upload: {exc!r}")
            if done:
                tally.ok("upload")
            else:
                tally.error("upload", f"segment {sequence} of {recording} not finished")
            sequence += 1


async def _commenter(base: str, username: str, deadline: float, tally: Tally) -> None:
    rng = random.Random()
    async with aiohttp.ClientSession(cookie_jar=_jar()) as session:
        csrf = await _sign_in(session, base, username)
        comments = f"{base}/api/v1/lessons/{LESSON}/comments"
        while time.monotonic() < deadline:
            for method, expect, kw in (
                ("POST", 201, {"json": {"body": "Goede vraag!", "start_s": rng.uniform(0, 19)}}),
                ("GET", 200, {}),
            ):
                started = time.perf_counter()
                try:
                    async with session.request(
                        method, comments, headers={"X-CSRF-Token": csrf}, **kw
                    ) as answer:
                        await answer.read()
                        elapsed_ms = (time.perf_counter() - started) * 1000
                        tally.api_ms.setdefault(method, []).append(elapsed_ms)
                        if answer.status != expect:
                            tally.error(f"comment {method}", f"HTTP {answer.status}")
                        else:
                            tally.ok(f"comment {method}")
                except aiohttp.ClientError as exc:
                    tally.error(f"comment {method}", repr(exc))
            await asyncio.sleep(COMMENTER_PAUSE_S * rng.uniform(0.5, 1.5))


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


@pytest.mark.slow
async def test_viewers_units_and_commenters_at_once(live: LiveServer, tmp_path: Path) -> None:
    base = live.base
    async with (
        aiohttp.ClientSession(cookie_jar=_jar()) as admin,
        aiohttp.ClientSession(cookie_jar=_jar()) as teacher,
    ):
        admin_csrf = await _sign_in(admin, base, "load-admin")
        teacher_csrf = await _sign_in(teacher, base, "load-teacher")
        units = [await _enrol(admin, admin_csrf, base, f"Room {n}") for n in range(UNITS + 1)]
        size = await _assembled_lesson(base, units[0], teacher, tmp_path)
        # The colleagues may comment: share the lesson with each.
        for n in range(COMMENTERS):
            await _call(
                teacher,
                "POST",
                f"{base}/api/v1/lessons/{LESSON}/shares",
                201,
                json={"username": f"colleague-{n}", "role": "commenter"},
                headers={"X-CSRF-Token": teacher_csrf},
            )
        cookie = teacher.cookie_jar.filter_cookies(URL(base))[COOKIE_NAME].value
        segments = make_segments(tmp_path / "unit", seconds=20.0, segment_s=10.0, audio=True)
        tally = Tally()
        deadline = time.monotonic() + DURATION_S
        await asyncio.gather(
            *(_viewer(base, cookie, size, deadline, tally) for _ in range(VIEWERS)),
            *(_uploader(base, u, n, segments, deadline, tally) for n, u in enumerate(units[1:])),
            *(_commenter(base, f"colleague-{n}", deadline, tally) for n in range(COMMENTERS)),
        )
    errors = len(tally.errors)
    reliability.add("load_errors", errors)
    reliability.add("load_requests", sum(tally.requests.values()))
    for kind, count in tally.requests.items():
        reliability.add("load_" + kind.lower().replace(" ", "_"), count)
    if tally.api_ms:
        every = [ms for times in tally.api_ms.values() for ms in times]
        reliability.peak("load_api_p99_ms", round(_p99(every), 1))
        reliability.peak("load_api_p50_ms", round(statistics.median(every), 1))
        reliability.peak("load_api_max_ms", round(max(every), 1))
        for method, times in tally.api_ms.items():
            reliability.peak(f"load_comment_{method.lower()}_p99_ms", round(_p99(times), 1))
    assert live.process.poll() is None, live.log_tail()
    assert not tally.errors, "\n".join(tally.errors[:20]) + "\n\nlog:\n" + live.log_tail()
    for kind in ("range", "upload", "comment POST", "comment GET"):
        assert tally.requests.get(kind, 0) > 0, f"no {kind} request finished: {tally.requests}"
