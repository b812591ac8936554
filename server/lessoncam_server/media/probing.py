"""What an uploaded file is: clearly no video from its first bytes, or what a probe with PyAV
finds (the picture, and why a browser could not play it)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import av.error

from .cutting import MediaRefused

#: What every current browser plays in an MP4.
PLAYABLE_VIDEO = frozenset({"h264"})
PLAYABLE_AUDIO = frozenset({"aac"})
# FFmpeg's names of containers that hold video (the "mov,mp4,..." family, mkv/webm, ts, avi).
_VIDEO_CONTAINERS = ("mov", "mp4", "matroska", "mpegts", "avi", "3gp")

# What teachers pick by mistake, recognised from the first bytes (offset, signature, name).
_NOT_VIDEO_SIGNATURES = (
    (0, b"\xff\xd8\xff", "a JPEG photo"),
    (0, b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (0, b"GIF8", "a GIF image"),
    (0, b"%PDF", "a PDF document"),
    (0, b"PK\x03\x04", "a ZIP archive or an Office document"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Office document"),
    (0, b"{\\rtf", "an RTF document"),
    (0, b"ID3", "an MP3 sound file"),
    (0, b"fLaC", "a FLAC sound file"),
    (8, b"WAVE", "a WAV sound file"),
    (8, b"WEBP", "a WebP image"),
)
# ISO BMFF brands of photos and sound files: same box structure as an MP4 video.
_NOT_VIDEO_BRANDS = {
    b"heic": "a HEIC photo",
    b"heix": "a HEIC photo",
    b"mif1": "a HEIF photo",
    b"msf1": "a HEIF photo sequence",
    b"avif": "an AVIF image",
    b"M4A ": "an M4A sound file",
    b"M4B ": "an audio book",
}


def sniff(head: bytes) -> str | None:
    """What a file clearly is when it is clearly no video (``"a PDF document"``), from its
    first bytes; None when it may be a video (the probe at the end decides). Pure."""
    for offset, signature, name in _NOT_VIDEO_SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            if offset == 8 and head[:4] != b"RIFF":
                continue
            return name
    if head[4:8] == b"ftyp":
        return _NOT_VIDEO_BRANDS.get(head[8:12])
    return None


class Inspection:
    """What the probe found: the picture, and why a browser could not play it (or None)."""

    def __init__(
        self, width: int, height: int, fps: float, has_audio: bool, refusal: str | None
    ) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.has_audio = has_audio
        self.refusal = refusal


def inspect(path: Path) -> Inspection:
    """Probe an uploaded file. Raises MediaRefused (code ``not_a_video``) when it is not a
    video at all."""
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError):
        raise MediaRefused(
            "not_a_video", "the file is not a video; choose a video file (MP4 or MOV)"
        ) from None
    with container:
        fmt = container.format.name
        video = container.streams.video[0] if container.streams.video else None
        if (
            video is None
            or not any(name in fmt.split(",") for name in _VIDEO_CONTAINERS)
            or not container.duration
        ):
            raise MediaRefused(
                "not_a_video", "the file holds no video; choose a video file (MP4 or MOV)"
            )
        ctx = video.codec_context
        width, height = int(ctx.width or 0), int(ctx.height or 0)
        rate = video.average_rate or video.guessed_rate or Fraction(30)
        fps = min(max(float(rate), 1.0), 240.0)
        audio = container.streams.audio[0] if container.streams.audio else None
        refusal = None
        if ctx.name not in PLAYABLE_VIDEO:
            refusal = (
                f"video_codec_unsupported: {ctx.name}; set the camera to H.264 "
                "('most compatible') or convert the video"
            )
        elif audio is not None and audio.codec_context.name not in PLAYABLE_AUDIO:
            refusal = f"audio_codec_unsupported: {audio.codec_context.name}; convert the video"
        if not (16 <= width <= 7680 and 16 <= height <= 4320):
            raise MediaRefused("not_a_video", f"a picture of {width}x{height} is not usable")
        return Inspection(width, height, fps, audio is not None, refusal)
