"""What a key press, a drag or a deletion does to a coding, and the rules every coding keeps.
Pure: each action returns the new list of events; ``check_events`` is the one check on a
whole coding (the keyboard's, a drag's and an import's), so nothing breaks its rules.

A point event has a time; a state event a start and a stop (an open state has no stop yet).
Two states of one behaviour never overlap, nor do two states of one exclusive group.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from ..infra.errors import Conflict, Invalid, NotFound
from ..lessons.fragments import END_TOLERANCE_S, format_time
from .schemes import Behaviour, Scheme

Action = Literal["toggle", "start", "stop"]
Modifiers = tuple[tuple[str, str], ...]  # (modifier set, value), sorted


@dataclass(frozen=True)
class Event:
    """One coded event; ``id`` is None until it is stored."""

    behaviour: str
    start_s: float
    end_s: float | None = None
    modifiers: Modifiers = ()
    id: int | None = field(default=None, compare=False)

    @property
    def open(self) -> bool:
        return self.end_s is None

    def until(self, end_of_lesson: float) -> float:
        """Where a state ends (an open one at the end of the lesson)."""
        return self.end_s if self.end_s is not None else end_of_lesson


def check_time(t: float, duration_s: float) -> float:
    """A moment in a lesson ``duration_s`` long, to the millisecond. Raises Invalid
    ``time_invalid``, ``time_negative`` or ``time_past_end``."""
    if not math.isfinite(t):
        raise Invalid("time_invalid", "a time must be a number of seconds")
    if t < 0:
        raise Invalid("time_negative", "a code cannot be before the start of the lesson")
    if t > duration_s + END_TOLERANCE_S:
        raise Invalid(
            "time_past_end",
            f"{t:.3f} s is past the end: the lesson is {format_time(duration_s)} "
            f"({duration_s:.3f} s) long",
        )
    return round(min(t, duration_s), 3)


def behaviour_for_key(scheme: Scheme, key: str) -> Behaviour:
    """The behaviour a key codes. Raises Invalid ``unknown_key``."""
    found = scheme.by_shortcut(key) if len(key) == 1 else None
    if found is None:
        raise Invalid("unknown_key", f"{key[:10]!r} is not a key of the scheme {scheme.en!r}")
    return found


def known_behaviour(scheme: Scheme, key: str) -> Behaviour:
    """The behaviour ``key`` names. Raises Invalid ``unknown_behaviour``."""
    found = scheme.behaviour(key)
    if found is None:
        raise Invalid(
            "unknown_behaviour", f"{key[:40]!r} is not a behaviour of the scheme {scheme.en!r}"
        )
    return found


def check_modifiers(scheme: Scheme, behaviour: Behaviour, given: Mapping[str, str]) -> Modifiers:
    """The modifiers of an event of ``behaviour`` (set key -> value key), each optional.
    Raises Invalid ``unknown_modifier``."""
    out = []
    for set_key, value in given.items():
        modifier = scheme.modifier_set(set_key) if set_key in behaviour.modifiers else None
        if modifier is None or value not in {v.key for v in modifier.values}:
            raise Invalid(
                "unknown_modifier",
                f"{behaviour.key} has no modifier {set_key[:40]!r} = {str(value)[:40]!r}",
            )
        out.append((set_key, value))
    return tuple(sorted(out))


def _overlap(a: Event, b: Event, end: float) -> bool:
    return a.start_s < b.until(end) and b.start_s < a.until(end)


def check_events(
    scheme: Scheme, events: Sequence[Event], duration_s: float, max_events: int
) -> list[Event]:
    """The rules of a whole coding; returns the events in time order. Raises Invalid
    ``too_many_events``, ``unknown_behaviour``, ``unknown_modifier``, ``time_*``,
    ``stop_before_start``, ``point_has_stop``, or Conflict ``state_overlap``,
    ``exclusive_overlap``."""
    if len(events) > max_events:
        raise Invalid(
            "too_many_events", f"a coding holds at most {max_events} events; this has {len(events)}"
        )
    states: list[tuple[Behaviour, Event]] = []
    for event in events:
        behaviour = known_behaviour(scheme, event.behaviour)
        check_modifiers(scheme, behaviour, dict(event.modifiers))
        check_time(event.start_s, duration_s)
        if behaviour.type == "point":
            if event.end_s is not None:
                raise Invalid("point_has_stop", f"{behaviour.key} is a point event: no stop")
            continue
        if event.end_s is not None:
            check_time(event.end_s, duration_s)
            if event.end_s <= event.start_s:
                raise Invalid(
                    "stop_before_start",
                    f"{behaviour.key} stops at {format_time(event.end_s)}, "
                    f"not after its start at {format_time(event.start_s)}",
                )
        states.append((behaviour, event))
    states.sort(key=lambda pair: pair[1].start_s)
    for i, (b1, e1) in enumerate(states):
        for b2, e2 in states[i + 1 :]:
            if e2.start_s >= e1.until(duration_s):
                break
            if b1.key == b2.key:
                raise Conflict(
                    "state_overlap",
                    f"{b1.key} is already going on from {format_time(e1.start_s)}: "
                    "a state cannot overlap itself",
                )
            if b1.group and b1.group == b2.group:
                raise Conflict(
                    "exclusive_overlap",
                    f"{b1.key} and {b2.key} exclude each other (group {b1.group}) and overlap "
                    f"at {format_time(max(e1.start_s, e2.start_s))}",
                )
    return sorted(events, key=lambda e: (e.start_s, e.behaviour))


def press(
    scheme: Scheme,
    events: Sequence[Event],
    behaviour: Behaviour,
    t: float,
    modifiers: Modifiers = (),
    action: Action = "toggle",
) -> list[Event]:
    """The events after coding ``behaviour`` at ``t`` (already checked with ``check_time``).

    A point is added. A state toggles: an open one stops at ``t``, otherwise one starts there
    and the open states of its exclusive group stop at ``t``. ``start`` and ``stop`` say which
    is meant: Conflict ``state_already_started`` or Invalid ``state_not_started`` otherwise.
    """
    if behaviour.type == "point":
        if action != "toggle":
            raise Invalid("not_a_state", f"{behaviour.key} is a point event: it has no {action}")
        return [*events, Event(behaviour.key, t, None, modifiers)]
    running = next((e for e in events if e.behaviour == behaviour.key and e.open), None)
    if running is not None and action == "start":
        raise Conflict(
            "state_already_started",
            f"{behaviour.key} was started at {format_time(running.start_s)} and not stopped",
        )
    if running is None and action == "stop":
        raise Invalid("state_not_started", f"{behaviour.key} cannot stop: it was never started")
    if running is not None:
        if t <= running.start_s:
            raise Invalid(
                "stop_before_start",
                f"{behaviour.key} started at {format_time(running.start_s)}: stop it after that",
            )
        return [replace(e, end_s=t) if e is running else e for e in events]
    out = []
    for event in events:
        other = scheme.behaviour(event.behaviour)
        excluded = (
            event.open
            and other is not None
            and bool(behaviour.group)
            and other.group == behaviour.group
            and event.start_s < t
        )
        out.append(replace(event, end_s=t) if excluded else event)
    return [*out, Event(behaviour.key, t, None, modifiers)]


def move(
    events: Sequence[Event],
    event_id: int,
    start_s: float | None,
    end_s: float | None,
    modifiers: Modifiers | None = None,
) -> list[Event]:
    """The events after dragging one (new start and/or stop) or changing its modifiers;
    ``check_events`` judges the result. Raises NotFound ``event_not_found``."""
    target = find(events, event_id)
    changed = replace(
        target,
        start_s=target.start_s if start_s is None else start_s,
        end_s=target.end_s if end_s is None else end_s,
        modifiers=target.modifiers if modifiers is None else modifiers,
    )
    return [changed if e is target else e for e in events]


def remove(events: Sequence[Event], event_id: int) -> list[Event]:
    target = find(events, event_id)
    return [e for e in events if e is not target]


def find(events: Iterable[Event], event_id: int) -> Event:
    found = next((e for e in events if e.id == event_id), None)
    if found is None:
        raise NotFound("event_not_found", "no such event in this coding (undone or deleted?)")
    return found
