"""Whole numbers as people and URLs write them. ``str.isdigit`` alone also says yes to "²"
and "¹", which ``int()`` refuses: a request with such a "number" must be a clear refusal,
never a server error. Pure."""

from __future__ import annotations


def whole_number(text: str, max_digits: int, *, signed: bool = False) -> int | None:
    """``text`` as an int if it is written in ASCII digits (at most ``max_digits`` of them,
    after a leading '-' when ``signed``), else None."""
    digits = text[1:] if signed and text.startswith("-") else text
    if not (digits.isascii() and digits.isdigit()) or len(digits) > max_digits:
        return None
    return int(text)
