"""School ICT in Chromium: enrol a unit (code as text and QR), the fleet, accounts, audit log."""

from __future__ import annotations

import base64

import cv2
import numpy as np
import pytest
from aiohttp.test_utils import TestServer

from ..server.helpers import Person, UnitClient
from .browser import chromium, screenshot, sign_in


def _snapshot() -> str:
    image = np.full((180, 320, 3), 200, np.uint8)
    cv2.rectangle(image, (120, 60), (200, 140), (40, 90, 160), -1)
    ok, jpeg = cv2.imencode(".jpg", image)
    assert ok
    return base64.b64encode(jpeg.tobytes()).decode()


@pytest.mark.slow
async def test_admin_enrols_a_unit_watches_the_fleet_and_manages_accounts(
    admin: Person, unit: UnitClient, server: TestServer
) -> None:
    await unit.json(
        "POST",
        "/api/v1/unit/heartbeat",
        204,
        json={
            "state": "idle",
            "version": "0.1.0",
            "free_disk_bytes": 23_400_000_000,
            "temperature_c": 51.5,
            "queue_length": 2,
            "last_error": "upload refused: disk full on server",
            "snapshot_jpeg_base64": _snapshot(),
        },
    )
    base = str(server.make_url("")).rstrip("/")
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        await page.goto(f"{base}/login")
        await page.click("button[name=language][value=en]")  # before signing in
        await sign_in(page, base, "ict-admin")
        await page.goto(f"{base}/admin/units")
        card = page.locator(f"article.unit[data-unit-id='{unit.unit_id}']")
        assert "online" in (await card.get_attribute("class") or "")
        text = await card.inner_text()
        for fact in ("idle", "0.1.0", "23.4 GB", "51.5 °C", "disk full on server"):
            assert fact in text, fact
        assert await card.locator("img.snapshot").evaluate("i => i.naturalWidth") == 320

        await page.fill("input[name=unit_name]", "Group 7")
        await page.click("form[action='/admin/units/codes'] button[type=submit]")
        code = await page.inner_text("#enrolment-code")
        assert len(code) == 14 and code.count("-") == 2
        assert await page.locator("#new-code svg path").count() >= 1
        await screenshot(page, "admin-units")

        await page.goto(f"{base}/admin/users")
        await page.fill("form[action='/admin/users'] input[name=username]", "dora")
        await page.fill("form[action='/admin/users'] input[name=display_name]", "Dora de Vries")
        await page.click("form[action='/admin/users'] button[type=submit]")
        password = await page.inner_text("#shown-password code")
        assert len(password) >= 12
        assert await page.locator("#users >> text=Dora de Vries").count() == 1
        await screenshot(page, "admin-users")

        await page.goto(f"{base}/admin/audit?action=user_create")
        rows = page.locator("#audit tbody tr")
        assert await rows.count() == 1 and "ict-admin" in await rows.first.inner_text()
        await page.goto(f"{base}/admin/audit")
        await screenshot(page, "admin-audit")

        # Dora can sign in with the password shown once.
        other = await browser.new_page()
        await sign_in(other, base, "dora", password)
