"""A teacher uploads a phone video in Chromium; the connection drops, she reloads the page,
chooses the same file, and the upload continues from where the server had it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import av
import numpy as np
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Request, Route

from lessoncam_server.services import Services

from ..server.lesson_fixtures import assembled
from .browser import chromium, screenshot, sign_in, wait_until

CHUNK = 4 * 1024 * 1024  # upload.js's chunk size


def noisy_video(path: Path, frames: int = 40, width: int = 640, height: int = 480) -> Path:
    """An H.264 MP4 of random noise: incompressible, so a few frames make several chunks."""
    rng = np.random.default_rng(7)
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "4", "preset": "ultrafast"}
        for _ in range(frames):
            image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.mark.slow
async def test_browser_upload_resumes_after_a_reload(
    anna: object, server: TestServer, services: Services, tmp_path: Path
) -> None:
    video = noisy_video(tmp_path / "phone.mp4")
    assert video.stat().st_size > 2 * CHUNK
    base = str(server.make_url("")).rstrip("/")
    offsets: list[int] = []
    patches = 0
    cut = asyncio.Event()

    async def flaky(route: Route, request: Request) -> None:
        nonlocal patches
        if request.method == "PATCH":
            offsets.append(int(request.headers.get("upload-offset", "-1")))
            patches += 1
            if patches == 2 and not cut.is_set():
                cut.set()  # the second chunk never arrives: the network "drops"
                return
        await route.continue_()

    async with chromium() as browser:
        context = await browser.new_context(viewport={"width": 1100, "height": 800})
        page = await context.new_page()
        await sign_in(page, base, "anna")
        await page.route("**/api/v1/lesson-uploads/**", flaky)
        await page.goto(f"{base}/upload")
        await page.set_input_files("#upload-file", str(video))
        await page.fill("#upload-title", "Rekenles groep 5 (telefoon)")
        await page.click("#upload-start")
        await asyncio.wait_for(cut.wait(), timeout=30)
        await wait_until(page, "document.getElementById('upload-bar').value > 0")

        await page.reload()  # the teacher reloads: the page forgets, localStorage does not
        await page.unroute("**/api/v1/lesson-uploads/**")
        page.on(
            "request",
            lambda r: (
                offsets.append(int(r.headers.get("upload-offset", "-1")))
                if r.method == "PATCH"
                else None
            ),
        )
        await page.set_input_files("#upload-file", str(video))
        await page.click("#upload-start")
        await wait_until(page, "document.getElementById('upload-bar').value === 100", 60)
        await screenshot(page, "upload")

    # The first PATCH after the reload continued at the first chunk's end, not at 0.
    assert offsets[0] == 0 and offsets[2] == CHUNK, offsets
    await assembled(services)
    row = services.db.execute(
        "SELECT title, kind, state FROM recordings WHERE kind = 'upload'"
    ).fetchone()
    assert row == ("Rekenles groep 5 (telefoon)", "upload", "ready"), row
