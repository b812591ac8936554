"""Comments on a lesson: list, add, reply, edit, delete, export as CSV; the viewing guide.

Access to the lesson is checked on every request (``lesson_for``); which comments the caller
sees (shared ones and her own private notes) is decided in ``lessons/comments.py``.
"""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ..infra.numbers import whole_number
from ..lessons import comments
from ..services import services_of
from .lessons import lesson_for
from .support import ApiRoutes, json_response, not_found, parse_query, read_body, require_user

routes = ApiRoutes("comments")


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(description=f"The text, 1 to {comments.MAX_BODY_CHARS} characters.")
    start_s: float | None = Field(None, description="Seconds from the lesson's start.")
    end_s: float | None = Field(None, description="Set for a fragment (after start_s).")
    visibility: str = Field("shared", description="'shared' or 'private' (only you see it).")
    tags: list[str] = Field(default_factory=list, max_length=50, description="Guide tag keys.")
    parent_id: int | None = Field(None, description="Reply to this comment (takes its time).")


class CommentPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str | None = None
    start_s: float | None = None
    end_s: float | None = Field(None, description="null turns a fragment into a moment.")
    visibility: str | None = None
    tags: list[str] | None = Field(None, max_length=50)


class ExportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lang: Literal["en", "nl"] = Field("en", description="Column names and tag labels.")
    sep: Literal["comma", "semicolon"] = Field(
        "comma", description="semicolon suits a spreadsheet set to Dutch."
    )
    private: bool = Field(
        False, description="Include my own private notes (left out unless asked for)."
    )


def _comment_id(request: web.Request) -> int:
    raw = request.match_info["comment_id"]
    number = whole_number(raw, 12)
    if number is None:
        raise not_found("comment")
    return number


@routes.route("GET", "/viewing-guide", summary="The viewing guide's tags", auth="user")
async def guide(request: web.Request) -> web.StreamResponse:
    require_user(request)
    return json_response(comments.viewing_guide(services_of(request).config.viewing_guide))


@routes.route(
    "GET",
    "/lessons/{lesson_id}/comments",
    summary="The comments I can see on a lesson, as threads in timeline order",
    auth="user",
    responses={200: "Threads", 404: "No such lesson or no access"},
)
async def list_comments(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, acc = lesson_for(request)
    threads = comments.threads(services.db, row["id"], user.id, acc, services.config.viewing_guide)
    count = sum(1 + len(t["replies"]) for t in threads)
    return json_response({"comments": threads, "count": count})


@routes.route(
    "POST",
    "/lessons/{lesson_id}/comments",
    summary="Comment at a moment or on a fragment, or reply to a comment",
    auth="user",
    body=CommentIn,
    responses={
        201: "Stored",
        403: "You may view but not comment",
        404: "No such lesson",
        409: "The lesson is not ready",
        422: "Empty, too long, bad time, unknown tag, or the parent is not on this lesson",
    },
)
async def create_comment(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, acc = lesson_for(request, "comment")
    body = await read_body(request, CommentIn)
    new = comments.NewComment(
        body=body.body,
        start_s=body.start_s,
        end_s=body.end_s,
        visibility=body.visibility,
        tags=tuple(body.tags),
        parent_id=body.parent_id,
    )
    guide_config = services.config.viewing_guide
    stored = comments.create(services.db, row, user.id, new, guide_config, services.now())
    services.audit(
        request,
        user,
        "comment_create",
        object_kind="lesson",
        object_id=row["id"],
        detail={"comment": stored["id"], "visibility": stored["visibility"]},
    )
    authors = {user.id: (user.username, user.display_name)}
    described = comments.describe(stored, user.id, acc, guide_config, authors)
    return json_response({"comment": described}, status=201)


@routes.route(
    "PATCH",
    "/lessons/{lesson_id}/comments/{comment_id}",
    summary="Edit my comment (text, time, visibility, tags)",
    auth="user",
    body=CommentPatch,
    responses={
        200: "Changed",
        403: "Not the author, or no comment access",
        404: "No such lesson or comment",
        409: "Others replied: cannot become private",
        422: "Bad input",
    },
)
async def update_comment(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, acc = lesson_for(request, "comment")
    comment_id = _comment_id(request)
    body = await read_body(request, CommentPatch)
    change = comments.CommentChange(
        body=body.body,
        start_s=body.start_s,
        end_s=body.end_s,
        clear_end="end_s" in body.model_fields_set and body.end_s is None,
        visibility=body.visibility,
        tags=tuple(body.tags) if body.tags is not None else None,
    )
    guide_config = services.config.viewing_guide
    stored = comments.update(
        services.db, row, user.id, comment_id, change, guide_config, services.now()
    )
    services.audit(
        request,
        user,
        "comment_update",
        object_kind="lesson",
        object_id=row["id"],
        detail={"comment": comment_id},
    )
    authors = {user.id: (user.username, user.display_name)}
    return json_response(
        {"comment": comments.describe(stored, user.id, acc, guide_config, authors)}
    )


@routes.route(
    "DELETE",
    "/lessons/{lesson_id}/comments/{comment_id}",
    summary="Delete a comment and its replies (its author, or the lesson's owner)",
    auth="user",
    responses={204: "Deleted", 403: "Neither author nor owner", 404: "No such comment"},
)
async def delete_comment(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, acc = lesson_for(request)
    comment_id = _comment_id(request)
    gone = comments.delete(services.db, row, user.id, comment_id, acc)
    services.audit(
        request,
        user,
        "comment_delete",
        object_kind="lesson",
        object_id=row["id"],
        detail={
            "comment": comment_id,
            "author_id": gone["author_id"],
            "replies": gone["replies_deleted"],
        },
    )
    return web.Response(status=204)


@routes.route(
    "GET",
    "/lessons/{lesson_id}/comments.csv",
    summary="The comments I can see, as CSV (my private notes only if asked for, others' never)",
    auth="user",
    query=ExportQuery,
    content="text/csv",
    responses={200: "CSV", 404: "No such lesson"},
)
async def export_comments(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, acc = lesson_for(request)
    query = parse_query(request, ExportQuery)
    threads = comments.threads(services.db, row["id"], user.id, acc, services.config.viewing_guide)
    exported = comments.for_export(threads, private_notes=query.private)
    text = comments.to_csv(exported, query.lang, "," if query.sep == "comma" else ";")
    services.audit(request, user, "comments_export", object_kind="lesson", object_id=row["id"])
    name = f"comments-{row['started_at'][:10]}-{row['id'][-6:]}.csv"
    return web.Response(
        text=text,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
