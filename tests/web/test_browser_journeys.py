"""User journeys in Chromium: a comment at 0:42 that survives a reload and seeks when clicked;
sharing with a colleague who replies; a third teacher and an admin who cannot open the lesson."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page

from lessoncam_server.services import Services

from ..server.lesson_fixtures import assembled
from .browser import chromium, screenshot, sign_in, wait_until

VIDEO_TIME = "document.getElementById('video-main').currentTime"


async def _page_for(browser: Browser, base: str, username: str) -> Page:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await sign_in(page, base, username)
    return page


async def _open_lesson(page: Page, base: str, lesson_id: str) -> None:
    await page.goto(f"{base}/lessons/{lesson_id}")
    await wait_until(page, "document.getElementById('video-main').readyState >= 1")


@pytest.mark.slow
async def test_comment_at_042_share_reply_and_refusals(
    lesson_id: str,
    server: TestServer,
    services: Services,
    make_user: Callable[..., dict[str, Any]],
) -> None:
    make_user("bert")
    make_user("carl")
    base = str(server.make_url("")).rstrip("/")
    async with chromium() as browser:
        anna = await _page_for(browser, base, "anna")
        await _open_lesson(anna, base, lesson_id)

        # An empty comment is refused with a message in Dutch, and nothing is placed.
        await anna.click("#comment-submit")
        await anna.wait_for_selector("#comment-error:not([hidden])")
        assert "Schrijf eerst iets" in await anna.inner_text("#comment-error")

        # Seek to 0:42, press C, write, place.
        await anna.evaluate("window.lessoncamPlayer.seek(42)")
        await wait_until(anna, f"Math.abs({VIDEO_TIME} - 42) < 0.05")
        await anna.locator("#seekbar").focus()
        await anna.keyboard.press("c")
        await wait_until(anna, "document.activeElement.id === 'comment-body'")
        assert await anna.inner_text("#comment-start-label") == "0:42"
        await anna.keyboard.type("Here the instruction lands: every pupil starts.")
        await anna.check("input[name=tags][value=instruction]")
        await anna.click("#comment-submit")
        await anna.wait_for_selector("article.thread .comment-body >> text=instruction lands")

        # After a reload the comment is still there, with its mark on the timeline.
        await anna.reload()
        await wait_until(anna, "document.querySelectorAll('#marks .mark').length === 1")
        thread = anna.locator("article.thread", has_text="instruction lands")
        assert await thread.locator(".time-link").inner_text() == "0:42"
        await anna.evaluate("window.lessoncamPlayer.seek(3)")
        await thread.locator(".time-link").click()
        await wait_until(anna, f"Math.abs({VIDEO_TIME} - 42) < 0.1")
        await screenshot(anna, "lesson-with-comment")

        # A fragment from 0:10 to 0:20 becomes a clip of its own.
        await anna.evaluate("window.lessoncamPlayer.seek(10)")
        await wait_until(anna, f"Math.abs({VIDEO_TIME} - 10) < 0.05")
        await anna.click("#comment-start-now")
        await anna.evaluate("window.lessoncamPlayer.seek(20)")
        await wait_until(anna, f"Math.abs({VIDEO_TIME} - 20) < 0.05")
        await anna.click("#comment-end-now")
        await anna.fill("#comment-body", "Group work starts")
        await anna.click("#comment-submit")
        fragment = anna.locator("article.thread", has_text="Group work starts")
        assert await fragment.locator(".time-link").inner_text() == "0:10\u20130:20"
        await fragment.locator("[data-action=clip]").click()
        await anna.wait_for_selector("#comment-notice:not([hidden])")
        await assembled(services)
        clip = services.db.execute(
            "SELECT state, source_start_s, source_end_s FROM recordings WHERE kind = 'clip'"
        ).fetchone()
        assert clip is not None and clip[0] == "ready" and clip[1] <= 10 and clip[2] >= 20

        # Share with bert as commenter.
        await anna.goto(f"{base}/lessons/{lesson_id}/sharing")
        await anna.select_option("#share-form select[name=username]", "bert")
        await anna.select_option("#share-form select[name=role]", "commenter")
        await anna.click("#share-form button[type=submit]")
        await anna.wait_for_selector("#shares >> text=bert")
        await screenshot(anna, "sharing")

        # Bert finds it in his library, opens it and replies.
        bert = await _page_for(browser, base, "bert")
        await bert.wait_for_selector(f"[data-lesson-id='{lesson_id}']")
        await _open_lesson(bert, base, lesson_id)
        thread = bert.locator("article.thread", has_text="instruction lands")
        await thread.locator("[data-action=reply]").click()
        await thread.locator(".reply-form textarea").fill("Agreed, and they keep going.")
        await thread.locator(".reply-form button[type=submit]").click()
        await bert.wait_for_selector(".reply .comment-body >> text=they keep going")

        # Anna sees the reply and that bert watched.
        await anna.goto(f"{base}/lessons/{lesson_id}")
        await anna.wait_for_selector(".reply .comment-body >> text=they keep going")
        await anna.goto(f"{base}/lessons/{lesson_id}/sharing")
        await anna.wait_for_selector("#viewers >> text=bert")

        # Anna revokes the share while bert has the lesson open: his next comment is refused
        # with a clear message (his text stays in the box), and a reload says not available.
        await anna.locator("#shares tr", has_text="bert").locator("button[type=submit]").click()
        await anna.wait_for_selector("#shares >> text=ingetrokken")
        await bert.fill("#comment-body", "One more thought")
        await bert.click("#comment-submit")
        await bert.wait_for_selector("#comment-error:not([hidden])")
        assert "niet meer beschikbaar" in await bert.inner_text("#comment-error")
        assert await bert.input_value("#comment-body") == "One more thought"
        response = await bert.reload()
        assert response is not None and response.status == 404
        assert "niet beschikbaar" in await bert.inner_text("#error-message")

        # A third teacher and an administrator are told it is not available.
        for username, role in (("carl", "teacher"), ("ict-admin", "admin")):
            page = await _page_for(browser, base, username)
            response = await page.goto(f"{base}/lessons/{lesson_id}")
            assert response is not None and response.status == 404, username
            text = await page.inner_text("#error-message")
            assert "niet beschikbaar" in text, (username, role, text)
            assert await page.locator("video").count() == 0
            if role == "admin":
                await screenshot(page, "not-available")
