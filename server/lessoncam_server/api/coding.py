"""Interaction coding: schemes, a coder's codings of a lesson, coding by key, drag, undo,
sharing, the analysis, the agreement of two coders, exports (CSV, BORIS, ELAN) and imports.

Access to the lesson is checked on every request (``lesson_for``: view to read, comment to
code); which codings the caller sees (her own and shared ones) is decided in
``coding/codings.py``. The trajectory a lesson is in is added from ``coaching/linking.py``.
"""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ..access.permissions import Access
from ..access.principal import User
from ..coaching import linking
from ..coding import agreement, analysis, codings, elan, store, tabular
from ..coding.codings import Limits
from ..infra.errors import Invalid
from ..infra.numbers import whole_number
from ..services import Services, services_of
from .lessons import lesson_for
from .support import ApiRoutes, json_response, not_found, parse_query, read_body, require_user

routes = ApiRoutes("coding")
LESSON = "/lessons/{lesson_id}"
CODING = LESSON + "/codings/{coding_id}"


class SchemeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    definition: dict[str, Any] = Field(
        description="The scheme (docs/coding.md): en, nl, behaviours, modifiers, subjects; "
        "key for a new scheme. The version is the server's."
    )


class CodingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scheme_id: int = Field(ge=1, le=10**12, description="The scheme version to code with.")


class CodingPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shared: bool = Field(description="Shared with everyone who may view the lesson, or mine.")


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str | None = Field(None, max_length=10, description="The key pressed (or behaviour).")
    behaviour: str | None = Field(None, max_length=40, description="The behaviour's key.")
    t: float = Field(description="Seconds from the lesson's start (the video time).")
    action: Literal["toggle", "start", "stop"] = Field(
        "toggle", description="A state: toggle, or say start or stop."
    )
    modifiers: dict[str, str] = Field(default_factory=dict, max_length=10)


class EventPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start_s: float | None = None
    end_s: float | None = Field(None, description="A state's stop.")
    modifiers: dict[str, str] | None = Field(None, max_length=10)


class AnalysisQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_s: float | None = Field(None, ge=0, le=10**7, description="A fragment's start.")
    to_s: float | None = Field(None, ge=0, le=10**7, description="A fragment's end.")
    window_s: float | None = Field(None, gt=0, le=600, description="Transitions window.")


class AgreementQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    a: int = Field(ge=1, le=10**12, description="One coding.")
    b: int = Field(ge=1, le=10**12, description="The other coding, same scheme version.")
    tolerance_s: float | None = Field(None, gt=0, le=30, description="Default from [coding].")


class CsvQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lang: Literal["en", "nl"] = "en"
    sep: Literal["comma", "semicolon"] = "comma"


class ElanQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    layout: Literal["behaviour", "coder"] = Field(
        "behaviour", description="One tier per behaviour, or one tier for the coder."
    )


class ImportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["boris", "elan"]
    scheme_id: int = Field(ge=1, le=10**12)
    content: str = Field(max_length=tabular.MAX_CHARS, description="The file's text.")


def _id(request: web.Request, name: str, what: str) -> int:
    number = whole_number(request.match_info[name], 12)
    if number is None:
        raise not_found(what)
    return number


def _limits(services: Services, lesson: dict[str, Any]) -> Limits:
    return Limits(codings.lesson_duration(lesson), services.config.coding.max_events_per_coding)


def _audit(request: web.Request, user: User, action: str, lesson_id: str, **detail: Any) -> None:
    services_of(request).audit(
        request, user, action, object_kind="lesson", object_id=lesson_id, detail=detail
    )


# --- schemes --------------------------------------------------------------------------------


@routes.route("GET", "/coding-schemes", summary="The coding schemes I can code with", auth="user")
async def list_schemes(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user = require_user(request)
    rows = store.listing(services.db, services.config.coding)
    return json_response(
        {"schemes": [store.describe(r, store.get(services.db, r["id"])[1], user.id) for r in rows]}
    )


def _scheme_json(services: Services, scheme_id: int, user: User) -> dict[str, Any]:
    row, scheme = store.get(services.db, scheme_id)
    in_use = services.db.execute(
        "SELECT COUNT(*) FROM codings WHERE scheme_id = ?", [scheme_id]
    ).fetchone()[0]
    return store.describe({**row, "codings": in_use}, scheme, user.id)


@routes.route(
    "GET",
    "/coding-schemes/{scheme_id}",
    summary="One coding scheme version",
    auth="user",
    responses={200: "The scheme", 404: "No such scheme"},
)
async def get_scheme(request: web.Request) -> web.StreamResponse:
    user = require_user(request)
    scheme_id = _id(request, "scheme_id", "coding scheme")
    return json_response({"scheme": _scheme_json(services_of(request), scheme_id, user)})


@routes.route(
    "POST",
    "/coding-schemes",
    summary="Make a coding scheme (coaches)",
    auth="user",
    body=SchemeIn,
    responses={201: "Made", 403: "Not a coach", 409: "The key is taken", 422: "Not valid"},
)
async def create_scheme(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user = require_user(request)
    body = await read_body(request, SchemeIn)
    scheme_id = store.create(services.db, user, body.definition, services.now())
    services.audit(
        request, user, "coding_scheme_create", object_kind="coding_scheme", object_id=str(scheme_id)
    )
    return json_response({"scheme": _scheme_json(services, scheme_id, user)}, status=201)


@routes.route(
    "POST",
    "/coding-schemes/{scheme_id}/versions",
    summary="Save a changed scheme as its next version (codings keep theirs)",
    auth="user",
    body=SchemeIn,
    responses={201: "Made", 403: "Not its coach, or from the config", 422: "Not valid"},
)
async def new_scheme_version(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user = require_user(request)
    scheme_id = _id(request, "scheme_id", "coding scheme")
    body = await read_body(request, SchemeIn)
    made = store.new_version(services.db, user, scheme_id, body.definition, services.now())
    services.audit(
        request, user, "coding_scheme_version", object_kind="coding_scheme", object_id=str(made)
    )
    return json_response({"scheme": _scheme_json(services, made, user)}, status=201)


@routes.route(
    "PUT",
    "/coding-schemes/{scheme_id}",
    summary="Change a scheme version no coding uses yet",
    auth="user",
    body=SchemeIn,
    responses={200: "Changed", 403: "Not its coach", 409: "Codings use it", 422: "Not valid"},
)
async def replace_scheme(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user = require_user(request)
    scheme_id = _id(request, "scheme_id", "coding scheme")
    body = await read_body(request, SchemeIn)
    store.replace(services.db, user, scheme_id, body.definition)
    services.audit(
        request, user, "coding_scheme_change", object_kind="coding_scheme", object_id=str(scheme_id)
    )
    return json_response({"scheme": _scheme_json(services, scheme_id, user)})


# --- codings --------------------------------------------------------------------------------


def coding_json(services: Services, row: dict[str, Any], user: User, acc: Access) -> dict[str, Any]:
    scheme_row, _scheme = store.get(services.db, row["scheme_id"])
    return codings.describe(row, user.id, acc, scheme_row)


@routes.route(
    "GET",
    LESSON + "/codings",
    summary="The codings of a lesson I can see (mine and shared ones)",
    auth="user",
    responses={200: "Codings", 404: "No such lesson"},
)
async def list_codings(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, acc = lesson_for(request)
    rows = codings.visible(services.db, row["id"], user.id)
    trajectory = linking.trajectory_of_lesson(services.db, row["id"], user.id)
    return json_response(
        {
            "codings": [coding_json(services, r, user, acc) for r in rows],
            "trajectory": trajectory,
        }
    )


@routes.route(
    "POST",
    LESSON + "/codings",
    summary="Start my coding of a lesson with a scheme",
    auth="user",
    body=CodingIn,
    responses={
        201: "Made",
        403: "May not comment",
        404: "No such lesson or scheme",
        409: "I code it already, or it is not ready",
    },
)
async def create_coding(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, acc = lesson_for(request, "comment")
    body = await read_body(request, CodingIn)
    made = codings.create(services.db, row, user.id, body.scheme_id, services.now())
    _audit(request, user, "coding_create", row["id"], coding=made["id"])
    return json_response({"coding": coding_json(services, made, user, acc)}, status=201)


def _coding(
    request: web.Request, need: str = "view"
) -> tuple[User, dict[str, Any], Access, dict[str, Any]]:
    services = services_of(request)
    user, lesson, acc = lesson_for(request, need)
    coding_id = _id(request, "coding_id", "coding")
    return user, lesson, acc, codings.get(services.db, lesson["id"], coding_id, user.id)


def _own_coding(request: web.Request) -> tuple[User, dict[str, Any], Access, dict[str, Any]]:
    services = services_of(request)
    user, lesson, acc = lesson_for(request, "comment")
    coding_id = _id(request, "coding_id", "coding")
    return user, lesson, acc, codings.own(services.db, lesson["id"], coding_id, user.id)


def _with_events(
    services: Services, row: dict[str, Any], user: User, acc: Access, events: list[Any]
) -> dict[str, Any]:
    return {
        "coding": coding_json(services, {**row, "events": len(events)}, user, acc),
        "events": [codings.event_json(e) for e in events],
    }


@routes.route(
    "GET",
    CODING,
    summary="One coding with its events and its scheme",
    auth="user",
    responses={200: "The coding", 404: "No such lesson or coding"},
)
async def get_coding(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, _lesson, acc, row = _coding(request)
    out = _with_events(services, row, user, acc, codings.load(services.db, row["id"]))
    out["scheme"] = codings.scheme_of(services.db, row).model_dump(mode="json")
    return json_response(out)


@routes.route(
    "PATCH",
    CODING,
    summary="Share my coding with the lesson's viewers, or make it private",
    auth="user",
    body=CodingPatch,
    responses={200: "Changed", 403: "Not my coding", 404: "No such coding"},
)
async def patch_coding(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, lesson, acc, row = _own_coding(request)
    body = await read_body(request, CodingPatch)
    changed = codings.share(services.db, row, body.shared, services.now())
    _audit(request, user, "coding_share", lesson["id"], coding=row["id"], shared=body.shared)
    return json_response({"coding": coding_json(services, changed, user, acc)})


@routes.route(
    "DELETE",
    CODING,
    summary="Delete a coding (its coder, or the lesson's owner a shared one)",
    auth="user",
    responses={204: "Deleted", 403: "Neither coder nor owner", 404: "No such coding"},
)
async def delete_coding(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, lesson, acc, row = _coding(request)
    codings.delete(services.db, row, user.id, acc)
    _audit(request, user, "coding_delete", lesson["id"], coding=row["id"])
    return web.Response(status=204)


@routes.route(
    "POST",
    CODING + "/events",
    summary="Code at a moment: a key press (a point, or a state toggled), with modifiers",
    auth="user",
    body=EventIn,
    responses={
        200: "The coding's events",
        403: "Not my coding",
        404: "No such coding",
        409: "A state overlaps",
        422: "Unknown key, a time outside the lesson, a state stopped that was never started",
    },
)
async def add_event(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, lesson, acc, row = _own_coding(request)
    body = await read_body(request, EventIn)
    events = codings.code(
        services.db,
        row,
        body.key,
        body.behaviour,
        body.t,
        body.modifiers,
        body.action,
        _limits(services, lesson),
        services.now(),
    )
    return json_response(_with_events(services, row, user, acc, events))


@routes.route(
    "PATCH",
    CODING + "/events/{event_id}",
    summary="Move an event (drag its start or stop) or change its modifiers",
    auth="user",
    body=EventPatch,
    responses={
        200: "The coding's events",
        404: "No such event",
        409: "Overlap",
        422: "A time outside the lesson",
    },
)
async def patch_event(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, lesson, acc, row = _own_coding(request)
    event_id = _id(request, "event_id", "event")
    body = await read_body(request, EventPatch)
    events = codings.change(
        services.db,
        row,
        event_id,
        body.start_s,
        body.end_s,
        body.modifiers,
        _limits(services, lesson),
        services.now(),
    )
    return json_response(_with_events(services, row, user, acc, events))


@routes.route(
    "DELETE",
    CODING + "/events/{event_id}",
    summary="Delete an event of my coding",
    auth="user",
    responses={200: "The coding's events", 404: "No such event"},
)
async def delete_event(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, lesson, acc, row = _own_coding(request)
    event_id = _id(request, "event_id", "event")
    events = codings.remove(services.db, row, event_id, _limits(services, lesson), services.now())
    return json_response(_with_events(services, row, user, acc, events))


@routes.route(
    "POST",
    CODING + "/undo",
    summary="Undo the last change to my coding",
    auth="user",
    responses={200: "The coding's events", 409: "Nothing to undo"},
)
async def undo(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, _lesson, acc, row = _own_coding(request)
    events = codings.undo(services.db, row, services.now())
    return json_response(_with_events(services, row, user, acc, events))


# --- analysis, agreement --------------------------------------------------------------------


def analysis_of(
    services: Services, lesson: dict[str, Any], row: dict[str, Any], query: AnalysisQuery
) -> dict[str, Any]:
    """The analysis of a coding the caller may see (shared by the API and the page)."""
    duration = codings.lesson_duration(lesson)
    scheme = codings.scheme_of(services.db, row)
    part = analysis.span(duration, query.from_s, query.to_s)
    window = query.window_s or services.config.coding.transition_window_s
    return analysis.analyse(scheme, codings.load(services.db, row["id"]), duration, part, window)


@routes.route(
    "GET",
    CODING + "/analysis",
    summary="Counts, rates, durations, per modifier, transitions; over a fragment if asked",
    auth="user",
    query=AnalysisQuery,
    responses={200: "The analysis", 404: "No such coding", 422: "A bad fragment"},
)
async def get_analysis(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    _user, lesson, _acc, row = _coding(request)
    query = parse_query(request, AnalysisQuery)
    return json_response({"analysis": analysis_of(services, lesson, row, query)})


def agreement_of(
    services: Services, lesson: dict[str, Any], user: User, query: AgreementQuery
) -> dict[str, Any]:
    """Kappa between two codings the caller may see, of the same scheme version. Raises
    Invalid ``schemes_differ``."""
    first = codings.get(services.db, lesson["id"], query.a, user.id)
    second = codings.get(services.db, lesson["id"], query.b, user.id)
    if first["scheme_id"] != second["scheme_id"]:
        raise Invalid("schemes_differ", "compare two codings made with the same scheme version")
    tolerance = query.tolerance_s or services.config.coding.agreement_tolerance_s
    scheme = codings.scheme_of(services.db, first)
    out = agreement.agreement(
        scheme,
        codings.load(services.db, first["id"]),
        codings.load(services.db, second["id"]),
        tolerance,
    )
    out["a"] = codings.pseudonym(first["id"])
    out["b"] = codings.pseudonym(second["id"])
    return out


@routes.route(
    "GET",
    LESSON + "/coding-agreement",
    summary="Cohen's kappa between two coders of a lesson (same scheme version)",
    auth="user",
    query=AgreementQuery,
    responses={
        200: "Kappa, per behaviour, matched table",
        404: "No such coding",
        422: "Different schemes",
    },
)
async def get_agreement(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, lesson, _acc = lesson_for(request)
    query = parse_query(request, AgreementQuery)
    return json_response({"agreement": agreement_of(services, lesson, user, query)})


# --- exports and imports --------------------------------------------------------------------


def _lesson_info(lesson: dict[str, Any]) -> tabular.LessonInfo:
    return tabular.LessonInfo(lesson["id"], lesson["started_at"], codings.lesson_duration(lesson))


def _download(text: str, content_type: str, name: str) -> web.Response:
    return web.Response(
        text=text,
        content_type=content_type,
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@routes.route(
    "GET",
    CODING + "/events.csv",
    summary="A coding's events as CSV (coder as a pseudonym)",
    auth="user",
    query=CsvQuery,
    content="text/csv",
    responses={200: "CSV", 404: "No such coding"},
)
async def export_csv(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, lesson, _acc, row = _coding(request)
    query = parse_query(request, CsvQuery)
    text = tabular.csv_events(
        codings.scheme_of(services.db, row),
        codings.load(services.db, row["id"]),
        codings.pseudonym(row["id"]),
        codings.lesson_duration(lesson),
        query.lang,
        "," if query.sep == "comma" else ";",
    )
    _audit(request, user, "coding_export", lesson["id"], coding=row["id"], format="csv")
    return _download(text, "text/csv", f"coding-{row['id']}.csv")


@routes.route(
    "GET",
    CODING + "/boris.tsv",
    summary="A coding as BORIS's tabular events (TSV)",
    auth="user",
    content="text/tab-separated-values",
    responses={200: "TSV", 404: "No such coding"},
)
async def export_boris(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, lesson, _acc, row = _coding(request)
    text = tabular.boris_events(
        codings.scheme_of(services.db, row),
        codings.load(services.db, row["id"]),
        _lesson_info(lesson),
        codings.pseudonym(row["id"]),
    )
    _audit(request, user, "coding_export", lesson["id"], coding=row["id"], format="boris")
    return _download(text, "text/tab-separated-values", f"coding-{row['id']}-boris.tsv")


@routes.route(
    "GET",
    CODING + "/elan.eaf",
    summary="A coding as an ELAN annotation document",
    auth="user",
    query=ElanQuery,
    content="application/xml",
    responses={200: "EAF", 404: "No such coding"},
)
async def export_elan(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, lesson, _acc, row = _coding(request)
    query = parse_query(request, ElanQuery)
    text = elan.write(
        codings.scheme_of(services.db, row),
        [(codings.pseudonym(row["id"]), codings.load(services.db, row["id"]))],
        _lesson_info(lesson),
        query.layout,
        services.now(),
    )
    _audit(request, user, "coding_export", lesson["id"], coding=row["id"], format="elan")
    return _download(text, "application/xml", f"coding-{row['id']}.eaf")


@routes.route(
    "POST",
    LESSON + "/coding-imports",
    summary="Import a BORIS or ELAN file as my coding of a lesson of the same length",
    auth="user",
    body=ImportIn,
    responses={
        201: "Imported",
        403: "May not comment",
        409: "I code it already",
        422: "Malformed, other length, unknown behaviour",
    },
)
async def import_coding(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, lesson, acc = lesson_for(request, "comment")
    body = await read_body(request, ImportIn)
    duration = codings.lesson_duration(lesson)
    scheme = store.get(services.db, body.scheme_id)[1]
    read = tabular.read_boris if body.format == "boris" else elan.read
    events = read(scheme, body.content, duration)
    made = codings.import_coding(
        services.db,
        lesson,
        user.id,
        body.scheme_id,
        events,
        body.format,
        _limits(services, lesson),
        services.now(),
    )
    _audit(request, user, "coding_import", lesson["id"], coding=made["id"], format=body.format)
    loaded = codings.load(services.db, made["id"])
    return json_response(_with_events(services, made, user, acc, loaded), status=201)
