"""The browser's sync policy (``static/watch.js``), run alone on a blank page in Chromium:
where the shared timeline is, and what a follower does about a drift."""

from __future__ import annotations

from typing import Any

import pytest

from lessoncam_server.web import STATIC

from .browser import chromium

pytestmark = pytest.mark.slow  # starts Chromium

CASES = """(() => {
  const p = window.lessoncam.watchPolicy;
  const playing = {playing: true, position_s: 10, rate: 1.5, at_ms: 1000, version: 3};
  const paused = {playing: false, position_s: 10, rate: 1, at_ms: 1000, version: 4};
  return {
    target_playing: p.target(playing, 3000, 60),
    target_paused: p.target(paused, 90000, 60),
    target_end: p.target(playing, 1e9, 60),
    target_before_at: p.target(playing, 0, 60),
    in_step: p.correction(20.01, 20, 1, true),
    ahead: p.correction(20.1, 20, 1, true),
    behind: p.correction(19.9, 20, 2, true),
    far: p.correction(25, 20, 1, true),
    far_behind: p.correction(19.0, 20, 1, true),
    paused_near: p.correction(20.02, 20, 1, false),
    paused_off: p.correction(20.3, 20, 1, false),
    offset: p.offset([{rtt: 80, offset: 40}, {rtt: 4, offset: -3}, {rtt: 30, offset: 9}]),
    no_offset: p.offset([])
  };
})()"""


async def test_the_follower_nudges_small_drift_and_seeks_large() -> None:
    async with chromium() as browser:
        page = await browser.new_page()
        await page.set_content("<!doctype html><title>policy</title>")
        await page.add_script_tag(path=str(STATIC / "watch.js"))
        got: dict[str, Any] = await page.evaluate(CASES)
    assert got["target_playing"] == pytest.approx(13.0)  # 2 s at 1.5x from 10 s
    assert got["target_paused"] == 10
    assert got["target_end"] == 60
    assert got["target_before_at"] == 10  # a clock slightly behind never runs backwards
    assert got["in_step"]["kind"] == "none" and got["in_step"]["rate"] == 1
    assert got["ahead"]["kind"] == "nudge" and 0.85 <= got["ahead"]["rate"] < 1  # slows down
    assert got["behind"]["kind"] == "nudge" and 2 < got["behind"]["rate"] <= 2 * 1.15
    assert got["far"] == {"kind": "seek", "rate": 1, "time": 20}
    assert got["far_behind"]["kind"] == "seek"
    assert got["paused_near"]["kind"] == "none"
    assert got["paused_off"] == {"kind": "seek", "rate": 1, "time": 20}
    assert got["offset"] == -3  # the shortest round trip says most
    assert got["no_offset"] == 0
