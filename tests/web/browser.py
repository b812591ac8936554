"""Debian's Chromium driven by Playwright (never a downloaded browser), and page screenshots."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from ..server.helpers import PASSWORD

CHROMIUM = os.environ.get("LESSONCAM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Let the test press play without a click gesture first.
    "--autoplay-policy=no-user-gesture-required",
]
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "web"


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"no browser at {CHROMIUM}: apt-get install chromium (or set LESSONCAM_CHROMIUM)"
        )
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


async def screenshot(page: Page, name: str) -> None:
    """Save what the person sees as a test artifact (a gitignored folder)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def sign_in(page: Page, base: str, username: str, password: str = PASSWORD) -> None:
    await page.goto(f"{base}/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("form[action='/login'] button[type=submit]")
    await page.wait_for_url(f"{base}/library")


async def wait_until(page: Page, expression: str, timeout_s: float = 20.0) -> None:
    """Poll a JavaScript expression until it is true. (Playwright's wait_for_function compiles
    its predicate with eval, which our Content-Security-Policy rightly forbids.)"""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await page.evaluate(expression):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still false after {timeout_s} s: {expression}")
        await asyncio.sleep(0.05)
