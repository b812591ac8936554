"""A teacher watches her lesson in Chromium: library, player, seeking, the cameras in sync."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Page

from .browser import chromium, screenshot, sign_in, wait_until

SYNC_TOLERANCE_S = 0.1


async def _times(page: Page) -> tuple[float, float]:
    main, second = await page.evaluate(
        "[document.getElementById('video-main').currentTime,"
        " document.getElementById('video-second').currentTime]"
    )
    return float(main), float(second)


@pytest.mark.slow
async def test_teacher_plays_and_seeks_with_both_cameras_in_sync(
    lesson_id: str, server: TestServer
) -> None:
    base = str(server.make_url("")).rstrip("/")
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 860})
        await sign_in(page, base, "anna")
        await page.wait_for_selector(f"[data-lesson-id='{lesson_id}']")
        await screenshot(page, "library")

        await page.click(f"[data-lesson-id='{lesson_id}'] h2 a")
        await page.wait_for_url(f"{base}/lessons/{lesson_id}")
        await wait_until(
            page,
            "document.getElementById('video-main').readyState >= 2"
            " && document.getElementById('video-second').readyState >= 2",
        )
        await page.click("#play")
        await wait_until(page, "document.getElementById('video-main').currentTime > 1")

        # A jump forward with the keyboard, then a seek on the bar: the follower comes along.
        await page.keyboard.press("ArrowRight")
        await wait_until(page, "document.getElementById('video-main').currentTime > 6")
        await page.evaluate("window.lessoncamPlayer.seek(30)")
        await wait_until(
            page,
            "(() => { const m = document.getElementById('video-main');"
            " const s = document.getElementById('video-second');"
            " return !m.seeking && !s.seeking && m.currentTime > 30.3 && !m.paused; })()",
        )
        await page.wait_for_timeout(600)  # let playback run on after the seek
        await page.evaluate("window.lessoncamPlayer.pause()")
        main, second = await _times(page)
        assert 30 < main < 45
        assert abs(main - second) <= SYNC_TOLERANCE_S, (main, second)

        # Hovering the seek bar shows a thumbnail of that moment.
        box = await page.locator("#seekbar").bounding_box()
        assert box is not None
        await page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
        await page.wait_for_selector("#preview:not([hidden])")
        background = await page.evaluate(
            "getComputedStyle(document.getElementById('preview-image')).backgroundImage"
        )
        assert "thumbnails.jpg" in background
        await screenshot(page, "player")

        # Picture in picture, cameras swapped, double speed: both videos follow.
        await page.click("#layout")
        await page.click("#swap")
        classes = await page.get_attribute("#stage", "class") or ""
        assert "layout-pip" in classes and "swapped" in classes
        await page.select_option("#speed", "2")
        await page.locator("body").click(position={"x": 5, "y": 5})
        await page.keyboard.press("Space")  # play again from the keyboard
        await wait_until(page, "!document.getElementById('video-main').paused")
        await wait_until(page, "document.getElementById('video-second').playbackRate > 1.5")
        await page.wait_for_timeout(800)
        await page.keyboard.press("Space")
        await wait_until(page, "document.getElementById('video-main').paused")
        await page.wait_for_timeout(300)  # the follower is aligned while paused
        main, second = await _times(page)
        assert abs(main - second) <= SYNC_TOLERANCE_S, (main, second)
        await screenshot(page, "player-pip")
