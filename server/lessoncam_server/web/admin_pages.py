"""For administrators: accounts, units with their enrolment codes and health, retention, audit.

Admins see no lesson here: the pages show units and people, never recordings.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from ..access import accounts, administration, audit, directory
from ..access.audit import ACTIONS
from ..access.passwords import MIN_LENGTH
from ..infra import disk_space
from ..infra.db import query_rows
from ..infra.errors import Invalid, NotFound
from ..infra.numbers import whole_number
from ..infra.paths import UNIT_ID
from ..infra.timeutil import to_iso
from ..lessons import retention
from ..media.assembly import WAITING_FOR_SPACE
from ..services import client_address, services_of
from ..units import claims, fleet
from .i18n import N_, t
from .qr import qr_svg
from .render import PageError, form_of, redirect, render, signed_in_admin

routes = web.RouteTableDef()

AUDIT_PAGE = 100
NO_SUCH_PAGE = N_("This page does not exist. Check the address, or go back to your lessons.")


@routes.get("/admin")
async def admin_home(request: web.Request) -> web.StreamResponse:
    signed_in_admin(request)
    raise web.HTTPSeeOther("/admin/units")


# --- accounts ---------------------------------------------------------------------------------


def _users_page(
    request: web.Request,
    error: str | None = None,
    shown_password: tuple[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    db = services_of(request).db
    return render(
        request,
        "admin/users.html",
        {
            "users": accounts.list_users(db),
            "error": error,
            "shown_password": shown_password,
            "min_length": MIN_LENGTH,
        },
        status=status,
    )


@routes.get("/admin/users")
async def users_page(request: web.Request) -> web.StreamResponse:
    signed_in_admin(request)
    return _users_page(request)


@routes.post("/admin/users")
async def create_user(request: web.Request) -> web.StreamResponse:
    admin = signed_in_admin(request)
    form = await form_of(request)
    username = form.get("username", "").strip()
    try:
        _user, generated = administration.create_account(
            services_of(request),
            admin,
            username,
            form.get("role", "teacher"),
            password=form.get("password") or None,
            display_name=form.get("display_name", "").strip()[:120] or None,
            address=client_address(request),
        )
    except Invalid as exc:
        messages = {
            "role_unknown": t(request, "Choose a role."),
            "username_invalid": t(
                request,
                "A username has 2 to 64 characters: letters, digits and . _ @ -, "
                "starting with a letter or digit.",
            ),
            "username_taken": t(request, "The username %(name)s is taken.", name=username),
            "weak_password": t(
                request, "A password needs at least %(count)s characters.", count=MIN_LENGTH
            ),
        }
        if exc.code not in messages:
            raise
        return _users_page(request, messages[exc.code], status=400)
    shown = (username, generated) if generated is not None else None
    return _users_page(request, shown_password=shown)


@routes.post("/admin/users/{user_id}/disabled")
async def set_disabled(request: web.Request) -> web.StreamResponse:
    admin = signed_in_admin(request)
    form = await form_of(request)
    changes = {"disabled": form.get("disabled") == "1"}
    try:
        administration.update_account(
            services_of(request),
            admin,
            request.match_info["user_id"],
            changes,
            address=client_address(request),
        )
    except NotFound:
        raise PageError(404, NO_SUCH_PAGE) from None
    except Invalid as exc:
        if exc.code != "self_lockout":
            raise
        return _users_page(request, t(request, "You cannot disable your own account."), status=400)
    raise redirect("/admin/users", "user_changed")


@routes.post("/admin/users/{user_id}/password-reset")
async def reset_password(request: web.Request) -> web.StreamResponse:
    try:
        user, password = administration.reset_password(
            services_of(request),
            signed_in_admin(request),
            request.match_info["user_id"],
            address=client_address(request),
        )
    except NotFound:
        raise PageError(404, NO_SUCH_PAGE) from None
    return _users_page(request, shown_password=(str(user.get("username")), password))


# --- units and the fleet ----------------------------------------------------------------------


def _teachers(request: web.Request) -> list[dict[str, Any]]:
    return directory.active_people(services_of(request).db, admins=False)


def _fleet(request: web.Request) -> list[dict[str, Any]]:
    services = services_of(request)
    rows = query_rows(
        services.db,
        """SELECT u.*, t.username AS teacher, t.display_name AS teacher_name FROM units u
           LEFT JOIN users t ON t.id = u.teacher_id ORDER BY u.revoked_at IS NOT NULL, u.name""",
    )
    now = services.now()
    described = [fleet.describe(r, now) for r in rows]
    for unit in described:
        unit["claim"] = claims.describe(claims.active(services.db, unit["id"], now), None)
    return described


def _units_page(
    request: web.Request,
    error: str | None = None,
    new_code: dict[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    return render(
        request,
        "admin/units.html",
        {
            "units": _fleet(request),
            "teachers": _teachers(request),
            "error": error,
            "new_code": new_code,
            "server_url": f"{request.scheme}://{request.host}",
        },
        status=status,
    )


@routes.get("/admin/units")
async def units_page(request: web.Request) -> web.StreamResponse:
    signed_in_admin(request)
    return _units_page(request)


def _teacher_id(request: web.Request, username: str) -> int | None:
    teacher = accounts.find_user(services_of(request).db, username)
    if teacher is None or teacher["disabled"] or teacher["role"] == "admin":
        return None
    return int(teacher["id"])


def _unit_name_and_teacher(
    request: web.Request, form: Mapping[str, str], name_field: str
) -> tuple[str, int | None] | web.StreamResponse:
    """A unit form's name and (optional) teacher, or the units page saying what is wrong."""
    name = form.get(name_field, "").strip()
    if not name or len(name) > 60:
        message = t(request, "Give the unit a name of 1 to 60 characters, such as Group 5.")
        return _units_page(request, message, status=400)
    if not form.get("teacher"):
        return name, None
    teacher_id = _teacher_id(request, form["teacher"])
    if teacher_id is None:
        return _units_page(request, t(request, "Choose a teacher from the list."), status=400)
    return name, teacher_id


@routes.post("/admin/units/codes")
async def create_code(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    admin = signed_in_admin(request)
    form = await form_of(request)
    named = _unit_name_and_teacher(request, form, "unit_name")
    if isinstance(named, web.StreamResponse):
        return named
    name, teacher_id = named
    lifetime = timedelta(minutes=services.config.security.enrolment_code_minutes)
    code, expires = fleet.new_enrolment_code(
        services.db, name, admin.id, services.now(), lifetime, teacher_id
    )
    services.audit(request, admin, "enrolment_code_create", detail={"unit_name": name})
    new_code = {
        "code": code,
        "unit_name": name,
        "expires_at": expires,
        "qr": qr_svg(code, t(request, "Enrolment code")),
    }
    return _units_page(request, new_code=new_code)


def _unit_id(request: web.Request) -> str:
    unit_id = request.match_info["unit_id"]
    found = (
        UNIT_ID.fullmatch(unit_id)
        and services_of(request)
        .db.execute("SELECT 1 FROM units WHERE id = ?", [unit_id])
        .fetchone()
    )
    if not found:
        raise PageError(404, NO_SUCH_PAGE)
    return unit_id


@routes.post("/admin/units/{unit_id}")
async def update_unit(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    admin = signed_in_admin(request)
    unit_id = _unit_id(request)
    form = await form_of(request)
    named = _unit_name_and_teacher(request, form, "name")
    if isinstance(named, web.StreamResponse):
        return named
    name, teacher_id = named
    services.db.table("units").update(unit_id, {"name": name, "teacher_id": teacher_id})
    services.audit(
        request,
        admin,
        "unit_update",
        object_kind="unit",
        object_id=unit_id,
        detail={"name": name, "teacher": form.get("teacher", "")},
    )
    raise redirect("/admin/units", "unit_changed")


@routes.post("/admin/units/{unit_id}/revoke")
async def revoke_unit(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    admin = signed_in_admin(request)
    unit_id = _unit_id(request)
    fleet.revoke(services.db, unit_id, services.now())
    services.audit(request, admin, "unit_revoke", object_kind="unit", object_id=unit_id)
    raise redirect("/admin/units", "unit_revoked")


# --- retention --------------------------------------------------------------------------------


def _settings_page(
    request: web.Request, error: str | None = None, status: int = 200
) -> web.Response:
    services = services_of(request)
    days = retention.retention_days(services.db, services.config.retention.days)
    context = {
        "days": days,
        "error": error,
        "min": retention.MIN_DAYS,
        "max": retention.MAX_DAYS,
        "disk": disk_space.disk_space(services.paths.root),
        "waiting": disk_space.lessons_waiting_for_space(services.db, WAITING_FOR_SPACE),
    }
    return render(request, "admin/settings.html", context, status=status)


@routes.get("/admin/settings")
async def settings_page(request: web.Request) -> web.StreamResponse:
    signed_in_admin(request)
    return _settings_page(request)


@routes.post("/admin/settings")
async def save_settings(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    admin = signed_in_admin(request)
    form = await form_of(request)
    raw = form.get("retention_days", "").strip()
    days = whole_number(raw, 6)
    if days is None or not retention.MIN_DAYS <= days <= retention.MAX_DAYS:
        message = t(
            request,
            "Enter a whole number of days from %(min)s to %(max)s.",
            min=retention.MIN_DAYS,
            max=retention.MAX_DAYS,
        )
        return _settings_page(request, message, status=400)
    services.db.table("settings").upsert(
        {"key": retention.SETTING_KEY, "value": str(days)}, pk="key"
    )
    services.audit(request, admin, "settings_update", detail={"retention_days": days})
    raise redirect("/admin/settings", "saved")


# --- audit log --------------------------------------------------------------------------------


def _day_start(text: str, zone: ZoneInfo, plus_days: int = 0) -> str | None:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return to_iso(datetime.combine(day + timedelta(days=plus_days), time.min, tzinfo=zone))


@routes.get("/admin/audit")
async def audit_page(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    signed_in_admin(request)
    query = request.query
    zone = ZoneInfo(services.config.web.timezone)
    before = query.get("before", "")
    wanted = audit.AuditFilter(
        action=query["action"] if query.get("action") in ACTIONS else None,
        outcome=query["outcome"] if query.get("outcome") in ("ok", "denied", "failed") else None,
        actor_name=query.get("actor", "").strip()[:64] or None,
        object_id=query.get("object", "").strip()[:64] or None,
        since=_day_start(query.get("from", ""), zone),
        until=_day_start(query.get("to", ""), zone, plus_days=1),
        before_id=whole_number(before, 12),
    )
    entries = audit.entries(services.db, wanted, AUDIT_PAGE + 1)
    more = len(entries) > AUDIT_PAGE
    entries = entries[:AUDIT_PAGE]
    older = None
    if more:
        params = {k: v for k, v in query.items() if k != "before"}
        params["before"] = str(entries[-1]["id"])
        older = "?" + urlencode(params)
    return render(
        request,
        "admin/audit.html",
        {"entries": entries, "actions": ACTIONS, "query": query, "older": older},
    )
