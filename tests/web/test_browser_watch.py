"""Watching together in Chromium: teacher, coach and colleague in separate browser contexts.
Join, play, seek, pause, speed, layout, a comment, the pointer, a late joiner, the lead and its
hand-over; then a share revoked during a session and a network cut with catching up; and a
session recorded as a trajectory's conversation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import Browser, Page

from lessoncam_server.services import Services

from ..server.helpers import PASSWORD, FakeClock, Person, as_person
from ..server.test_trajectories import trajectory_with
from .browser import chromium, screenshot, sign_in, wait_until

MAIN = "document.getElementById('video-main')"
TIME = f"{MAIN}.currentTime"
IN_STEP_S = 0.25  # a tenth of a second is the aim; this leaves room for a loaded machine
pytestmark = pytest.mark.slow


async def _page_for(browser: Browser, base: str, username: str) -> Page:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await sign_in(page, base, username)
    return page


async def _time(page: Page) -> float:
    return float(await page.evaluate(TIME))


async def _in_step(follower: Page, leader: Page, tolerance: float = IN_STEP_S) -> None:
    """Wait until both show the same moment (the leader's clock is read between two of the
    follower's, so a playing pair is compared fairly)."""
    for _ in range(200):
        before = await _time(follower)
        lead = await _time(leader)
        after = await _time(follower)
        if abs((before + after) / 2 - lead) <= tolerance:
            return
        await follower.wait_for_timeout(100)
    raise AssertionError(f"not in step: {await _time(follower)} vs {await _time(leader)}")


async def _join_from_library(page: Page, base: str) -> None:
    await page.goto(f"{base}/library")
    await page.click("#watch-invitations a")
    await page.wait_for_url("**/lessons/*?watch=*")
    await wait_until(page, f"{MAIN}.readyState >= 1 && window.lessoncam.watch.state().connected")


async def _share(anna: Person, lesson_id: str, username: str, role: str) -> int:
    body = await anna.json(
        "POST",
        f"/api/v1/lessons/{lesson_id}/shares",
        201,
        json={"username": username, "role": role},
    )
    return int(body["share"]["id"])


async def _start(page: Page, base: str, lesson_id: str, *invite: str) -> str:
    await page.goto(f"{base}/lessons/{lesson_id}")
    for name in invite:
        await page.check(f"#watch-start-form input[name=invite][value={name}]")
    await page.click("#watch-start")
    await page.wait_for_url(f"{base}/lessons/{lesson_id}?watch=*")
    await wait_until(page, f"{MAIN}.readyState >= 2 && window.lessoncam.watch.state().connected")
    return page.url.rsplit("=", 1)[1]


async def test_teacher_coach_and_colleague_watch_in_step(
    lesson_id: str,
    server: TestServer,
    anna: Person,
    make_user: Callable[..., dict[str, Any]],
    services: Services,
) -> None:
    base = str(server.make_url("")).rstrip("/")
    coach_id = make_user("coach", "coach")["id"]
    make_user("colleague")
    await _share(anna, lesson_id, "coach", "commenter")
    await _share(anna, lesson_id, "colleague", "viewer")
    async with chromium() as browser:
        teacher = await _page_for(browser, base, "anna")
        await _start(teacher, base, lesson_id, "coach", "colleague")
        coach = await _page_for(browser, base, "coach")
        await _join_from_library(coach, base)
        await wait_until(teacher, "document.querySelectorAll('#watch-people li').length === 2")

        # Play from the teacher's button: the coach plays too, at the same moment.
        await teacher.click("#play")
        await wait_until(coach, f"!{MAIN}.paused && {TIME} > 1")
        await _in_step(coach, teacher)
        # A jump (a comment mark, the API the comment list uses): the coach follows.
        await teacher.evaluate("window.lessoncamPlayer.seek(30)")
        await wait_until(coach, f"{TIME} > 29.5 && {TIME} < 34")
        await _in_step(coach, teacher)
        # The coach pauses: the teacher stops at the same frame.
        await coach.click("#play")
        await wait_until(teacher, f"{MAIN}.paused")
        await _in_step(teacher, coach, 0.06)
        # A seek on the bar while paused (the coach's keys): the teacher lands there too.
        await coach.locator("#seekbar").focus()
        await coach.keyboard.press("ArrowLeft")
        await wait_until(teacher, f"Math.abs({TIME} - {await _time(coach)}) < 0.06")
        # Speed and layout act for everyone.
        await teacher.select_option("#speed", "1.5")
        await wait_until(coach, "document.getElementById('speed').value === '1.5'")
        await coach.click("#layout")
        await wait_until(
            teacher, "document.getElementById('stage').classList.contains('layout-pip')"
        )
        await coach.click("#layout")
        await wait_until(
            teacher, "!document.getElementById('stage').classList.contains('layout-pip')"
        )
        await teacher.select_option("#speed", "1")

        # A comment from the coach appears in the teacher's list at once.
        await coach.fill("#comment-body", "Look at the pupils at the back")
        await coach.click("#comment-submit")
        await teacher.wait_for_selector("article.thread .comment-body >> text=pupils at the back")

        # The pointer: the teacher points at the pupils' camera; the coach sees the marker.
        await teacher.click("#watch-point")
        box = await teacher.locator("#video-second").bounding_box()
        assert box is not None
        spot = {"x": box["width"] * 0.7, "y": box["height"] * 0.4}
        await teacher.locator("#video-second").click(position=spot)
        await coach.wait_for_selector("#screen-second .watch-pointer")
        assert await teacher.evaluate(f"{MAIN}.paused")  # pointing did not play the video

        # A late joiner lands at the current moment, playing as the others are; a viewer may
        # watch and point but not comment.
        await teacher.click("#play")
        await wait_until(coach, f"!{MAIN}.paused")
        colleague = await _page_for(browser, base, "colleague")
        await _join_from_library(colleague, base)
        await wait_until(colleague, f"!{MAIN}.paused")
        await _in_step(colleague, teacher)
        assert await colleague.locator("#comment-form").count() == 0

        # "Follow me": only the teacher steers; the coach's pause is undone.
        await teacher.click("#watch-take")
        await wait_until(coach, "window.lessoncam.watch.state().leader !== null")
        await coach.click("#play")
        await coach.wait_for_selector("#watch-note:not([hidden])")
        await wait_until(coach, f"!{MAIN}.paused")
        assert not await teacher.evaluate(f"{MAIN}.paused")
        # She hands the lead to the coach, who seeks: everyone follows him.
        await teacher.click(f"#watch-people [data-give='{coach_id}']")
        await wait_until(coach, f"window.lessoncam.watch.state().leader === {coach_id}")
        await coach.evaluate("window.lessoncamPlayer.seek(8)")
        await wait_until(teacher, f"{TIME} > 7.5 && {TIME} < 12")
        await _in_step(colleague, coach)
        await screenshot(teacher, "watch-together")

        # Seconds played count as watching time for the coach too.
        await coach.evaluate("window.lessoncamPlayer.reportPlayback()")
        await coach.wait_for_timeout(500)
        played = services.db.execute(
            "SELECT played_s FROM lesson_playback WHERE user_id = ?", [coach_id]
        ).fetchone()
        assert played is not None and played[0] > 1
        for page in (coach, colleague):
            await page.click("#watch-leave")
        await wait_until(teacher, "document.querySelectorAll('#watch-people li').length === 1")
        await teacher.click("#watch-end")
        await wait_until(teacher, "window.lessoncam.watch.state().stopped")
        assert await teacher.locator("#watch.watch-stopped").count() == 1
        # The owner sees who watched together, and how long.
        await teacher.goto(f"{base}/lessons/{lesson_id}")
        history = await teacher.inner_text("#watch-history")
        assert "coach" in history and "colleague" in history
    who = services.db.execute(
        "SELECT COUNT(*) FROM watch_participants WHERE first_joined_at IS NOT NULL"
        " AND present_s > 0"
    ).fetchone()[0]
    assert who == 3


async def test_a_revoked_share_ends_her_part_and_a_cut_network_catches_up(
    lesson_id: str,
    server: TestServer,
    anna: Person,
    make_user: Callable[..., dict[str, Any]],
) -> None:
    base = str(server.make_url("")).rstrip("/")
    make_user("coach", "coach")
    share_id = await _share(anna, lesson_id, "coach", "commenter")
    async with chromium() as browser:
        teacher = await _page_for(browser, base, "anna")
        await _start(teacher, base, lesson_id, "coach")
        coach = await _page_for(browser, base, "coach")
        await _join_from_library(coach, base)
        await teacher.click("#play")
        await wait_until(coach, f"!{MAIN}.paused && {TIME} > 1")

        # The coach's network is cut; meanwhile the teacher jumps ahead and pauses.
        await coach.context.set_offline(True)
        await wait_until(coach, "!window.lessoncam.watch.state().connected")
        await teacher.evaluate("window.lessoncamPlayer.seek(40)")
        await teacher.click("#play")  # pause
        await wait_until(teacher, f"{MAIN}.paused")
        await coach.wait_for_timeout(800)
        assert await _time(coach) < 30  # cut off, she did not follow
        await coach.context.set_offline(False)
        await wait_until(coach, "window.lessoncam.watch.state().connected")
        await wait_until(coach, f"{MAIN}.paused")
        await _in_step(coach, teacher, 0.06)

        # The teacher revokes the share during the session: the coach is out at once.
        await teacher.evaluate(
            "(id) => fetch(`/api/v1/lessons/${document.getElementById('watch').dataset.lesson}"
            "/shares/${id}`, {method: 'DELETE', headers: {'X-CSRF-Token':"
            " document.querySelector('meta[name=csrf-token]').content}})",
            share_id,
        )
        await wait_until(coach, "window.lessoncam.watch.state().stopped", timeout_s=5)
        assert await coach.locator("#watch.watch-stopped").count() == 1
        await wait_until(teacher, "document.querySelectorAll('#watch-people li').length === 1")
        await screenshot(coach, "watch-together-revoked")


async def test_the_coach_records_a_session_as_the_trajectorys_conversation(
    lesson_id: str,
    server: TestServer,
    anna: Person,
    make_user: Callable[..., dict[str, Any]],
    new_client: Callable[[], Awaitable[TestClient]],
    clock: FakeClock,
) -> None:
    """Teacher (Dutch) and coach (English) watch a trajectory's lesson together; afterwards
    the coach records the session as the trajectory's conversation, from its page."""
    base = str(server.make_url("")).rstrip("/")
    make_user("coach", "coach")
    coach_api = await as_person(await new_client(), "coach", PASSWORD)
    tid = await trajectory_with(anna, coach_api, lesson=lesson_id)
    await coach_api.json(
        "POST", f"/api/v1/lessons/{lesson_id}/comments", 201, json={"body": "hier", "start_s": 12}
    )
    clock.advance(minutes=5)  # that comment was made before the session: not discussed in it
    async with chromium() as browser:
        teacher = await _page_for(browser, base, "anna")
        await _start(teacher, base, lesson_id, "coach")
        coach = await _page_for(browser, base, "coach")
        await _join_from_library(coach, base)
        await wait_until(teacher, "document.querySelectorAll('#watch-people li').length === 2")
        comment = {"body": "Here he starts alone", "start_s": 20, "end_s": 26}
        await coach_api.json("POST", f"/api/v1/lessons/{lesson_id}/comments", 201, json=comment)
        await coach.click("#watch-leave")
        await wait_until(teacher, "document.querySelectorAll('#watch-people li').length === 1")
        await teacher.click("#watch-end")
        await wait_until(teacher, "window.lessoncam.watch.state().stopped")

        # The coach, back on the lesson page, follows its link to the trajectory, switches to
        # English, finds the session there and records it.
        await coach.click("#watch-trajectory a")
        await coach.wait_for_url(f"{base}/trajectories/{tid}#watch-sessions")
        await coach.click("button[lang=en]")
        record = coach.locator("#watch-sessions button")
        assert await record.inner_text() == "Record this session as a conversation"
        await record.click()
        await coach.wait_for_url(f"{base}/trajectories/{tid}/steps/*/edit?notice=from_session")
        assert "written down as a conversation" in await coach.locator("p.notice").inner_text()
        assert "Written down from a watch-together session." in await coach.inner_text(
            "#from-session"
        )
        checked = coach.locator("#step-edit-form input[name=participants]:checked")
        assert sorted(await checked.evaluate_all("(boxes) => boxes.map(b => b.value)")) == [
            "anna",
            "coach",
        ]
        assert await coach.input_value("#step-edit-form input[name=fragments]") == "0:20-0:26"
        await coach.fill("#step-edit-form textarea[name=agreements]", "Let him start alone.")
        await coach.click("#step-edit-form button[type=submit]")
        await coach.wait_for_url(f"{base}/trajectories/{tid}?notice=saved")
        shown = coach.locator("#timeline .watched-together")
        assert await shown.inner_text() == "Watched together: 2 people, 1 min"
        assert "Let him start alone." in await coach.inner_text("#timeline")
        assert await coach.inner_text("#watch-sessions li .muted") == (
            "Written down as a conversation"
        )

        # The teacher sees it on the trajectory page, in Dutch.
        await teacher.goto(f"{base}/trajectories/{tid}")
        together = teacher.locator("#timeline .watched-together")
        assert await together.inner_text() == "Samen bekeken: 2 personen, 1 min"
        assert await teacher.locator("#watch-sessions button").count() == 0
        await screenshot(coach, "watch-together-conversation")
