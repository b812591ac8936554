"""Benchmark: serving a lesson's video with HTTP Range, ours vs nginx, same file, same client.

Run with ``make bench-playback``. Starts our server (as its own process, with a ready lesson
whose video is a large file) and nginx (sendfile on) on loopback ports, then fetches a 100 MiB
mid-file range and a small mid-file range with curl from both, several times each, and writes
medians to ``bench/results/playback.json``. Needs nginx and curl (installed if missing).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from loopback import free_port, stop_processes, wait_for

from lessoncam_server.access import accounts
from lessoncam_server.infra.db import open_database
from lessoncam_server.infra.paths import DataPaths
from lessoncam_server.infra.timeutil import to_iso

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "playback.json"
BIN = Path(sys.executable).parent
RID = "01JDBENCH00000000000000000"
MIB = 1024 * 1024
PASSWORD = "benchmark password"  # noqa: S105 - a throw-away account on loopback


def ensure_tools() -> None:
    missing = [tool for tool in ("nginx", "curl") if shutil.which(tool) is None]
    if shutil.which("nginx") is None and Path("/usr/sbin/nginx").exists():
        missing.remove("nginx")
    if missing:
        print(f"installing {missing} from Debian's packages", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        packages = ["nginx-light" if m == "nginx" else m for m in missing]
        subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=True, env=env)


def seed(data: Path, size: int) -> Path:
    """A data directory with one ready lesson whose main video is ``size`` bytes."""
    paths = DataPaths(data)
    paths.create()
    db = open_database(paths.database)
    now = datetime.now(UTC)
    user = accounts.create_user(db, "bench", PASSWORD, "teacher", now)
    manifest = {
        "format_version": 1,
        "recording_id": RID,
        "started_at": now.isoformat(),
        "cameras": [
            {
                "id": "main",
                "role": "main",
                "label": "",
                "video": {
                    "codec": "h264",
                    "container": "mpegts",
                    "width": 1920,
                    "height": 1080,
                    "fps": 30.0,
                },
            }
        ],
        "audio_camera": "main",
        "segment_seconds": 10.0,
        "software_version": "",
    }
    db.table("recordings").insert(
        {
            "id": RID,
            "unit_id": None,
            "owner_id": user["id"],
            "started_at": to_iso(now),
            "manifest": json.dumps(manifest),
            "state": "ready",
            "created_at": to_iso(now),
            "media_version": 1,
            "duration_s": 3600.0,
        }
    )
    video = paths.video(RID, "main", 1)
    video.parent.mkdir(parents=True, exist_ok=True)
    db.table("media").insert(
        {
            "recording_id": RID,
            "camera": "main",
            "file_name": video.name,
            "duration_s": 3600.0,
            "width": 1920,
            "height": 1080,
            "has_audio": 1,
            "size": size,
            "gaps": "[]",
            "thumbs": None,
        }
    )
    db.close()
    # Incompressible bytes: what matters here is moving them, not decoding them.
    with video.open("wb") as handle:
        for _ in range(size // (16 * MIB)):
            handle.write(os.urandom(16 * MIB))
    return video


def login(base: str) -> str:
    request = urllib.request.Request(  # noqa: S310 - loopback only
        f"{base}/api/v1/session",
        data=json.dumps({"username": "bench", "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:  # noqa: S310
        cookie = response.headers["Set-Cookie"].split(";", 1)[0]
    return cookie


def curl(url: str, first: int, last: int, cookie: str | None) -> tuple[float, float]:
    """(bytes per second, seconds to first byte) for one Range GET."""
    args = [
        "curl",
        "-s",
        "-o",
        "/dev/null",
        "-H",
        f"Range: bytes={first}-{last}",
        "-w",
        "%{http_code} %{speed_download} %{time_starttransfer} %{size_download}",
    ]
    if cookie:
        args += ["-H", f"Cookie: {cookie}"]
    out = subprocess.run([*args, url], check=True, capture_output=True, text=True).stdout.split()
    status, speed, ttfb, size = int(out[0]), float(out[1]), float(out[2]), int(out[3])
    if status != 206 or size != last - first + 1:
        raise RuntimeError(f"{url}: HTTP {status}, {size} bytes")
    return speed, ttfb


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--file-mib", type=int, default=256)
    parser.add_argument("--range-mib", type=int, default=100)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    ensure_tools()
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    work = Path(tempfile.mkdtemp(prefix="lessoncam-bench-playback-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        video = seed(work / "data", args.file_mib * MIB)
        ours_port, nginx_port = free_port(), free_port()
        env = {**os.environ, "LESSONCAM_LOG_LEVEL": "warning"}
        procs.append(
            subprocess.Popen(
                [
                    str(BIN / "lessoncam-server"),
                    "serve",
                    "--data-dir",
                    str(work / "data"),
                    "--port",
                    str(ours_port),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
            )
        )
        # The same file (a hard link: same inode) in a folder nginx's worker user may read;
        # the data directory itself is private to the server (0700).
        www = work / "www"
        www.mkdir(mode=0o755)
        os.link(video, www / video.name)
        (www / video.name).chmod(0o644)
        work.chmod(0o755)
        conf = work / "nginx.conf"
        conf.write_text(
            f"daemon off; worker_processes 1; pid {work}/nginx.pid; error_log {work}/error.log;\n"
            "events { worker_connections 64; }\n"
            f"http {{ access_log off; sendfile on; tcp_nopush on; client_body_temp_path {work};\n"
            f"  proxy_temp_path {work}; fastcgi_temp_path {work}; uwsgi_temp_path {work};\n"
            f"  scgi_temp_path {work};\n"
            f"  server {{ listen 127.0.0.1:{nginx_port}; root {www}; }} }}\n"
        )
        procs.append(subprocess.Popen([nginx, "-c", str(conf), "-p", str(work)]))
        ours = f"http://127.0.0.1:{ours_port}"
        wait_for(f"{ours}/healthz")
        wait_for(f"http://127.0.0.1:{nginx_port}/{video.name}")
        cookie = login(ours)
        ours_url = f"{ours}/api/v1/lessons/{RID}/cameras/main/video"
        nginx_url = f"http://127.0.0.1:{nginx_port}/{video.name}"

        first = (args.file_mib * MIB - args.range_mib * MIB) // 2
        last = first + args.range_mib * MIB - 1
        small_first = args.file_mib * MIB // 2 + 12345
        figures: dict[str, list[float]] = {
            k: [] for k in ("ours", "nginx", "ours_ttfb", "nginx_ttfb")
        }
        for _ in range(args.runs):  # interleaved, so drift in the machine hits both alike
            figures["ours"].append(curl(ours_url, first, last, cookie)[0])
            figures["nginx"].append(curl(nginx_url, first, last, None)[0])
        for _ in range(args.runs * 3):
            figures["ours_ttfb"].append(curl(ours_url, small_first, small_first + 65535, cookie)[1])
            figures["nginx_ttfb"].append(curl(nginx_url, small_first, small_first + 65535, None)[1])
        med = {k: statistics.median(v) for k, v in figures.items()}
        nginx_version = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr.strip()
        result = {
            "ours_mb_s": round(med["ours"] / 1e6, 1),
            "nginx_mb_s": round(med["nginx"] / 1e6, 1),
            "ratio_vs_nginx": round(med["ours"] / med["nginx"], 3),
            "ttfb_ms_median": round(med["ours_ttfb"] * 1000, 2),
            "nginx_ttfb_ms_median": round(med["nginx_ttfb"] * 1000, 2),
            "targets": {"ratio_vs_nginx": ">= 0.9", "ttfb_ms_median": "<= 5"},
            "range_mib": args.range_mib,
            "file_mib": args.file_mib,
            "runs": args.runs,
            "client": "curl, one request at a time, loopback",
            "peer": nginx_version,
            "note": "ours includes the session lookup and permission check on every request",
            "measured_at": to_iso(datetime.now(UTC)),
        }
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
        return 0
    finally:
        stop_processes(procs)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
