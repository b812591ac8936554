"""How the rest of the server takes part in tus uploads: the hooks an endpoint calls."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ...access.principal import Principal


class TusRejected(Exception):
    """Raised by hooks to refuse a request; the endpoint answers with ``status`` and ``message``."""

    def __init__(self, status: int, message: str) -> None:
        if not 400 <= status <= 599:
            raise ValueError(f"TusRejected needs a 4xx or 5xx status, not {status}")
        super().__init__(message)
        self.status = status
        self.message = message


class TusHooks(Protocol):
    """How the rest of the server takes part in uploads."""

    async def on_create(self, principal: Principal, metadata: dict[str, str], length: int) -> None:
        """Validate before an upload is created (e.g. that the named recording exists and
        belongs to this unit). Raise TusRejected(4xx, msg) to refuse."""

    async def on_complete(
        self, principal: Principal, upload_id: str, metadata: dict[str, str], path: Path
    ) -> dict[str, Any]:
        """Called once all bytes have arrived (file at ``path``, fsync'd). The hook may move the
        file away (os.replace). Returns a small JSON-able result that is stored in the upload
        info. Raise TusRejected(status, msg) to refuse: the upload is then deleted and the PATCH
        answered with that status (e.g. 460 when the whole-file sha256 does not match).
        Must be idempotent: after a crash it is called again for the same upload."""


@runtime_checkable
class FirstBytesHook(Protocol):
    """Optional for hooks: look at the first bytes of an upload as soon as they are stored,
    to refuse a file that is clearly of the wrong kind before the rest is sent."""

    async def on_first_bytes(
        self, principal: Principal, metadata: dict[str, str], head: bytes
    ) -> None:
        """``head`` is up to ``FIRST_BYTES`` bytes from the start of the upload, called once
        when the first chunk of a multi-chunk upload is stored. Raise TusRejected to refuse:
        the upload is then deleted."""


#: How many bytes ``FirstBytesHook.on_first_bytes`` sees.
FIRST_BYTES = 64


@runtime_checkable
class ObsoleteHook(Protocol):
    """Optional for hooks: tell unfinished uploads that can no longer be of use, so the
    start-up recovery and the sweeps remove them instead of keeping them until they expire."""

    async def is_obsolete(self, principal: Principal, metadata: dict[str, str]) -> bool:
        """Whether an unfinished upload with this owner and metadata is of no more use (e.g.
        what it was for arrived through another upload: a crash lost our answer to the POST
        that created this one, so its client never knew it)."""
