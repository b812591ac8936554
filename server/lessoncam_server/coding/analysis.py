"""The analysis of one coding: per behaviour (and per modifier value) how often, how often
per minute, and for states how long in total, on average and as a share of the time; over
the whole lesson or a chosen fragment; and which behaviour follows which. Pure.

Over a fragment ``[from_s, to_s]``: a point counts if it lies within it (ends included); a
state counts if it overlaps the fragment, with only the overlapping part as its duration. An
open state (never stopped) lasts until the end of the lesson.

Transitions use the onsets (a point's time, a state's start) in time order, events at the
same moment in the scheme's order:

- ``next``: for each onset, the behaviour of the next onset if it starts within the window,
  or ``none`` (lag-1 sequential analysis);
- ``within``: for each onset of A and each behaviour B, whether B starts after it within the
  window, so "initiatives not followed by a close" is ``count - within[initiative][closed]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..infra.errors import Invalid
from .events import Event
from .schemes import Behaviour, Scheme

NONE = "none"


@dataclass(frozen=True)
class Span:
    from_s: float
    to_s: float

    @property
    def seconds(self) -> float:
        return self.to_s - self.from_s


def span(duration_s: float, from_s: float | None = None, to_s: float | None = None) -> Span:
    """The part of a lesson to analyse. Raises Invalid ``fragment_invalid``."""
    start = 0.0 if from_s is None else from_s
    end = duration_s if to_s is None else min(to_s, duration_s)
    if not 0 <= start < end:
        raise Invalid("fragment_invalid", "the fragment must start before it ends, in the lesson")
    return Span(start, end)


def _in_span(event: Event, behaviour: Behaviour, part: Span, end: float) -> float | None:
    """The event's seconds inside ``part`` (0 for a point in it), or None if outside."""
    if behaviour.type == "point":
        return 0.0 if part.from_s <= event.start_s <= part.to_s else None
    lo, hi = max(event.start_s, part.from_s), min(event.until(end), part.to_s)
    return hi - lo if hi > lo else None


def _figures(durations: list[float], is_state: bool, part: Span) -> dict[str, Any]:
    count = len(durations)
    minutes = part.seconds / 60
    out: dict[str, Any] = {
        "count": count,
        "rate_per_min": round(count / minutes, 3) if minutes else None,
    }
    if is_state:
        total = sum(durations)
        out["total_s"] = round(total, 3)
        out["mean_s"] = round(total / count, 3) if count else None
        out["share"] = round(total / part.seconds, 4) if part.seconds else None
    return out


def _onsets(scheme: Scheme, events: Sequence[Event], part: Span) -> list[tuple[float, str]]:
    order = {b.key: i for i, b in enumerate(scheme.behaviours)}
    found = [
        (e.start_s, e.behaviour)
        for e in events
        if part.from_s <= e.start_s <= part.to_s and e.behaviour in order
    ]
    return sorted(found, key=lambda x: (x[0], order[x[1]]))


def transitions(
    scheme: Scheme, events: Sequence[Event], part: Span, window_s: float
) -> dict[str, Any]:
    """The ``next`` and ``within`` tables (see the module's doc), keyed by behaviour."""
    keys = [b.key for b in scheme.behaviours]
    nxt = {a: dict.fromkeys([*keys, NONE], 0) for a in keys}
    within = {a: dict.fromkeys(keys, 0) for a in keys}
    onsets = _onsets(scheme, events, part)
    for i, (t, a) in enumerate(onsets):
        later = onsets[i + 1 :]
        follower = later[0] if later and later[0][0] - t <= window_s else None
        nxt[a][follower[1] if follower else NONE] += 1
        for b in {b for tb, b in later if tb - t <= window_s}:
            within[a][b] += 1
    return {"window_s": window_s, "next": nxt, "within": within}


def analyse(
    scheme: Scheme,
    events: Sequence[Event],
    duration_s: float,
    part: Span,
    window_s: float,
) -> dict[str, Any]:
    """The analysis of a coding over ``part`` of a lesson ``duration_s`` long."""
    behaviours = []
    modifiers = []
    for behaviour in scheme.behaviours:
        own = [e for e in events if e.behaviour == behaviour.key]
        inside = [
            (e, s) for e in own if (s := _in_span(e, behaviour, part, duration_s)) is not None
        ]
        is_state = behaviour.type == "state"
        behaviours.append(
            {
                "key": behaviour.key,
                "en": behaviour.en,
                "nl": behaviour.nl,
                "type": behaviour.type,
                "colour": behaviour.colour,
                **_figures([s for _e, s in inside], is_state, part),
            }
        )
        for set_key in behaviour.modifiers:
            modifier = scheme.modifier_set(set_key)
            assert modifier is not None  # the scheme's own rule
            for value in modifier.values:
                chosen = [s for e, s in inside if (set_key, value.key) in e.modifiers]
                modifiers.append(
                    {
                        "behaviour": behaviour.key,
                        "modifier": set_key,
                        "value": value.key,
                        "en": value.en,
                        "nl": value.nl,
                        **_figures(chosen, is_state, part),
                    }
                )
    return {
        "span": {"from_s": part.from_s, "to_s": part.to_s, "minutes": round(part.seconds / 60, 3)},
        "behaviours": behaviours,
        "modifiers": modifiers,
        "transitions": transitions(scheme, events, part, window_s),
    }
