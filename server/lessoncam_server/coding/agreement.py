"""Agreement between two coders of one lesson with one scheme: Cohen's kappa over matched
events, per behaviour and overall. Pure.

How events are matched (the documented rule, ``docs/coding.md``):

1. Each coder's onsets (a point's time, a state's start) are taken; modifiers are not compared.
2. Pairs of the *same* behaviour whose times differ by at most the tolerance (default 2 s) are
   matched first, closest pairs first, each event at most once: these are agreements.
3. Left-over events are then paired with the other coder's left-over events of a *different*
   behaviour within the tolerance, closest first: these are disagreements on what happened.
4. What is still left is unmatched: an event one coder saw and the other did not, paired
   with ``none``. Unmatched events count as disagreement.

That gives one sequence of (coder A's label, coder B's label) pairs; kappa is Cohen's on it:
``(p_o - p_e) / (1 - p_e)``. Per behaviour, kappa is taken on the same sequence reduced to
"this behaviour or not". Kappa is undefined (None) when ``p_e`` is 1.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .events import Event
from .schemes import Scheme

NONE = "none"


@dataclass(frozen=True)
class Onset:
    t: float
    behaviour: str


def onsets(events: Sequence[Event]) -> list[Onset]:
    return sorted((Onset(e.start_s, e.behaviour) for e in events), key=lambda o: (o.t, o.behaviour))


def _greedy(
    a: list[Onset],
    b: list[Onset],
    used_a: set[int],
    used_b: set[int],
    same: bool,
    tolerance_s: float,
) -> list[tuple[int, int]]:
    candidates = [
        (abs(x.t - y.t), x.t, y.t, i, j)
        for i, x in enumerate(a)
        if i not in used_a
        for j, y in enumerate(b)
        if j not in used_b
        and (x.behaviour == y.behaviour) == same
        and abs(x.t - y.t) <= tolerance_s + 1e-9
    ]
    pairs = []
    for _dt, _ta, _tb, i, j in sorted(candidates):
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        pairs.append((i, j))
    return pairs


def match(
    events_a: Sequence[Event], events_b: Sequence[Event], tolerance_s: float
) -> list[tuple[str, str]]:
    """The (label A, label B) sequence of the module's rule, in time order."""
    a, b = onsets(events_a), onsets(events_b)
    used_a: set[int] = set()
    used_b: set[int] = set()
    pairs = _greedy(a, b, used_a, used_b, True, tolerance_s)
    pairs += _greedy(a, b, used_a, used_b, False, tolerance_s)
    timed: list[tuple[float, str, str]] = [
        (min(a[i].t, b[j].t), a[i].behaviour, b[j].behaviour) for i, j in pairs
    ]
    timed += [(x.t, x.behaviour, NONE) for i, x in enumerate(a) if i not in used_a]
    timed += [(y.t, NONE, y.behaviour) for j, y in enumerate(b) if j not in used_b]
    return [(la, lb) for _t, la, lb in sorted(timed)]


def cohen_kappa(labels_a: Sequence[str], labels_b: Sequence[str]) -> float | None:
    """Cohen's kappa of two equally long label sequences; None if undefined."""
    n = len(labels_a)
    if n == 0 or n != len(labels_b):
        return None
    observed = sum(x == y for x, y in zip(labels_a, labels_b, strict=True)) / n
    count_a, count_b = Counter(labels_a), Counter(labels_b)
    expected = sum(count_a[k] * count_b[k] for k in count_a) / (n * n)
    if expected >= 1:
        return None
    return (observed - expected) / (1 - expected)


def agreement(
    scheme: Scheme, events_a: Sequence[Event], events_b: Sequence[Event], tolerance_s: float
) -> dict[str, Any]:
    """Kappa overall and per behaviour, with the matched/unmatched table."""
    sequence = match(events_a, events_b, tolerance_s)
    labels_a = [x for x, _ in sequence]
    labels_b = [y for _, y in sequence]
    keys = [b.key for b in scheme.behaviours]
    table = {x: dict.fromkeys([*keys, NONE], 0) for x in [*keys, NONE]}
    for x, y in sequence:
        table.setdefault(x, {}).setdefault(y, 0)
        table[x][y] += 1
    per_behaviour = []
    for key in keys:
        bin_a = ["yes" if x == key else "no" for x in labels_a]
        bin_b = ["yes" if y == key else "no" for y in labels_b]
        present = "yes" in bin_a or "yes" in bin_b
        per_behaviour.append(
            {
                "key": key,
                "agreed": table[key][key],
                "only_a": sum(1 for x, y in sequence if x == key and y != key),
                "only_b": sum(1 for x, y in sequence if y == key and x != key),
                "kappa": _rounded(cohen_kappa(bin_a, bin_b)) if present else None,
            }
        )
    agreed = sum(1 for x, y in sequence if x == y)
    return {
        "tolerance_s": tolerance_s,
        "events_a": len(events_a),
        "events_b": len(events_b),
        "pairs": len(sequence),
        "agreed": agreed,
        "unmatched": sum(1 for x, y in sequence if NONE in (x, y)),
        "kappa": _rounded(cohen_kappa(labels_a, labels_b)),
        "per_behaviour": per_behaviour,
        "table": table,
        "sequence": [list(pair) for pair in sequence],
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
