"""What the request handlers share: one object on the app, under one typed key."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from aiohttp import web
from sqlite_utils import Database

from .access import audit
from .access.principal import Principal
from .access.sessions import SessionPolicy, SessionStore
from .access.throttle import LoginThrottle
from .config import ServerConfig
from .infra.paths import DataPaths
from .infra.timeutil import Clock
from .media.store import LocalStore, MediaStores


class Assembly(Protocol):
    """What request handlers and upload hooks ask of the assembler (``media/assembly.py``)."""

    def segment_stored(self, recording_id: str, camera: str) -> None:
        """A unit's segment arrived: start on it while the lesson is still being recorded."""

    def consider(self, recording_id: str) -> None:
        """Start making the media when every segment the unit announced has arrived."""

    def submit(self, recording_id: str) -> None:
        """Queue a recording already in state 'assembling' (a clip, a browser upload)."""

    def forget(self, recording_id: str) -> None:
        """A recording was deleted: drop what is being assembled of it."""


@dataclass
class Services:
    config: ServerConfig
    db: Database
    paths: DataPaths
    clock: Clock
    sessions: SessionStore
    throttle: LoginThrottle
    #: Where lesson media live (the bucket is added by ``media/store/context.py``).
    stores: MediaStores
    assembler: Assembly | None = field(default=None)

    @classmethod
    def build(cls, config: ServerConfig, db: Database, clock: Clock) -> Services:
        sec = config.security
        paths = DataPaths(config.storage.data_dir)
        return cls(
            config=config,
            db=db,
            paths=paths,
            clock=clock,
            sessions=SessionStore(
                db,
                SessionPolicy(
                    idle=timedelta(minutes=sec.session_idle_minutes),
                    absolute=timedelta(hours=sec.session_absolute_hours),
                ),
            ),
            throttle=LoginThrottle(
                sec.login_max_failures_per_account,
                sec.login_max_failures_per_address,
                timedelta(minutes=sec.login_window_minutes),
            ),
            stores=MediaStores(
                LocalStore(paths),
                target=config.storage.media,
                retry_max_s=config.storage.s3.retry_max_s,
            ),
        )

    def now(self) -> datetime:
        return self.clock()

    def audit(
        self, request: web.Request | None, actor: Principal | None, action: str, **kw: Any
    ) -> None:
        """Record ``action`` in the audit log, from the client of ``request`` (if any)."""
        client_ip = client_address(request) if request is not None else None
        self.audit_from(client_ip, actor, action, **kw)

    def audit_from(
        self, client_ip: str | None, actor: Principal | None, action: str, **kw: Any
    ) -> None:
        """Record ``action`` in the audit log, from ``client_ip`` (for the concerns' actions,
        which know the caller's address but not the request)."""
        audit.record(self.db, self.now(), actor, action, client_ip=client_ip, **kw)


SERVICES = web.AppKey("services", Services)


def services_of(request: web.Request) -> Services:
    return request.app[SERVICES]


def client_address(request: web.Request) -> str:
    return request.remote or "unknown"
