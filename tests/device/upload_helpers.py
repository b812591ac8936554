"""Helpers for the upload and heartbeat tests: synthetic lessons, a faulty network, a test rig."""

from __future__ import annotations

import asyncio
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, tzinfo
from pathlib import Path

from lessoncam_common.hashing import sha256_file
from lessoncam_device.enrolment import Credentials
from lessoncam_device.segments import RecordingPlan, SegmentInfo
from lessoncam_device.sim.clock import VirtualClock
from lessoncam_device.uploader import ServerClient, Step, Uploader, UploadQueue, UploadSettings

from ..mediagen import make_segments

CAMERAS = ("main", "pupils")
SEGMENT_S = 10.0


def make_pool(base: Path, seconds: float = 20.0) -> dict[str, list[Path]]:
    """Synthetic segment files per camera (main with audio), made once and copied per test."""
    return {
        cam: [
            seg.path
            for seg in make_segments(
                base / cam, seconds=seconds, segment_s=SEGMENT_S, audio=(cam == "main")
            )
        ]
        for cam in CAMERAS
    }


def make_plan(
    recording_id: str,
    started_at_iso: str = "2026-11-02T08:30:00.000000+00:00",
    segment_seconds: float = SEGMENT_S,
) -> RecordingPlan:
    return RecordingPlan(
        recording_id=recording_id,
        started_at_iso=started_at_iso,
        cameras=tuple(
            {
                "id": cam,
                "role": "main" if cam == "main" else "second",
                "label": cam,
                "video": {
                    "codec": "h264",
                    "container": "mpegts",
                    "width": 320,
                    "height": 240,
                    "fps": 30,
                },
            }
            for cam in CAMERAS
        ),
        audio_camera="main",
        segment_seconds=segment_seconds,
        software_version="0.1.0",
    )


def copy_lesson(
    pool: dict[str, list[Path]], dest: Path, recording_id: str
) -> dict[str, list[SegmentInfo]]:
    """The pool's files copied under ``dest`` as one recording's segments."""
    out: dict[str, list[SegmentInfo]] = {}
    for cam, paths in pool.items():
        for seq, src in enumerate(paths):
            target = dest / recording_id / cam / f"{seq:05d}.ts"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)
            out.setdefault(cam, []).append(_segment(recording_id, cam, seq, target))
    return out


def _segment(recording_id: str, camera: str, sequence: int, path: Path) -> SegmentInfo:
    """A file on disk described as the recorder would hand it over."""
    return SegmentInfo(
        recording_id=recording_id,
        camera=camera,
        sequence=sequence,
        start_s=sequence * SEGMENT_S,
        duration_s=SEGMENT_S,
        path=path,
        sha256=sha256_file(path),
        size=path.stat().st_size,
    )


def fake_lesson(
    dest: Path, recording_id: str, *, per_camera: int = 2, size: int = 200_000, seed: int = 0
) -> dict[str, list[SegmentInfo]]:
    """Random-byte segment files (for tests that never let the server assemble them)."""
    rng = random.Random(seed)
    out: dict[str, list[SegmentInfo]] = {}
    for cam in CAMERAS:
        for seq in range(per_camera):
            target = dest / recording_id / cam / f"{seq:05d}.ts"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(rng.randbytes(size + seq))
            out.setdefault(cam, []).append(_segment(recording_id, cam, seq, target))
    return out


@dataclass
class Rig:
    """A unit's upload side: queue, client and uploader on a virtual clock."""

    queue: UploadQueue
    client: ServerClient
    uploader: Uploader
    clock: VirtualClock
    state_dir: Path

    async def drain(self, limit: int = 100) -> list[Step]:
        """Step until nothing is due (retries go on at once: no waiting in tests)."""
        steps: list[Step] = []
        for _ in range(limit):
            step = await self.uploader.step()
            steps.append(step)
            if step.outcome in ("idle", "refused"):
                return steps
        raise AssertionError(f"still busy after {limit} steps: {steps[-3:]}")

    async def close(self) -> None:
        await self.client.close()
        self.queue.close()


async def make_rig(
    state_dir: Path,
    server_url: str,
    unit_id: str,
    token: str,
    *,
    clock: VirtualClock | None = None,
    settings: UploadSettings | None = None,
    rand: Callable[[], float] = lambda: 0.5,
    ca_file: str | None = None,
    tz: tzinfo | None = UTC,
    request_timeout_s: float = 20,
) -> Rig:
    clock = clock or VirtualClock()
    queue = UploadQueue.open(state_dir, now=clock.now)
    client = ServerClient(
        Credentials(server_url=server_url, unit_id=unit_id, token=token, ca_file=ca_file),
        request_timeout_s=request_timeout_s,
        connect_timeout_s=5,
    )
    uploader = Uploader(queue, client, clock, settings or UploadSettings(), tz=tz, rand=rand)
    return Rig(queue, client, uploader, clock, state_dir)


async def wait_until(predicate: Callable[[], bool]) -> None:
    """Poll ``predicate`` (state changed by tasks on this loop) until it holds."""
    async with asyncio.timeout(20):
        while not predicate():  # noqa: ASYNC110 (state lives in SQLite, not an Event)
            await asyncio.sleep(0.005)
