"""What the request handlers share: one object on the app, under one typed key."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlite_utils import Database

from .access import audit
from .access.principal import Principal
from .access.sessions import SessionPolicy, SessionStore
from .access.throttle import LoginThrottle
from .config import ServerConfig
from .infra.paths import DataPaths
from .infra.timeutil import Clock

if TYPE_CHECKING:
    from .media.assembly import Assembler


@dataclass
class Services:
    config: ServerConfig
    db: Database
    paths: DataPaths
    clock: Clock
    sessions: SessionStore
    throttle: LoginThrottle
    assembler: Assembler | None = field(default=None)

    @classmethod
    def build(cls, config: ServerConfig, db: Database, clock: Clock) -> Services:
        sec = config.security
        return cls(
            config=config,
            db=db,
            paths=DataPaths(config.storage.data_dir),
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
        )

    def now(self) -> datetime:
        return self.clock()

    def audit(
        self, request: web.Request | None, actor: Principal | None, action: str, **kw: Any
    ) -> None:
        client_ip = client_address(request) if request is not None else None
        audit.record(self.db, self.now(), actor, action, client_ip=client_ip, **kw)


SERVICES = web.AppKey("services", Services)


def services_of(request: web.Request) -> Services:
    return request.app[SERVICES]


def client_address(request: web.Request) -> str:
    return request.remote or "unknown"
