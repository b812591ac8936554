"""Assemble one camera's uploaded segments into one faststart MP4, by remuxing (no re-encode).

Each segment is placed at the time the unit declared for it: the offset
``start_s - pts(first video packet)`` is added to every packet of that segment, so the segment
lands where the unit says and its audio stays with its video. The output timeline starts at 0,
the start of the recording. A missing or unreadable segment stays a hole at its true time (the
last frame before it is held, the audio is silent) and is reported in
:attr:`AssembledVideo.gaps`; the content after it is never moved earlier.

The output is written beside ``out_path`` under a temporary name, fsync'd, and renamed over
``out_path``, so a file that is being served is never rewritten in place.

Speed matters (an hour of two-camera 1080p is ~7 GB): segments are opened without FFmpeg's
stream probing (which decodes several frames of every file), and the MP4 index is written into
space reserved at the front of the file instead of moving all the media data afterwards
(``+faststart``), which is the fallback when the reservation turns out too small.
"""

from .assemble import GAP_TOLERANCE_S, assemble_camera
from .files import (
    AssembledVideo,
    ProbeResult,
    RemuxError,
    SegmentFile,
    StreamInfo,
    install,
    probe,
    temporary_beside,
)
from .live import LiveAssembly

__all__ = [
    "GAP_TOLERANCE_S",
    "AssembledVideo",
    "LiveAssembly",
    "ProbeResult",
    "RemuxError",
    "SegmentFile",
    "StreamInfo",
    "assemble_camera",
    "install",
    "probe",
    "temporary_beside",
]
