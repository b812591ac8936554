"""Benchmark: watching together in real headless Chromium on loopback, ours vs a naive peer.

Run with ``make bench-watch-together``. Seeds a data directory with one ready lesson (a
generated 320x240 video) shared with the followers, starts the server as its own process,
and opens one leader and ``--followers`` followers, each in its own browser context (some
on a throttled network: latency and limited bandwidth for the video, through Chromium's
network emulation). Then, twice (``ours``: ``static/watch.js`` as shipped; ``naive``: the
same page with the correction switched off, so it only applies play/pause/seek messages as
they arrive, without extrapolating, correcting drift or catching up after a reconnect):

- plays for ``--play-s`` seconds (two minutes by default) and samples every page's
  ``currentTime`` in the page itself every 250 ms: ``play_drift_p95_ms`` is the 95th
  percentile of |follower - leader| at the same wall-clock moment (the leader's position
  interpolated between its samples), after the first 5 s;
- seeks in the leader's browser ``--seeks`` times while playing: ``seek_follow_p95_ms`` is
  the time from the leader's seek until each follower shows the new position (within 0.25 s
  of where the leader is by then);
- cuts the network of three followers (``context.set_offline``), seeks in the leader's
  browser meanwhile, brings the network back: ``rejoin_s_max`` is the longest time from the
  network coming back until the follower stays within 0.1 s of the leader for a second
  (null when one never did within ``REJOIN_CAP_S``).

Writes ``bench/results/watch_together.json``. On a loaded machine the figures are inflated:
every page decodes video and all of it shares the same cores.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from loopback import start_server
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from playwright.async_api import Error as PlaywrightError

from lessoncam_server.access import accounts
from lessoncam_server.access.sessions import COOKIE_NAME
from lessoncam_server.infra.db import open_database
from lessoncam_server.infra.paths import DataPaths
from lessoncam_server.infra.timeutil import to_iso

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "watch_together.json"
CHROMIUM = os.environ.get("LESSONCAM_CHROMIUM", "/usr/bin/chromium")
RID = "01JDWATCHBENCH000000000000"
PASSWORD = "benchmark password"  # noqa: S105 - throw-away accounts on loopback
LESSON_S = 300
TARGETS = {"seek_follow_p95_ms": 250, "play_drift_p95_ms": 100, "rejoin_s_max": 3}
SHOWS_SEEK_WITHIN_S = 0.25
IN_STEP_S = 0.1
REJOIN_CAP_S = 30.0
SETTLE_S = 5.0
THROTTLED = {  # Chromium's network emulation: a slow school Wi-Fi
    "offline": False,
    "latency": 80,
    "downloadThroughput": 4_000_000 / 8,
    "uploadThroughput": 1_000_000 / 8,
}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--autoplay-policy=no-user-gesture-required",
    # Eleven tabs in one browser: none of them may be throttled as a background tab.
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
SAMPLER = """(everyMs) => {
  window.__samples = [];
  window.clearInterval(window.__sampler);
  const main = document.getElementById('video-main');
  window.__sampler = window.setInterval(() => {
    window.__samples.push([Date.now(), main.currentTime, main.paused]);
  }, everyMs);
}"""
SEEK_WATCH = """([target, t0, rate]) => new Promise((resolve) => {
  const main = document.getElementById('video-main');
  const started = Date.now();
  const timer = window.setInterval(() => {
    const now = Date.now();
    const where = target + (now - t0) / 1000 * rate;
    if (!main.seeking && Math.abs(main.currentTime - where) < WITHIN) {
      window.clearInterval(timer);
      resolve(now - t0);
    } else if (now - started > 15000) {
      window.clearInterval(timer);
      resolve(null);
    }
  }, 5);
})""".replace("WITHIN", str(SHOWS_SEEK_WITHIN_S))


def make_video(path: Path, seconds: int) -> None:
    """A small H.264 faststart MP4 whose picture changes every frame (a moving bar)."""
    fps = 15
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": str(fps)}
        stream.codec_context.time_base = Fraction(1, fps)
        frame_data = np.zeros((240, 320, 3), dtype=np.uint8)
        for index in range(seconds * fps):
            frame_data[:] = 40
            frame_data[:, (index * 2) % 320 : (index * 2) % 320 + 8] = 220
            frame = av.VideoFrame.from_ndarray(frame_data, format="rgb24")
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def seed(data: Path, followers: int) -> None:
    paths = DataPaths(data)
    paths.create()
    db = open_database(paths.database)
    now = datetime.now(UTC)
    leader = accounts.create_user(db, "leader", PASSWORD, "teacher", now)
    camera = {
        "id": "main",
        "role": "main",
        "label": "",
        "video": {"codec": "h264", "container": "mpegts", "width": 320, "height": 240, "fps": 15},
    }
    manifest = {
        "format_version": 1,
        "recording_id": RID,
        "started_at": now.isoformat(),
        "cameras": [camera],
        "audio_camera": None,
        "segment_seconds": 10.0,
        "software_version": "",
    }
    db.table("recordings").insert(
        {
            "id": RID,
            "unit_id": None,
            "owner_id": leader["id"],
            "title": "Watch-together benchmark",
            "started_at": to_iso(now),
            "manifest": json.dumps(manifest),
            "state": "ready",
            "created_at": to_iso(now),
            "media_version": 1,
            "duration_s": float(LESSON_S),
        }
    )
    video = paths.video(RID, "main", 1)
    video.parent.mkdir(parents=True, exist_ok=True)
    make_video(video, LESSON_S)
    db.table("media").insert(
        {
            "recording_id": RID,
            "camera": "main",
            "file_name": video.name,
            "duration_s": float(LESSON_S),
            "width": 320,
            "height": 240,
            "has_audio": 0,
            "size": video.stat().st_size,
            "gaps": "[]",
            "thumbs": None,
        }
    )
    for index in range(followers):
        user = accounts.create_user(db, f"f{index:02d}", PASSWORD, "teacher", now)
        db.table("shares").insert(
            {
                "recording_id": RID,
                "user_id": user["id"],
                "role": "commenter",
                "created_by": leader["id"],
                "created_at": to_iso(now),
            }
        )
    db.close()


def _post(base: str, path: str, body: Any, cookie: str = "", csrf: str = "") -> Any:
    headers = {"Content-Type": "application/json"}
    if cookie:
        headers |= {"Cookie": f"{COOKIE_NAME}={cookie}", "X-CSRF-Token": csrf}
    request = urllib.request.Request(  # noqa: S310 - loopback only
        base + path, data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    with urllib.request.urlopen(request) as response:  # noqa: S310
        data = json.loads(response.read() or b"null")
        set_cookie = response.headers.get("Set-Cookie", "")
    return data, set_cookie


def sign_in(base: str, username: str) -> tuple[str, str]:
    """(session cookie, CSRF token) for ``username``."""
    body, set_cookie = _post(base, "/api/v1/session", {"username": username, "password": PASSWORD})
    cookie = set_cookie.split(";", 1)[0].split("=", 1)[1]
    return cookie, body["csrf_token"]


async def open_page(
    browser: Browser, base: str, cookie: str, url: str, throttled: bool
) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(viewport={"width": 900, "height": 700})
    await context.add_cookies([{"name": COOKIE_NAME, "value": cookie, "url": base}])
    page = await context.new_page()
    if throttled:
        cdp = await context.new_cdp_session(page)
        await cdp.send("Network.enable")
        await cdp.send("Network.emulateNetworkConditions", THROTTLED)
    await page.goto(url)
    return context, page


async def until(page: Page, expression: str, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if await page.evaluate(expression):
                return
        except PlaywrightError:
            pass  # still loading
        if time.monotonic() > deadline:
            title = await page.title()
            raise RuntimeError(
                f"{page.url} ({title}): still false after {timeout_s} s: {expression}"
            )
        await asyncio.sleep(0.2)


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _at(samples: list[list[Any]], t: float) -> float | None:
    """The leader's position at wall time ``t`` (ms), interpolated; None outside."""
    for (t1, c1, _p1), (t2, c2, _p2) in itertools.pairwise(samples):
        if t1 <= t <= t2 and t2 > t1:
            return float(c1 + (c2 - c1) * (t - t1) / (t2 - t1))
    return None


async def samples_of(page: Page) -> list[list[Any]]:
    got: list[list[Any]] = await page.evaluate("window.__samples")
    return got


def drifts(leader: list[list[Any]], follower: list[list[Any]], after_ms: float) -> list[float]:
    found = []
    for t, current, paused in follower:
        if t < after_ms or paused:
            continue
        lead = _at(leader, t)
        if lead is not None:
            found.append(abs(current - lead) * 1000.0)
    return found


def rejoin_s(leader: list[list[Any]], follower: list[list[Any]], online_ms: float) -> float | None:
    """Seconds from ``online_ms`` until the follower stays within IN_STEP_S for a second."""
    since = None
    for t, current, _paused in follower:
        if t < online_ms:
            continue
        lead = _at(leader, t)
        if lead is None:
            continue
        if abs(current - lead) <= IN_STEP_S:
            since = t if since is None else since
            if t - since >= 1000.0:
                return (since - online_ms) / 1000.0
        else:
            since = None
    return None


async def run_mode(
    browser: Browser, base: str, mode: str, args: argparse.Namespace
) -> dict[str, Any]:
    """One session with the leader and the followers in ``mode`` (ours or naive)."""
    leader_cookie, leader_csrf = sign_in(base, "leader")
    names = [f"f{index:02d}" for index in range(args.followers)]
    body, _ = _post(
        base, f"/api/v1/lessons/{RID}/watch-sessions", {"invite": names}, leader_cookie, leader_csrf
    )
    join = base + body["session"]["join_url"]
    ready = (
        "!!document.getElementById('video-main')"
        " && document.getElementById('video-main').readyState >= 2"
        " && window.lessoncam.watch && window.lessoncam.watch.state().connected"
    )
    _ctx, leader = await open_page(browser, base, leader_cookie, join, throttled=False)
    await until(leader, ready)
    followers: list[tuple[BrowserContext, Page]] = []
    for index, name in enumerate(names):
        cookie, _csrf = sign_in(base, name)
        throttled = index % 3 == 2  # every third follower on the slow network
        followers.append(await open_page(browser, base, cookie, join, throttled))
    for _context, page in followers:
        await until(page, ready)
        if mode == "naive":
            await page.evaluate("window.lessoncam.watch.options.correct = false")
    pages = [leader] + [page for _c, page in followers]

    # Playing: the leader presses play; everyone samples where they are.
    for page in pages:
        await page.evaluate(SAMPLER, 250)
    play_started = time.time() * 1000.0
    await leader.click("#play")
    await asyncio.sleep(args.play_s)
    leader_samples = await samples_of(leader)
    drift_ms: list[float] = []
    for _context, page in followers:
        drift_ms += drifts(leader_samples, await samples_of(page), play_started + SETTLE_S * 1000)

    # Seeks in the leader's browser while playing.
    follow_ms: list[float] = []
    missed = 0
    for index in range(args.seeks):
        here = float(await leader.evaluate("document.getElementById('video-main').currentTime"))
        target = 20.0 + (here + 60.0 + 37.0 * index) % (LESSON_S - 60)
        t0 = time.time() * 1000.0
        watchers = [
            asyncio.ensure_future(page.evaluate(SEEK_WATCH, [target, t0, 1.0]))
            for _c, page in followers
        ]
        await leader.evaluate(f"window.lessoncamPlayer.seek({target})")
        for result in await asyncio.gather(*watchers):
            if result is None:
                missed += 1
            else:
                follow_ms.append(float(result))
        await asyncio.sleep(2.0)

    # Three followers lose the network; the leader seeks meanwhile; the network comes back.
    cut = [pair for i, pair in enumerate(followers) if i % 3 != 2][:3]  # unthrottled ones
    for page in pages:
        await page.evaluate(SAMPLER, 50)
    for context, _page in cut:
        await context.set_offline(True)
    await asyncio.sleep(2.0)
    here = float(await leader.evaluate("document.getElementById('video-main').currentTime"))
    await leader.evaluate(f"window.lessoncamPlayer.seek({(here + 45.0) % (LESSON_S - 40)})")
    await asyncio.sleep(3.0)
    online_ms = time.time() * 1000.0
    for context, _page in cut:
        await context.set_offline(False)
    await asyncio.sleep(REJOIN_CAP_S)
    leader_samples = await samples_of(leader)
    rejoins = [rejoin_s(leader_samples, await samples_of(page), online_ms) for _c, page in cut]
    for context, _page in followers:
        await context.close()
    await leader.context.close()
    in_step = [r for r in rejoins if r is not None]
    return {
        "seek_follow_p95_ms": round(_p(follow_ms, 0.95), 1) if follow_ms else None,
        "seek_follow_p50_ms": round(_p(follow_ms, 0.50), 1) if follow_ms else None,
        "seeks_not_followed_within_15_s": missed,
        "play_drift_p95_ms": round(_p(drift_ms, 0.95), 1) if drift_ms else None,
        "play_drift_p50_ms": round(_p(drift_ms, 0.50), 1) if drift_ms else None,
        "rejoin_s_max": round(max(in_step), 2) if len(in_step) == len(rejoins) else None,
        "rejoins_in_step": f"{len(in_step)} of {len(rejoins)} within {REJOIN_CAP_S:.0f} s",
        "drift_samples": len(drift_ms),
        "seek_samples": len(follow_ms),
    }


async def measure(base: str, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            ours = await run_mode(browser, base, "ours", args)
            naive = await run_mode(browser, base, "naive", args)
        finally:
            await browser.close()
    return {"ours": ours, "naive": naive}


def _ratio(naive: float | None, ours: float | None) -> float | None:
    return round(naive / ours, 2) if naive is not None and ours else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--followers", type=int, default=10)
    parser.add_argument("--play-s", type=float, default=120.0)
    parser.add_argument("--seeks", type=int, default=8)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lessoncam-bench-watch-"))
    server: subprocess.Popen[bytes] | None = None
    try:
        seed(work / "data", args.followers)
        server, base = start_server(work / "data")
        started = time.monotonic()
        figures = asyncio.run(measure(base, args))
        ours, naive = figures["ours"], figures["naive"]
        result = {
            "followers": args.followers,
            "seek_follow_p95_ms": ours["seek_follow_p95_ms"],
            "play_drift_p95_ms": ours["play_drift_p95_ms"],
            "rejoin_s_max": ours["rejoin_s_max"],
            "targets": {k: f"<= {v}" for k, v in TARGETS.items()},
            "met": {k: ours[k] is not None and ours[k] <= v for k, v in TARGETS.items()},
            "ours": ours,
            "naive": naive,
            "naive_vs_ours": {
                "seek_follow_p95": _ratio(naive["seek_follow_p95_ms"], ours["seek_follow_p95_ms"]),
                "play_drift_p95": _ratio(naive["play_drift_p95_ms"], ours["play_drift_p95_ms"]),
            },
            "peers": {
                "naive": "the same page and server with watch.js's correction off: play, pause "
                "and seek messages applied as they arrive (the sender's position, no "
                "extrapolation), no drift correction, no catching up after a reconnect",
            },
            "setup": {
                "lesson": f"{LESSON_S} s, 320x240 H.264 at 15 fps, one camera",
                "play_s": args.play_s,
                "seeks": args.seeks,
                "throttled_followers": sum(1 for i in range(args.followers) if i % 3 == 2),
                "throttle": THROTTLED,
                "network_cut": "3 followers, 5 s, context.set_offline; the leader seeks meanwhile",
                "in_step_within_s": IN_STEP_S,
                "seek_shown_within_s": SHOWS_SEEK_WITHIN_S,
                "browser": "Chromium (headless), one context per person, on loopback",
                "cpus": os.cpu_count(),
                "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
                "wall_s": round(time.monotonic() - started, 1),
            },
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
        return 0
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=15)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
