"""The media stores on the running server: the bucket's client opened at start-up and closed
at shutdown, and the sweeper that deletes deleted lessons' objects."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from aiohttp import web

from lessoncam_common.config_errors import ConfigError

from ...services import SERVICES
from .backoff import retry_delay
from .base import MultipartStore, StoreUnavailable
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
        tasks = [
            asyncio.create_task(sweeper(services.stores, services.db), name="bucket-deletions"),
            asyncio.create_task(
                abort_left_uploads(bucket, datetime.now(UTC), services.stores.retry_max_s),
                name="bucket-left-uploads",
            ),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            services.stores.bucket = None


async def abort_left_uploads(bucket: MultipartStore, started: datetime, cap_s: float) -> None:
    """Abort the multipart uploads an earlier run of the server left unfinished (stopped
    mid-lesson or mid-upload): begun before ``started``, they can never complete. Tried
    until the bucket answers (a few times); the bucket's lifecycle rule catches the rest."""
    for attempt in range(1, 6):
        try:
            left = await bucket.abort_stale_uploads(started)
        except StoreUnavailable as exc:
            log.warning("unfinished uploads in the bucket not cleared yet: %s", exc)
            await asyncio.sleep(retry_delay(attempt, cap_s))
            continue
        if left:
            log.warning("aborted %d upload(s) left unfinished in the bucket", left)
        return
