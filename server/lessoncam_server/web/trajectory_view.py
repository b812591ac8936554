"""The trajectory page itself (what the reader may see of it: pupil, members, consent,
lessons, the timeline of the cycle) and the plumbing every form on it shares: carry out one
action, then show the page again with the reason if it was refused."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from ..access.permissions import TrajectoryAccess
from ..access.principal import User
from ..coaching import (
    consent,
    goals,
    linking,
    measures,
    members,
    reflections,
    session_conversations,
    steps,
)
from ..coaching.timeline import timeline
from ..coaching.trajectories import Need
from ..infra.errors import DomainError
from ..lessons import comments
from ..lessons.library import LibraryFilter, library_page
from ..services import Services, services_of
from .i18n import catalogue_for
from .measure_view import MOMENT_NAMES, measure_panels
from .render import form_of, redirect, render
from .trajectory_access import page_trajectory, refusal


def show(
    request: web.Request,
    user: User,
    row: dict[str, Any],
    acc: TrajectoryAccess,
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    """The trajectory page for ``user`` (or her invitation, if she is only invited), with
    ``error`` shown above it."""
    services = services_of(request)
    if not acc.view:  # invited only: the invitation, nothing of the pupil
        invitation = next(
            m
            for m in members.members_of(services.db, row["id"])
            if m["user_id"] == user.id and m["state"] == "invited"
        )
        shown = {"trajectory": row, "invitation": invitation}
        return render(request, "trajectory_invitation.html", shown, status=status)
    found = library_page(
        services.db,
        user.id,
        services.now(),
        LibraryFilter(trajectory_id=row["id"]),
        ZoneInfo(services.config.web.timezone),
    )
    people = members.members_of(services.db, row["id"])
    in_force = consent.current(services.db, row["id"])
    for lesson in found.lessons:
        lesson["comment_count"] = comments.count_visible(services.db, lesson["id"], user.id)
    written = steps.of_trajectory(services.db, row["id"])
    active = [m for m in people if m["state"] == "member"]
    readable = reflections.of_trajectory(services.db, row["id"], user.id)
    step_reflections: dict[int, list[dict[str, Any]]] = {}
    for found_reflection in readable:
        if found_reflection["step_id"] is not None:
            step_reflections.setdefault(found_reflection["step_id"], []).append(found_reflection)
    language = catalogue_for(request).language
    context: dict[str, Any] = {
        "measure_panels": measure_panels(
            request,
            services.config.measures,
            measures.of_trajectory(services.db, row["id"]),
            language,
        ),
        "moment_names": MOMENT_NAMES,
        "lesson_reflections": {r["recording_id"]: r for r in readable if r["kind"] == "lesson"},
        "step_reflections": step_reflections,
        "asked_steps": {
            c["id"]
            for c in reflections.asked_conversations(services.db, user.id)
            if c["trajectory_id"] == row["id"]
        },
        "timeline": timeline(row, found.lessons, written),
        "goals": goals.of_trajectory(services.db, row["id"]),
        "watched": session_conversations.by_step(services.db, row["id"]),
        "watch_sessions": session_conversations.took_part_in(services.db, row["id"], user.id),
        "has_intake": any(step["kind"] == "intake" for step in written),
        "open_ids": {lesson["id"] for lesson in found.lessons},
        "ready_lessons": [lesson for lesson in found.lessons if lesson["state"] == "ready"],
        "participants": [
            {"username": row["teacher_username"], "display_name": row["teacher_name"]},
            *({"username": m["username"], "display_name": m["display_name"]} for m in active),
        ],
        "consent": in_force,
        "watcher_ids": {w["id"] for w in in_force["watchers"]} if in_force else set(),
        "today": services.now().date().isoformat(),
        "trajectory": row,
        "access": acc,
        "members": [m for m in people if m["state"] in ("invited", "member")],
        "former": [m for m in people if m["state"] not in ("invited", "member")],
        "lessons": found.lessons,
        "linkable": linking.linkable_lessons(services.db, user.id) if acc.manage else [],
        "invitable": members.invitable(services.db, row) if acc.manage else [],
        "error": error,
    }
    return render(request, "trajectory.html", context, status=status)


Action = Callable[[Services, User, dict[str, Any], dict[str, str]], object]


async def act(
    request: web.Request,
    need: Need,
    action: Action,
    notice: str = "saved",
    messages: Mapping[str, str] | None = None,
) -> web.StreamResponse:
    """Carry out ``action(services, user, row, form)`` on the trajectory in the URL; a refusal
    shows the trajectory page again with the reason."""
    services = services_of(request)
    user, row, acc = page_trajectory(request, need)
    form = await form_of(request)
    try:
        action(services, user, row, form)
    except DomainError as exc:
        return show(request, user, row, acc, refusal(request, exc, messages), exc.status)
    raise redirect(f"/trajectories/{row['id']}", notice)
