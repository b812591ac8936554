"""Time-coded comments on a lesson: at a moment or over a fragment, shared or private, tagged
from the school's viewing guide, with one level of replies.

A private note is seen by its author and nobody else, ever: not the lesson's owner, not in
counts, not in exports. Every function here takes the caller's user id and filters on it.
Access to the lesson itself (view / comment / manage) is checked by the caller first.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlite_utils import Database

from ..access.permissions import Access
from ..config import ViewingGuideConfig
from ..infra.db import query_row, query_rows
from ..infra.errors import Conflict, Forbidden, Invalid, NotFound
from ..infra.spreadsheets import csv_cell
from ..infra.timeutil import to_iso
from .fragments import check_span, format_time

MAX_BODY_CHARS = 5000
Visibility = Literal["shared", "private"]
Language = Literal["en", "nl"]

# Every query below shows the caller shared comments and her own private notes only:
# (c.visibility = 'shared' OR c.author_id = :user)


@dataclass(frozen=True)
class NewComment:
    """A comment as a person writes it; a reply names ``parent_id`` and takes its times."""

    body: str
    start_s: float | None = None
    end_s: float | None = None
    visibility: str = "shared"
    tags: tuple[str, ...] = ()
    parent_id: int | None = None


def viewing_guide(guide: ViewingGuideConfig) -> dict[str, Any]:
    """The viewing guide as the pages show it: ``{"tags": [{"key", "en", "nl"}], "max_tags"}``."""
    return {
        "tags": [{"key": t.key, "en": t.en, "nl": t.nl} for t in guide.tags],
        "max_tags": guide.max_tags_per_comment,
    }


def _check_body(body: str) -> str:
    text = body.replace("\x00", "").strip()
    if not text:
        raise Invalid("comment_empty", "write something first: the comment is empty")
    if len(text) > MAX_BODY_CHARS:
        raise Invalid(
            "comment_too_long",
            f"a comment may be at most {MAX_BODY_CHARS} characters; this one has {len(text)}",
        )
    return text


def _check_tags(tags: Iterable[str], guide: ViewingGuideConfig) -> list[str]:
    known = {t.key for t in guide.tags}
    out: list[str] = []
    for tag in tags:
        if tag not in known:
            raise Invalid("unknown_tag", f"{tag[:40]!r} is not a tag of the viewing guide")
        if tag not in out:
            out.append(tag)
    if len(out) > guide.max_tags_per_comment:
        raise Invalid(
            "too_many_tags", f"a comment may carry at most {guide.max_tags_per_comment} tags"
        )
    return out


def _check_visibility(value: str) -> Visibility:
    if value == "shared":
        return "shared"
    if value == "private":
        return "private"
    raise Invalid("visibility_invalid", "visibility is 'shared' or 'private'")


def _duration(lesson: Mapping[str, Any]) -> float:
    if lesson["state"] != "ready" or lesson["duration_s"] is None:
        raise Conflict("lesson_not_ready", "comments can be added once the lesson is ready")
    return float(lesson["duration_s"])


def _row(db: Database, recording_id: str, comment_id: int, user_id: int) -> dict[str, Any] | None:
    return query_row(
        db,
        "SELECT c.* FROM comments c WHERE c.id = :id AND c.recording_id = :rid"
        " AND (c.visibility = 'shared' OR c.author_id = :user)",
        {"id": comment_id, "rid": recording_id, "user": user_id},
    )


def _not_found() -> NotFound:
    return NotFound("not_found", "no such comment, or you cannot see it")


def create(
    db: Database,
    lesson: Mapping[str, Any],
    user_id: int,
    new: NewComment,
    guide: ViewingGuideConfig,
    now: datetime,
) -> dict[str, Any]:
    """Store a comment (the caller checked ``comment`` access); returns its row."""
    duration = _duration(lesson)
    body = _check_body(new.body)
    tags = _check_tags(new.tags, guide)
    visibility = _check_visibility(new.visibility)
    parent_id: int | None = None
    if new.parent_id is not None:
        parent = _row(db, lesson["id"], new.parent_id, user_id)
        if parent is None:
            raise Invalid(
                "parent_not_found", "the comment you reply to is not on this lesson (any more)"
            )
        if parent["parent_id"] is not None:  # one level of replies: join the thread
            root = _row(db, lesson["id"], parent["parent_id"], user_id)
            parent = root or parent
        parent_id = parent["id"]
        start, end = parent["start_s"], parent["end_s"]
        if parent["visibility"] == "private":
            visibility = "private"  # a reply to a private note stays private
    else:
        if new.start_s is None:
            raise Invalid("time_required", "say at what moment of the lesson (start_s)")
        start, end = check_span(new.start_s, new.end_s, duration)
    comment_id = (
        db.table("comments")
        .insert(
            {
                "recording_id": lesson["id"],
                "author_id": user_id,
                "parent_id": parent_id,
                "start_s": start,
                "end_s": end,
                "body": body,
                "visibility": visibility,
                "tags": json.dumps(tags),
                "created_at": to_iso(now),
            }
        )
        .last_pk
    )
    assert comment_id is not None
    row = _row(db, lesson["id"], int(comment_id), user_id)
    assert row is not None
    return row


@dataclass(frozen=True)
class CommentChange:
    """Fields to change; None leaves a field as it is. ``clear_end`` turns a fragment into a
    moment."""

    body: str | None = None
    start_s: float | None = None
    end_s: float | None = None
    clear_end: bool = False
    visibility: str | None = None
    tags: tuple[str, ...] | None = None


def update(
    db: Database,
    lesson: Mapping[str, Any],
    user_id: int,
    comment_id: int,
    change: CommentChange,
    guide: ViewingGuideConfig,
    now: datetime,
) -> dict[str, Any]:
    """Edit one's own comment (the caller checked ``comment`` access); returns the new row."""
    row = _row(db, lesson["id"], comment_id, user_id)
    if row is None:
        raise _not_found()
    if row["author_id"] != user_id:
        raise Forbidden("not_author", "only its author can edit a comment")
    values: dict[str, Any] = {}
    if change.body is not None:
        values["body"] = _check_body(change.body)
    if change.tags is not None:
        values["tags"] = json.dumps(_check_tags(change.tags, guide))
    if change.visibility is not None:
        visibility = _check_visibility(change.visibility)
        if visibility == "private" and row["visibility"] == "shared" and _others_replied(db, row):
            raise Conflict(
                "has_replies", "others replied to this comment; it cannot become private"
            )
        if row["parent_id"] is not None and visibility == "shared":
            parent = _row(db, lesson["id"], row["parent_id"], user_id)
            if parent is not None and parent["visibility"] == "private":
                visibility = "private"
        values["visibility"] = visibility
    moved = change.start_s is not None or change.end_s is not None or change.clear_end
    if moved:
        if row["parent_id"] is not None:
            raise Invalid("reply_time", "a reply keeps the time of the comment it answers")
        start = change.start_s if change.start_s is not None else row["start_s"]
        end = row["end_s"]
        if change.clear_end:
            end = None
        elif change.end_s is not None:
            end = change.end_s
        values["start_s"], values["end_s"] = check_span(start, end, _duration(lesson))
    if values:
        values["edited_at"] = to_iso(now)
        with db.atomic():
            db.table("comments").update(comment_id, values)
            if "start_s" in values:  # replies sit where their thread sits
                db.execute(
                    "UPDATE comments SET start_s = ?, end_s = ? WHERE parent_id = ?",
                    [values["start_s"], values["end_s"], comment_id],
                )
    fresh = _row(db, lesson["id"], comment_id, user_id)
    assert fresh is not None
    return fresh


def _others_replied(db: Database, row: Mapping[str, Any]) -> bool:
    found = db.execute(
        "SELECT 1 FROM comments WHERE parent_id = ? AND (author_id IS NOT ? ) LIMIT 1",
        [row["id"], row["author_id"]],
    ).fetchone()
    return found is not None


def delete(
    db: Database, lesson: Mapping[str, Any], user_id: int, comment_id: int, access: Access
) -> dict[str, Any]:
    """Delete a comment and its replies: by its author, or by the lesson's owner.

    Returns the deleted row with ``replies_deleted`` (how many replies went with it).
    """
    row = _row(db, lesson["id"], comment_id, user_id)
    if row is None:
        raise _not_found()
    if row["author_id"] != user_id and not access.manage:
        raise Forbidden("not_author", "only its author or the lesson's owner can delete a comment")
    with db.atomic():
        replies = db.execute(
            "SELECT COUNT(*) FROM comments WHERE parent_id = ?", [comment_id]
        ).fetchone()[0]
        db.execute("DELETE FROM comments WHERE id = ?", [comment_id])
    return {**row, "replies_deleted": int(replies)}


def count_visible(db: Database, recording_id: str, user_id: int) -> int:
    """How many comments (replies included) ``user_id`` can see on a lesson."""
    row = db.execute(
        "SELECT COUNT(*) FROM comments c WHERE c.recording_id = :rid"
        " AND (c.visibility = 'shared' OR c.author_id = :user)",
        {"rid": recording_id, "user": user_id},
    ).fetchone()
    return int(row[0])


def _labels(guide: ViewingGuideConfig) -> dict[str, dict[str, str]]:
    return {t.key: {"key": t.key, "en": t.en, "nl": t.nl} for t in guide.tags}


def describe(
    row: Mapping[str, Any],
    user_id: int,
    access: Access,
    guide: ViewingGuideConfig,
    authors: Mapping[int, tuple[str, str]],
) -> dict[str, Any]:
    """One comment as the API returns it (see docs/web-api.md)."""
    labels = _labels(guide)
    author = authors.get(row["author_id"]) if row["author_id"] is not None else None
    mine = row["author_id"] == user_id
    return {
        "id": row["id"],
        "lesson_id": row["recording_id"],
        "parent_id": row["parent_id"],
        "start_s": row["start_s"],
        "end_s": row["end_s"],
        "body": row["body"],
        "visibility": row["visibility"],
        "tags": [
            labels.get(key, {"key": key, "en": key, "nl": key}) for key in json.loads(row["tags"])
        ],
        "author": {"username": author[0], "display_name": author[1]} if author else None,
        "is_mine": mine,
        "can_edit": mine and access.comment,
        "can_delete": mine or access.manage,
        "created_at": row["created_at"],
        "edited_at": row["edited_at"],
    }


def threads(
    db: Database,
    recording_id: str,
    user_id: int,
    access: Access,
    guide: ViewingGuideConfig,
) -> list[dict[str, Any]]:
    """The comments ``user_id`` can see, as threads in timeline order, each with ``replies``
    (oldest first). A reply whose thread the caller cannot see is not shown."""
    rows = query_rows(
        db,
        """SELECT c.* FROM comments c WHERE c.recording_id = :rid
            AND (c.visibility = 'shared' OR c.author_id = :user)
            ORDER BY c.start_s, c.created_at, c.id""",
        {"rid": recording_id, "user": user_id},
    )
    author_ids = {r["author_id"] for r in rows if r["author_id"] is not None}
    authors: dict[int, tuple[str, str]] = {}
    if author_ids:
        marks = ",".join("?" * len(author_ids))
        for uid, username, display in db.execute(
            f"SELECT id, username, display_name FROM users WHERE id IN ({marks})",  # noqa: S608
            sorted(author_ids),
        ).fetchall():
            authors[uid] = (username, display)
    top: dict[int, dict[str, Any]] = {}
    for row in rows:
        if row["parent_id"] is None:
            top[row["id"]] = {**describe(row, user_id, access, guide, authors), "replies": []}
    for row in sorted(rows, key=lambda r: (r["created_at"], r["id"])):
        thread = top.get(row["parent_id"]) if row["parent_id"] is not None else None
        if thread is not None:
            thread["replies"].append(describe(row, user_id, access, guide, authors))
    return list(top.values())


# --- export -------------------------------------------------------------------------------


def for_export(thread_list: list[dict[str, Any]], private_notes: bool) -> list[dict[str, Any]]:
    """What an export (CSV, printable page) holds: the threads without the reader's own
    private notes, unless she asks for them (teachers hand exports to their coach). Other
    people's private notes are never in ``thread_list`` at all."""
    if private_notes:
        return thread_list
    return [
        {**thread, "replies": [r for r in thread["replies"] if r["visibility"] != "private"]}
        for thread in thread_list
        if thread["visibility"] != "private"
    ]


_HEADERS = {
    "en": ["time", "end", "author", "visibility", "tags", "reply to", "comment", "id", "written"],
    "nl": [
        "tijd",
        "einde",
        "auteur",
        "zichtbaarheid",
        "labels",
        "reactie op",
        "opmerking",
        "id",
        "geschreven",
    ],
}
_VISIBILITY_WORDS = {
    "en": {"shared": "shared", "private": "private note"},
    "nl": {"shared": "gedeeld", "private": "privénotitie"},
}


def to_csv(thread_list: list[dict[str, Any]], lang: Language = "en", delimiter: str = ",") -> str:
    """The threads (as :func:`threads` returns them) as CSV text, replies under their thread.

    Starts with a byte order mark so spreadsheet programs read it as UTF-8.
    """
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(_HEADERS[lang])
    for thread in thread_list:
        for item in (thread, *thread["replies"]):
            author = item["author"]
            writer.writerow(
                [
                    csv_cell(x)
                    for x in (
                        format_time(item["start_s"]),
                        format_time(item["end_s"]) if item["end_s"] is not None else "",
                        author["display_name"] if author else "",
                        _VISIBILITY_WORDS[lang][item["visibility"]],
                        "; ".join(tag[lang] for tag in item["tags"]),
                        item["parent_id"] or "",
                        item["body"],
                        item["id"],
                        item["created_at"],
                    )
                ]
            )
    return "\ufeff" + out.getvalue()
