"""The recorder on simulated hardware in virtual time: segments, timeline, files, A/V sync."""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import av
import pytest

from lessoncam_common.hashing import sha256_and_size
from lessoncam_device.recorder import (
    AudioSettings,
    AudioSyncSettings,
    Recorder,
    RecorderOptions,
    RecordingStats,
)
from lessoncam_device.segments import RecordingPlan, SegmentInfo
from lessoncam_device.sim.camera import CameraConfig, SimulatedCamera, pupil_camera
from lessoncam_device.sim.clock import VirtualClock
from lessoncam_device.sim.microphone import MicrophoneConfig, SimulatedMicrophone
from lessoncam_device.sim.teacher_path import scenario

from .recorder_helpers import av_offsets, demux_video_pts, make_plan
from .sim_helpers import shared_scene

FAST = RecorderOptions(
    mode="pull", x264_preset="ultrafast", encoder_threads=1, audio=AudioSettings(coder="fast")
)
FPS = 30.0
TICKS_PER_FRAME = 3000  # 90 kHz
PTS_BASE = 10 * 90000


@dataclass(frozen=True)
class Recorded:
    plan: RecordingPlan
    rec_dir: Path
    segments: list[SegmentInfo]
    counts: dict[str, int]
    stats: RecordingStats
    snapshot: Path  # the open segment's .partial as it was 13.3 s in
    snapshot_at_s: float


def _by_camera(segments: list[SegmentInfo], camera: str) -> list[SegmentInfo]:
    return sorted((s for s in segments if s.camera == camera), key=lambda s: s.sequence)


async def _record_two_cameras(state_dir: Path) -> Recorded:
    clock = VirtualClock(monotonic_s=1234.0)
    main_cfg = CameraConfig(width=320, height=240, start_pts_s=1234.5, flash_every_s=2.0)
    main = SimulatedCamera(shared_scene(), scenario("walk_front"), main_cfg)
    pupils = pupil_camera(
        shared_scene(), None, CameraConfig(width=320, height=240, pan_deg=-30, start_pts_s=1234.52)
    )
    mic = SimulatedMicrophone(MicrophoneConfig(), main.flashes, clock.time() - clock.monotonic())
    plan = make_plan(clock, [("main", 320, 240, FPS), ("pupils", 320, 240, FPS)])
    recorder = Recorder(plan, state_dir, [main, pupils], mic, clock, FAST)
    await recorder.start()
    clock.advance(13.3)
    await recorder.sync()
    partial = recorder.dir / "main" / "000001.ts.partial"
    snapshot = state_dir / "snapshot.ts"
    shutil.copyfile(partial, snapshot)
    clock.advance(25.0 - 13.3)
    counts = await recorder.stop()
    segments = [s async for s in recorder.segments()]
    return Recorded(plan, recorder.dir, segments, counts, recorder.stats(), snapshot, 13.3)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    """25 s of two cameras and the microphone, recorded once for the tests below."""
    return asyncio.run(_record_two_cameras(tmp_path_factory.mktemp("recorder")))


@pytest.mark.slow
def test_segments_of_10_s_cut_at_keyframes_on_one_continuous_timeline(recorded: Recorded) -> None:
    assert recorded.counts == {"main": 3, "pupils": 3}
    for camera, first_frame_s in (("main", 0.5), ("pupils", 0.52)):
        segs = _by_camera(recorded.segments, camera)
        assert [s.sequence for s in segs] == [0, 1, 2]
        assert [s.duration_s for s in segs[:2]] == [10.0, 10.0]
        assert segs[0].start_s == pytest.approx(first_frame_s)
        spans = [demux_video_pts(s.path) for s in segs]
        for seg, span in zip(segs, spans, strict=True):
            assert span.keyframe_first
            assert seg.start_s == pytest.approx((span.first - PTS_BASE) / 90000, abs=1e-6)
            assert seg.duration_s == pytest.approx(span.frames / FPS, abs=1e-6)
        for prev, nxt in itertools.pairwise(spans):
            assert nxt.first == prev.last + TICKS_PER_FRAME
        for a, b in itertools.pairwise(segs):
            assert b.start_s == pytest.approx(a.start_s + a.duration_s, abs=1e-6)
        assert sum(span.frames for span in spans) == recorded.stats.cameras[camera].frames


@pytest.mark.slow
def test_closed_segments_are_announced_with_their_real_sha256_and_size(recorded: Recorded) -> None:
    assert len(recorded.segments) == 6
    for seg in recorded.segments:
        assert seg.recording_id == recorded.plan.recording_id
        assert seg.path == recorded.rec_dir / seg.camera / f"{seg.sequence:06d}.ts"
        assert sha256_and_size(seg.path) == (seg.sha256, seg.size)
    assert not list(recorded.rec_dir.glob("*/*.partial"))
    index = (recorded.rec_dir / "main" / "segments.jsonl").read_text().splitlines()
    assert [json.loads(line)["sha256"] for line in index] == [
        s.sha256 for s in _by_camera(recorded.segments, "main")
    ]


@pytest.mark.slow
def test_main_camera_carries_aac_and_the_second_camera_none(recorded: Recorded) -> None:
    for seg in recorded.segments:
        with av.open(str(seg.path)) as c:
            assert c.format.name == "mpegts"
            assert [s.codec_context.name for s in c.streams.video] == ["h264"]
            audio = [s.codec_context.name for s in c.streams.audio]
        assert audio == (["aac"] if seg.camera == "main" else [])


@pytest.mark.slow
def test_recording_json_holds_the_plan_and_is_closed_with_counts(recorded: Recorded) -> None:
    data = json.loads((recorded.rec_dir / "recording.json").read_text())
    assert data["manifest"] == recorded.plan.manifest()
    assert data["closed"]["segments"] == {"main": 3, "pupils": 3}
    assert data["closed"]["interrupted"] is False
    timeline = json.loads((recorded.rec_dir / "main" / "timeline.json").read_text())
    assert timeline == {"file_pts_to_recording_s": -10.0, "fps": 30.0}


@pytest.mark.slow
def test_flashes_and_beeps_line_up_within_a_frame(recorded: Recorded) -> None:
    offsets = av_offsets([s.path for s in _by_camera(recorded.segments, "main")])
    assert len(offsets) == 12  # a flash every 2 s from 2.5 s to 24.5 s
    assert max(abs(o) for o in offsets) < 1 / FPS, offsets
    assert recorded.stats.audio is not None
    assert recorded.stats.audio.first_sample_s == pytest.approx(0.5)


@pytest.mark.slow
def test_the_open_segment_is_on_disk_and_demuxable_within_2_s(recorded: Recorded) -> None:
    assert recorded.snapshot.stat().st_size > 0
    span = demux_video_pts(recorded.snapshot)
    assert span.keyframe_first
    assert (span.last - PTS_BASE) / 90000 >= recorded.snapshot_at_s - 2.0
    with av.open(str(recorded.snapshot)) as c:
        assert c.streams.audio  # sound too
    for cam in recorded.stats.cameras.values():
        assert 0 < cam.max_sync_gap_s <= 2.0


@pytest.mark.slow
def test_stats_count_frames_drops_and_seconds(recorded: Recorded) -> None:
    main = recorded.stats.cameras["main"]
    assert main.frames == 735  # 0.5 s .. 25 s at 30 fps
    assert main.dropped == 0
    assert main.seconds == pytest.approx(24.5)
    assert main.segments == 3
    assert recorded.stats.seconds == main.seconds
    assert recorded.stats.errors == []


# A 100 ppm microphone drifts 0.36 s in an hour; 3000 ppm does that in the 2 minutes here.
DRIFT_PPM = 3000.0
DRIFT_RECORDING_S = 120.0


@pytest.mark.slow
@pytest.mark.parametrize("ppm", [DRIFT_PPM, -DRIFT_PPM])
async def test_drift_is_corrected_to_within_40_ms(tmp_path: Path, ppm: float) -> None:
    offsets, stats = await _record_drifting(tmp_path, ppm, correct=True)
    assert stats.audio is not None
    assert stats.audio.drift_ppm == pytest.approx(ppm, abs=20)
    assert len(offsets) == 11
    assert max(abs(o) for o in offsets) < 0.040, offsets


@pytest.mark.slow
async def test_without_drift_correction_the_sound_slips_away(tmp_path: Path) -> None:
    offsets, _ = await _record_drifting(tmp_path, DRIFT_PPM, correct=False)
    assert offsets[-1] == pytest.approx(110.0 * DRIFT_PPM / 1e6, abs=0.005)  # the last flash


async def _record_drifting(
    state_dir: Path, ppm: float, correct: bool
) -> tuple[list[float], RecordingStats]:
    clock = VirtualClock(monotonic_s=1234.0)
    fps = 10.0
    cfg = CameraConfig(width=160, height=120, fps=fps, start_pts_s=1234.5, flash_every_s=10.0)
    camera = SimulatedCamera(shared_scene(), None, cfg)
    # 16 kHz: a third of the work of 48 kHz, and a 1 kHz beep is as sharp.
    mic = SimulatedMicrophone(
        MicrophoneConfig(sample_rate=16_000, drift_ppm=ppm),
        camera.flashes,
        clock.time() - clock.monotonic(),
    )
    plan = make_plan(clock, [("main", 160, 120, fps)], segment_s=30.0)
    sync = AudioSyncSettings(drift_correction=correct, settle_s=5.0)
    options = RecorderOptions(
        mode="pull",
        x264_preset="ultrafast",
        encoder_threads=1,
        audio=AudioSettings(sample_rate=16_000, bitrate=32_000, coder="fast"),
        audio_sync=sync,
    )
    recorder = Recorder(plan, state_dir, [camera], mic, clock, options)
    await recorder.start()
    clock.advance(DRIFT_RECORDING_S)
    await recorder.stop()
    paths = [s.path async for s in recorder.segments()]
    return av_offsets(paths), recorder.stats()


@pytest.mark.slow
async def test_streams_in_real_time_on_a_virtual_clock(tmp_path: Path) -> None:
    """The daemon's way in: the sources' stream() iterators, paced by the clock."""
    clock = VirtualClock(monotonic_s=1234.0)
    cfg = CameraConfig(width=160, height=120, start_pts_s=1234.5, flash_every_s=1.0)
    camera = SimulatedCamera(shared_scene(), None, cfg)
    mic = SimulatedMicrophone(MicrophoneConfig(), camera.flashes, clock.time() - clock.monotonic())
    plan = make_plan(clock, [("main", 160, 120, FPS)])
    options = RecorderOptions(
        x264_preset="ultrafast",
        encoder_threads=1,
        audio=AudioSettings(coder="fast"),
        max_queued_frames=10_000,
    )
    got: list[SegmentInfo] = []
    recorder = Recorder(plan, tmp_path, [camera], mic, clock, options, on_segment=got.append)
    await recorder.start()
    await clock.sleep(12.0)
    assert await recorder.stop() == {"main": 2}
    assert [s.sequence for s in got] == [0, 1]
    assert got[0].duration_s == 10.0 and got[1].start_s == pytest.approx(10.5)
    stats = recorder.stats().cameras["main"]
    assert stats.frames == 345 and stats.dropped == 0  # 0.5 s .. 12 s at 30 fps
    offsets = av_offsets([s.path for s in got])
    assert len(offsets) == 11
    assert max(abs(o) for o in offsets) < 1 / FPS, offsets


class _BrokenCamera:
    """A camera whose driver dies after a few seconds."""

    def __init__(self, camera: SimulatedCamera, fail_at: int) -> None:
        self.camera = camera
        self.fail_at = fail_at

    def pts_of(self, index: int) -> float:
        return self.camera.pts_of(index)

    def frame_at(self, index: int) -> tuple[float, object]:
        if index >= self.fail_at:
            raise OSError("camera went away")
        return self.camera.frame_at(index)


async def test_a_failing_camera_keeps_what_it_recorded(tmp_path: Path) -> None:
    clock = VirtualClock(monotonic_s=1234.0)
    cfg = CameraConfig(width=160, height=120, start_pts_s=1234.5)
    camera = _BrokenCamera(SimulatedCamera(shared_scene(), None, cfg), fail_at=400)
    plan = make_plan(clock, [("main", 160, 120, FPS)], audio_camera=None)
    recorder = Recorder(plan, tmp_path, [camera], None, clock, FAST)
    await recorder.start()
    clock.advance(20.0)
    counts = await recorder.stop()
    segments = [s async for s in recorder.segments()]
    assert counts == {"main": 2}
    assert isinstance(recorder.error, OSError)
    assert [s.sequence for s in segments] == [0, 1]
    # The open segment was salvaged: frames 300..399 minus at most the last one.
    assert segments[1].duration_s == pytest.approx(100 / FPS, abs=1.5 / FPS)
    data = json.loads((recorder.dir / "recording.json").read_text())
    assert data["closed"]["interrupted"] is True
