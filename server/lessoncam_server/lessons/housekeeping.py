"""Periodic jobs: lessons past their retention period, expired sessions, orphaned folders."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from ..infra.paths import DataPaths
from ..services import SERVICES, Services
from . import deletion, retention

log = logging.getLogger(__name__)


def sweep(services: Services) -> list[str]:
    """Delete every lesson past the retention period (logging each), and expired sessions."""
    now = services.now()
    days = retention.retention_days(services.db, services.config.retention.days)
    deleted = []
    for rid in retention.expired_ids(services.db, now, days):
        deletion.delete(services.db, services.paths, rid)
        services.audit(
            None,
            None,
            "lesson_expire",
            object_kind="lesson",
            object_id=rid,
            actor_name="retention",
            detail={"retention_days": days},
        )
        deleted.append(rid)
    services.sessions.purge_expired(now)
    if deleted:
        log.info("retention: deleted %d lesson(s) older than %d days", len(deleted), days)
    return deleted


async def _loop(services: Services) -> None:
    interval = services.config.retention.sweep_minutes * 60
    while True:
        try:
            sweep(services)
        except Exception:  # the loop must outlive one bad sweep
            log.exception("retention sweep failed; retrying in %d s", interval)
        await asyncio.sleep(interval)


def remove_snapshot_leftovers(paths: DataPaths) -> int:
    """Delete the temporary files of unit snapshots whose writing a crash cut short
    (``durable.write_atomic`` names them ``.<name>.<hex>.tmp``). Only at start-up, when nothing
    is being written."""
    removed = 0
    for temp in paths.units.glob(".*.tmp") if paths.units.is_dir() else ():
        temp.unlink(missing_ok=True)
        removed += 1
    return removed


async def housekeeping_ctx(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    removed = deletion.remove_orphans(services.db, services.paths)
    if removed:
        log.warning("removed %d orphaned recording folder(s): %s", len(removed), removed)
    if remove_snapshot_leftovers(services.paths):
        log.warning("removed unit snapshots a crash left half written")
    task = asyncio.create_task(_loop(services), name="housekeeping")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
