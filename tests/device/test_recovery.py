"""Recovery after a crash or power cut: keep every segment, salvage the open ones, close."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import av
import pytest

from lessoncam_common.hashing import sha256_and_size
from lessoncam_device.recorder import AudioSettings, Recorder, RecorderOptions, recover_recordings
from lessoncam_device.recorder.recovery import readable_length
from lessoncam_device.segments import RecordingPlan, SegmentInfo
from lessoncam_device.sim.camera import CameraConfig, SimulatedCamera
from lessoncam_device.sim.clock import VirtualClock
from lessoncam_device.sim.microphone import MicrophoneConfig, SimulatedMicrophone

from .recorder_helpers import demux_video_pts, make_plan
from .sim_helpers import shared_scene

FPS = 30.0
CRASH_AT_S = 23.0
OPTIONS = RecorderOptions(
    mode="pull", x264_preset="ultrafast", encoder_threads=1, audio=AudioSettings(coder="fast")
)


@dataclass(frozen=True)
class Crash:
    plan: RecordingPlan
    disk: Path  # the state dir as a power cut at CRASH_AT_S left it (before any cut)
    live: dict[tuple[str, int], SegmentInfo]  # what the recorder announced before the cut


async def _record_and_crash(root: Path) -> Crash:
    clock = VirtualClock(monotonic_s=1234.0)
    cfg = CameraConfig(width=160, height=120, start_pts_s=1234.5, flash_every_s=2.0)
    main = SimulatedCamera(shared_scene(), None, cfg)
    pupils = SimulatedCamera(shared_scene(), None, CameraConfig(width=160, height=120, pan_deg=-30))
    mic = SimulatedMicrophone(MicrophoneConfig(), main.flashes, clock.time() - clock.monotonic())
    plan = make_plan(clock, [("main", 160, 120, FPS), ("pupils", 160, 120, FPS)])
    live: dict[tuple[str, int], SegmentInfo] = {}
    recorder = Recorder(
        plan,
        root / "live",
        [main, pupils],
        mic,
        clock,
        OPTIONS,
        on_segment=lambda s: live.setdefault((s.camera, s.sequence), s),
    )
    await recorder.start()
    clock.advance(CRASH_AT_S)
    await recorder.sync()
    # The power goes: the disk keeps what was written; the recorder is abandoned mid-segment.
    disk = root / "disk"
    shutil.copytree(root / "live", disk)
    await recorder.stop()  # (only to end the threads of this test process)
    return Crash(plan, disk, {k: v for k, v in live.items() if v.sequence < 2})


@pytest.fixture(scope="module")
def crash(tmp_path_factory: pytest.TempPathFactory) -> Crash:
    return asyncio.run(_record_and_crash(tmp_path_factory.mktemp("crash")))


@pytest.fixture
def disk(crash: Crash, tmp_path: Path) -> Path:
    """A fresh copy of the crashed unit's disk for one test."""
    copy = tmp_path / "state"
    shutil.copytree(crash.disk, copy)
    return copy


def _cut_like_a_power_loss(partial: Path, fraction: float) -> int:
    """Cut ``partial`` at an arbitrary byte among those written after the last fsync.

    The recorder fsyncs at least every second of recording: everything up to the packets of
    CRASH_AT_S - 1 s is on the disk, and a power cut may keep any part of what came after.
    """
    durable = 0
    with av.open(str(partial)) as c:
        for p in c.demux(c.streams.video[0]):
            if p.pts is not None and p.pts / 90000 - 10 >= CRASH_AT_S - 1.0:
                durable = p.pos
                break
    size = partial.stat().st_size
    cut = durable + round((size - durable) * fraction)
    if cut % 188 == 0:
        cut = min(size - 1, cut + 77)  # a power cut does not respect packets
    with partial.open("r+b") as f:
        f.truncate(cut)
    return cut


@pytest.mark.slow
@pytest.mark.parametrize("fraction", [0.0, 0.37, 0.93])
def test_recovery_keeps_closed_segments_and_salvages_the_open_one(
    crash: Crash, disk: Path, fraction: float
) -> None:
    rec_dir = disk / "recordings" / crash.plan.recording_id
    cuts = {
        cam: _cut_like_a_power_loss(rec_dir / cam / "000002.ts.partial", fraction)
        for cam in ("main", "pupils")
    }
    announced: list[SegmentInfo] = []

    [recovered] = recover_recordings(disk, on_segment=announced.append)

    assert recovered.plan == crash.plan
    assert recovered.marker.interrupted is True
    assert recovered.marker.segments == {"main": 3, "pupils": 3}
    assert recovered.marker.complete_body() == {
        "segments": {"main": 3, "pupils": 3},
        "missing": {},
        "interrupted": True,
    }
    closed = json.loads((rec_dir / "recording.json").read_text())["closed"]
    assert closed["interrupted"] is True and closed["segments"] == {"main": 3, "pupils": 3}
    assert sorted((s.camera, s.sequence) for s in announced) == [
        (cam, seq) for cam in ("main", "pupils") for seq in range(3)
    ]
    for info in announced:
        assert sha256_and_size(info.path) == (info.sha256, info.size)
        if info.sequence < 2:  # closed before the cut: kept exactly as announced then
            live = crash.live[(info.camera, info.sequence)]
            assert dataclasses.replace(info, path=live.path) == live
    for salvage in recovered.salvaged:
        info = salvage.info
        original = rec_dir / info.camera / "000002.ts.orig"
        assert original.stat().st_size == cuts[info.camera] == salvage.original_bytes
        assert not (rec_dir / info.camera / "000002.ts.partial").exists()
        assert info.size == salvage.kept_bytes and info.size % 188 == 0
        span = demux_video_pts(info.path)
        assert span.keyframe_first
        assert info.start_s == pytest.approx((span.first - 900000) / 90000, abs=1e-6)
        previous = crash.live[(info.camera, 1)]
        assert info.start_s == pytest.approx(previous.start_s + previous.duration_s, abs=1e-6)
        # At most 2 s of recording lost to the power cut.
        assert info.start_s + info.duration_s >= CRASH_AT_S - 2.0
    assert len(recovered.salvaged) == 2

    # Nothing left to do the second time, and nothing changed.
    before = {p: p.stat().st_size for p in rec_dir.rglob("*")}
    assert recover_recordings(disk) == []
    assert {p: p.stat().st_size for p in rec_dir.rglob("*")} == before


@pytest.mark.slow
def test_a_partial_with_nothing_readable_is_kept_and_not_counted(crash: Crash, disk: Path) -> None:
    rec_dir = disk / "recordings" / crash.plan.recording_id
    partial = rec_dir / "pupils" / "000002.ts.partial"
    with partial.open("r+b") as f:
        f.truncate(100)  # cut before the first whole packet

    [recovered] = recover_recordings(disk)

    assert recovered.marker.segments == {"main": 3, "pupils": 2}
    assert recovered.marker.missing == {}
    assert partial.stat().st_size == 100  # never deleted


@pytest.mark.slow
def test_a_segment_closed_just_before_the_cut_is_read_back(crash: Crash, disk: Path) -> None:
    """Renamed to .ts, but the power went before its index line was written."""
    rec_dir = disk / "recordings" / crash.plan.recording_id
    (rec_dir / "main" / "segments.jsonl").unlink()

    [recovered] = recover_recordings(disk)

    main = {s.sequence: s for s in recovered.cameras["main"].segments}
    for seq in (0, 1):
        live = crash.live[("main", seq)]
        assert main[seq].sha256 == live.sha256
        assert main[seq].start_s == pytest.approx(live.start_s, abs=1e-6)
        assert main[seq].duration_s == pytest.approx(live.duration_s, abs=1e-6)


@pytest.mark.slow
def test_readable_length_stops_at_the_last_complete_unit(crash: Crash, disk: Path) -> None:
    partial = disk / "recordings" / crash.plan.recording_id / "main" / "000002.ts.partial"
    size = partial.stat().st_size
    for cut in (size - 1, size - 188 * 7 - 13, size // 2 + 5):
        with partial.open("r+b") as f:
            f.truncate(cut)
        keep = readable_length(partial)
        assert keep % 188 == 0 and cut - keep < 64 * 1024
        prefix = disk / "prefix.ts"
        with partial.open("rb") as src:
            prefix.write_bytes(src.read(keep))
        with av.open(str(prefix)) as c:
            assert sum(1 for p in c.demux() if p.size) > 0
