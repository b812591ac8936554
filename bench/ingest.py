"""Ingest benchmark: tuspy uploads the same file to our tus endpoint and to @tus/server.

Run with ``make bench-ingest`` (or ``.venv/bin/python bench/ingest.py --mib 500``). Both servers run
as their own processes on loopback; the client is tuspy (synchronous, ``--chunk-mib`` chunks) in
this process. Runs alternate between the servers; the medians go to bench/results/ingest.json
together with the peak RSS growth of our server process (from /proc/<pid>/status).

Our endpoint fsyncs the data file before answering every PATCH; @tus/file-store does not.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import inspect
import json
import logging
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lessoncam_server.uploads.store import UploadStore
from lessoncam_server.uploads.tus.endpoint import TusEndpoint

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "ingest.json"
PEER_DIR = HERE / ".peers" / "tus-node"
PEER_PACKAGES = {"@tus/server": "2.4.5", "@tus/file-store": "2.1.1"}
MIB = 1024 * 1024
TOKEN = "bench-unit"  # noqa: S105 (a fake token for the stand-in auth)

PEER_SCRIPT = """\
// Written by bench/ingest.py: @tus/server with @tus/file-store, as its README shows.
import { Server } from '@tus/server';
import { FileStore } from '@tus/file-store';

const server = new Server({
  path: '/files',
  datastore: new FileStore({ directory: process.argv[2] }),
});
const http = server.listen(0, '127.0.0.1', () => {
  console.log('PORT ' + http.address().port);
});
process.on('SIGTERM', () => http.close(() => process.exit(0)));
"""

log = logging.getLogger("bench.ingest")


# --- our server, run as a child process of this script -----------------------------------------


def serve_ours(args: argparse.Namespace) -> None:
    """Serve our tus endpoint on a free loopback port; prints ``PORT <n>`` when ready."""
    from aiohttp import web

    from lessoncam_server.access.principal import PRINCIPAL, Unit

    unit = Unit(id="bench", name="bench", teacher_id=None)
    root = Path(args.root)
    done = root / "done"
    done.mkdir(parents=True, exist_ok=True)

    @web.middleware
    async def bearer(request: web.Request, handler: Any) -> web.StreamResponse:
        # Stands in for the real authentication middleware: one token lookup per request.
        if request.headers.get("Authorization") == f"Bearer {TOKEN}":
            request[PRINCIPAL] = unit
        response: web.StreamResponse = await handler(request)
        return response

    class MoveAway:
        """Completion as the real hook does it: move the finished file out of the store."""

        async def on_create(self, principal: Any, metadata: dict[str, str], length: int) -> None:
            return None

        async def on_complete(
            self, principal: Any, upload_id: str, metadata: dict[str, str], path: Path
        ) -> dict[str, Any]:
            os.replace(path, done / upload_id)
            return {"upload_id": upload_id}

    async def main() -> None:
        app = web.Application(middlewares=[bearer])
        store = UploadStore(
            root / "uploads",
            write_batch_bytes=args.batch_kib * 1024,
            early_sync_bytes=args.sync_kib * 1024,
        )
        endpoint = TusEndpoint(
            store,
            MoveAway(),
            max_size=64 * 1024 * MIB,
            stall_timeout_s=60,
            read_chunk_bytes=args.read_chunk_kib * 1024,
        )
        endpoint.add_routes(app.router)
        app.cleanup_ctx.append(endpoint.lifecycle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        print(f"PORT {port}", flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await runner.cleanup()

    asyncio.run(main())


# --- the harness ----------------------------------------------------------------------------------


@dataclass
class Child:
    """A server process and its port."""

    proc: subprocess.Popen[str]
    port: int

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def start_child(cmd: list[str], cwd: Path | None = None) -> Child:
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        proc.wait()
        raise SystemExit(f"server did not start: {cmd} said {line!r}")
    return Child(proc, int(line.split()[1]))


@contextlib.contextmanager
def child(cmd: list[str], cwd: Path | None = None) -> Iterator[Child]:
    server = start_child(cmd, cwd)
    try:
        yield server
    finally:
        server.stop()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


class RssWatch:
    """Samples VmRSS of a process every few milliseconds while active."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, KeyError):
                self.peak_kib = max(self.peak_kib, proc_status_kib(self.pid, "VmRSS"))
            self._stop.wait(0.005)

    def __enter__(self) -> RssWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def ensure_peer() -> dict[str, str]:
    """Install @tus/server and @tus/file-store under bench/.peers/tus-node; return versions."""
    PEER_DIR.mkdir(parents=True, exist_ok=True)
    package_json = PEER_DIR / "package.json"
    if not package_json.exists():
        package_json.write_text('{"name": "tus-node-peer", "private": true, "type": "module"}\n')
    installed = {}
    for name in PEER_PACKAGES:
        meta = PEER_DIR / "node_modules" / name / "package.json"
        if meta.exists():
            installed[name] = json.loads(meta.read_text())["version"]
    if installed != PEER_PACKAGES:
        specs = [f"{name}@{version}" for name, version in PEER_PACKAGES.items()]
        log.info("installing %s", " ".join(specs))
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--silent", *specs],
            cwd=PEER_DIR,
            check=True,
        )
    (PEER_DIR / "server.mjs").write_text(PEER_SCRIPT)
    return dict(PEER_PACKAGES)


def make_data(path: Path, mib: int) -> None:
    with path.open("wb") as out:
        for _ in range(mib):
            out.write(os.urandom(MIB))
        out.flush()
        # Written back now, so its writeback does not compete with the first run.
        os.fsync(out.fileno())


def upload_once(url: str, data: Path, chunk: int, headers: dict[str, str]) -> float:
    """One tuspy upload; returns seconds from creation to the last answer."""
    from tusclient.client import TusClient

    client = TusClient(url, headers=headers)
    with data.open("rb") as stream:
        # @tus/server refuses the empty Upload-Metadata tuspy sends without metadata.
        uploader = client.uploader(
            file_stream=stream, chunk_size=chunk, metadata={"filename": data.name}
        )
        start = time.perf_counter()
        uploader.upload()
        elapsed = time.perf_counter() - start
    if uploader.offset != data.stat().st_size:
        raise SystemExit(f"upload to {url} stopped at {uploader.offset}")
    return elapsed


def clear_dir(path: Path) -> None:
    for entry in path.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def run(args: argparse.Namespace) -> dict[str, Any]:
    size = args.mib * MIB
    chunk = args.chunk_mib * MIB
    peer_versions = ensure_peer() if not args.no_peer else {}
    work = Path(tempfile.mkdtemp(prefix="lessoncam-bench-", dir=args.work_dir))
    try:
        data = work / "payload.bin"
        make_data(data, args.mib)
        ours_root, peer_root = work / "ours", work / "peer"
        ours_root.mkdir()
        peer_root.mkdir()
        ours_cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--serve-ours",
            "--root",
            str(ours_root),
            "--read-chunk-kib",
            str(args.read_chunk_kib),
            "--batch-kib",
            str(args.batch_kib),
            "--sync-kib",
            str(args.sync_kib),
        ]
        peer_cmd = ["node", str(PEER_DIR / "server.mjs"), str(peer_root)]
        ours_times: list[float] = []
        peer_times: list[float] = []
        ours_cpu: list[float] = []
        peer_cpu: list[float] = []
        with contextlib.ExitStack() as stack:
            ours = stack.enter_context(child(ours_cmd))
            peer = None if args.no_peer else stack.enter_context(child(peer_cmd, PEER_DIR))
            time.sleep(0.2)  # let the interpreter settle before taking the baseline
            baseline_kib = proc_status_kib(ours.proc.pid, "VmRSS")
            sampled_peak_kib = baseline_kib
            ours_url = f"http://127.0.0.1:{ours.port}/api/v1/uploads/"
            ours_headers = {"Authorization": f"Bearer {TOKEN}"}

            def run_ours(i: int) -> None:
                nonlocal sampled_peak_kib
                cpu = cpu_seconds(ours.proc.pid)
                with RssWatch(ours.proc.pid) as watch:
                    seconds = upload_once(ours_url, data, chunk, ours_headers)
                sampled_peak_kib = max(sampled_peak_kib, watch.peak_kib)
                clear_dir(ours_root / "done")
                if i >= 0:
                    ours_times.append(seconds)
                    ours_cpu.append(cpu_seconds(ours.proc.pid) - cpu)
                log.info(
                    "run %s ours: %.0f MB/s, %.2f CPU s",
                    i + 1 if i >= 0 else "(settle)",
                    size / seconds / 1e6,
                    cpu_seconds(ours.proc.pid) - cpu,
                )

            def run_peer(i: int) -> None:
                assert peer is not None
                cpu = cpu_seconds(peer.proc.pid)
                seconds = upload_once(f"http://127.0.0.1:{peer.port}/files", data, chunk, {})
                clear_dir(peer_root)
                if i >= 0:
                    peer_times.append(seconds)
                    peer_cpu.append(cpu_seconds(peer.proc.pid) - cpu)
                log.info(
                    "run %s peer: %.0f MB/s, %.2f CPU s",
                    i + 1 if i >= 0 else "(settle)",
                    size / seconds / 1e6,
                    cpu_seconds(peer.proc.pid) - cpu,
                )

            # Each measured upload follows an unmeasured one to the same server: on this VM an
            # upload right after the other server's runs measurably slower (fresh page-cache
            # pages), so both are measured warm. Rounds alternate who goes first.
            for i in range(args.runs):
                steps = [run_ours] if peer is None else [run_ours, run_peer]
                for step in steps if i % 2 == 0 else steps[::-1]:
                    step(-1)
                    step(i)
            hwm_kib = proc_status_kib(ours.proc.pid, "VmHWM")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    ours_mb_s = size / statistics.median(ours_times) / 1e6
    peer_mb_s = size / statistics.median(peer_times) / 1e6 if peer_times else None
    peak_kib = max(hwm_kib, sampled_peak_kib)
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
    return {
        "ours_mb_s": round(ours_mb_s, 1),
        "peer_mb_s": round(peer_mb_s, 1) if peer_mb_s else None,
        "ratio_vs_peer": round(ours_mb_s / peer_mb_s, 3) if peer_mb_s else None,
        "peak_rss_growth_mib": round((peak_kib - baseline_kib) / 1024, 1),
        "targets": {"ratio_vs_peer": ">= 1.0", "peak_rss_growth_mib": "<= 64"},
        "mib": args.mib,
        "chunk_mib": args.chunk_mib,
        "runs": args.runs,
        "statistic": "median of runs; MB/s = 10^6 bytes per second",
        "ours_runs_mb_s": [round(size / t / 1e6, 1) for t in ours_times],
        "peer_runs_mb_s": [round(size / t / 1e6, 1) for t in peer_times],
        "ours_server_cpu_s_median": round(statistics.median(ours_cpu), 2),
        "peer_server_cpu_s_median": round(statistics.median(peer_cpu), 2) if peer_cpu else None,
        "ours_baseline_rss_mib": round(baseline_kib / 1024, 1),
        "ours_settings": {
            "read_chunk_kib": args.read_chunk_kib,
            "write_batch_kib": args.batch_kib,
            "early_sync_kib": args.sync_kib,
            "fsync_before_each_patch_answer": True,
        },
        "peer_settings": {"fsync_before_each_patch_answer": False},
        "versions": {
            "python": platform.python_version(),
            "aiohttp": importlib.metadata.version("aiohttp"),
            "tuspy": importlib.metadata.version("tuspy"),
            "node": node.stdout.strip(),
            **peer_versions,
        },
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _default_kib(cls: type, name: str) -> int:
    default: int = inspect.signature(cls).parameters[name].default
    return default // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=500, help="upload size in MiB (default 500)")
    parser.add_argument("--chunk-mib", type=int, default=16, help="tuspy chunk size (16)")
    parser.add_argument("--runs", type=int, default=5, help="runs per server (>= 3; default 5)")
    parser.add_argument("--no-peer", action="store_true", help="skip @tus/server")
    parser.add_argument("--work-dir", default=None, help="where uploads land (default: $TMPDIR)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results JSON")
    # Tuning knobs of our endpoint; the defaults are those the server uses.
    for flag, cls, name in (
        ("--read-chunk-kib", TusEndpoint, "read_chunk_bytes"),
        ("--batch-kib", UploadStore, "write_batch_bytes"),
        ("--sync-kib", UploadStore, "early_sync_bytes"),
    ):
        parser.add_argument(flag, type=int, default=_default_kib(cls, name), help=argparse.SUPPRESS)
    parser.add_argument("--serve-ours", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.WARNING if args.serve_ours else logging.INFO, format="%(message)s"
    )
    if args.serve_ours:
        serve_ours(args)
        return
    if args.runs < 3:
        parser.error("--runs must be at least 3")
    result = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, args.out)
    print(json.dumps({k: result[k] for k in list(result)[:4]}, indent=2))


if __name__ == "__main__":
    main()
