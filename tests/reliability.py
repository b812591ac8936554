"""Size and figures for the reliability suite's tests (``make reliability``, issue 6).

The same tests run short in ``make test`` and long under ``bench/reliability.py``, which sets
``LESSONCAM_RELIABILITY=long`` and a directory in ``LESSONCAM_RELIABILITY_DIR``; the tests add
what they measured (faults injected, cases sent, errors) to ``figures.json`` there. Outside the
runner the figures are only checked by the tests' own assertions and written nowhere.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

LONG = os.environ.get("LESSONCAM_RELIABILITY") == "long"
FIGURES_FILE = "figures.json"


def sized(short: int, long: int) -> int:
    """``long`` under ``make reliability``, else ``short`` (so ``make test`` stays quick)."""
    return long if LONG else short


def _update(key: str, value: float, combine: str) -> None:
    folder = os.environ.get("LESSONCAM_RELIABILITY_DIR")
    if not folder:
        return
    path = Path(folder) / FIGURES_FILE
    figures: dict[str, float] = json.loads(path.read_text()) if path.exists() else {}
    old = figures.get(key)
    if old is None:
        figures[key] = value
    elif combine == "sum":
        figures[key] = old + value
    else:
        figures[key] = max(old, value)
    path.write_text(json.dumps(figures, indent=2) + "\n")


def add(key: str, count: float) -> None:
    """Add ``count`` to the figure ``key`` (counts summed over every test of the run)."""
    _update(key, count, "sum")


def peak(key: str, value: float) -> None:
    """Keep the largest ``value`` seen for ``key`` (worst cases: latencies, losses)."""
    _update(key, value, "max")
