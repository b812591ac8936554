"""The remux's output file: large writes, writeback behind the writer, seeks for the index."""

from __future__ import annotations

import os
import random
from pathlib import Path

import av
import pytest

from lessoncam_server.media.remux.sink import Sink

from ..mediagen import make_segments


def test_writes_and_seeks_land_where_a_plain_file_puts_them(tmp_path: Path) -> None:
    """What the muxer does: a header, the data, then back to the front to fill in the index,
    and to the end again; with writeback started many times on the way."""
    rng = random.Random(3)
    reference = bytearray()

    def at(pos: int, data: bytes) -> None:
        reference[pos : pos + len(data)] = data

    with Sink(tmp_path / "out", writeback_bytes=4096) as sink:
        pos = 0
        for _ in range(200):
            block = rng.randbytes(rng.randrange(1, 3000))
            assert sink.write(block) == len(block)
            at(pos, block)
            pos += len(block)
        assert sink.tell() == pos
        assert sink.seek(100) == 100
        sink.write(memoryview(b"index!"))
        at(100, b"index!")
        assert sink.seek(-10, os.SEEK_CUR) == 96
        sink.write(bytearray(b"HEAD"))
        at(96, b"HEAD")
        assert sink.seek(0, os.SEEK_END) == len(reference)
        sink.write(b"tail")
        at(len(reference), b"tail")
    assert sink.closed
    assert (tmp_path / "out").read_bytes() == bytes(reference)


def test_never_writes_over_an_existing_file(tmp_path: Path) -> None:
    (tmp_path / "out").write_bytes(b"served")
    with pytest.raises(FileExistsError):
        Sink(tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == b"served"


def test_a_negative_seek_is_refused(tmp_path: Path) -> None:
    with Sink(tmp_path / "out") as sink, pytest.raises(OSError):
        sink.seek(-1)


def test_the_muxer_writes_a_faststart_mp4_through_it(tmp_path: Path) -> None:
    """An MP4 with its index in reserved room at the front, written through the sink with
    writeback every few KiB, reads back whole."""
    (seg,) = make_segments(tmp_path / "in", seconds=3.0, segment_s=3.0, audio=False)
    with av.open(str(seg.path)) as src:
        packets = [p for p in src.demux() if p.size]
        with (
            Sink(tmp_path / "out.mp4", writeback_bytes=8192) as sink,
            av.open(
                sink, "w", format="mp4", options={"moov_size": "65536"}, buffer_size=4096
            ) as out,
        ):
            stream = out.add_stream_from_template(src.streams.video[0])
            for p in packets:
                p.stream = stream
                out.mux(p)
    data = (tmp_path / "out.mp4").read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")
    with av.open(str(tmp_path / "out.mp4")) as back:
        assert sum(1 for _ in back.decode(video=0)) == len(packets)
