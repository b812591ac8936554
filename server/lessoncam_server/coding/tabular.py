"""Codings as tables: our CSV of events, and BORIS's tabular events (written and read). Pure.

BORIS's layout is the one its "Export events" writes for an observation of one media file
(``export_tabular_events`` in BORIS's ``boris/export_observation.py``, v8): one row per
event, a state as a START and a STOP row, a point as a POINT row, the status in the column
"Behavior type", one "Modifier #n" column per modifier. lessoncam writes it as TSV, the
format BORIS offers first; reading takes TSV or CSV and needs the columns "Behavior",
"Behavior type" and "Time", and checks "Media duration (s)" when it is there.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..infra.errors import Conflict, Invalid
from ..infra.spreadsheets import csv_cell
from .events import Event, Modifiers, check_modifiers, known_behaviour
from .schemes import Scheme

NA = "NA"
#: Two lengths within this many seconds are the same media (containers round differently).
SAME_LENGTH_S = 1.0
#: Largest file read (characters): a coding of thousands of events is well under this.
MAX_CHARS = 4 * 1024 * 1024

BORIS_HEAD = [
    "Observation id",
    "Observation date",
    "Description",
    "Observation duration",
    "Observation type",
    "Source",
    "Time offset (s)",
    "Media duration (s)",
    "FPS",
    "Subject",
    "Behavior",
    "Behavioral category",
]
BORIS_TAIL = [
    "Behavior type",
    "Time",
    "Media file name",
    "Image index",
    "Image file path",
    "Comment",
]


@dataclass(frozen=True)
class LessonInfo:
    """What an export says about the lesson: no names of people."""

    lesson_id: str
    started_at: str  # ISO 8601, UTC
    duration_s: float

    @property
    def media_file(self) -> str:
        return f"lesson-{self.lesson_id}.mp4"


def modifier_text(modifiers: Modifiers) -> str:
    return ";".join(f"{k}={v}" for k, v in modifiers)


def csv_events(
    scheme: Scheme,
    events: Sequence[Event],
    coder: str,
    duration_s: float,
    lang: str = "en",
    delimiter: str = ",",
) -> str:
    """Our CSV: time, behaviour, its label, type, event (point/start/stop), modifiers,
    coder (a pseudonym). Starts with a byte order mark so spreadsheets read UTF-8."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(["time_s", "behaviour", "label", "type", "event", "modifiers", "coder"])
    for t, status, event in _typed_rows(scheme, events, duration_s):
        behaviour = scheme.behaviour(event.behaviour)
        writer.writerow(
            [
                csv_cell(x)
                for x in (
                    f"{t:.3f}",
                    event.behaviour,
                    scheme.label(event.behaviour, lang),
                    behaviour.type if behaviour else "",
                    status.lower(),
                    modifier_text(event.modifiers),
                    coder,
                )
            ]
        )
    return "\ufeff" + out.getvalue()


def _typed_rows(
    scheme: Scheme, events: Sequence[Event], end_s: float
) -> list[tuple[float, str, Event]]:
    out: list[tuple[float, str, Event]] = []
    for event in events:
        behaviour = scheme.behaviour(event.behaviour)
        if behaviour is not None and behaviour.type == "state":
            out.append((event.start_s, "START", event))
            out.append((event.until(end_s), "STOP", event))
        else:
            out.append((event.start_s, "POINT", event))
    return sorted(out, key=lambda r: (r[0], r[1] != "STOP", r[2].behaviour))


def _modifier_columns(scheme: Scheme) -> int:
    return max((len(b.modifiers) for b in scheme.behaviours), default=0)


def boris_events(scheme: Scheme, events: Sequence[Event], lesson: LessonInfo, coder: str) -> str:
    """BORIS's tabular events (TSV) for one coding of a lesson."""
    width = _modifier_columns(scheme)
    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t", lineterminator="\r\n")
    writer.writerow([*BORIS_HEAD, *(f"Modifier #{i + 1}" for i in range(width)), *BORIS_TAIL])
    subject = scheme.subjects[0].en if len(scheme.subjects) == 1 else ""
    for t, status, event in _typed_rows(scheme, events, lesson.duration_s):
        behaviour = scheme.behaviour(event.behaviour)
        chosen = dict(event.modifiers)
        mods = [chosen.get(k, "") for k in (behaviour.modifiers if behaviour else ())]
        mods += [""] * (width - len(mods))
        writer.writerow(
            [
                csv_cell(x)
                for x in (
                    f"lessoncam-{lesson.lesson_id}-{coder}",
                    lesson.started_at[:19].replace("T", " "),
                    f"{scheme.en} v{scheme.version}, coded by {coder}",
                    f"{lesson.duration_s:.3f}",
                    "Media file(s)",
                    f"player #1:{lesson.media_file}",
                    "0.000",
                    f"{lesson.duration_s:.3f}",
                    NA,
                    subject,
                    event.behaviour,
                    behaviour.group if behaviour else "",
                    *mods,
                    status,
                    f"{t:.3f}",
                    lesson.media_file,
                    NA,
                    NA,
                    "",
                )
            ]
        )
    return out.getvalue()


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise Invalid("import_malformed", f"{what} {text[:20]!r} is not a number") from None
    if not math.isfinite(value):
        raise Invalid("import_malformed", f"{what} {text[:20]!r} is not a number")
    return value


def check_length(file_s: float, lesson_s: float) -> None:
    """Raises Invalid ``import_length_mismatch`` naming both lengths when they differ."""
    if abs(file_s - lesson_s) > SAME_LENGTH_S:
        raise Invalid(
            "import_length_mismatch",
            f"the file was coded on media {file_s:.3f} s long; this lesson is "
            f"{lesson_s:.3f} s long: import it onto the lesson it was coded on",
        )


def read_boris(scheme: Scheme, text: str, duration_s: float) -> list[Event]:
    """Events from BORIS's tabular events (TSV or CSV). Raises Invalid ``import_malformed``,
    ``import_length_mismatch``, ``unknown_behaviour``, ``unknown_modifier``,
    ``behaviour_type_mismatch``, ``state_not_started``, or Conflict ``state_already_started``.
    Times and overlaps are for ``events.check_events`` to judge."""
    if len(text) > MAX_CHARS:
        raise Invalid("import_malformed", "the file is too large for a coding")
    text = text.lstrip("\ufeff")
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first else ("," if "," in first else ";")
    try:
        table = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as exc:
        raise Invalid("import_malformed", f"not a BORIS table: {exc}") from None
    if not table:
        raise Invalid("import_malformed", "the file is empty")
    head = [h.strip() for h in table[0]]
    needed = ["Behavior", "Behavior type", "Time"]
    missing = [c for c in needed if c not in head]
    if missing:
        raise Invalid(
            "import_malformed",
            f"not BORIS's tabular events: no column {missing[0]!r} (export with "
            "Observations > Export events, tabular format)",
        )
    col = {name: i for i, name in enumerate(head)}
    modifier_cols = [col[h] for h in head if h.startswith("Modifier #")]
    events: list[Event] = []
    open_states: dict[str, Event] = {}
    for line, raw in enumerate(table[1:], start=2):
        if not any(cell.strip() for cell in raw):
            continue
        if len(raw) < len(head):
            raise Invalid("import_malformed", f"line {line}: {len(raw)} of {len(head)} columns")
        if "Media duration (s)" in col:
            check_length(_number(raw[col["Media duration (s)"]], f"line {line}: media duration"),
                         duration_s)  # fmt: skip
        behaviour = known_behaviour(scheme, raw[col["Behavior"]].strip())
        status = raw[col["Behavior type"]].strip().upper()
        t = _number(raw[col["Time"]], f"line {line}: time")
        values = [raw[i].strip() for i in modifier_cols]
        given = {
            k: v for k, v in zip(behaviour.modifiers, values, strict=False) if v and v != "None"
        }
        modifiers = check_modifiers(scheme, behaviour, given)
        wanted = "POINT" if behaviour.type == "point" else ("START", "STOP")
        if status not in wanted:
            raise Invalid(
                "behaviour_type_mismatch",
                f"line {line}: {behaviour.key} is a {behaviour.type} event, not {status[:10]}",
            )
        if status == "POINT":
            events.append(Event(behaviour.key, round(t, 3), None, modifiers))
        elif status == "START":
            if behaviour.key in open_states:
                raise Conflict(
                    "state_already_started",
                    f"line {line}: {behaviour.key} starts again before it stopped",
                )
            open_states[behaviour.key] = Event(behaviour.key, round(t, 3), None, modifiers)
        else:
            started = open_states.pop(behaviour.key, None)
            if started is None:
                raise Invalid(
                    "state_not_started",
                    f"line {line}: {behaviour.key} stops but was never started",
                )
            events.append(Event(behaviour.key, started.start_s, round(t, 3), started.modifiers))
    events.extend(open_states.values())
    return events
