"""Codings as ELAN annotation documents (``.eaf``, EAF 3.0), written and read. Pure.

Two layouts: one tier per behaviour (the tier's id is the behaviour's key, an annotation's
value its modifiers, ``who=focus_pupil``), or one tier per coder (the tier's id is the
coder's pseudonym, a value starts with the behaviour's key). ELAN has no point annotations: a
point event becomes an annotation ``POINT_MS`` long and is read back at its start. ELAN stores
no media length, so lessoncam adds a header property ``lessoncam:media_duration_ms``; an
import checks it when it is there (files from elsewhere must fit the lesson).

Reading refuses a document type declaration or entities (no XML entity tricks) and anything
but time-aligned annotations.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from ..infra.errors import Invalid
from .events import Event, check_modifiers, known_behaviour
from .schemes import Scheme
from .tabular import MAX_CHARS, LessonInfo, check_length, modifier_text

POINT_MS = 40  # one frame at 25 fps
DURATION_PROPERTY = "lessoncam:media_duration_ms"
Layout = Literal["behaviour", "coder"]
_XSI = "http://www.w3.org/2001/XMLSchema-instance"


def write(
    scheme: Scheme,
    codings: Sequence[tuple[str, Sequence[Event]]],
    lesson: LessonInfo,
    layout: Layout,
    now: datetime,
) -> str:
    """An EAF document of ``codings`` ((coder pseudonym, events), ...). With the behaviour
    layout each coder's tiers are named ``behaviour`` (one coder) or ``coder/behaviour``."""
    ET.register_namespace("xsi", _XSI)
    root = ET.Element(
        "ANNOTATION_DOCUMENT",
        {
            "AUTHOR": "lessoncam",
            "DATE": now.isoformat(timespec="seconds"),
            "FORMAT": "3.0",
            "VERSION": "3.0",
            f"{{{_XSI}}}noNamespaceSchemaLocation": "http://www.mpi.nl/tools/elan/EAFv3.0.xsd",
        },
    )
    header = ET.SubElement(root, "HEADER", {"MEDIA_FILE": "", "TIME_UNITS": "milliseconds"})
    ET.SubElement(
        header,
        "MEDIA_DESCRIPTOR",
        {
            "MEDIA_URL": f"file:///{lesson.media_file}",
            "MIME_TYPE": "video/mp4",
            "RELATIVE_MEDIA_URL": f"./{lesson.media_file}",
        },
    )
    prop = ET.SubElement(header, "PROPERTY", {"NAME": DURATION_PROPERTY})
    prop.text = str(round(lesson.duration_s * 1000))
    order = ET.SubElement(root, "TIME_ORDER")
    tiers: list[tuple[str, str, list[tuple[int, int, str]]]] = []  # id, annotator, spans
    for coder, events in codings:
        if layout == "coder":
            spans = [(*_ms(scheme, e, lesson), _value(e, with_key=True)) for e in events]
            tiers.append((coder, coder, spans))
            continue
        for behaviour in scheme.behaviours:
            own = [e for e in events if e.behaviour == behaviour.key]
            name = behaviour.key if len(codings) == 1 else f"{coder}/{behaviour.key}"
            tiers.append((name, coder, [(*_ms(scheme, e, lesson), _value(e)) for e in own]))
    slot = annotation = 0
    tier_elements = []
    for tier_id, annotator, spans in tiers:
        tier = ET.Element(
            "TIER",
            {"ANNOTATOR": annotator, "LINGUISTIC_TYPE_REF": "default-lt", "TIER_ID": tier_id},
        )
        for start, end, value in sorted(spans):
            ids = []
            for ms in (start, end):
                slot += 1
                ids.append(f"ts{slot}")
                ET.SubElement(order, "TIME_SLOT", {"TIME_SLOT_ID": ids[-1], "TIME_VALUE": str(ms)})
            annotation += 1
            wrapper = ET.SubElement(tier, "ANNOTATION")
            aligned = ET.SubElement(
                wrapper,
                "ALIGNABLE_ANNOTATION",
                {
                    "ANNOTATION_ID": f"a{annotation}",
                    "TIME_SLOT_REF1": ids[0],
                    "TIME_SLOT_REF2": ids[1],
                },
            )
            ET.SubElement(aligned, "ANNOTATION_VALUE").text = value
        tier_elements.append(tier)
    last = ET.SubElement(header, "PROPERTY", {"NAME": "lastUsedAnnotationId"})
    last.text = str(annotation)
    root.extend(tier_elements)
    ET.SubElement(
        root,
        "LINGUISTIC_TYPE",
        {
            "GRAPHIC_REFERENCES": "false",
            "LINGUISTIC_TYPE_ID": "default-lt",
            "TIME_ALIGNABLE": "true",
        },
    )
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def _ms(scheme: Scheme, event: Event, lesson: LessonInfo) -> tuple[int, int]:
    behaviour = scheme.behaviour(event.behaviour)
    start = round(event.start_s * 1000)
    if behaviour is None or behaviour.type == "point":
        return start, start + POINT_MS
    return start, round(event.until(lesson.duration_s) * 1000)


def _value(event: Event, with_key: bool = False) -> str:
    text = modifier_text(event.modifiers)
    if with_key:
        return f"{event.behaviour} {text}".strip()
    return text


_UNSAFE = re.compile(r"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


def read(scheme: Scheme, text: str, duration_s: float) -> list[Event]:
    """Events from an EAF document. Raises Invalid ``import_malformed``,
    ``import_length_mismatch``, ``unknown_behaviour``, ``unknown_modifier``."""
    if len(text) > MAX_CHARS:
        raise Invalid("import_malformed", "the file is too large for a coding")
    if _UNSAFE.search(text):
        raise Invalid("import_malformed", "the .eaf file declares a document type or entities")
    try:
        root = ET.fromstring(text.lstrip("\ufeff"))  # noqa: S314 (checked above)
    except ET.ParseError as exc:
        raise Invalid("import_malformed", f"not a readable .eaf file: {exc}") from None
    if root.tag != "ANNOTATION_DOCUMENT":
        raise Invalid("import_malformed", "not an ELAN file: no ANNOTATION_DOCUMENT")
    for prop in root.iterfind("HEADER/PROPERTY"):
        if prop.get("NAME") == DURATION_PROPERTY:
            check_length(_int(prop.text or "", "media duration") / 1000, duration_s)
    slots = {}
    for slot in root.iterfind("TIME_ORDER/TIME_SLOT"):
        value = slot.get("TIME_VALUE")
        if value is None:
            raise Invalid(
                "import_malformed", "the .eaf file has unaligned time slots; align them in ELAN"
            )
        slots[slot.get("TIME_SLOT_ID", "")] = _int(value, "time slot")
    # Empty tiers (ELAN's and pympi's "default") say nothing: only tiers with annotations count.
    tiers = [t for t in root.findall("TIER") if t.find("ANNOTATION") is not None]
    by_behaviour = all(scheme.behaviour(t.get("TIER_ID", "")) for t in tiers)
    if not by_behaviour and len(tiers) != 1:
        unknown = next(
            t.get("TIER_ID", "") for t in tiers if not scheme.behaviour(t.get("TIER_ID", ""))
        )
        raise Invalid(
            "unknown_behaviour",
            f"tier {unknown[:40]!r} is no behaviour of the scheme (one tier per behaviour, "
            "or a single tier whose values start with the behaviour)",
        )
    events = []
    for tier in tiers:
        if tier.find("ANNOTATION/REF_ANNOTATION") is not None:
            raise Invalid(
                "import_malformed", "the .eaf file has reference annotations; keep aligned tiers"
            )
        for item in tier.iterfind("ANNOTATION/ALIGNABLE_ANNOTATION"):
            value = (item.findtext("ANNOTATION_VALUE") or "").strip()
            try:
                start = slots[item.get("TIME_SLOT_REF1", "")]
                end = slots[item.get("TIME_SLOT_REF2", "")]
            except KeyError:
                raise Invalid(
                    "import_malformed", "an annotation names a missing time slot"
                ) from None
            if by_behaviour:
                key, rest = tier.get("TIER_ID", ""), value
            else:
                key, _, rest = value.partition(" ")
            behaviour = known_behaviour(scheme, key)
            given = {}
            for part in filter(None, (p.strip() for p in rest.split(";"))):
                name, sep, chosen = part.partition("=")
                if not sep:
                    raise Invalid("unknown_modifier", f"{part[:40]!r} is not modifier=value")
                given[name.strip()] = chosen.strip()
            modifiers = check_modifiers(scheme, behaviour, given)
            if behaviour.type == "point":
                events.append(Event(key, start / 1000, None, modifiers))
            else:
                events.append(Event(key, start / 1000, end / 1000, modifiers))
    return events


def _int(text: str, what: str) -> int:
    if not re.fullmatch(r"[0-9]{1,12}", text.strip()):
        raise Invalid("import_malformed", f"{what} {text[:20]!r} is not a whole number")
    return int(text.strip())
