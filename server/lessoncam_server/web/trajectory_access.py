"""The trajectory a page is about, with the same per-request check as the API, and the
sentence each refusal of ``coaching/`` says to a person (msgids, translated where shown)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from aiohttp import web

from ..access.permissions import TrajectoryAccess
from ..access.principal import User
from ..coaching import trajectories
from ..coaching.trajectories import Need
from ..infra.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from ..services import client_address, services_of
from .i18n import N_, t
from .render import PageError, signed_in

# What each refusal of ``coaching/`` says to a person (msgids; translated where shown).
MESSAGES = {
    "title_empty": N_("Give the trajectory a title."),
    "title_too_long": N_("The title may have at most 200 characters."),
    "question_empty": N_("Write down your question for help."),
    "question_too_long": N_("The question may have at most 5,000 characters."),
    "pupil_not_pseudonym": N_(
        "Name the pupil by a pseudonym only: 'Pupil A', 'Leerling B' or initials such as "
        "'J.K.'. Never a name."
    ),
    "pupil_group_invalid": N_("Give the group as a number, such as 'Groep 5', '5B' or '4/5'."),
    "birth_year_invalid": N_("That year of birth cannot be right; leave it out if unsure."),
    "support_invalid": N_("Choose a form of support."),
    "viewing_guide_invalid": N_("Choose a viewing guide."),
    "viewing_question_empty": N_("Write down the question to watch for."),
    "viewing_question_too_long": N_("The question to watch for may have at most 200 characters."),
    "review_before_start": N_("The review date lies before the start date."),
    "date_invalid": N_("A date is not valid."),
    "closing_note_empty": N_("Write a closing note: what came of it?"),
    "closing_note_too_long": N_("The closing note may have at most 5,000 characters."),
    "status_change": N_("The trajectory cannot go back to an earlier step."),
    "trajectory_closed": N_("This trajectory is closed: nothing can change in it."),
    "member_unknown_account": N_("Choose a person to invite."),
    "member_self": N_("This is your own trajectory already."),
    "member_admin": N_("Administrator accounts cannot join a trajectory."),
    "member_already": N_("This person is invited or a member already."),
    "member_role": N_("Choose a role."),
    "lesson_in_other_trajectory": N_(
        "This lesson is in another trajectory. Take it out of that one first."
    ),
    "lesson_not_yours": N_("Only your own lessons go into your trajectory."),
    "consent_recording_required": N_(
        "Without consent to recording nothing can be recorded. If the parents withdrew their "
        "consent, record the withdrawal."
    ),
    "consent_date_future": N_("The date of the consent cannot lie in the future."),
    "consent_note_too_long": N_("The note may have at most 500 characters."),
    "consent_watcher_unknown": N_("Only people invited into this trajectory can be named."),
    "withdrawal_choice": N_("Choose what happens to the lessons."),
    "consent_missing": N_(
        "Record the parents' consent to recording first: until then no lesson goes into this "
        "trajectory."
    ),
}
UNAVAILABLE = N_(
    "This trajectory is not available to you. It may be closed to you, or you were not invited."
)
ONLY_TEACHER = N_("Only the teacher of this trajectory may do this.")


def page_trajectory(
    request: web.Request, need: Need = "view"
) -> tuple[User, dict[str, Any], TrajectoryAccess]:
    """The trajectory in the URL if the signed-in person may ``need`` it."""
    user = signed_in(request)
    try:
        row, acc = trajectories.checked(
            services_of(request),
            user,
            request.match_info["trajectory_id"],
            need,
            address=client_address(request),
            path=request.path,
        )
    except NotFound:
        raise PageError(404, UNAVAILABLE) from None
    except Conflict:
        raise PageError(409, MESSAGES["trajectory_closed"]) from None
    except Forbidden:
        raise PageError(403, ONLY_TEACHER) from None
    return user, row, acc


def refusal(request: web.Request, exc: DomainError, more: Mapping[str, str] | None = None) -> str:
    """The sentence for a refusal these pages know (``MESSAGES``, or ``more``); any other goes
    on to the error page."""
    known = {**MESSAGES, **(more or {})}
    if exc.code not in known:
        raise exc
    return t(request, known[exc.code])


def parse_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise Invalid("date_invalid", "not a date") from None
