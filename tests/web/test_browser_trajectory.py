"""A coaching trajectory in Chromium, in Dutch (the teacher) and in English (the coach): start
it (a pupil's name is refused), invite the coach who accepts, record the parents' consent,
claim the simulated unit into it and record a lesson there with the button, the coach watches
and comments, then leaves; she reflects, enters SDQ scores, agrees to research and closes;
a coordinator reads the summary and the export's CSV, checked against what was entered."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestServer
from gpiozero.pins.mock import MockFactory
from playwright.async_api import Browser, Page

from lessoncam_device.enrolment import Credentials
from lessoncam_device.sim.clock import SteppedClock
from lessoncam_device.states import Event, State
from lessoncam_server.coaching import reflections
from lessoncam_server.services import Services

from ..device.daemon_helpers import record_for, running, simulated_daemon, tap, unit_config, until
from ..server.helpers import Person, UnitClient
from ..server.lesson_fixtures import assembled
from .browser import chromium, screenshot, sign_in, wait_until

VIDEO_SECONDS = 20
SDQ_START = {
    "emotional": 4,
    "conduct": 5,
    "hyperactivity": 8,
    "peer": 3,
    "prosocial": 4,
    "impact": 3,
}
SDQ_END = {"emotional": 2, "conduct": 2, "hyperactivity": 6, "peer": 2, "prosocial": 7, "impact": 1}


async def _page_for(browser: Browser, base: str, username: str) -> Page:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await sign_in(page, base, username)
    return page


async def _csv(page: Page, url: str) -> list[dict[str, str]]:
    """A CSV download as the signed-in person gets it, read back."""
    response = await page.request.get(url)
    assert response.status == 200, url
    return list(csv.DictReader(io.StringIO(await response.text())))


async def _record_on_the_unit(
    credentials: Credentials, services: Services, state_dir: Path, seconds: float
) -> str:
    """Press the simulated unit's button, record ``seconds`` of lesson, long-press to stop,
    and wait until the server has it ready; the recording's id."""
    clock = SteppedClock()
    pins = MockFactory()
    daemon = simulated_daemon(unit_config(state_dir), clock, credentials, pins)
    async with running(daemon):
        await tap(pins.pin(17))
        await until(lambda: daemon.status.state is State.RECORDING)
        await record_for(daemon, clock, seconds)
        daemon.post(Event.LONG_PRESS)
        await until(lambda: daemon.status.state is State.IDLE, clock)
        (recording_id,) = daemon.finished_recordings

        def ready() -> bool:
            row = services.db.execute(
                "SELECT state FROM recordings WHERE id = ?", [recording_id]
            ).fetchone()
            return row is not None and row[0] == "ready"

        await until(ready)
    return str(recording_id)


@pytest.mark.slow
async def test_a_trajectory_in_chromium_in_dutch_and_english(
    anna: Person,
    unit: UnitClient,
    server: TestServer,
    services: Services,
    make_user: Callable[..., dict[str, Any]],
    tmp_path: Path,
) -> None:
    make_user("coach", "coach")
    make_user("cora")  # the school's research coordinator, once an admin names her
    base = str(server.make_url("")).rstrip("/")
    credentials = Credentials(base, unit.unit_id, unit.token)
    async with chromium() as browser:
        teacher = await _page_for(browser, base, "anna")  # Dutch: the server's default
        await teacher.click("nav >> text=Trajecten")
        await teacher.click("#new-trajectory")
        await teacher.fill("input[name=title]", "Rust in groep 5")
        await teacher.fill(
            "textarea[name=question]", "Hoe help ik Leerling A om zelf aan het werk te gaan?"
        )
        await teacher.fill("input[name=pupil_label]", "Bram de Vries")
        await teacher.fill("input[name=pupil_group]", "Groep 5")
        await teacher.fill("input[name=pupil_birth_year]", "2017")
        await teacher.select_option("select[name=viewing_guide]", "question")
        await teacher.fill("input[name=viewing_question]", "Wanneer begint Leerling A?")
        await teacher.fill("input[name=review_date]", "2027-02-01")
        await teacher.click("#trajectory-form button[type=submit]")
        error = teacher.locator("p.error")
        assert "Nooit een naam" in await error.inner_text()
        await teacher.fill("input[name=pupil_label]", "Leerling A")
        await teacher.click("#trajectory-form button[type=submit]")
        await teacher.wait_for_selector("#trajectory-title")
        assert await teacher.inner_text("#pupil") == "Leerling A, Groep 5, geboren in 2017"
        tid = urlsplit(teacher.url).path.rsplit("/", 1)[-1]

        # She invites the coach; he (in English) accepts from his list of trajectories.
        await teacher.select_option("#invite-form select[name=username]", "coach")
        await teacher.click("#invite-form button[type=submit]")
        await teacher.wait_for_selector("#members >> text=uitgenodigd, nog geen antwoord")
        coach = await _page_for(browser, base, "coach")
        await coach.click("button[lang=en]")
        await coach.click("nav >> text=Trajectories")
        await coach.click("#invitations button[value=accept]")
        await coach.wait_for_selector("#pupil >> text=Leerling A, Groep 5, born in 2017")

        # Without the parents' consent nothing goes in; she records it, naming the coach.
        await teacher.goto(f"{base}/units")
        assert await teacher.locator("select[name=trajectory_id]").count() == 0
        await teacher.goto(f"{base}/trajectories/{tid}")
        assert await teacher.locator("#no-consent").count() == 1
        await teacher.check("#consent-form input[name=watchers][value=coach]")
        await teacher.check("#consent-form input[name=research]")
        await teacher.click("#consent-form button[type=submit]")
        await teacher.wait_for_selector("#consent-watchers >> text=coach")

        # She claims the unit into the trajectory and records a lesson with its button.
        await teacher.goto(f"{base}/units")
        card = teacher.locator(f"[data-unit-id='{unit.unit_id}']")
        await card.locator("select[name=trajectory_id]").select_option(tid)
        await card.locator("button[type=submit]").click()
        await teacher.wait_for_selector("p.notice")
        lesson_id = await _record_on_the_unit(
            credentials, services, tmp_path / "unit", VIDEO_SECONDS
        )
        await assembled(services)
        await teacher.goto(f"{base}/trajectories/{tid}")
        await teacher.wait_for_selector(f"#trajectory-lessons [data-lesson-id='{lesson_id}']")

        # She watches a while; what the player measured fills in her watching minutes.
        await teacher.goto(f"{base}/library")
        await teacher.click(f"#reflection-prompts [data-reflect='{lesson_id}']")
        await teacher.goto(f"{base}/lessons/{lesson_id}")
        await wait_until(teacher, "document.getElementById('video-main').readyState >= 2")
        await teacher.click("#play")
        await wait_until(teacher, "document.getElementById('video-main').currentTime > 3")
        await teacher.click("#play")  # pause
        await teacher.evaluate("window.lessoncamPlayer.reportPlayback()")

        def played() -> float:
            row = services.db.execute("SELECT played_s FROM lesson_playback").fetchone()
            return float(row[0]) if row else 0.0

        await until(lambda: played() > 0)
        assert played() <= VIDEO_SECONDS  # wall-clock time while it played, not more
        await teacher.click("#reflect")
        minutes = teacher.locator("input[name=minutes_watching]")
        watching = reflections.watching_minutes(played())
        assert await minutes.input_value() == str(watching)
        for question, value in (
            ("pleasant", "4"),
            ("worth_time", "5"),
            ("insight_pupil", "4"),
            ("insight_approach", "3"),
            ("insight_interventions", "4"),
        ):
            await teacher.check(f"input[name={question}][value='{value}']")
        await teacher.check("input[name=watched_with][value=coach]")
        await teacher.fill("textarea[name=next_try]", "Een kaart met de eerste stap.")
        await teacher.fill("input[name=minutes_preparing]", "10")
        await teacher.fill("input[name=minutes_talking]", "30")
        await teacher.click("#reflection-form button[type=submit]")
        await teacher.wait_for_selector("#reflection dd[data-question=pleasant] >> text=4 van 5")

        # The coach finds it in his library and on the trajectory page, and comments on it.
        await coach.goto(f"{base}/library")
        await coach.wait_for_selector(f"[data-lesson-id='{lesson_id}'] >> text=Trajectory:")
        await coach.goto(f"{base}/trajectories/{tid}")
        await coach.click(f"#trajectory-lessons [data-lesson-id='{lesson_id}'] a")
        await coach.wait_for_selector("#lesson-trajectory >> text=Rust in groep 5")
        # He reads her reflection, in English.
        await coach.wait_for_selector("#reflection dd[data-question=watched_with] >> text=coach")
        await coach.fill("#comment-body", "Here Pupil A starts on his own.")
        await coach.click("#comment-submit")
        await coach.wait_for_selector("article.thread .comment-body >> text=starts on his own")
        # He writes his analysis with two fragments; a fragment link opens the lesson there.
        await coach.goto(f"{base}/trajectories/{tid}")
        await coach.click("#write-step summary >> text=Analysis of a lesson")
        await coach.fill("#analysis-form textarea[name=body]", "He looks around, then starts.")
        await coach.fill("#analysis-form input[name=fragments]", "0:04-0:08; 0:12-0:15")
        await coach.click("#analysis-form button[type=submit]")
        step = coach.locator("#timeline .step-lesson .step-note")
        await step.locator("a.fragment >> text=0:12\u20130:15").click()
        await coach.wait_for_url(f"{base}/lessons/{lesson_id}#t=12.0")
        await wait_until(
            coach, "Math.abs(document.getElementById('video-main').currentTime - 12) < 0.1"
        )

        # The teacher notes their conversation and what she will try; a goal is on its way.
        await teacher.goto(f"{base}/trajectories/{tid}")
        await teacher.click("#write-step summary >> text=Gesprek")
        await teacher.fill("#conversation-form input[name=minutes]", "30")
        await teacher.check("#conversation-form input[name=participants][value=coach]")
        await teacher.fill("#conversation-form textarea[name=body]", "Samen het begin bekeken.")
        await teacher.select_option("#conversation-form select[name=fragment_lesson]", lesson_id)
        await teacher.fill("#conversation-form input[name=fragments]", "0:12-0:15")
        await teacher.fill(
            "#conversation-form textarea[name=agreements]", "Ik geef hem een startkaart."
        )
        await teacher.click("#conversation-form button[type=submit]")
        await teacher.wait_for_selector("#timeline .agreements >> text=startkaart")
        await teacher.fill("#goal-form input[name=text]", "Begint binnen twee minuten zelf")
        await teacher.click("#goal-form button[type=submit]")
        goal = teacher.locator("#goals li.goal")
        await goal.locator("select[name=state]").select_option("working")
        await goal.locator("button[type=submit]").click()
        await teacher.wait_for_selector("#goals .goal-working")
        # She enters the SDQ scale scores she worked out on paper, at the start and the end.
        for moment, scores in (("start", SDQ_START), ("end", SDQ_END)):
            form = teacher.locator("form.measure-form")
            if not await form.is_visible():
                await teacher.click("#measures summary")
            await form.locator("select[name=moment]").select_option(moment)
            for key, value in scores.items():
                await form.locator(f"input[name=score_{key}]").fill(str(value))
            await form.locator("button[type=submit]").click()
            await teacher.wait_for_selector(
                f"#measures th >> text={'Start' if moment == 'start' else 'Eind'}"
            )
        total = teacher.locator("#measures tr[data-scale=total]")
        assert "iets verhoogd" in await total.inner_text()
        assert await teacher.locator("#measures svg.chart").count() == 7
        await screenshot(teacher, "trajectory-nl")
        await coach.goto(f"{base}/trajectories/{tid}")
        await screenshot(coach, "trajectory-en")

        # He leaves: the trajectory and the lesson are closed to him at once.
        await coach.click("#leave")
        await coach.wait_for_selector("p.notice >> text=You left the trajectory")
        response = await coach.goto(f"{base}/lessons/{lesson_id}")
        assert response is not None and response.status == 404
        response = await coach.goto(f"{base}/trajectories/{tid}")
        assert response is not None and response.status == 404

        # She agrees to research and closes the trajectory with a closing note.
        await teacher.goto(f"{base}/trajectories/{tid}")
        await teacher.click("#research-form button[type=submit]")
        await teacher.wait_for_selector("#research-agreed")
        await teacher.fill("#close-form textarea[name=closing_note]", "Leerling A begint nu zelf.")
        await teacher.click("#close-form button[type=submit]")
        await teacher.wait_for_selector("#timeline .step-closing >> text=begint nu zelf")

        # An admin names a coordinator; she reads the summary and downloads the export, whose
        # CSV holds, column by column, what the teacher entered.
        boss = await _page_for(browser, base, "ict-admin")
        await boss.goto(f"{base}/admin/research")
        await boss.select_option("#coordinator-form select[name=username]", "cora")
        await boss.click("#coordinator-form button[type=submit]")
        await boss.wait_for_selector("#coordinators >> text=cora")
        cora = await _page_for(browser, base, "cora")
        await cora.click("button[lang=en]")
        await cora.goto(f"{base}/trajectories")
        await cora.click("#research-link")
        await cora.wait_for_selector("#summary [data-support=video_coach]")
        assert await cora.inner_text("#summary [data-recordings=video_coach]") == "1"
        await screenshot(cora, "research-summary")
        reflections_csv = await _csv(cora, f"{base}/api/v1/research/export/reflections.csv")
        (row,) = reflections_csv
        entered = {
            "pleasant": "4",
            "worth_time": "5",
            "insight_pupil": "4",
            "insight_approach": "3",
            "insight_interventions": "4",
            "next_try": "Een kaart met de eerste stap.",
            "minutes_preparing": "10",
            "minutes_watching": str(watching),
            "minutes_talking": "30",
            "watched_with": "coach",
        }
        for key, value in entered.items():
            assert row[f"q_{key}"] == value, key
        assert (row["support"], row["respondent_role"], row["form_version"]) == (
            "video_coach",
            "teacher",
            "1",
        )
        measures_csv = await _csv(cora, f"{base}/api/v1/research/export/measures.csv")
        for measured, scores in zip(measures_csv, (SDQ_START, SDQ_END), strict=True):
            for key, value in scores.items():
                assert measured[key] == str(value), key
        assert [m["total"] for m in measures_csv] == ["20", "12"]
        (talk,) = await _csv(cora, f"{base}/api/v1/research/export/conversations.csv")
        assert (talk["minutes"], talk["participant_roles"], talk["fragments"]) == (
            "30",
            "coach;teacher",
            "1",
        )
        codebook = await _csv(cora, f"{base}/api/v1/research/export/codebook.csv")
        described = {(c["table"], c["column"]) for c in codebook}
        assert all(("reflections", column) in described for column in row)
