"""Who is making a request: a signed-in person or an enrolled classroom unit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aiohttp import web

Role = Literal["teacher", "coach", "admin"]


@dataclass(frozen=True, slots=True)
class User:
    """A person with an account. ``csrf_token`` belongs to the session they signed in with."""

    id: int
    username: str
    display_name: str
    role: Role
    csrf_token: str = ""

    @property
    def kind(self) -> Literal["user"]:
        return "user"

    @property
    def key(self) -> str:
        return f"user:{self.id}"


@dataclass(frozen=True, slots=True)
class Unit:
    """An enrolled classroom unit, authenticated by its bearer token."""

    id: str
    name: str
    teacher_id: int | None

    @property
    def kind(self) -> Literal["unit"]:
        return "unit"

    @property
    def key(self) -> str:
        return f"unit:{self.id}"


Principal = User | Unit

# Set by the authentication middleware on every request; absent for anonymous requests.
PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("principal")


def principal_of(request: web.Request) -> Principal | None:
    """The authenticated caller of ``request``, or None."""
    return request.get(PRINCIPAL)
