"""Marker sheets (PDF and PNG at their physical size) and the size a room needs."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from lessoncam_device import cli
from lessoncam_device.tracking.marker import (
    MarkerError,
    SheetSpec,
    marker_cells,
    marker_px,
    pdf_sheet,
    required_side_m,
    size_table,
    write_sheets,
)


def test_required_size_follows_the_24_px_rule() -> None:
    # 1280 px, 66 deg: f = 985.5 px; 24 px at 8 m is 19.5 cm (the design brief: ~20 cm).
    side = required_side_m(8.0, 1280, 66.0)
    assert side == pytest.approx(0.1948, abs=5e-4)
    assert marker_px(side, 8.0, 1280, 66.0) == pytest.approx(24.0)
    rows = dict(size_table((8.0,)))
    assert rows["1280 px, 66 deg"] == [19.5]  # rounded up to half centimetres
    with pytest.raises(MarkerError):
        required_side_m(-1, 1280, 66)


def _pdf_objects(pdf: bytes) -> dict[int, bytes]:
    """Objects by number, checked against the cross-reference table."""
    xref_at = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    lines = pdf[xref_at:].split(b"\n")
    count = int(lines[1].split()[1])
    objects = {}
    for number in range(1, count):
        offset = int(lines[2 + number].split()[0])
        assert pdf[offset:].startswith(f"{number} 0 obj".encode())
        objects[number] = pdf[offset : pdf.index(b"endobj", offset)]
    return objects


def test_pdf_pages_draw_the_marker_cells_at_size() -> None:
    spec = SheetSpec(ids=(7, 8), side_mm=120.0)
    objects = _pdf_objects(pdf_sheet(spec))
    assert b"/Count 2" in objects[2]
    for page, marker_id in ((3, 7), (5, 8)):
        assert b"/MediaBox [0 0 595.276 841.890]" in objects[page]  # A4
        stream = objects[page + 1]
        data = stream[stream.index(b"stream\n") + 7 : stream.rindex(b"\nendstream")]
        content = zlib.decompress(data).decode("latin-1")
        rects = re.findall(r"([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+) re\n", content)
        black = int((marker_cells("DICT_4X4_50", marker_id) < 128).sum())
        assert len(rects) == black  # plus the cut line, drawn with "re S"
        cell_pt = float(rects[0][2]) - 0.05
        assert cell_pt * 6 == pytest.approx(120.0 / 25.4 * 72, abs=0.01)  # 6 cells = 120 mm
        assert f"id {marker_id}" in content


@pytest.mark.parametrize(("side_mm", "width_pt"), [(200.0, 841.89), (400.0, 1596.85)])
def test_big_marker_gets_a_bigger_page(side_mm: float, width_pt: float) -> None:
    objects = _pdf_objects(pdf_sheet(SheetSpec(side_mm=side_mm)))
    box = re.search(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", objects[3])
    assert box is not None and float(box.group(1)) == pytest.approx(width_pt, abs=0.5)


def test_png_prints_at_size_and_is_detected(tmp_path: Path) -> None:
    [path] = write_sheets(SheetSpec(ids=(11,), side_mm=100.0), tmp_path / "m.png", dpi=200)
    data = path.read_bytes()
    at = data.index(b"pHYs")
    ppm_x, ppm_y, unit = struct.unpack(">IIB", data[at + 4 : at + 13])
    assert unit == 1 and ppm_x == ppm_y == round(200 / 0.0254)
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    assert image is not None
    dictionary = cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_50)
    corners, ids, _ = cv2.aruco.ArucoDetector(dictionary).detectMarkers(image)
    assert ids is not None and ids.ravel().tolist() == [11]
    side_px = float(np.linalg.norm(corners[0][0][1] - corners[0][0][0]))
    assert side_px == pytest.approx(100.0 / 25.4 * 200, rel=0.02)  # 100 mm at 200 dpi


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ids": (50,)}, "not in DICT_4X4_50"),
        ({"dictionary": "DICT_9X9_1"}, "unknown ArUco dictionary"),
        ({"side_mm": 5.0}, "between 20 and 1000 mm"),
    ],
)
def test_bad_sheet_settings(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(MarkerError, match=message):
        SheetSpec(**kwargs)  # type: ignore[arg-type]


def test_marker_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "marker.pdf"
    assert cli.main(["marker", "--out", str(out), "--room-depth", "8"]) == 0
    assert out.read_bytes().startswith(b"%PDF-1.4")
    printed = capsys.readouterr().out
    assert "at 8 m a 200 mm marker is 37 px wide in a 1920 px, 66 deg picture (enough" in printed
    assert cli.main(["marker", "--out", str(tmp_path / "m.png"), "--id", "99"]) == 2
    assert "marker id 99 is not in DICT_4X4_50" in capsys.readouterr().err
    assert cli.main(["marker", "--out", str(tmp_path / "m.gif")]) == 2
