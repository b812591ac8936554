"""What a browser may send into a watch-together session, checked before anything acts on it.

Every message is one JSON object with ``seq`` (rising on each connection, so a replayed or
reordered message is refused), ``lesson`` (the session's lesson: a message for another
lesson is refused) and ``type``. Unknown fields are refused too: the sender is always the
connection's own user, never a name in the message.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from .timeline import MAX_RATE, MIN_RATE

#: A message is small; anything bigger is not one of ours.
MAX_MESSAGE_BYTES = 2048


class Refused(Exception):
    """A message the session will not act on; ``code`` is stable and sent back to its
    sender, and logged."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    seq: int = Field(ge=1, le=2**53)
    lesson: str = Field(max_length=64)


class StateChange(_Message):
    """Play, pause, seek, speed or a jump to a comment's mark: the whole new state."""

    type: Literal["state"]
    cause: Literal["play", "pause", "seek", "speed", "mark"]
    playing: bool
    position_s: float = Field(ge=0, le=24 * 3600)
    rate: float = Field(ge=MIN_RATE, le=MAX_RATE)


class LayoutChange(_Message):
    type: Literal["layout"]
    pip: bool
    swapped: bool


class Pointer(_Message):
    """A spot in one camera's picture, as fractions of its width and height."""

    type: Literal["pointer"]
    screen: Literal["main", "second"]
    x: float = Field(ge=0, le=1)
    y: float = Field(ge=0, le=1)


class CommentMade(_Message):
    """She placed, changed or deleted a comment through the comments API: the others reload
    their list."""

    type: Literal["comment"]
    comment_id: int = Field(ge=1, le=2**53)


class Lead(_Message):
    """``take`` (the one who started: only she steers), ``give`` to someone present, or
    ``release`` (everyone steers)."""

    type: Literal["lead"]
    action: Literal["take", "give", "release"]
    to: int | None = Field(None, ge=1, le=2**53)


class Ping(_Message):
    """For the browser's estimate of the server's clock; ``t`` comes back unchanged."""

    type: Literal["ping"]
    t: float


class Leave(_Message):
    type: Literal["leave"]


Inbound = Annotated[
    StateChange | LayoutChange | Pointer | CommentMade | Lead | Ping | Leave,
    Field(discriminator="type"),
]
_INBOUND: TypeAdapter[Inbound] = TypeAdapter(Inbound)

#: Messages that change what the others see; permission is checked again before each.
STATE_CHANGING = (StateChange, LayoutChange, Pointer, CommentMade, Lead)


def parse(raw: str | bytes, lesson_id: str, last_seq: int) -> Inbound:
    """The message in ``raw`` for the session on ``lesson_id`` after ``last_seq``.

    Raises Refused: ``too_large``, ``malformed``, ``other_lesson`` or ``replayed``."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise Refused("too_large", f"{len(raw)} bytes")
    try:
        message = _INBOUND.validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors()
        where = ".".join(str(p) for p in errors[0]["loc"]) if errors else ""
        why = errors[0]["msg"] if errors else "invalid"
        raise Refused("malformed", f"{where or 'message'}: {why}"[:200]) from None
    if isinstance(message, Ping) and not math.isfinite(message.t):
        raise Refused("malformed", "t: not a finite number")
    if message.lesson != lesson_id:
        raise Refused("other_lesson", message.lesson[:64])
    if message.seq <= last_seq:
        raise Refused("replayed", f"seq {message.seq} after {last_seq}")
    return message
