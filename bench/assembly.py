"""Benchmark: assemble one hour of a two-camera 1080p lesson into faststart MP4s.

Encoding an hour of 1080p here would take far longer than assembling it, so a short 1080p30
clip is encoded once (libx264 at ~8 Mbit/s, a textured panning scene with sensor-like noise so
the bitrate is real, a keyframe every second, AAC audio), and each camera's 10 s segments are
written from that clip's packets with the timestamps shifted to where each segment sits in the
hour, as the unit's continuous encoder would have stamped them. Every segment is a real file on
disk: the assembly reads and writes the full hour (~3.6 GB per camera).

Measured (median of --runs): ``assemble_camera`` for both cameras (main with audio, second
camera video only), then poster + thumbnail strip of the main camera separately. Peers in the
same run: the ``ffmpeg`` binary's concat demuxer (``-c copy -movflags +faststart``, plus an
fsync of its output since ours fsyncs) when installed, and the same concat remux driven through
PyAV's bundled FFmpeg. Results go to bench/results/assembly.json; temporary files are removed.

    python bench/assembly.py               # the full hour
    python bench/assembly.py --minutes 2   # a quick run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.mediagen, the synthetic media generator

from lessoncam_common.durable import fsync_path  # noqa: E402
from lessoncam_server.media.previews import make_poster, make_thumbnail_strip  # noqa: E402
from lessoncam_server.media.remux import SegmentFile, assemble_camera  # noqa: E402
from tests.mediagen import make_segments  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "assembly.json"
TARGET_SECONDS_PER_HOUR = 10.0
WIDTH, HEIGHT, FPS = 1920, 1080, 30
BITRATE = "8M"


class NoisyScene:
    """A textured scene panning sideways, plus per-frame sensor-like noise (bitrate is real)."""

    def __init__(self, width: int, height: int) -> None:
        rng = np.random.default_rng(7)
        base = rng.integers(0, 256, (height + 64, width * 2), dtype=np.uint8)
        texture = cv2.GaussianBlur(base, (0, 0), 3)
        self.texture = cv2.normalize(texture, None, 16, 235, cv2.NORM_MINMAX)
        self.noise = [rng.integers(-8, 9, (height, width), dtype=np.int16) for _ in range(7)]
        self.width, self.height = width, height
        self.buf = np.full((height * 3 // 2, width), 128, np.uint8)

    def frame(self, index: int) -> av.VideoFrame:
        x = (index * 3) % self.width
        y = self.texture[16 : 16 + self.height, x : x + self.width].astype(np.int16)
        y += self.noise[index % len(self.noise)]
        np.clip(y, 16, 235, out=y)
        self.buf[: self.height] = y
        return av.VideoFrame.from_ndarray(self.buf, format="yuv420p")


@dataclass
class Clip:
    path: Path
    seconds: float
    packets: list[tuple[str, bytes, int, int, int, bool]]  # kind, data, pts, dts, dur, key
    time_base: Fraction
    bitrate_bps: float


def encode_clip(work: Path, seconds: float) -> Clip:
    segs = make_segments(
        work / "clip",
        seconds=seconds,
        segment_s=seconds,
        width=WIDTH,
        height=HEIGHT,
        fps=FPS,
        audio=True,
        painter=NoisyScene(WIDTH, HEIGHT),
        video_options={"b": BITRATE, "maxrate": BITRATE, "bufsize": BITRATE, "threads": "2"},
    )
    path = segs[0].path
    packets = []
    with av.open(str(path)) as c:
        tb = c.streams.video[0].time_base
        assert tb is not None and c.streams.audio[0].time_base == tb
        for p in c.demux():
            if p.size and p.pts is not None and p.dts is not None:
                packets.append(
                    (p.stream.type, bytes(p), p.pts, p.dts, p.duration or 0, p.is_keyframe)
                )
    return Clip(path, seconds, packets, tb, path.stat().st_size * 8 / seconds)


def write_segments(clip: Clip, folder: Path, count: int, audio: bool) -> list[SegmentFile]:
    """``count`` segments of a continuous recording, each a copy of the clip shifted in time."""
    folder.mkdir(parents=True)
    step = round(clip.seconds / clip.time_base)
    out = []
    with av.open(str(clip.path)) as template:
        for k in range(count):
            path = folder / f"seg{k:05d}.ts"
            with av.open(str(path), "w", format="mpegts") as c:
                v = c.add_stream_from_template(template.streams.video[0])
                a = c.add_stream_from_template(template.streams.audio[0]) if audio else None
                for kind, data, pts, dts, dur, key in clip.packets:
                    stream = v if kind == "video" else a
                    if stream is None:
                        continue
                    p = av.Packet(data)
                    p.stream = stream
                    p.time_base = clip.time_base
                    p.pts, p.dts, p.duration = pts + k * step, dts + k * step, dur
                    p.is_keyframe = key
                    c.mux(p)
            out.append(SegmentFile(k, k * clip.seconds, clip.seconds, path))
    return out


def ffmpeg_concat(segments: list[SegmentFile], out: Path) -> None:
    listing = out.with_suffix(".txt")
    listing.write_text("".join(f"file '{s.path}'\n" for s in segments))
    subprocess.run(
        [
            *("ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "concat", "-safe", "0"),
            *("-i", str(listing), "-c", "copy", "-movflags", "+faststart", str(out)),
        ],
        check=True,
    )
    fsync_path(out)


def pyav_concat(segments: list[SegmentFile], out: Path) -> None:
    """The concat demuxer remux through PyAV's bundled FFmpeg: a loop of demux and mux."""
    listing = out.with_suffix(".txt")
    listing.write_text("".join(f"file '{s.path}'\n" for s in segments))
    with (
        av.open(str(listing), format="concat", options={"safe": "0"}) as src,
        av.open(str(out), "w", format="mp4", options={"movflags": "+faststart"}) as dst,
    ):
        mapping = {s.index: dst.add_stream_from_template(s) for s in src.streams}
        for p in src.demux():
            if p.dts is None or p.size == 0:
                continue
            p.stream = mapping[p.stream_index]
            dst.mux(p)
    fsync_path(out)


def plain_copy(segments: list[SegmentFile], out: Path) -> None:
    """The I/O floor: read every segment and write the bytes into one file, then fsync."""
    with out.open("wb") as dst:
        for s in segments:
            with s.path.open("rb") as src:
                shutil.copyfileobj(src, dst, 16 << 20)
        dst.flush()
        os.fsync(dst.fileno())


#: CPU seconds (user + system, this process and its children) of every timed run, by label:
#: on a shared machine they tell more than the wall-clock time.
CPU: dict[str, list[float]] = {}


def _cpu_now() -> float:
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(
    runs: int, before: Callable[[], None], work: Callable[[], None], label: str = ""
) -> list[float]:
    out = []
    for _ in range(runs):
        before()
        cpu = _cpu_now()
        t = time.perf_counter()
        work()
        out.append(time.perf_counter() - t)
        if label:
            CPU.setdefault(label, []).append(round(_cpu_now() - cpu, 3))
    return out


def ffmpeg_version() -> str | None:
    if shutil.which("ffmpeg") is None:
        return None
    first = subprocess.run(
        ["ffmpeg", "-version"], capture_output=True, text=True, check=True
    ).stdout.splitlines()[0]
    return first.split(" Copyright")[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="content length")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clip-seconds", type=float, default=10.0, help="= segment length")
    parser.add_argument("--no-peers", action="store_true", help="skip the ffmpeg comparisons")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    count = max(1, round(args.minutes * 60 / args.clip_seconds))
    content_s = count * args.clip_seconds
    per_hour = 3600.0 / content_s
    work = Path(tempfile.mkdtemp(prefix="lessoncam-bench-assembly-", dir="/tmp"))
    try:
        print(f"encoding a {args.clip_seconds:.0f} s 1080p30 clip ...", flush=True)
        clip = encode_clip(work, args.clip_seconds)
        print(f"  {clip.bitrate_bps / 1e6:.1f} Mbit/s", flush=True)

        print(f"writing {count} segments per camera ...", flush=True)
        t = time.perf_counter()
        cameras = {
            "main": write_segments(clip, work / "main", count, audio=True),
            "pupils": write_segments(clip, work / "pupils", count, audio=False),
        }
        setup_s = time.perf_counter() - t
        segment_bytes = sum(s.path.stat().st_size for segs in cameras.values() for s in segs)
        out_dir = work / "out"
        out_dir.mkdir()

        def clean() -> None:
            for p in out_dir.iterdir():
                p.unlink()

        sizes: dict[str, int] = {}

        def ours() -> None:
            for cam, segs in cameras.items():
                video = assemble_camera(segs, count, out_dir / f"{cam}.mp4")
                sizes[cam] = video.size

        print(f"assembling both cameras x{args.runs} ...", flush=True)
        load_before = os.getloadavg()
        runs = timed(args.runs, clean, ours, "ours")
        median = statistics.median(runs)
        print(f"  {median:.2f} s ({median * per_hour:.1f} s per content hour)", flush=True)

        main_mp4 = out_dir / "main.mp4"
        preview_dir = work / "previews"
        preview_dir.mkdir()

        def previews() -> None:
            make_poster(main_mp4, preview_dir / "poster.jpg")
            make_thumbnail_strip(main_mp4, preview_dir / "thumbs.jpg")

        preview_runs = timed(args.runs, lambda: None, previews)
        print(f"previews {statistics.median(preview_runs):.2f} s", flush=True)
        clean()

        peers: dict[str, Any] = {}
        version = ffmpeg_version()
        if not args.no_peers and version is not None:
            print(f"peer: {version} concat x{args.runs} ...", flush=True)
            ff = timed(
                args.runs,
                clean,
                lambda: [ffmpeg_concat(s, out_dir / f"{c}.mp4") for c, s in cameras.items()],
                "ffmpeg_cli",
            )
            peers["ffmpeg_cli"] = {
                "version": version,
                "command": "ffmpeg -f concat -safe 0 -i list -c copy -movflags +faststart, fsync",
                "runs_seconds": [round(x, 3) for x in ff],
                "cpu_seconds": CPU["ffmpeg_cli"],
                "median_seconds": round(statistics.median(ff), 3),
                "seconds_per_content_hour": round(statistics.median(ff) * per_hour, 2),
            }
            print(f"  {statistics.median(ff):.2f} s", flush=True)
        if not args.no_peers:
            libavformat = ".".join(map(str, av.library_versions["libavformat"]))
            print(f"peer: PyAV concat demuxer remux x{args.runs} ...", flush=True)
            pv = timed(
                args.runs,
                clean,
                lambda: [pyav_concat(s, out_dir / f"{c}.mp4") for c, s in cameras.items()],
                "pyav_concat",
            )
            peers["pyav_concat"] = {
                "version": f"PyAV {av.__version__}, libavformat {libavformat}",
                "command": "concat demuxer -> mp4 +faststart through PyAV, fsync",
                "runs_seconds": [round(x, 3) for x in pv],
                "cpu_seconds": CPU["pyav_concat"],
                "median_seconds": round(statistics.median(pv), 3),
                "seconds_per_content_hour": round(statistics.median(pv) * per_hour, 2),
            }
            print(f"  {statistics.median(pv):.2f} s", flush=True)
        print(f"floor: plain copy of the segment bytes x{args.runs} ...", flush=True)
        floor = timed(
            args.runs,
            clean,
            lambda: [plain_copy(s, out_dir / f"{c}.bin") for c, s in cameras.items()],
            "copy_floor",
        )
        print(f"  {statistics.median(floor):.2f} s", flush=True)
        clean()

        peer = peers.get("ffmpeg_cli") or peers.get("pyav_concat")
        output_bytes = sum(sizes.values())
        result: dict[str, Any] = {
            "benchmark": "assembly",
            "what": "assemble_camera for a two-camera lesson (main with AAC audio, second "
            "camera video only), 1080p30 H.264 in 10 s MPEG-TS segments, median of runs; "
            "segments were just written, so they are likely in the page cache",
            "content_minutes": round(content_s / 60, 2),
            "cameras": len(cameras),
            "segments_per_camera": count,
            "segment_seconds": args.clip_seconds,
            "resolution": f"{WIDTH}x{HEIGHT}@{FPS}",
            "video_bitrate_mbps": round(clip.bitrate_bps / 1e6, 2),
            "segment_bytes": segment_bytes,
            "output_bytes": output_bytes,
            "runs_seconds": [round(x, 3) for x in runs],
            "median_seconds": round(median, 3),
            "seconds_per_content_hour": round(median * per_hour, 2),
            "target_seconds_per_content_hour": TARGET_SECONDS_PER_HOUR,
            "meets_target": median * per_hour <= TARGET_SECONDS_PER_HOUR,
            "previews_seconds": round(statistics.median(preview_runs), 3),
            "previews_what": "make_poster + make_thumbnail_strip (defaults) of the main camera",
            "peers": peers,
            "cpu_seconds": CPU["ours"],
            # How many times as fast as the peer: 1.0 is as fast, more is faster.
            "ratio_vs_ffmpeg": round(peer["median_seconds"] / median, 3) if peer else None,
            "ratio_vs": (peer or {}).get("version"),
            "ratio_what": "the peer's median seconds over ours (at least 1.0: at least as fast)",
            "cpu_ratio_vs_ffmpeg": (
                round(statistics.median(peer["cpu_seconds"]) / statistics.median(CPU["ours"]), 3)
                if peer
                else None
            ),
            "ratio_vs_copy_floor": round(median / statistics.median(floor), 3),
            "copy_floor": {
                "what": "read every segment, write the bytes to one file per camera, fsync",
                "runs_seconds": [round(x, 3) for x in floor],
                "cpu_seconds": CPU["copy_floor"],
                "seconds_per_content_hour": round(statistics.median(floor) * per_hour, 2),
            },
            "setup_seconds": round(setup_s, 1),
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "pyav": av.__version__,
                "platform": platform.platform(),
                "load_average_before": [round(x, 2) for x in load_before],
                "load_average_after": [round(x, 2) for x in os.getloadavg()],
            },
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_name(args.out.name + ".tmp")
        tmp.write_text(json.dumps(result, indent=2) + "\n")
        os.replace(tmp, args.out)
        print(json.dumps(result, indent=2))
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
