"""The media stores on the running server: the bucket's client opened at start-up and closed
at shutdown, and the sweeper that deletes deleted lessons' objects."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from lessoncam_common.config_errors import ConfigError

from ...services import SERVICES
from .base import StoreUnavailable
from .deletions import sweeper

log = logging.getLogger(__name__)


async def media_store_ctx(app: web.Application) -> AsyncIterator[None]:
    """A cleanup_ctx: open ``[storage.s3]``'s bucket when one is configured (after the
    database, before the assembler)."""
    services = app[SERVICES]
    s3 = services.config.storage.s3
    if not s3.bucket:
        yield
        return
    from .s3 import S3Store, read_credentials  # only servers with a bucket import aiobotocore

    if s3.credentials_file is not None:
        try:
            read_credentials(s3.credentials_file)
        except (StoreUnavailable, OSError) as exc:  # refuse to start, saying why
            raise ConfigError("[storage.s3] credentials_file", [str(exc)]) from None
    async with S3Store.connect(s3) as bucket:
        services.stores.bucket = bucket
        task = asyncio.create_task(sweeper(services.stores, services.db), name="bucket-deletions")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            services.stores.bucket = None
