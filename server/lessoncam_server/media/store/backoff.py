"""How long to wait before trying the media store again: doubling from a few seconds, capped."""

from __future__ import annotations

FIRST_WAIT_S = 5.0


def retry_delay(attempt: int, cap_s: float, first_s: float = FIRST_WAIT_S) -> float:
    """The wait after the ``attempt``-th failure in a row (1 = the first): 5, 10, 20, ... s,
    never more than ``cap_s``."""
    if attempt < 1:
        return 0.0
    return float(min(cap_s, first_s * 2 ** min(attempt - 1, 30)))
