"""A share's end date reads as the last day it is valid, in the school's time zone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..server.helpers import Person
from .pages import Reader


def _row(page: str, username: str) -> str:
    """The shares table's row of ``username``."""
    table = page[page.index('id="shares"') :]
    return table[table.index(f"({username})") :].split("</tr>")[0]


async def test_until_10_december_reads_10_december(
    lesson_id: str,
    reader: Callable[[str], Awaitable[Reader]],
    anna: Person,
    make_user: Callable[..., dict[str, Any]],
) -> None:
    make_user("bert")
    make_user("carl")
    page = await reader("anna")
    path = f"/lessons/{lesson_id}/sharing"
    await page.get(path)
    # Through the form: "until 10 Dec" works all of 10 Dec (Amsterdam), so it ends at
    # 11 Dec 00:00 there, and the page says 10 Dec.
    shared = await page.post(path, {"username": "bert", "role": "viewer", "expires": "2026-12-10"})
    row = _row(shared, "bert")
    assert "10 dec 2026" in row and "11 dec" not in row and "00:00" not in row
    # Through the API, an end in the middle of a day keeps its time (local: 16:00).
    await anna.json(
        "POST",
        f"/api/v1/lessons/{lesson_id}/shares",
        201,
        json={"username": "carl", "role": "viewer", "expires_at": "2026-12-10T15:00:00Z"},
    )
    listed = await page.get(path)
    row = _row(listed, "carl")
    assert "10 dec 2026 16:00" in row
