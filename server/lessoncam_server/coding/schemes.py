"""Coding schemes: the behaviours a coach codes, each with its key on the keyboard, its labels
in Dutch and English, its colour on the timeline and its type (a point event happens at a
moment, a state event lasts from its start to its stop), optional modifiers (who, for
instance) chosen with a second key, and optional groups of mutually exclusive states (starting
one stops the other). Pure: the models, their rules and the default scheme.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..infra.errors import Invalid

KEY = r"^[a-z][a-z0-9_]{0,31}$"
#: One lower-case letter or digit. Space, the arrows, ``, . [ ] - =``, Backspace and Escape
#: drive the player and the coding (play, frame steps, jumps, speed, undo, cancel).
SHORTCUT = r"^[a-z0-9]$"
COLOUR = r"^#[0-9a-fA-F]{6}$"
BehaviourType = Literal["point", "state"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Subject(_Model):
    """Who is coded (the teacher, the focus pupil, ...): named in the scheme and the exports."""

    key: str = Field(pattern=KEY)
    en: str = Field(min_length=1, max_length=60)
    nl: str = Field(min_length=1, max_length=60)


class ModifierValue(_Model):
    key: str = Field(pattern=KEY, description="Stored with the event.")
    shortcut: str = Field(pattern=SHORTCUT, description="The second key that picks it.")
    en: str = Field(min_length=1, max_length=60)
    nl: str = Field(min_length=1, max_length=60)


class ModifierSet(_Model):
    """A question asked after a behaviour's key (for instance *who*), answered with one key."""

    key: str = Field(pattern=KEY)
    en: str = Field(min_length=1, max_length=60)
    nl: str = Field(min_length=1, max_length=60)
    values: tuple[ModifierValue, ...] = Field(min_length=2, max_length=9)

    @model_validator(mode="after")
    def _unique(self) -> ModifierSet:
        if len({v.key for v in self.values}) != len(self.values):
            raise ValueError(f"modifier {self.key}: value keys must be unique")
        if len({v.shortcut for v in self.values}) != len(self.values):
            raise ValueError(f"modifier {self.key}: value shortcuts must be unique")
        return self


class Behaviour(_Model):
    key: str = Field(pattern=KEY, description="Stored with each event; BORIS's behaviour code.")
    shortcut: str = Field(pattern=SHORTCUT, description="The key that codes it.")
    en: str = Field(min_length=1, max_length=60)
    nl: str = Field(min_length=1, max_length=60)
    colour: str = Field("#4a6fa5", pattern=COLOUR, description="Its row on the timeline.")
    type: BehaviourType = "point"
    modifiers: tuple[str, ...] = Field((), max_length=3, description="Keys of modifier sets.")
    group: str = Field(
        "", pattern=r"^([a-z][a-z0-9_]{0,31})?$", description="States in one group exclude."
    )


class Scheme(_Model):
    """A coding scheme. Change ``version`` whenever you change it: codings keep the version
    they were made with (a version that has codings cannot be changed in place)."""

    key: str = Field(pattern=KEY, description="Names the scheme across its versions.")
    version: int = Field(1, ge=1, le=10000)
    en: str = Field(min_length=1, max_length=80, description="Its name in English.")
    nl: str = Field(min_length=1, max_length=80, description="Its name in Dutch.")
    subjects: tuple[Subject, ...] = Field((), max_length=10)
    modifiers: tuple[ModifierSet, ...] = Field((), max_length=10)
    behaviours: tuple[Behaviour, ...] = Field(min_length=1, max_length=40)

    @model_validator(mode="after")
    def _consistent(self) -> Scheme:
        keys = [b.key for b in self.behaviours]
        if len(set(keys)) != len(keys):
            raise ValueError("behaviour keys must be unique")
        shortcuts = [b.shortcut for b in self.behaviours]
        if len(set(shortcuts)) != len(shortcuts):
            raise ValueError("behaviour shortcuts must be unique")
        sets = {m.key for m in self.modifiers}
        if len(sets) != len(self.modifiers):
            raise ValueError("modifier keys must be unique")
        for b in self.behaviours:
            unknown = [m for m in b.modifiers if m not in sets]
            if unknown:
                raise ValueError(f"behaviour {b.key}: no modifier {unknown[0]!r} in the scheme")
            if len(set(b.modifiers)) != len(b.modifiers):
                raise ValueError(f"behaviour {b.key}: a modifier is named twice")
            if b.group and b.type != "state":
                raise ValueError(f"behaviour {b.key}: only state events can be in a group")
        return self

    def behaviour(self, key: str) -> Behaviour | None:
        return next((b for b in self.behaviours if b.key == key), None)

    def by_shortcut(self, shortcut: str) -> Behaviour | None:
        return next((b for b in self.behaviours if b.shortcut == shortcut), None)

    def modifier_set(self, key: str) -> ModifierSet | None:
        return next((m for m in self.modifiers if m.key == key), None)

    def label(self, key: str, lang: str = "en") -> str:
        found = self.behaviour(key)
        if found is None:
            return key
        return found.nl if lang == "nl" else found.en


def parse(definition: Any) -> Scheme:
    """A scheme from its JSON form (a coach's, or an import's). Raises Invalid
    ``scheme_invalid`` that names the first mistakes."""
    try:
        return Scheme.model_validate(definition)
    except ValidationError as exc:
        parts = []
        for error in exc.errors()[:3]:
            where = ".".join(str(p) for p in error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            parts.append(f"{where}: {message}" if where else message)
        raise Invalid("scheme_invalid", "the scheme is not valid: " + "; ".join(parts)) from None


def _who(*values: tuple[str, str, str, str]) -> ModifierSet:
    return ModifierSet(
        key="who",
        en="Who",
        nl="Wie",
        values=tuple(ModifierValue(key=k, shortcut=s, en=en, nl=nl) for k, s, en, nl in values),
    )


def _point(key: str, shortcut: str, en: str, nl: str, colour: str, *mods: str) -> Behaviour:
    return Behaviour(key=key, shortcut=shortcut, en=en, nl=nl, colour=colour, modifiers=mods)


# Teacher-pupil contact, step by step: who takes the initiative, whether it is received,
# named or confirmed, whether the turn is given, whether the contact is closed; praise,
# instruction and correction around it. A starting point: schools adapt it (README).
DEFAULT_SCHEME = Scheme(
    key="contact",
    version=1,
    en="Teacher-pupil contact",
    nl="Contact leerkracht-leerling",
    subjects=(
        Subject(key="teacher", en="Teacher", nl="Leerkracht"),
        Subject(key="focus_pupil", en="Focus pupil", nl="Focusleerling"),
    ),
    modifiers=(
        _who(
            ("teacher", "1", "Teacher", "Leerkracht"),
            ("focus_pupil", "2", "Focus pupil", "Focusleerling"),
            ("other_pupil", "3", "Other pupil", "Andere leerling"),
            ("group", "4", "Group", "Groep"),
        ),
    ),
    behaviours=(
        _point("initiative_teacher", "t", "Initiative by the teacher",
               "Initiatief van de leerkracht", "#1f77b4", "who"),
        _point("initiative_pupil", "p", "Initiative by a pupil",
               "Initiatief van een leerling", "#ff7f0e", "who"),
        _point("received", "r", "Initiative received", "Initiatief ontvangen", "#2ca02c"),
        _point("named", "n", "Named or confirmed", "Benoemd of bevestigd", "#17becf"),
        _point("turn_given", "b", "Turn given", "Beurt gegeven", "#9467bd", "who"),
        _point("closed", "a", "Contact closed", "Contact afgesloten", "#8c564b"),
        _point("compliment", "k", "Compliment", "Compliment", "#e377c2", "who"),
        _point("correction", "o", "Correction", "Correctie", "#d62728", "who"),
        Behaviour(key="instruction", shortcut="i", en="Instruction", nl="Instructie",
                  colour="#7f7f7f", type="state", group="activity"),
        Behaviour(key="individual_help", shortcut="h", en="Individual help",
                  nl="Individuele hulp", colour="#bcbd22", type="state", group="activity",
                  modifiers=("who",)),
    ),
)  # fmt: skip


class CodingConfig(_Model):
    """``[coding]``: the school's coding schemes and the figures the analysis uses."""

    schemes: tuple[Scheme, ...] = Field((DEFAULT_SCHEME,), min_length=1, max_length=20)
    agreement_tolerance_s: float = Field(
        2.0, gt=0, le=30, description="Two coders' events this close count as the same moment."
    )
    transition_window_s: float = Field(
        5.0, gt=0, le=600, description="A behaviour follows another if it starts this soon."
    )
    max_events_per_coding: int = Field(5000, ge=10, le=100000)

    @model_validator(mode="after")
    def _unique(self) -> CodingConfig:
        keys = [s.key for s in self.schemes]
        if len(set(keys)) != len(keys):
            raise ValueError("scheme keys must be unique")
        return self
