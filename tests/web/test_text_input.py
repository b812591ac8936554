"""Text from clients is Unicode characters or a 400 with a code: never a 500, never text
quietly changed. (A lone surrogate cannot be stored: SQLite takes UTF-8.)"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from lessoncam_server.services import Services

from ..server.helpers import Person
from .pages import Reader

LONE = "\ud83d"  # the first half of 😀


async def _post_form(reader: Reader, path: str, body: bytes) -> tuple[int, str]:
    token = f"csrf_token={reader.csrf}&".encode()
    response = await reader.client.post(
        path, data=token + body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    return response.status, await response.text()


async def test_a_form_with_text_that_is_not_utf8_gets_a_400_page(
    lesson_id: str, reader: Callable[[str], Awaitable[Reader]], services: Services
) -> None:
    anna = await reader("anna")
    path = f"/lessons/{lesson_id}/edit"
    await anna.get(path)
    for title in (b"title=caf\xe9", b"title=%ED%A0%BD", b"title=%F0%9F%98"):
        status, page = await _post_form(anna, path, title + b"&description=")
        assert status == 400, (title, page[:500])
        assert "tekens die niet bewaard kunnen worden" in page  # the default language: Dutch
    stored = services.db.execute("SELECT title FROM recordings WHERE id = ?", [lesson_id])
    assert stored.fetchone()[0] in (None, "")
    # Real characters, emoji too, are taken as they are.
    status, _ = await _post_form(anna, path, b"title=caf%C3%A9+%F0%9F%98%80&description=")
    assert status == 200
    stored = services.db.execute("SELECT title FROM recordings WHERE id = ?", [lesson_id])
    assert stored.fetchone()[0] == "café 😀"


async def test_json_text_with_a_lone_surrogate_is_refused_everywhere(
    anna: Person, lesson_id: str, services: Services
) -> None:
    comments = f"/api/v1/lessons/{lesson_id}/comments"
    created = await anna.json("POST", comments, 201, json={"body": "fine", "start_s": 1})
    cases = [
        ("POST", comments, {"body": "a" + LONE, "start_s": 1}),
        ("PATCH", f"{comments}/{created['comment']['id']}", {"body": LONE}),
        ("POST", f"/api/v1/lessons/{lesson_id}/clips", {"start_s": 1, "end_s": 5, "title": LONE}),
        ("PATCH", f"/api/v1/lessons/{lesson_id}", {"title": LONE}),
    ]
    for method, path, body in cases:
        answer = await anna.json(method, path, 400, json=body)
        assert answer["error"] == "invalid_json", (path, answer)
    bodies = [row[0] for row in services.db.execute("SELECT body FROM comments")]
    assert bodies == ["fine"]
    assert services.db.execute("SELECT count(*) FROM recordings").fetchone()[0] == 1
