"""The memoized comment list and library never show stale or someone else's content."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from ..server.helpers import Person
from .pages import Reader


@pytest.mark.slow
async def test_comment_list_follows_every_change_and_every_reader(
    lesson_id: str,
    anna: Person,
    reader: Callable[[str], Awaitable[Reader]],
    sign_in: Callable[..., Awaitable[Person]],
) -> None:
    bert = await sign_in("bert")
    await anna.json(
        "POST",
        f"/api/v1/lessons/{lesson_id}/shares",
        201,
        json={"username": "bert", "role": "commenter"},
    )
    api = f"/api/v1/lessons/{lesson_id}/comments"
    first = await anna.json("POST", api, 201, json={"body": "First version", "start_s": 5})
    anna_page, bert_page = await reader("anna"), await reader("bert")
    assert "First version" in await anna_page.get(f"/lessons/{lesson_id}")
    assert "First version" in await bert_page.get(f"/lessons/{lesson_id}")

    await anna.json("PATCH", f"{api}/{first['comment']['id']}", json={"body": "Second version"})
    await bert.json(
        "POST", api, 201, json={"body": "Bert's own note", "start_s": 9, "visibility": "private"}
    )
    html = await anna_page.get(f"/lessons/{lesson_id}")
    assert "Second version" in html and "First version" not in html
    assert "Bert's own note" not in html  # a private note stays private
    html = await bert_page.get(f"/lessons/{lesson_id}/comments/list")
    assert "Second version" in html and "Bert&#39;s own note" in html

    # Rights are part of the content: after a downgrade to viewer bert gets no reply button.
    await anna.json(
        "POST",
        f"/api/v1/lessons/{lesson_id}/shares",
        200,
        json={"username": "bert", "role": "viewer"},
    )
    html = await bert_page.get(f"/lessons/{lesson_id}")
    assert 'data-action="reply"' not in html and 'id="comment-form"' not in html
