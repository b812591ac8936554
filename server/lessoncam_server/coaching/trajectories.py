"""A trajectory itself: start one, change it, move it from intake to running to closed, find
the one named in a URL (with the caller's access, checked on every request), and list them.

The status runs one way: ``intake`` -> ``running`` -> ``closed`` (``intake`` may close at
once). Closing needs a note and is final: the members keep the page, read-only, but no longer
see the lessons (``access/permissions.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from sqlite_utils import Database

from ..access.memberships import trajectory_facts
from ..access.permissions import NO_TRAJECTORY_ACCESS, TrajectoryAccess, trajectory_access
from ..access.principal import User
from ..infra.db import query_row, query_rows
from ..infra.errors import Conflict, Forbidden, Invalid, NotFound
from ..infra.timeutil import to_iso
from ..services import Services
from .pupil import check_pupil
from .rules import require_open, url_id

Status = Literal["intake", "running", "closed"]
Need = Literal["see", "view", "contribute", "manage", "respond"]

SUPPORT_FORMS = ("video_coach", "support_teacher", "colleague", "own")
VIEWING_GUIDES = ("school", "question", "open")
STATUSES: tuple[Status, ...] = ("intake", "running", "closed")
# Where each status may go next.
NEXT_STATUS: dict[str, tuple[Status, ...]] = {
    "intake": ("running", "closed"),
    "running": ("closed",),
    "closed": (),
}
TITLE_MAX = 200
TEXT_MAX = 5000


@dataclass(frozen=True)
class Draft:
    """A trajectory as the teacher fills it in (new, or changed)."""

    title: str
    question: str
    pupil_label: str
    pupil_group: str
    support: str
    start_date: date
    pupil_birth_year: int | None = None
    viewing_guide: str = "school"
    viewing_question: str = ""
    review_date: date | None = None
    record_new: bool = False


def _text(value: str, code: str, what: str, limit: int) -> str:
    text = value.replace("\x00", "").strip()
    if not text:
        raise Invalid(f"{code}_empty", f"write the {what} first: it is empty")
    if len(text) > limit:
        raise Invalid(f"{code}_too_long", f"the {what} may be at most {limit} characters")
    return text


def check_draft(draft: Draft) -> dict[str, Any]:
    """The columns ``draft`` stores, if it holds. Raises Invalid: ``title_empty``,
    ``title_too_long``, ``question_empty``, ``question_too_long``, ``pupil_not_pseudonym``,
    ``pupil_group_invalid``, ``birth_year_invalid``, ``support_invalid``,
    ``viewing_guide_invalid``, ``viewing_question_empty``, ``viewing_question_too_long``,
    ``review_before_start``. Pure."""
    pupil = check_pupil(
        draft.pupil_label, draft.pupil_group, draft.pupil_birth_year, draft.start_date.year
    )
    if draft.support not in SUPPORT_FORMS:
        raise Invalid(
            "support_invalid", f"the form of support is one of {', '.join(SUPPORT_FORMS)}"
        )
    if draft.viewing_guide not in VIEWING_GUIDES:
        raise Invalid(
            "viewing_guide_invalid", f"the viewing guide is one of {', '.join(VIEWING_GUIDES)}"
        )
    viewing_question = ""
    if draft.viewing_guide == "question":
        viewing_question = _text(
            draft.viewing_question, "viewing_question", "question to watch for", TITLE_MAX
        )
    if draft.review_date is not None and draft.review_date < draft.start_date:
        raise Invalid("review_before_start", "the review date lies before the start date")
    return {
        "title": _text(draft.title, "title", "title", TITLE_MAX),
        "question": _text(draft.question, "question", "question for help", TEXT_MAX),
        "pupil_label": pupil.label,
        "pupil_group": pupil.group,
        "pupil_birth_year": pupil.birth_year,
        "support": draft.support,
        "viewing_guide": draft.viewing_guide,
        "viewing_question": viewing_question,
        "start_date": draft.start_date.isoformat(),
        "review_date": draft.review_date.isoformat() if draft.review_date else None,
        "record_new": int(draft.record_new),
    }


def get(db: Database, trajectory_id: int) -> dict[str, Any] | None:
    """The trajectory's row with its teacher's ``teacher_username`` and ``teacher_name``."""
    return query_row(
        db,
        """SELECT t.*, u.username AS teacher_username, u.display_name AS teacher_name
           FROM trajectories t JOIN users u ON u.id = t.teacher_id WHERE t.id = ?""",
        [trajectory_id],
    )


def _only_one_records_new(db: Database, teacher_id: int, trajectory_id: int) -> None:
    # New recordings go into one trajectory at most: the one the teacher chose last.
    db.execute(
        "UPDATE trajectories SET record_new = 0 WHERE teacher_id = ? AND id != ?",
        [teacher_id, trajectory_id],
    )


def start(services: Services, teacher: User, draft: Draft, *, address: str) -> dict[str, Any]:
    """``teacher`` starts a trajectory (status ``intake``); audited. Returns its row. Raises
    Forbidden for an administrator (admins own no lessons) and Invalid as ``check_draft``."""
    if teacher.role == "admin":
        raise Forbidden(
            "forbidden", "administrator accounts own no lessons, so they start no trajectory"
        )
    values = check_draft(draft)
    with services.db.atomic():
        table = services.db.table("trajectories").insert(
            {
                **values,
                "teacher_id": teacher.id,
                "status": "intake",
                "created_at": to_iso(services.now()),
            }
        )
        assert table.last_pk is not None
        trajectory_id = int(table.last_pk)
        if values["record_new"]:
            _only_one_records_new(services.db, teacher.id, trajectory_id)
    services.audit_from(
        address, teacher, "trajectory_create", object_kind="trajectory", object_id=trajectory_id
    )
    row = get(services.db, trajectory_id)
    assert row is not None
    return row


def change(
    services: Services, teacher: User, trajectory: dict[str, Any], draft: Draft, *, address: str
) -> dict[str, Any]:
    """The teacher changes her open trajectory; audited. Returns the fresh row. Raises
    Conflict ``trajectory_closed`` and Invalid as ``check_draft``."""
    require_open(trajectory)
    values = check_draft(draft)
    with services.db.atomic():
        services.db.table("trajectories").update(trajectory["id"], values)
        if values["record_new"]:
            _only_one_records_new(services.db, teacher.id, trajectory["id"])
    services.audit_from(
        address, teacher, "trajectory_update", object_kind="trajectory", object_id=trajectory["id"]
    )
    row = get(services.db, trajectory["id"])
    assert row is not None
    return row


def set_status(
    services: Services,
    teacher: User,
    trajectory: dict[str, Any],
    status: str,
    closing_note: str = "",
    *,
    address: str,
) -> dict[str, Any]:
    """Move the trajectory on (intake -> running -> closed); closing needs ``closing_note``
    and stops new recordings going into it. Audited. Raises Invalid ``status_invalid``,
    ``closing_note_empty``, ``closing_note_too_long``; Conflict ``status_change``."""
    if status not in STATUSES:
        raise Invalid("status_invalid", f"the status is one of {', '.join(STATUSES)}")
    if status == trajectory["status"]:
        return trajectory
    if status not in NEXT_STATUS[trajectory["status"]]:
        raise Conflict(
            "status_change", f"a trajectory cannot go from {trajectory['status']} to {status}"
        )
    values: dict[str, Any] = {"status": status}
    if status == "closed":
        values["closing_note"] = _text(closing_note, "closing_note", "closing note", TEXT_MAX)
        values["closed_at"] = to_iso(services.now())
        values["record_new"] = 0
    services.db.table("trajectories").update(trajectory["id"], values)
    services.audit_from(
        address,
        teacher,
        "trajectory_status",
        object_kind="trajectory",
        object_id=trajectory["id"],
        detail={"from": trajectory["status"], "to": status},
    )
    row = get(services.db, trajectory["id"])
    assert row is not None
    return row


def _allowed(acc: TrajectoryAccess, need: Need) -> bool:
    if need == "see":
        return acc.view or acc.respond
    return bool(getattr(acc, need))


def checked(
    services: Services, user: User, raw_id: str, need: Need = "view", *, address: str, path: str
) -> tuple[dict[str, Any], TrajectoryAccess]:
    """The trajectory named ``raw_id`` (as in a URL) and the caller's access, if it allows
    ``need``: ``see`` (a member, the teacher, or an open invitation), ``view``, ``contribute``,
    ``manage`` or ``respond``. Every refusal is audited. Raises NotFound (no such trajectory,
    or not hers to know of: the same answer), Conflict ``trajectory_closed`` (to contribute to
    a closed one) or Forbidden (she sees it but may not ``need``)."""
    trajectory_id = url_id(raw_id)
    facts = trajectory_facts(services.db, trajectory_id) if trajectory_id else None
    acc = trajectory_access(user.id, facts) if facts else NO_TRAJECTORY_ACCESS
    if _allowed(acc, need):
        row = get(services.db, trajectory_id or 0)
        assert row is not None
        return row, acc
    visible = _allowed(acc, "see")
    services.audit_from(
        address,
        user,
        "access_denied",
        outcome="denied",
        object_kind="trajectory",
        object_id=raw_id[:64],
        detail={"path": path, "need": need} if visible else {"path": path},
    )
    if not visible:
        raise NotFound("not_found", "no such trajectory, or you have no access to it")
    if need == "contribute" and acc.view and facts is not None and not facts.open:
        raise Conflict("trajectory_closed", "this trajectory is closed; nothing can change in it")
    raise Forbidden("forbidden", f"you may not {need} this trajectory")


def of_user(db: Database, user_id: int) -> dict[str, list[dict[str, Any]]]:
    """The trajectories ``user_id`` has to do with: ``mine`` (she is the teacher),
    ``member_of`` (accepted, still in it) and ``invitations`` (not answered, open ones), each
    newest first with ``id``, ``title``, ``status``, ``teacher_name``, ``role`` (as member),
    ``lessons`` (how many) and ``review_date``."""
    rows = query_rows(
        db,
        """SELECT t.id, t.title, t.status, t.review_date, t.start_date, t.created_at,
                  u.display_name AS teacher_name, t.teacher_id,
                  m.role, m.accepted_at, m.invited_at,
                  (SELECT COUNT(*) FROM trajectory_lessons tl WHERE tl.trajectory_id = t.id)
                    AS lessons
           FROM trajectories t JOIN users u ON u.id = t.teacher_id
           LEFT JOIN trajectory_members m
             ON m.trajectory_id = t.id AND m.user_id = :user AND m.ended_at IS NULL
           WHERE t.teacher_id = :user OR m.id IS NOT NULL
           ORDER BY t.created_at DESC, t.id DESC""",
        {"user": user_id},
    )
    out: dict[str, list[dict[str, Any]]] = {"mine": [], "member_of": [], "invitations": []}
    for row in rows:
        if row["teacher_id"] == user_id:
            out["mine"].append(row)
        elif row["accepted_at"]:
            out["member_of"].append(row)
        elif row["status"] != "closed":
            out["invitations"].append(row)
    return out


def describe(trajectory: dict[str, Any], acc: TrajectoryAccess) -> dict[str, Any]:
    """A trajectory as the API shows it to a caller with ``acc``: everything to the teacher
    and members; the title, teacher and status only to someone who is just invited."""
    shown: dict[str, Any] = {
        "id": trajectory["id"],
        "title": trajectory["title"],
        "status": trajectory["status"],
        "teacher": {
            "username": trajectory["teacher_username"],
            "display_name": trajectory["teacher_name"],
        },
        "access": {
            "view": acc.view,
            "contribute": acc.contribute,
            "manage": acc.manage,
            "respond": acc.respond,
        },
    }
    if not acc.view:
        return shown
    return {
        **shown,
        "question": trajectory["question"],
        "pupil": {
            "label": trajectory["pupil_label"],
            "group": trajectory["pupil_group"],
            "birth_year": trajectory["pupil_birth_year"],
        },
        "support": trajectory["support"],
        "viewing_guide": {
            "kind": trajectory["viewing_guide"],
            "question": trajectory["viewing_question"] or None,
        },
        "start_date": trajectory["start_date"],
        "review_date": trajectory["review_date"],
        "closing_note": trajectory["closing_note"] or None,
        "closed_at": trajectory["closed_at"],
        "record_new": bool(trajectory["record_new"]) if acc.manage else None,
        "created_at": trajectory["created_at"],
    }
