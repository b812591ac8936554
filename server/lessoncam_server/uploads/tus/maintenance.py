"""Keeping a tus store tidy: recovery at start-up, and periodic sweeps that expire uploads,
retry completions a crash or a full disk interrupted, and drop uploads of no more use."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from ...access.principal import Principal
from ..store import UploadInfo, UploadLocked, UploadStore
from .hooks import ObsoleteHook, TusHooks
from .owners import principal_from_snapshot
from .protocol import TusFailure

log = logging.getLogger(__name__)

#: Runs the completion hook on a received upload (the endpoint's); the caller holds its lock.
Finish = Callable[[UploadInfo, Principal], Awaitable[UploadInfo]]


class TusMaintenance:
    """Recovery and sweeps for one store and its hooks."""

    def __init__(
        self,
        store: UploadStore,
        hooks: TusHooks,
        finish: Finish,
        *,
        stall_timeout_s: float,
        sweep_interval_s: float,
    ) -> None:
        self.store = store
        self.hooks = hooks
        self.finish = finish
        self.stall_timeout_s = stall_timeout_s
        self.sweep_interval_s = sweep_interval_s

    async def recover(self) -> None:
        """Tidy the store, complete uploads whose completion a crash interrupted, and remove
        unfinished uploads that are of no more use."""
        await self._complete_pending(await self.store.recover())
        await self._drop_obsolete(idle_s=0.0)  # nothing is being written yet

    async def sweep(self) -> None:
        """Run one expiry sweep, retry completions that are still pending, and remove
        unfinished uploads that are of no more use."""
        report = await self.store.sweep()
        await self._complete_pending(report.pending)
        await self._drop_obsolete(idle_s=self.stall_timeout_s)

    async def _drop_obsolete(self, *, idle_s: float) -> None:
        """Remove unfinished uploads the hooks call obsolete and nobody wrote to for
        ``idle_s`` (a client between two PATCHes is left alone)."""
        if not isinstance(self.hooks, ObsoleteHook):
            return
        for stale in await asyncio.to_thread(self.store.unfinished):
            principal = principal_from_snapshot(stale.owner_info)
            if principal is None or self.store.idle_s(stale) < idle_s:
                continue
            try:
                async with self.store.locked(stale.id):
                    info = self.store.get(stale.id)
                    if info is None or info.state != "receiving":
                        continue
                    if await self.hooks.is_obsolete(principal, dict(info.metadata)):
                        log.info("upload %s is of no more use; removing it", info.id)
                        await self.store.delete(info.id)
            except UploadLocked:
                continue  # in use after all: the next sweep looks again

    async def _complete_pending(self, pending: list[UploadInfo]) -> None:
        for stale in pending:
            principal = principal_from_snapshot(stale.owner_info)
            if principal is None:
                log.error("upload %s: owner unknown, cannot complete it", stale.id)
                continue
            try:
                async with self.store.locked(stale.id):
                    info = self.store.get(stale.id)
                    if info is not None and info.state == "received":
                        await self.finish(info, principal)
            except TusFailure as fail:
                log.warning("upload %s: completion answered %s: %s", stale.id, fail.status, fail)
            except UploadLocked:
                log.info("upload %s: busy; its completion is retried by the next sweep", stale.id)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval_s)
            try:
                await self.sweep()
            except Exception:
                log.exception("upload sweep failed")

    async def lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        """cleanup_ctx: recover at start-up, sweep periodically, stop the sweep at shutdown."""
        await self.recover()
        task = asyncio.create_task(self._sweep_forever(), name="tus-upload-sweep")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
