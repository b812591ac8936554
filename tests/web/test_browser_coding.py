"""A coach codes a lesson in Chromium with the keyboard: points with a modifier key, states
toggled and stopped by their exclusive group, undo, frame steps, speed, a jump to the previous
code, dragging a code on the timeline; then reads the analysis page."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Page

from lessoncam_server.coding import codings
from lessoncam_server.services import Services

from .browser import chromium, screenshot, sign_in, wait_until
from .conftest import LESSON_SECONDS


def stored(services: Services) -> list[tuple[str, float, float | None, dict[str, str]]]:
    coding_id = services.db.execute("SELECT id FROM codings").fetchone()[0]
    return [
        (e.behaviour, e.start_s, e.end_s, dict(e.modifiers))
        for e in codings.load(services.db, coding_id)
    ]


async def at(page: Page, t: float) -> None:
    """Pause and put the video at ``t`` (as the coach would with the seek bar)."""
    await page.evaluate(f"window.lessoncamPlayer.pause(); window.lessoncamPlayer.seek({t})")
    await wait_until(page, f"Math.abs(window.lessoncamPlayer.currentTime() - {t}) < 0.05")


async def count(page: Page, selector: str) -> Any:
    return await page.evaluate(f"document.querySelectorAll('{selector}').length")


@pytest.mark.slow
async def test_coding_a_lesson_with_the_keyboard(
    lesson_id: str, server: TestServer, services: Services
) -> None:
    base = str(server.make_url("")).rstrip("/")
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await sign_in(page, base, "anna")
        await page.goto(f"{base}/lessons/{lesson_id}")
        await wait_until(page, "document.getElementById('video-main').readyState >= 2")
        await page.click("#coding-start")
        await page.wait_for_selector("#coding-keys:not([hidden])")

        # A point with its modifier (the second key), a state, a state of the same group
        # (which stops the first) without a modifier (Escape), then that state stopped.
        await at(page, 5)
        await page.keyboard.press("t")
        await page.wait_for_selector("#coding-prompt:not([hidden])")
        await page.keyboard.press("2")
        await wait_until(page, "document.querySelectorAll('#coding-timeline .tick').length == 1")
        await at(page, 10)
        await page.keyboard.press("i")
        await wait_until(page, "document.querySelectorAll('#coding-timeline .bar').length == 1")
        await at(page, 20)
        await page.keyboard.press("h")
        await page.wait_for_selector("#coding-prompt:not([hidden])")
        await page.keyboard.press("Escape")
        await wait_until(page, "document.querySelectorAll('#coding-timeline .bar').length == 2")
        await at(page, 30)
        await page.keyboard.press("h")  # running: stops at once, no modifier asked
        await wait_until(
            page, "document.querySelectorAll('#coding-timeline .bar.open').length == 0"
        )
        assert stored(services) == [
            ("initiative_teacher", 5.0, None, {"who": "focus_pupil"}),
            ("instruction", 10.0, 20.0, {}),
            ("individual_help", 20.0, 30.0, {}),
        ]

        # A point too many, undone with Backspace; space still plays (the player's key).
        await at(page, 32)
        await page.keyboard.press("r")
        await wait_until(page, "document.querySelectorAll('#coding-timeline .tick').length == 2")
        await page.keyboard.press("Backspace")
        await wait_until(page, "document.querySelectorAll('#coding-timeline .tick').length == 1")
        assert len(stored(services)) == 3

        # Frame steps, speed down to a quarter, a jump back to the previous code.
        await at(page, 12)
        await page.keyboard.press(".")
        await wait_until(page, "Math.abs(window.lessoncamPlayer.currentTime() - 12.04) < 0.02")
        for _ in range(3):
            await page.keyboard.press("-")
        assert await page.evaluate("window.lessoncamPlayer.main.playbackRate") == 0.25
        assert await page.input_value("#speed") == "0.25"
        await page.keyboard.press("[")
        await wait_until(page, "Math.abs(window.lessoncamPlayer.currentTime() - 10) < 0.05")

        # Drag the point at 5 s right by a tenth of the timeline: 5 s later.
        tick = page.locator("#coding-timeline .tick").first
        box = await tick.bounding_box()
        track = await page.locator("#coding-timeline .track").first.bounding_box()
        assert box is not None and track is not None
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        await page.mouse.move(x, y)
        await page.mouse.down()
        await page.mouse.move(x + track["width"] / 20, y, steps=4)
        await page.mouse.move(x + track["width"] / 10, y, steps=4)
        await page.mouse.up()
        shift = LESSON_SECONDS / 10
        await wait_until(
            page,
            "(() => { const t = document.querySelector('#coding-timeline .tick');"
            f" return t && t.title.startsWith('0:{5 + int(shift):02d}'); }})()",
        )
        moved = next(e for e in stored(services) if e[0] == "initiative_teacher")
        assert abs(moved[1] - (5 + shift)) < 0.5 and len(stored(services)) == 3
        await screenshot(page, "coding")

        # The analysis page: counts and the share of time of the coding just made.
        await page.click("#coding-list .coding-analysis")
        await page.wait_for_selector("#analysis-behaviours")
        cells = await page.evaluate(
            "Object.fromEntries([...document.querySelectorAll("
            "'#analysis-behaviours tr[data-behaviour]')]"
            ".map(r => [r.dataset.behaviour, r.querySelector('.count').textContent]))"
        )
        assert cells["initiative_teacher"] == "1" and cells["instruction"] == "1"
        assert cells["individual_help"] == "1" and cells["received"] == "0"
        await screenshot(page, "coding-analysis")
        assert errors == []
