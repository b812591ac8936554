"""The focus pupil as a pseudonym only: a label such as "Pupil A" or initials, a group, and
optionally a year of birth. Never a name, never a photo: anything else is refused. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..infra.errors import Invalid

# "Pupil A", "Leerling 3", "Kind BK": a word for pupil and up to three capitals or digits.
_LABEL = re.compile(r"(?i:pupil|leerling|kind|child|student)\s+[A-Z0-9]{1,3}")
# Initials: "JK", "J.K.", "J. v.d. B." (capitals alone, or letters each closed by a dot).
_INITIALS = re.compile(r"[A-Z]{1,3}|(?:[A-Z]\.\s?|[a-z]{1,3}\.\s?){1,6}")
# "Groep 5", "5B", "groep 4/5", "Group 7", "1/2".
_GROUP = re.compile(
    r"(?i:(?:groep|group|klas|class|grade|year|jaar)\s*)?"
    r"\d{1,2}\s*[A-Za-z]?(?:\s*[/-]\s*\d{1,2}\s*[A-Za-z]?)?"
)
YOUNGEST_AGE = 2
OLDEST_AGE = 20


@dataclass(frozen=True, slots=True)
class Pupil:
    """The focus pupil as stored: ``label``, ``group``, ``birth_year`` (or None)."""

    label: str
    group: str
    birth_year: int | None = None


def check_pupil(label: str, group: str, birth_year: int | None, this_year: int) -> Pupil:
    """The pupil, cleaned, if it is a pseudonym. Raises Invalid ``pupil_not_pseudonym``,
    ``pupil_group_invalid`` or ``birth_year_invalid``."""
    label = " ".join(label.split())
    if not (_LABEL.fullmatch(label) or _INITIALS.fullmatch(label)):
        raise Invalid(
            "pupil_not_pseudonym",
            "name the pupil by a pseudonym only: 'Pupil A', 'Leerling B' or initials such as "
            "'J.K.'; never a name",
        )
    group = " ".join(group.split())
    if not _GROUP.fullmatch(group):
        raise Invalid(
            "pupil_group_invalid", "give the group as a number, such as 'Groep 5', '5B' or '4/5'"
        )
    if birth_year is not None and not (
        this_year - OLDEST_AGE <= birth_year <= this_year - YOUNGEST_AGE
    ):
        raise Invalid(
            "birth_year_invalid",
            f"a year of birth lies between {this_year - OLDEST_AGE} and "
            f"{this_year - YOUNGEST_AGE}; leave it out if unsure",
        )
    return Pupil(label=label, group=group, birth_year=birth_year)
