"""The segmenter's streams on the PyAV versions a unit meets: PyPI's (14 and later) and
Raspberry Pi OS Bookworm's apt (12.3, kept for its picamera2), which has no
``add_stream_from_template`` (found by ``make pi-rehearsal``: every segment failed there)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av

from lessoncam_device.recorder.segmenter import copy_stream


class PyAV12Container:
    """What PyAV 12's output container offers for this: ``add_stream(template=...)``."""

    def __init__(self) -> None:
        self.added: list[dict[str, Any]] = []

    def add_stream(self, codec_name: str | None = None, rate: Any = None, **kw: Any) -> str:
        self.added.append({"codec_name": codec_name, "rate": rate, **kw})
        return "stream"


def test_pyav_12_gets_the_template_through_add_stream() -> None:
    container = PyAV12Container()
    assert copy_stream(container, "the encoder's stream") == "stream"
    assert container.added == [
        {"codec_name": None, "rate": None, "template": "the encoder's stream"}
    ]


def test_the_installed_pyav_copies_the_encoders_stream(tmp_path: Path) -> None:
    # PyPI's PyAV here; under make pi-rehearsal Raspberry Pi OS Bookworm's 12.3.
    with av.open(str(tmp_path / "a.ts"), "w", format="mpegts") as source:
        video = source.add_stream("libx264", rate=10)
        with av.open(str(tmp_path / "b.ts"), "w", format="mpegts") as copy:
            stream = copy_stream(copy, video)
            assert stream.type == "video" and stream in copy.streams
            assert stream.codec_context.name == video.codec_context.name
