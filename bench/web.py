"""Benchmark: the web pages under concurrent clients, against peers served by the same server.

Run with ``make bench-web``. Seeds a data directory with a teacher who has 1,000 lessons and one
lesson with 200 comments (threads and replies, from two people), starts the server as its own
process on a loopback port, signs in, and lets several concurrent clients fetch, one kind of
request at a time (twice through the list):

- the lesson page with its 200 comments (``/lessons/{id}``), and its JSON peer
  (``GET /api/v1/lessons/{id}``, the same lesson, also logged as a view);
- the library page (``/library``, the newest 50 of 1,000 lessons), and its JSON peer
  (``GET /api/v1/lessons``, all 1,000 lessons in one answer);
- a static file (``/static/app.css``) as the floor: the server's cheapest answer.

Writes p50/p95 per kind and the ratios to ``bench/results/web.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from loopback import start_server

from lessoncam_server.access import accounts
from lessoncam_server.config import ViewingGuideConfig
from lessoncam_server.infra.db import open_database
from lessoncam_server.infra.paths import DataPaths
from lessoncam_server.infra.timeutil import to_iso
from lessoncam_server.lessons import comments

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "web.json"
PASSWORD = "benchmark password"  # noqa: S105 - a throw-away account on loopback
BIG = "01JDWEBBENCH00000000000000"
LESSONS = 1000
COMMENTS = 200
TARGETS = {"lesson_page_p95_ms": 50, "library_page_p95_ms": 100}


def _manifest(rid: str, started: datetime) -> str:
    cameras = [
        {
            "id": cam,
            "role": "main" if cam == "main" else "second",
            "label": "",
            "video": {
                "codec": "h264",
                "container": "mpegts",
                "width": 1280,
                "height": 720,
                "fps": 30.0,
            },
        }
        for cam in ("main", "pupils")
    ]
    return json.dumps(
        {
            "format_version": 1,
            "recording_id": rid,
            "started_at": started.isoformat(),
            "cameras": cameras,
            "audio_camera": "main",
            "segment_seconds": 10.0,
            "software_version": "",
        }
    )


def seed(data: Path) -> None:
    """1,000 ready lessons for 'bench' (rows only: the pages never read the video files), the
    newest with two cameras and 200 comments by 'bench' and a colleague it is shared with."""
    paths = DataPaths(data)
    paths.create()
    db = open_database(paths.database)
    now = datetime.now(UTC)
    teacher = accounts.create_user(db, "bench", PASSWORD, "teacher", now, "Bea Bench")
    coach = accounts.create_user(db, "coach", PASSWORD, "coach", now, "Cas Coach")
    rows, media = [], []
    for i in range(LESSONS):
        rid = BIG if i == 0 else f"01JDWEBBENCH{i:014d}"
        started = now - timedelta(hours=3 * i)
        rows.append(
            {
                "id": rid,
                "owner_id": teacher["id"],
                "title": f"Les {i}: rekenen en taal" if i % 3 else "",
                "description": "Een les uit de benchmark." if i % 2 else "",
                "started_at": to_iso(started),
                "manifest": _manifest(rid, started),
                "state": "ready",
                "created_at": to_iso(started),
                "media_version": 1,
                "duration_s": 2700.0,
            }
        )
        for cam in ("main", "pupils"):
            thumbs = {"interval_s": 10.0, "count": 270, "columns": 10, "width": 160, "height": 90}
            media.append(
                {
                    "recording_id": rid,
                    "camera": cam,
                    "file_name": f"{cam}.mp4",
                    "duration_s": 2700.0,
                    "width": 1280,
                    "height": 720,
                    "has_audio": int(cam == "main"),
                    "size": 1,
                    "gaps": "[]",
                    "thumbs": json.dumps(thumbs),
                }
            )
    db.table("recordings").insert_all(rows)
    db.table("media").insert_all(media)
    db.table("shares").insert(
        {
            "recording_id": BIG,
            "user_id": coach["id"],
            "role": "commenter",
            "created_by": teacher["id"],
            "created_at": to_iso(now),
        }
    )
    lesson = rows[0]
    guide = ViewingGuideConfig()
    keys = [t.key for t in guide.tags]
    tops: list[int] = []
    for n in range(COMMENTS):
        author = teacher["id"] if n % 2 else coach["id"]
        reply_to = tops[n % len(tops)] if n % 4 == 3 and tops else None
        row = comments.create(
            db,
            lesson,
            author,
            comments.NewComment(
                body=f"Opmerking {n}: de instructie is helder en de leerlingen gaan aan de slag.",
                start_s=None if reply_to else float(n * 13 % 2700),
                end_s=None if reply_to or n % 5 else float(n * 13 % 2700 + 20),
                tags=(keys[n % len(keys)],),
                parent_id=reply_to,
            ),
            guide,
            now,
        )
        if reply_to is None:
            tops.append(int(row["id"]))
    db.close()


async def _sign_in(session: aiohttp.ClientSession, base: str) -> None:
    async with session.post(
        f"{base}/api/v1/session", json={"username": "bench", "password": PASSWORD}
    ) as response:
        response.raise_for_status()


async def _client(base: str, paths: list[tuple[str, str]], rounds: int) -> dict[str, list[float]]:
    """One browser-like client: its own session, fetching ``paths`` in turn ``rounds`` times."""
    times: dict[str, list[float]] = {name: [] for name, _ in paths}
    # unsafe=True: keep cookies from an IP address (127.0.0.1), as a browser does.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        await _sign_in(session, base)
        for _ in range(rounds):
            for name, path in paths:
                start = time.perf_counter()
                async with session.get(base + path) as response:
                    await response.read()
                    if response.status != 200 or response.history:
                        raise RuntimeError(f"{path}: HTTP {response.status}")
                times[name].append(time.perf_counter() - start)
    return times


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


async def measure(base: str, clients: int, rounds: int) -> dict[str, list[float]]:
    """Each kind in its own phase (a slow peer must not delay the others on the one event
    loop), all clients at once; two passes through the kinds, so drift hits them alike."""
    paths = [
        ("lesson_page", f"/lessons/{BIG}"),
        ("lesson_api", f"/api/v1/lessons/{BIG}"),
        ("library_page", "/library"),
        ("library_api", "/api/v1/lessons"),
        ("static_file", "/static/app.css"),
    ]
    await _client(base, paths, 2)  # warm up (templates compiled, caches filled)
    merged: dict[str, list[float]] = {name: [] for name, _ in paths}
    for _ in range(2):
        for name, path in paths:
            phase = [(name, path)]
            results = await asyncio.gather(
                *(_client(base, phase, rounds // 2) for _ in range(clients))
            )
            for result in results:
                merged[name].extend(result[name])
    return merged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=30, help="requests per client and kind")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lessoncam-bench-web-"))
    server: subprocess.Popen[bytes] | None = None
    try:
        seed(work / "data")
        server, base = start_server(work / "data")
        figures = asyncio.run(measure(base, args.clients, args.rounds))
        p95 = {name: _p(values, 0.95) for name, values in figures.items()}
        p50 = {name: _p(values, 0.50) for name, values in figures.items()}
        result = {
            "lesson_page_p95_ms": round(p95["lesson_page"], 1),
            "library_page_p95_ms": round(p95["library_page"], 1),
            "targets": {k: f"<= {v}" for k, v in TARGETS.items()},
            "met": {k: p95[k.removesuffix("_p95_ms")] <= v for k, v in TARGETS.items()},
            "p50_ms": {k: round(v, 1) for k, v in p50.items()},
            "p95_ms": {k: round(v, 1) for k, v in p95.items()},
            "ratios_p95": {
                "lesson_page_vs_lesson_api": round(p95["lesson_page"] / p95["lesson_api"], 2),
                "library_page_vs_library_api": round(p95["library_page"] / p95["library_api"], 2),
                "lesson_page_vs_static_file": round(p95["lesson_page"] / p95["static_file"], 2),
                "library_page_vs_static_file": round(p95["library_page"] / p95["static_file"], 2),
            },
            "peers": {
                "lesson_api": "GET /api/v1/lessons/{id}: the same lesson as JSON (no comments)",
                "library_api": "GET /api/v1/lessons: all 1,000 lessons as JSON, unpaged",
                "static_file": "GET /static/app.css from the same server",
            },
            "setup": {
                "lessons": LESSONS,
                "comments_on_lesson": COMMENTS,
                "library_page_size": 50,
                "clients": args.clients,
                "requests_per_kind": len(figures["lesson_page"]),
                "client": "aiohttp, one session each, concurrent, loopback; server its own process",
            },
            "note": "each lesson page and lesson API request writes an audit entry (a view)",
            "measured_at": to_iso(datetime.now(UTC)),
        }
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
        return 0
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
