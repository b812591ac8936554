"""The one error type the concerns raise when an action cannot be carried out.

Every action (sign in, share a lesson, end a claim, create an account, ...) raises a
:class:`DomainError` with a stable ``code`` and a ``message`` in plain English. The adapters
decide how to show it: the JSON API answers ``{"error": code, "message": message}`` with the
error's ``status``; the pages show a sentence in the reader's language, chosen by ``code``.
The subclasses only set the usual HTTP status; ``status`` may still be given for a code whose
answer the API has always given differently.
"""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    """An action that cannot be carried out: ``code`` is stable, ``message`` says why and, where
    someone can act on it, what to do."""

    status_hint: ClassVar[int] = 400

    def __init__(self, code: str, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status if status is not None else self.status_hint


class Invalid(DomainError):
    """Input a person can correct (a time past the end, a title too long, a weak password)."""

    status_hint = 422


class NotFound(DomainError):
    """No such thing, or none the caller may know of (the same answer, so ids cannot be probed)."""

    status_hint = 404


class Forbidden(DomainError):
    """The caller may not do this."""

    status_hint = 403


class Conflict(DomainError):
    """The thing is not in a state that allows this (held by someone else, not ready yet)."""

    status_hint = 409


class BadCredentials(DomainError):
    """A wrong username or password."""

    status_hint = 401


class Throttled(DomainError):
    """Too many tries; try again after ``retry_after_s`` seconds."""

    status_hint = 429

    def __init__(self, code: str, message: str, *, retry_after_s: float) -> None:
        super().__init__(code, message)
        self.retry_after_s = retry_after_s
