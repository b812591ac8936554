"""Benchmark: lesson media in an S3-compatible bucket against the same on the local disk.

Run with ``make bench-storage``. Starts moto's S3 server (``moto[server]``, the test
dependency) and our server (as its own process) with two ready lessons holding the same
video bytes: one on the local disk, one in the bucket. Then, interleaved, with curl:

- a 100 MiB mid-file range and the time to first byte of a 64 KiB range, through our server
  from the disk and from the bucket (``ratio_s3_proxy_vs_local``);
- with ``presigned = true`` (a second server process on the same data directory): the
  redirect's added latency (request to 307) and the bucket's own first byte after it;
- the time to store an assembled lesson (verified multipart upload of every camera), measured
  on ``--store-mib`` of video and scaled to a 45-minute two-camera 1080p lesson;
- migration to the bucket and back of ``--lessons`` lessons through the project's fault proxy
  (a cut mid-part, a bucket that refuses connections for a while, a slow link), resumed until
  every lesson moved: ``objects_lost`` and ``bytes_mismatched`` over it (both must be 0).

The S3 server is moto, written in Python: its speed, not our client's, bounds the bucket
figures here; a MinIO or Ceph RGW on the school network is faster. Results:
bench/results/storage.json.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loopback import free_port, stop_processes, wait_for
from playback import PASSWORD, curl, login

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the project's fault proxy lives with the tests

from lessoncam_server.access import accounts  # noqa: E402
from lessoncam_server.config import S3StoreConfig, parse_config  # noqa: E402
from lessoncam_server.infra.db import open_database  # noqa: E402
from lessoncam_server.infra.paths import DataPaths  # noqa: E402
from lessoncam_server.infra.timeutil import to_iso  # noqa: E402
from lessoncam_server.media.store import LocalStore, MediaStores  # noqa: E402
from lessoncam_server.media.store.migrate import migrate  # noqa: E402
from lessoncam_server.media.store.s3 import S3Store  # noqa: E402
from tests.faultproxy import Proxy  # noqa: E402
from tests.server.s3_fixtures import (  # noqa: E402
    credentials_file,
    new_bucket,
    s3_server,
    s3_settings,
)

RESULTS = ROOT / "bench" / "results" / "storage.json"
BIN = Path(sys.executable).parent
MIB = 1024 * 1024
LOCAL_RID = "01JDBENCHL0CAL000000000000"
BUCKET_RID = "01JDBENCHBUCKET00000000000"
#: A 45-minute two-camera 1080p lesson as bench/assembly.py's encoder makes it (7.54 GB/h).
LESSON_45_BYTES = int(7_541_659_793 * 0.75)


def insert_lesson(db: Any, owner: int, rid: str, store: str, size: int) -> None:
    """A ready one-camera lesson row (version 1) with media of ``size`` bytes."""
    now = datetime.now(UTC)
    manifest = {
        "format_version": 1,
        "recording_id": rid,
        "started_at": now.isoformat(),
        "cameras": [
            {
                "id": "main",
                "role": "main",
                "label": "",
                "video": {"codec": "h264", "container": "mpegts", "width": 1920, "height": 1080},
            }
        ],
        "audio_camera": "main",
        "segment_seconds": 10.0,
        "software_version": "",
    }
    db.table("recordings").insert(
        {
            "id": rid,
            "owner_id": owner,
            "started_at": to_iso(now),
            "manifest": json.dumps(manifest),
            "state": "ready",
            "created_at": to_iso(now),
            "media_version": 1,
            "duration_s": 3600.0,
            "media_store": store,
        }
    )
    db.table("media").insert(
        {
            "recording_id": rid,
            "camera": "main",
            "file_name": "main.v1.mp4",
            "duration_s": 3600.0,
            "width": 1920,
            "height": 1080,
            "has_audio": 1,
            "size": size,
            "gaps": "[]",
            "thumbs": None,
        }
    )


def write_random(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        left = size
        while left:
            piece = min(left, 16 * MIB)
            handle.write(os.urandom(piece))
            left -= piece


def lesson_files(paths: DataPaths, rid: str, video_size: int) -> None:
    """A lesson's media files on disk: video, thumbnail strip and poster."""
    write_random(paths.video(rid, "main", 1), video_size)
    write_random(paths.thumbnails(rid, "main", 1), 200_000)
    write_random(paths.poster(rid, 1), 60_000)


async def store_files(s3: S3StoreConfig, paths: DataPaths, rid: str) -> float:
    """Put a lesson's media in the bucket, verified; returns the seconds it took."""
    names = [
        paths.video(rid, "main", 1).name,
        paths.thumbnails(rid, "main", 1).name,
        paths.poster(rid, 1).name,
    ]
    async with S3Store.connect(s3) as store:
        started = time.perf_counter()
        await asyncio.gather(
            *(store.put(rid, name, paths.recording_dir(rid) / name) for name in names)
        )
        return time.perf_counter() - started


async def store_lesson_seconds(s3: S3StoreConfig, work: Path, mib: int) -> float:
    """Seconds to store two cameras of ``mib`` MiB in all (a made lesson's videos)."""
    paths = DataPaths(work / "store-run")
    write_random(paths.video("01JDSTORE00000000000000000", "main", 1), mib * MIB // 2)
    write_random(paths.video("01JDSTORE00000000000000000", "second", 1), mib * MIB // 2)
    async with S3Store.connect(s3) as store:
        started = time.perf_counter()
        await asyncio.gather(
            *(
                store.put("01JDSTORE00000000000000000", name, path)
                for name, path in (
                    ("main.v1.mp4", paths.video("01JDSTORE00000000000000000", "main", 1)),
                    ("second.v1.mp4", paths.video("01JDSTORE00000000000000000", "second", 1)),
                )
            )
        )
        seconds = time.perf_counter() - started
        await store.delete_lesson("01JDSTORE00000000000000000")
    shutil.rmtree(paths.root, ignore_errors=True)
    return seconds


def _digests(paths: DataPaths, rids: list[str]) -> dict[str, tuple[int, str]]:
    out = {}
    for rid in rids:
        folder = paths.recording_dir(rid)
        for path in sorted(folder.iterdir()):
            if path.is_file():
                data = path.read_bytes()
                out[f"{rid}/{path.name}"] = (len(data), hashlib.sha256(data).hexdigest())
    return out


async def fault_migration(s3_port: int, work: Path, lessons: int, video_mib: int) -> dict[str, Any]:
    """Lessons to the bucket and back through the fault proxy; what was lost or changed."""
    paths = DataPaths(work / "migration")
    paths.create()
    db = open_database(paths.database)
    user = accounts.create_user(db, "owner", PASSWORD, "teacher", datetime.now(UTC))
    rids = [f"01JDM1GRAT10N{i:013d}" for i in range(lessons)]
    for rid in rids:
        insert_lesson(db, user["id"], rid, "local", video_mib * MIB)
        lesson_files(paths, rid, video_mib * MIB)
    before = _digests(paths, rids)
    bucket = new_bucket(s3_port)
    creds = credentials_file(work)
    runs = 0
    faults: dict[str, int] = {}
    async with Proxy(s3_port) as proxy:
        config = S3StoreConfig.model_validate(
            s3_settings(proxy.url(), bucket, creds, timeout_s=2.0)
        )
        async with S3Store.connect(config) as bucket_store:
            stores = MediaStores(LocalStore(paths), bucket=bucket_store, target="s3")
            proxy.cut_after = 7 * MIB  # once, inside a part of the first video

            moved: list[str] = []

            def after_lesson(rid: str, objects: int, size: int) -> None:
                moved.append(rid)
                if len(moved) == 1:
                    proxy.down = True  # the bucket refuses connections for a while

                    async def back_up() -> None:
                        await asyncio.sleep(3)
                        proxy.down = False

                    asyncio.get_running_loop().create_task(back_up())

            for target in ("s3", "local"):
                moved.clear()
                if target == "local":
                    proxy.rate = 20 * MIB  # the way back over a slow link
                while True:
                    runs += 1
                    report = await migrate(db, paths, stores, target, on_lesson=after_lesson)
                    if not report.failed:
                        break
                    await asyncio.sleep(1)
            faults = {"cuts": proxy.cuts, "refused": proxy.refused, "throttled": proxy.throttled}
            left_in_bucket = await bucket_store.lessons()
    after = _digests(paths, rids)
    lost = [name for name in before if name not in after]
    mismatched = sum(
        size for name, (size, sha) in before.items() if after.get(name, (0, ""))[1] != sha
    )
    db.close()
    return {
        "lessons": lessons,
        "objects": len(before),
        "bytes": sum(size for size, _ in before.values()),
        "migrate_runs": runs,
        "faults": faults,
        "objects_lost": len(lost),
        "bytes_mismatched": mismatched,
        "objects_left_in_bucket_after_return": len(left_in_bucket),
    }


def serve(
    data: Path, config: Path, port: int, extra_env: dict[str, str]
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LESSONCAM_LOG_LEVEL": "warning", **extra_env}
    return subprocess.Popen(
        [
            str(BIN / "lessoncam-server"),
            "serve",
            "--config",
            str(config),
            "--data-dir",
            str(data),
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
    )


def redirect_ms(url: str, cookie: str) -> tuple[float, str]:
    """Milliseconds from the request to the 307, and where it points."""
    out = subprocess.run(
        [
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-H",
            f"Cookie: {cookie}",
            "-H",
            "Range: bytes=0-65535",
            "-w",
            "%{http_code} %{time_total} %{redirect_url}",
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    if out[0] != "307":
        raise RuntimeError(f"expected a redirect, got HTTP {out[0]}")
    return float(out[1]) * 1000, out[2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--file-mib", type=int, default=192)
    parser.add_argument("--range-mib", type=int, default=100)
    parser.add_argument("--store-mib", type=int, default=512)
    parser.add_argument("--lessons", type=int, default=6)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lessoncam-bench-storage-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with s3_server() as s3_port:
            bucket = new_bucket(s3_port)
            settings = s3_settings(f"http://127.0.0.1:{s3_port}", bucket, credentials_file(work))
            settings.update(timeout_s=30.0, part_size_mib=16)
            s3 = parse_config({"storage": {"s3": settings}}).storage.s3
            config = work / "server.toml"
            config.write_text(
                "[storage.s3]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items())
            )
            data = work / "data"
            paths = DataPaths(data)
            paths.create()
            db = open_database(paths.database)
            user = accounts.create_user(db, "bench", PASSWORD, "teacher", datetime.now(UTC))
            size = args.file_mib * MIB
            insert_lesson(db, user["id"], LOCAL_RID, "local", size)
            insert_lesson(db, user["id"], BUCKET_RID, "s3", size)
            db.close()
            lesson_files(paths, LOCAL_RID, size)
            # The same bytes in the bucket, under the other lesson's name.
            shutil.copytree(paths.recording_dir(LOCAL_RID), paths.recording_dir(BUCKET_RID))
            asyncio.run(store_files(s3, paths, BUCKET_RID))
            shutil.rmtree(paths.recording_dir(BUCKET_RID))

            port, presigned_port = free_port(), free_port()
            base, pbase = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{presigned_port}"
            procs.append(serve(data, config, port, {}))
            wait_for(f"{base}/healthz", timeout=90)  # the first start creates the admin
            procs.append(
                serve(data, config, presigned_port, {"LESSONCAM_STORAGE__S3__PRESIGNED": "true"})
            )
            wait_for(f"{pbase}/healthz", timeout=90)
            cookie, pcookie = login(base), login(pbase)
            local_url = f"{base}/api/v1/lessons/{LOCAL_RID}/cameras/main/video"
            s3_url = f"{base}/api/v1/lessons/{BUCKET_RID}/cameras/main/video"
            presigned_url = f"{pbase}/api/v1/lessons/{BUCKET_RID}/cameras/main/video"

            first = (size - args.range_mib * MIB) // 2
            last = first + args.range_mib * MIB - 1
            small = size // 2 + 12345
            fig: dict[str, list[float]] = {
                k: []
                for k in (
                    "local",
                    "s3",
                    "direct",
                    "local_ttfb",
                    "s3_ttfb",
                    "redirect",
                    "direct_ttfb",
                )
            }
            for _ in range(args.runs):  # interleaved: drift in the machine hits both alike
                fig["local"].append(curl(local_url, first, last, cookie)[0])
                fig["s3"].append(curl(s3_url, first, last, cookie)[0])
                # The bucket itself, for scale (a presigned URL: no proxy, no check).
                fig["direct"].append(
                    curl(redirect_ms(presigned_url, pcookie)[1], first, last, None)[0]
                )
            for _ in range(args.runs * 3):
                fig["local_ttfb"].append(curl(local_url, small, small + 65535, cookie)[1])
                fig["s3_ttfb"].append(curl(s3_url, small, small + 65535, cookie)[1])
                ms, location = redirect_ms(presigned_url, pcookie)
                fig["redirect"].append(ms / 1000)
                fig["direct_ttfb"].append(curl(location, 0, 65535, None)[1])
            med = {k: statistics.median(v) for k, v in fig.items()}
            print("playback measured; storing a lesson", flush=True)
            store_s = asyncio.run(store_lesson_seconds(s3, work, args.store_mib))
            print("stored; migrating through faults", flush=True)
            faults = asyncio.run(fault_migration(s3_port, work, args.lessons, 12))
        store_rate = args.store_mib * MIB / store_s
        result = {
            "local_proxy_mb_s": round(med["local"] / 1e6, 1),
            "s3_proxy_mb_s": round(med["s3"] / 1e6, 1),
            "ratio_s3_proxy_vs_local": round(med["s3"] / med["local"], 3),
            "bucket_direct_mb_s": round(med["direct"] / 1e6, 1),
            "ratio_s3_proxy_vs_bucket_direct": round(med["s3"] / med["direct"], 3),
            "ttfb_ms_local": round(med["local_ttfb"] * 1000, 2),
            "ttfb_ms_s3_proxy": round(med["s3_ttfb"] * 1000, 2),
            "presigned_redirect_added_ms": round(med["redirect"] * 1000, 2),
            "presigned_bucket_ttfb_ms": round(med["direct_ttfb"] * 1000, 2),
            "store_measured_mib": args.store_mib,
            "store_measured_seconds": round(store_s, 2),
            "store_mb_s": round(store_rate / 1e6, 1),
            "seconds_store_45min_lesson": round(LESSON_45_BYTES / store_rate, 1),
            "lesson_45min_bytes": LESSON_45_BYTES,
            "objects_lost": faults["objects_lost"],
            "bytes_mismatched": faults["bytes_mismatched"],
            "migration": faults,
            "range_mib": args.range_mib,
            "file_mib": args.file_mib,
            "runs": args.runs,
            "client": "curl, one request at a time, loopback",
            "bucket": "moto server (Python) on loopback, path-style, 16 MiB parts, 4 at a time",
            "note": (
                "seconds_store_45min_lesson is scaled from store_measured_mib (two cameras) "
                "to a 45-minute two-camera 1080p lesson; the bucket (moto) bounds the "
                "bucket figures. Both playback paths include the session lookup and "
                "permission check on every request."
            ),
            "measured_at": to_iso(datetime.now(UTC)),
        }
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
        ok = result["objects_lost"] == 0 and result["bytes_mismatched"] == 0
        return 0 if ok else 1
    finally:
        stop_processes(procs)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
