"""The checks read from the short recording: each camera's picture, the encoder, the sound,
and (when a person flashed and clapped) the offset between sound and picture."""

from __future__ import annotations

from ..config import DeviceConfig
from .camera_run import Sample
from .media import av_offset_s, sound_level, video_figures
from .report import Check, failed, passed, skipped

RATE_TOLERANCE = 0.1  # of the configured frame rate
DROPPED_TOLERANCE = 0.01  # of the frames
KEEPS_UP = 0.9  # recorded seconds per second of clock
QUIET_DBFS = -75.0  # an RMS level below this is a muted or dead microphone
AV_TOLERANCE_S = 0.045  # lip sync is noticed beyond this


def _not_started(name: str, sample: Sample) -> Check:
    return failed(
        name,
        f"the recording did not start: {sample.start_error}",
        "see the reason above; `lessoncam-device devices` lists the cameras and microphones found",
    )


def check_cameras(sample: Sample, config: DeviceConfig) -> list[Check]:
    """Each camera gave frames at its configured size and rate, and how many it dropped."""
    out = []
    for spec in sample.plan.cameras:
        cam_id = str(spec["id"])
        name = f"camera {cam_id}"
        cam = config.cameras[cam_id]
        if sample.start_error is not None:
            out.append(_not_started(name, sample))
            continue
        found = video_figures(sample.segments.get(cam_id, []))
        stats = sample.stats.cameras.get(cam_id) if sample.stats else None
        dropped = stats.dropped if stats else 0
        where = f"{cam.source} camera {cam.device}" if cam.source != "simulated" else "simulated"
        if found is None or found.frames == 0:
            errors = "; ".join(sample.stats.errors) if sample.stats else ""
            out.append(
                failed(
                    name,
                    f"no pictures from {where} in {sample.seconds:.0f} s"
                    + (f" ({errors})" if errors else ""),
                    "check the camera's cable (the ribbon's contacts face the board's), that "
                    f"`lessoncam-device devices` lists it, and [cameras.{cam_id}] device",
                    frames=0,
                )
            )
            continue
        figures = {
            "width": found.width,
            "height": found.height,
            "fps": round(found.fps, 2),
            "frames": found.frames,
            "dropped": dropped,
        }
        said = (
            f"{where}: {found.width}x{found.height} at {found.fps:.1f} fps "
            f"({found.frames} frames in {found.span_s:.1f} s, {dropped} dropped)"
        )
        if (found.width, found.height) != (cam.width, cam.height):
            out.append(
                failed(
                    name,
                    said + f", not the {cam.width}x{cam.height} configured",
                    f"this camera cannot give {cam.width}x{cam.height}: set [cameras.{cam_id}] "
                    "width and height to a size it offers",
                    **figures,
                )
            )
        elif abs(found.fps - cam.fps) > RATE_TOLERANCE * cam.fps:
            out.append(
                failed(
                    name,
                    said + f", not the {cam.fps} fps configured",
                    f"lower [cameras.{cam_id}] fps or the size; in a dark room some cameras "
                    "slow down: add light",
                    **figures,
                )
            )
        else:
            out.append(passed(name, said, **figures))
    return out


def check_encoder(sample: Sample) -> Check:
    """The encoders kept up: recorded time keeps pace with the clock, nothing dropped."""
    if sample.start_error is not None or sample.stats is None:
        return _not_started("encoder", sample)
    stats = sample.stats
    frames = sum(c.frames for c in stats.cameras.values())
    dropped = sum(c.dropped for c in stats.cameras.values())
    if frames == 0:
        return skipped("encoder", "no pictures were recorded to encode (see the cameras)")
    pace = stats.seconds / sample.seconds if sample.seconds > 0 else 0.0
    said = (
        f"{stats.seconds:.1f} s recorded in {sample.seconds:.1f} s, "
        f"{dropped} of {frames + dropped} frames dropped"
    )
    figures = {"pace": round(pace, 3), "dropped": dropped, "frames": frames}
    if pace < KEEPS_UP or dropped > DROPPED_TOLERANCE * max(1, frames + dropped):
        return failed(
            "encoder",
            said + ": the encoder does not keep up",
            "lower the picture size or rate ([cameras.*] width, height, fps), or a faster "
            '[video] x264_preset ("ultrafast"); on a Pi 4 use [video] encoder = "auto"',
            **figures,
        )
    return passed("encoder", said, **figures)


def check_microphone(sample: Sample, config: DeviceConfig) -> Check:
    """The microphone gave sound: its level over the recording (a level meter)."""
    if config.audio.source == "none":
        return skipped("microphone", 'no microphone configured ([audio] source = "none")')
    device = (
        f"microphone {config.audio.device!r}"
        if config.audio.source == "alsa"
        else f"the {config.audio.source} microphone"
    )
    fix = (
        "check that it is plugged in, its capture level (`alsamixer`, F4) and [audio] device "
        "(`lessoncam-device devices`)"
    )
    if sample.start_error is not None:
        return _not_started("microphone", sample)
    if sample.without_sound is not None:
        return failed("microphone", sample.without_sound, fix)
    main = str(sample.plan.cameras[0]["id"])
    level = sound_level(sample.segments.get(main, []))
    if level is None:
        return failed("microphone", f"the recording has no sound from the {device}", fix)
    figures = {"rms_dbfs": round(level.rms_dbfs, 1), "peak_dbfs": round(level.peak_dbfs, 1)}
    said = f"{device}: {level.rms_dbfs:.0f} dBFS on average, peaks at {level.peak_dbfs:.0f} dBFS"
    if level.rms_dbfs < QUIET_DBFS:
        return failed("microphone", said + ": silent", fix, **figures)
    return passed("microphone", said, **figures)


def check_av(sample: Sample, config: DeviceConfig, asked: bool) -> Check:
    """Sound against picture, from flashes seen and claps heard (only when a person made
    them, or the simulated classroom flashes and beeps by itself)."""
    if not asked:
        return skipped("a/v offset", "needs a person to flash and clap in front of the camera")
    if config.audio.source == "none":
        return skipped("a/v offset", "no microphone configured")
    if sample.start_error is not None:
        return _not_started("a/v offset", sample)
    main = str(sample.plan.cameras[0]["id"])
    offset, pairs = av_offset_s(sample.segments.get(main, []))
    if offset is None:
        return failed(
            "a/v offset",
            "no flash was seen together with a clap",
            "flash a torch (or a phone's light) at the camera while you clap, a few times, "
            "1-2 m in front of it; check the microphone first",
        )
    ms = offset * 1000
    said = f"the sound is {abs(ms):.0f} ms {'late' if ms >= 0 else 'early'} ({pairs} claps)"
    figures = {"offset_ms": round(ms, 1), "pairs": pairs}
    if abs(offset) > AV_TOLERANCE_S:
        better = config.audio.offset_ms - ms
        return failed(
            "a/v offset",
            said,
            f"set [audio] offset_ms = {better:.0f} (now {config.audio.offset_ms:g})",
            **figures,
        )
    return passed("a/v offset", said, **figures)
