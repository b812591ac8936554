"""Uploads through many random faults (issue 6, part 2): the unit's real uploader sends a
lesson's segments through the fault-injecting proxy, which cuts connections mid-body, damages
bytes, refuses connections, stalls them (open and silent: only the unit's request timeout gets
it out) and slows the link, at random moments. Every segment arrives byte-identical, no
upload's offset on the server ever goes backwards, each fault costs at most one chunk sent
again, and a slow link never makes a request time out. A few faults in ``make test``; 512 MiB
through 50 or more under ``make reliability``.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from lessoncam_device.uploader import KeepPolicy, UploadSettings
from lessoncam_server.services import Services
from lessoncam_server.uploads.tus.endpoint import UPLOAD_STORE

from .. import reliability
from ..faultproxy import Proxy
from ..server.helpers import UnitClient
from .upload_helpers import CAMERAS, fake_lesson, make_plan, make_rig

RID = "01JD7Q3W9X4M2N8P5R6S7T8SAK"
CHUNK = reliability.sized(64 * 1024, 1024 * 1024)
PER_CAMERA = reliability.sized(3, 32)
SEGMENT_BYTES = reliability.sized(300_000, 8 * 1024 * 1024)  # 2 x 32 x 8 MiB = 512 MiB
MIN_FAULTS = reliability.sized(3, 50)
# A chunk crosses the slow link in about a tenth of a second: slow, yet far within the timeout.
SLOW_RATE = CHUNK * 10
# The unit's request timeout: a stall costs this much waiting (the server lets go after 1 s).
# Long runs send 1 MiB chunks and hash 8 MiB segments on a busy machine: more headroom.
REQUEST_TIMEOUT_S = 3.0 if reliability.LONG else 1.5
# Headers of one request, generously: the allowance for requests made again after a fault.
REQUEST_OVERHEAD = 2048


@pytest.fixture
async def proxy(server: TestServer) -> AsyncIterator[Proxy]:
    async with Proxy(server.port or 0) as p:
        yield p


def _mismatched(a: bytes, b: bytes) -> int:
    """Bytes that differ, counting any length difference."""
    if a == b:
        return 0
    return sum(x != y for x, y in zip(a, b, strict=False)) + abs(len(a) - len(b))


@pytest.mark.slow
async def test_a_lesson_arrives_intact_through_many_random_faults(
    unit: UnitClient, proxy: Proxy, server: TestServer, services: Services, tmp_path: Path
) -> None:
    rng = random.Random(6)
    settings = UploadSettings(keep=KeepPolicy("keep_all"), chunk_bytes=CHUNK)
    rig = await make_rig(
        tmp_path / "state",
        proxy.url(),
        unit.unit_id,
        unit.token,
        settings=settings,
        request_timeout_s=REQUEST_TIMEOUT_S,
    )
    lesson = fake_lesson(
        tmp_path / "recordings", RID, per_camera=PER_CAMERA, size=SEGMENT_BYTES, seed=6
    )
    rig.queue.add_recording(make_plan(RID))
    for segments in lesson.values():
        for info in segments:
            rig.queue.add_segment(info)
    store = server.app[UPLOAD_STORE]
    faults = {"cut": 0, "damaged": 0, "refused": 0, "stall": 0, "slow": 0}
    false_timeouts: list[str] = []
    offsets: dict[str, int] = {}
    backwards: list[str] = []
    steps = 0
    try:
        while True:
            steps += 1
            assert steps < 20 * PER_CAMERA * len(CAMERAS) + 10 * MIN_FAULTS, "no progress"
            # Arm one fault at a random moment of the next step (or none); counted if it hits.
            kind = rng.choice(["cut", "cut", "damaged", "refused", "stall", "slow", None, None])
            before = (proxy.cuts, proxy.flips, proxy.refused, proxy.stalls, proxy.throttled)
            if kind == "cut":
                proxy.cuts, proxy.cut_after = 0, proxy.forwarded + rng.randrange(1, SEGMENT_BYTES)
            elif kind == "damaged":
                proxy.flips, proxy.flip_at = 0, proxy.forwarded + rng.randrange(1, SEGMENT_BYTES)
            elif kind == "refused":
                proxy.down = True
            elif kind == "stall":  # until the step is over: only a timeout gets the unit out
                proxy.stall_at = proxy.forwarded + rng.randrange(1, SEGMENT_BYTES)
            elif kind == "slow":
                proxy.rate, proxy.latency_s = SLOW_RATE, 0.002
            step = await rig.uploader.step()
            faults["cut"] += proxy.cuts if kind == "cut" else 0
            faults["damaged"] += proxy.flips if kind == "damaged" else 0
            faults["refused"] += proxy.refused - before[2]
            faults["stall"] += proxy.stalls - before[3]
            faults["slow"] += proxy.throttled > before[4]
            if "did not answer in time" in step.detail and proxy.stalls == before[3]:
                false_timeouts.append(f"step {steps} ({kind}): {step.detail}")
            proxy.cut_after, proxy.flip_at, proxy.down = None, None, False
            proxy.stall_at, proxy.rate, proxy.latency_s = None, None, 0.0
            proxy.release()
            proxy.cuts, proxy.flips = before[0], before[1]
            for seg in rig.queue.segments(RID):
                if not seg.upload_url:
                    continue
                upload_id = seg.upload_url.rstrip("/").rsplit("/", 1)[-1]
                stored = store.get(upload_id)
                if stored is None:
                    continue
                offset = store.offset(stored)
                if offset < offsets.get(upload_id, 0):
                    backwards.append(f"{seg.name}: {offsets[upload_id]} -> {offset}")
                offsets[upload_id] = offset
            if step.outcome == "idle":
                if step.wait_s is None:
                    break  # everything sent and the recording completed
                rig.clock.advance(step.wait_s)
            elif step.outcome == "retry" and step.wait_s:
                rig.clock.advance(step.wait_s)
            assert step.outcome != "refused", step.detail
    finally:
        await rig.close()

    injected = sum(faults.values())
    payload = sum(info.size for segments in lesson.values() for info in segments)
    mismatched = 0
    for segments in lesson.values():
        for info in segments:
            on_server = services.paths.segment(RID, info.camera, info.sequence)
            got = on_server.read_bytes() if on_server.exists() else b""
            mismatched += _mismatched(info.path.read_bytes(), got)
    resent = proxy.forwarded - payload
    reliability.add("upload_faults_injected", injected)
    reliability.add("upload_bytes_mismatched", mismatched)
    reliability.add("upload_mib", round(payload / 2**20, 1))
    reliability.add("upload_stalls", faults["stall"])
    reliability.add("upload_slow_periods", faults["slow"])
    assert mismatched == 0
    assert not false_timeouts, false_timeouts
    assert not backwards, backwards
    assert injected >= MIN_FAULTS and faults["stall"] and faults["slow"], faults
    # Each fault costs at most one chunk; every request made costs its headers.
    requests = payload // CHUNK + len(lesson) * PER_CAMERA * 4 + injected * 4 + 10
    assert resent <= injected * CHUNK + requests * REQUEST_OVERHEAD, (resent, faults)
