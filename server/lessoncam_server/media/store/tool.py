"""``lessoncam-server storage migrate --to s3|local`` and ``storage check``: the store's
command-line side, printing for ICT. The work is in ``migrate.py``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TextIO

from ...config import ServerConfig
from ...infra.db import open_database
from ...infra.paths import DataPaths
from .base import StoreKind, StoreUnavailable
from .local import LocalStore
from .migrate import check, migrate
from .registry import MediaStores


@contextlib.asynccontextmanager
async def _opened(config: ServerConfig) -> AsyncIterator[MediaStores]:
    paths = DataPaths(config.storage.data_dir)
    stores = MediaStores(
        LocalStore(paths), target=config.storage.media, retry_max_s=config.storage.s3.retry_max_s
    )
    if not config.storage.s3.bucket:
        yield stores
        return
    from .s3 import S3Store

    async with S3Store.connect(config.storage.s3) as bucket:
        stores.bucket = bucket
        yield stores


async def storage_command(
    config: ServerConfig, action: str, target: StoreKind | None, out: TextIO
) -> int:
    """Run ``migrate`` (to ``target``) or ``check``; returns the exit status."""
    paths = DataPaths(config.storage.data_dir)
    paths.create()
    db = open_database(paths.database)
    try:
        async with _opened(config) as stores:
            if action == "check":
                report = await check(db, paths, stores)
                for kind, ids in report.orphans.items():
                    for rid in ids:
                        print(f"objects without a lesson in {kind}: {rid}", file=out)
                for rid, names in report.incomplete.items():
                    print(f"lesson {rid} lacks objects: {', '.join(names)}", file=out)
                if report.pending_deletions:
                    print(f"{report.pending_deletions} deletion(s) wait for the bucket", file=out)
                print("storage OK" if report.clean else "storage has problems", file=out)
                return 0 if report.clean else 1
            assert target is not None

            def moved(rid: str, objects: int, size: int) -> None:
                print(f"moved {rid}: {objects} object(s), {size} bytes", file=out, flush=True)

            result = await migrate(db, paths, stores, target, on_lesson=moved)
            for rid, why in result.failed.items():
                print(f"not moved {rid}: {why}", file=out)
            print(
                f"{len(result.moved)} lesson(s) moved to {target}, {len(result.failed)} left;"
                " run again to retry what was left",
                file=out,
            )
            return 0 if not result.failed else 1
    except StoreUnavailable as exc:
        print(f"the media store failed: {exc}", file=out)
        return 1
    finally:
        db.close()
