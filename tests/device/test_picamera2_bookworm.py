"""The picamera2 adapter on Raspberry Pi OS Bookworm's picamera2 (0.3.29) and PyAV (12.3).

Found by ``make pi-rehearsal`` once it ran those versions: ``PyavOutput`` takes muxer options
only since picamera2 0.3.31 (every Pi camera failed to start), and ``AudioLayout.nb_channels``
exists only since PyAV 13 (the audio thread died: lessons without sound). These run here on
the newer versions, with the older shapes made explicit.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from lessoncam_device.recorder import picamera2_adapter

from .picamera2_fakes import picamera2_stubbed

__all__ = ["picamera2_stubbed"]  # the fixture


def test_segments_flush_every_packet_with_a_pyav_output_that_takes_no_options(
    picamera2_stubbed: Any, tmp_path: Path
) -> None:
    outputs = importlib.import_module("picamera2.outputs")
    pyav_output: type = outputs.PyavOutput

    class BookwormPyavOutput(pyav_output):  # type: ignore[misc]
        """PyavOutput's constructor before picamera2 0.3.31: no ``options``."""

        def __init__(self, output_name: str, format: str | None = None, pts: Any = None):
            super().__init__(output_name, format=format, pts=pts)

    segment_output = picamera2_adapter._segment_output_class(BookwormPyavOutput, outputs.Output)
    partial = tmp_path / "seg.ts.partial"
    out = segment_output(SimpleNamespace(partial=partial), lambda *_: None, SimpleNamespace())
    out.start()
    try:
        assert out.recording
        assert out._container.format.name == "mpegts"
        assert out._container.options == {"flush_packets": "1"}  # power-safe segments
    finally:
        out.stop()


def test_audio_frames_of_pyav_12_are_read_by_their_channels() -> None:
    samples = np.arange(8, dtype=np.float32).reshape(1, 8)  # packed stereo: L R L R ...
    frame = SimpleNamespace(
        to_ndarray=lambda: samples,
        layout=SimpleNamespace(channels=("FL", "FR")),  # PyAV 12: no nb_channels
        format=SimpleNamespace(is_planar=False),
    )
    got = picamera2_adapter._interleaved(frame)  # type: ignore[arg-type]
    assert got.tolist() == [[0, 1], [2, 3], [4, 5], [6, 7]]
