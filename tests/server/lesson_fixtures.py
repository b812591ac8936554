"""Build a lesson through the real API: register, upload segments with aiotus, complete."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

from lessoncam_server.services import Services

from ..mediagen import GeneratedSegment, make_segments
from .helpers import UnitClient, manifest, upload_segment


def record(
    tmp: Path, seconds: float = 20.0, cameras: tuple[str, ...] = ("main",)
) -> dict[str, list[GeneratedSegment]]:
    """Synthetic segments per camera (the first camera carries audio)."""
    return {
        cam: make_segments(tmp / cam, seconds=seconds, segment_s=10.0, audio=(i == 0))
        for i, cam in enumerate(cameras)
    }


async def send_lesson(
    unit: UnitClient,
    recording_id: str,
    started_at: datetime,
    segments: dict[str, list[GeneratedSegment]],
    *,
    skip: frozenset[tuple[str, int]] = frozenset(),
    declare_missing: bool = False,
) -> dict[str, Any]:
    """Register, upload every segment not in ``skip``, then complete; returns the status."""
    cameras = tuple(segments)
    await unit.json(
        "PUT",
        f"/api/v1/recordings/{recording_id}",
        201,
        json=manifest(recording_id, started_at, cameras),
    )
    for cam, segs in segments.items():
        for seg in segs:
            if (cam, seg.sequence) not in skip:
                await upload_segment(
                    unit, recording_id, cam, seg.sequence, seg.path, seg.start_s, seg.duration_s
                )
    missing: dict[str, list[int]] = {}
    if declare_missing:
        for cam, seq in skip:
            missing.setdefault(cam, []).append(seq)
    result: dict[str, Any] = await unit.json(
        "POST",
        f"/api/v1/recordings/{recording_id}/complete",
        json={"segments": {cam: len(segs) for cam, segs in segments.items()}, "missing": missing},
    )
    return result


async def assembled(services: Services) -> None:
    """Wait until the assembler has nothing left to do."""
    assert services.assembler is not None
    await asyncio.wait_for(services.assembler.idle.wait(), timeout=60)


async def ready_lesson(
    unit: UnitClient,
    services: Services,
    started_at: datetime,
    tmp: Path,
    recording_id: str,
    *,
    seconds: float = 20.0,
    cameras: tuple[str, ...] = ("main",),
) -> None:
    """A lesson recorded by ``unit``, uploaded and assembled (state 'ready')."""
    await send_lesson(unit, recording_id, started_at, record(tmp / recording_id, seconds, cameras))
    await assembled(services)
