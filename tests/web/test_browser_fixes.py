"""Defects a teacher met in Chromium, each fixed with the page she saw (issue 11, part 5)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page

from lessoncam_server.services import Services

from ..server.helpers import Person, UnitClient
from ..server.lesson_fixtures import assembled
from .browser import chromium, screenshot, sign_in, wait_until


async def _lesson_page(browser: Browser, base: str, lesson_id: str) -> Page:
    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await sign_in(page, base, "anna")
    await page.goto(f"{base}/lessons/{lesson_id}")
    await wait_until(page, "document.getElementById('video-main').readyState >= 1")
    return page


@pytest.mark.slow
async def test_a_clip_titled_by_a_comment_that_an_emoji_straddles_the_cut(
    lesson_id: str, server: TestServer, services: Services, anna: Person
) -> None:
    """The title is the comment's first 80 characters; the 80th here is 😀, which is two
    UTF-16 units (cutting on units left half of it, and the clip always failed)."""
    comment = "a" * 79 + "😀 einde"
    await anna.json(
        "POST",
        f"/api/v1/lessons/{lesson_id}/comments",
        201,
        json={"body": comment, "start_s": 10, "end_s": 20},
    )
    base = str(server.make_url("")).rstrip("/")
    async with chromium() as browser:
        page = await _lesson_page(browser, base, lesson_id)
        fragment = page.locator("article.thread", has_text="einde")
        await fragment.locator("[data-action=clip]").click()
        await page.wait_for_selector("#comment-notice:not([hidden])")
        await screenshot(page, "clip-with-emoji-title")
        assert await page.is_hidden("#comment-error")
    await assembled(services)
    title, state = services.db.execute(
        "SELECT title, state FROM recordings WHERE kind = 'clip'"
    ).fetchone()
    assert (title, state) == ("a" * 79 + "😀", "ready")


@pytest.mark.slow
async def test_my_private_notes_reach_an_export_only_when_i_tick_the_box(
    lesson_id: str, server: TestServer, anna: Person
) -> None:
    comments = f"/api/v1/lessons/{lesson_id}/comments"
    await anna.json("POST", comments, 201, json={"body": "For the coach", "start_s": 3})
    note = {"body": "Note to self", "start_s": 4, "visibility": "private"}
    await anna.json("POST", comments, 201, json=note)
    base = str(server.make_url("")).rstrip("/")
    async with chromium() as browser:
        page = await _lesson_page(browser, base, lesson_id)
        assert await page.is_checked("#export-private") is False
        await page.click("#print-comments")
        await page.wait_for_url("**/comments/print?**")
        printed = await page.inner_text("body")
        assert "For the coach" in printed and "Note to self" not in printed
        await page.go_back()
        await page.check("#export-private")
        await page.click("#print-comments")
        await page.wait_for_url("**private=true**")
        assert "Note to self" in await page.inner_text("body")
        await screenshot(page, "printable-with-private-notes")
        # The CSV button sends the same choice.
        await page.go_back()
        await page.check("#export-private")
        async with page.expect_download() as download:
            await page.click("#export-csv")
        assert "private=true" in (await download.value).url


@pytest.mark.slow
async def test_a_share_until_10_december_reads_10_december(
    lesson_id: str, server: TestServer, make_user: Callable[..., dict[str, Any]]
) -> None:
    make_user("bert")
    base = str(server.make_url("")).rstrip("/")
    async with chromium() as browser:
        page = await (await browser.new_context()).new_page()
        await sign_in(page, base, "anna")
        await page.goto(f"{base}/lessons/{lesson_id}/sharing")
        await page.select_option("#share-form select[name=username]", "bert")
        await page.fill("#share-form input[name=expires]", "2026-12-10")
        await page.click("#share-form button[type=submit]")
        row = page.locator("#shares tr", has_text="bert")
        await row.wait_for()
        assert await row.locator("td").nth(2).inner_text() == "10 dec 2026"
        await screenshot(page, "share-until-10-december")


@pytest.mark.slow
async def test_the_dutch_fleet_view_says_what_a_unit_does(
    admin: Person, unit: UnitClient, server: TestServer
) -> None:
    beat = {"state": "recording", "version": "0.2.0"}
    await unit.json("POST", "/api/v1/unit/heartbeat", 204, json=beat)
    base = str(server.make_url("")).rstrip("/")
    async with chromium() as browser:
        page = await (await browser.new_context()).new_page()
        await sign_in(page, base, "ict-admin")  # the school's default language: Dutch
        await page.goto(f"{base}/admin/units")
        card = page.locator(f"article.unit[data-unit-id='{unit.unit_id}']")
        state = await card.locator("dt:has-text('Toestand') + dd").inner_text()
        assert state == "neemt op"
        await screenshot(page, "fleet-in-dutch")


@pytest.mark.slow
async def test_cameras_are_named_for_people_not_by_their_ids(
    lesson_id: str, server: TestServer, services: Services
) -> None:
    # A unit configured as the demo once was: its second camera "labelled" with its own id.
    with services.db.conn:
        services.db.execute(
            "UPDATE recordings SET manifest = json_set(manifest, '$.cameras[1].label', 'pupils')"
        )
    base = str(server.make_url("")).rstrip("/")
    async with chromium() as browser:
        page = await _lesson_page(browser, base, lesson_id)
        labels = await page.locator(".camera-label").all_inner_texts()
        assert labels == ["Hoofdcamera", "Tweede camera"]
        await page.goto(f"{base}/lessons/{lesson_id}/sharing")
        links = page.locator("a[download]")
        assert await links.all_inner_texts() == [
            "Hoofdcamera: video (MP4)",
            "Tweede camera: video (MP4)",
        ]
        assert (await links.first.get_attribute("href") or "").endswith("/main/video?download=1")
        await screenshot(page, "downloads-named-for-people")


@pytest.mark.slow
async def test_a_clip_error_appears_by_its_button(
    lesson_id: str, server: TestServer, anna: Person
) -> None:
    fragment = {"body": "Too short to cut", "start_s": 10, "end_s": 10.5}
    await anna.json("POST", f"/api/v1/lessons/{lesson_id}/comments", 201, json=fragment)
    base = str(server.make_url("")).rstrip("/")
    async with chromium() as browser:
        page = await _lesson_page(browser, base, lesson_id)
        thread = page.locator("article.thread", has_text="Too short to cut")
        await thread.locator("[data-action=clip]").click()
        error = thread.locator(".comment-actions + .error")
        await error.wait_for()
        assert "1" in await error.inner_text()  # "at least 1 second", in the reader's words
        assert await page.is_hidden("#comment-error")  # not at the top of the panel
        await screenshot(page, "clip-error-by-its-button")
