"""The teacher's ArUco marker: dictionaries, printable sheets (PDF, PNG) and the size it needs.

A marker is found reliably once its black square is about 24 px wide in the picture (the design
brief's measurement), so the printed side for a room follows from the pinhole model:
``side_m = min_px * distance_m / f`` with ``f = (width_px / 2) / tan(hfov / 2)``.

The PDF is written by hand as vector rectangles (no library, exact size at any zoom); the PNG
carries its print resolution (a pHYs chunk), so a printer prints it at the stated size.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

# Measured on rendered frames: markers of 24 px side or more are found in 99-100% of frames.
MIN_MARKER_PX = 24.0
MM_PER_INCH = 25.4
PT_PER_MM = 72.0 / MM_PER_INCH
A4_MM = (210.0, 297.0)
A3_MM = (297.0, 420.0)
_MARGIN_MM = 15.0


class MarkerError(ValueError):
    """A marker setting is wrong (unknown dictionary, id out of range, size too small)."""


def dictionary_names() -> list[str]:
    """The ArUco dictionaries OpenCV knows, e.g. ``DICT_4X4_50``."""
    return sorted(
        name
        for name in dir(cv2.aruco)
        if name.startswith("DICT_") and not name.startswith("DICT_APRILTAG")
    )


def aruco_dictionary(name: str) -> cv2.aruco.Dictionary:
    """The named predefined dictionary; ``MarkerError`` lists the known names."""
    value = getattr(cv2.aruco, name, None) if name.startswith("DICT_") else None
    if not isinstance(value, int):
        raise MarkerError(
            f"unknown ArUco dictionary {name!r}; use one of {', '.join(dictionary_names())}"
        )
    return cv2.aruco.getPredefinedDictionary(value)


def dictionary_size(name: str) -> int:
    """How many markers the dictionary holds (ids 0 .. size - 1)."""
    return int(aruco_dictionary(name).bytesList.shape[0])


def check_ids(dictionary: str, ids: Sequence[int]) -> None:
    """Raise ``MarkerError`` unless every id exists in the dictionary."""
    size = dictionary_size(dictionary)
    if not ids:
        raise MarkerError("give at least one marker id")
    for marker_id in ids:
        if not 0 <= marker_id < size:
            raise MarkerError(f"marker id {marker_id} is not in {dictionary} (ids 0-{size - 1})")


def marker_cells(dictionary: str, marker_id: int) -> NDArray[np.uint8]:
    """The marker as a grid of cells, black border included: 0 = black, 255 = white."""
    check_ids(dictionary, [marker_id])
    d = aruco_dictionary(dictionary)
    cells = d.markerSize + 2
    return np.asarray(cv2.aruco.generateImageMarker(d, marker_id, cells, borderBits=1), np.uint8)


# --- how big ---------------------------------------------------------------------------------


def focal_px(width_px: int, hfov_deg: float) -> float:
    """Pinhole focal length in pixels."""
    return (width_px / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)


def marker_px(side_m: float, distance_m: float, width_px: int, hfov_deg: float) -> float:
    """Side in pixels of a marker facing the camera on its axis."""
    return focal_px(width_px, hfov_deg) * side_m / distance_m


def required_side_m(
    distance_m: float, width_px: int, hfov_deg: float, min_px: float = MIN_MARKER_PX
) -> float:
    """The printed black square's side so that it is ``min_px`` wide at ``distance_m``."""
    if distance_m <= 0 or width_px <= 0 or not 0 < hfov_deg < 180:
        raise MarkerError("distance, width and field of view must be positive (fov < 180)")
    return min_px * distance_m / focal_px(width_px, hfov_deg)


def size_table(
    distances_m: Sequence[float] = (4, 6, 8, 10, 12),
    lenses: Sequence[tuple[str, int, float]] = (
        ("1280 px, 66 deg", 1280, 66.0),
        ("1920 px, 66 deg (Camera Module 3)", 1920, 66.0),
        ("1920 px, 102 deg (Camera Module 3 Wide)", 1920, 102.0),
    ),
) -> list[tuple[str, list[float]]]:
    """Required side in cm per lens (rows) and room depth (columns), rounded up to 0.5 cm."""
    return [
        (
            label,
            [math.ceil(required_side_m(d, width, fov) * 200) / 2 for d in distances_m],
        )
        for label, width, fov in lenses
    ]


# --- printable sheets ------------------------------------------------------------------------


@dataclass(frozen=True)
class SheetSpec:
    """What to print: markers of ``side_mm`` (the black square) with a white quiet zone."""

    dictionary: str = "DICT_4X4_50"
    ids: tuple[int, ...] = (7,)
    side_mm: float = 200.0
    quiet_mm: float = 0.0  # 0: one cell, the minimum the detector needs

    def __post_init__(self) -> None:
        check_ids(self.dictionary, self.ids)
        if not 20.0 <= self.side_mm <= 1000.0:
            raise MarkerError("the marker side must be between 20 and 1000 mm")
        if self.quiet_mm < 0:
            raise MarkerError("the quiet zone cannot be negative")

    @property
    def quiet_zone_mm(self) -> float:
        cells = aruco_dictionary(self.dictionary).markerSize + 2
        return self.quiet_mm or self.side_mm / cells

    def caption(self, marker_id: int) -> str:
        return (
            f"lessoncam marker {self.dictionary} id {marker_id}: black square "
            f"{self.side_mm:g} mm. Print at 100% (no fit-to-page); keep the white border."
        )


def page_mm(spec: SheetSpec) -> tuple[float, float]:
    """A4 portrait when the marker fits, else A3, else a page just big enough."""
    card = spec.side_mm + 2 * spec.quiet_zone_mm
    need_w, need_h = card + 2 * _MARGIN_MM, card + 2 * _MARGIN_MM + 15.0
    for page in (A4_MM, A3_MM):
        if need_w <= page[0] and need_h <= page[1]:
            return page
    return need_w, need_h


def _pdf_text(text: str) -> str:
    safe = text.encode("latin-1", "replace").decode("latin-1")
    return safe.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _pdf_page(spec: SheetSpec, marker_id: int) -> bytes:
    """The content stream of one page: a light cut line, the marker cells, a caption."""
    w_mm, h_mm = page_mm(spec)
    cells = marker_cells(spec.dictionary, marker_id)
    n = cells.shape[0]
    cell = spec.side_mm / n * PT_PER_MM
    quiet = spec.quiet_zone_mm * PT_PER_MM
    side = spec.side_mm * PT_PER_MM
    x0 = (w_mm * PT_PER_MM - side) / 2.0
    top = h_mm * PT_PER_MM - (_MARGIN_MM * PT_PER_MM + quiet)  # top edge of the black square
    ops = ["0.7 G 0.5 w", f"{x0 - quiet:.3f} {top - side - quiet:.3f} "]
    ops[-1] += f"{side + 2 * quiet:.3f} {side + 2 * quiet:.3f} re S"
    ops.append("0 g")
    for row in range(n):
        for col in range(n):
            if cells[row, col] < 128:
                y = top - (row + 1) * cell
                # A hair of overlap so no white seams show between neighbouring cells.
                ops.append(f"{x0 + col * cell:.3f} {y:.3f} {cell + 0.05:.3f} {cell + 0.05:.3f} re")
    ops.append("f")
    caption_y = top - side - quiet - 18.0
    text = _pdf_text(spec.caption(marker_id))
    ops.append(f"BT /F1 9 Tf {x0 - quiet:.3f} {caption_y:.3f} Td ({text}) Tj ET")
    return "\n".join(ops).encode("latin-1")


def pdf_sheet(spec: SheetSpec) -> bytes:
    """A PDF with one page per marker id, drawn as vector shapes at the exact physical size."""
    w_mm, h_mm = page_mm(spec)
    objects: list[bytes] = []
    page_ids = [3 + 2 * i for i in range(len(spec.ids))]
    font_id = 3 + 2 * len(spec.ids)
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{p} 0 R" for p in page_ids)
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(page_ids)} >>".encode())
    for page_id, marker_id in zip(page_ids, spec.ids, strict=True):
        content = zlib.compress(_pdf_page(spec, marker_id))
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {w_mm * PT_PER_MM:.3f} "
            f"{h_mm * PT_PER_MM:.3f}] /Resources << /Font << /F1 {font_id} 0 R >> >> "
            f"/Contents {page_id + 1} 0 R >>".encode()
        )
        objects.append(
            f"<< /Length {len(content)} /Filter /FlateDecode >>\nstream\n".encode()
            + content
            + b"\nendstream"
        )
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n".encode()
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def sheet_image(spec: SheetSpec, marker_id: int, dpi: int = 300) -> NDArray[np.uint8]:
    """One marker card (quiet zone, caption) as a grey image at ``dpi``."""
    px_per_mm = dpi / MM_PER_INCH
    cells = marker_cells(spec.dictionary, marker_id)
    n = cells.shape[0]
    cell_px = max(1, round(spec.side_mm / n * px_per_mm))
    marker = cv2.resize(cells, (n * cell_px, n * cell_px), interpolation=cv2.INTER_NEAREST)
    quiet = round(spec.quiet_zone_mm * px_per_mm)
    caption_h = round(12 * px_per_mm)
    card = cv2.copyMakeBorder(
        marker, quiet, quiet + caption_h, quiet, quiet, cv2.BORDER_CONSTANT, value=255
    )
    scale = px_per_mm * 0.12
    text = spec.caption(marker_id)
    (tw, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    if tw > card.shape[1]:
        scale *= card.shape[1] / tw * 0.98
    thickness = max(1, round(scale * 2))
    cv2.putText(
        card,
        text,
        (2, card.shape[0] - caption_h // 3),
        cv2.FONT_HERSHEY_SIMPLEX,
        scale,
        0,
        thickness,
        cv2.LINE_AA,
    )
    return np.asarray(card, np.uint8)


def png_with_dpi(image: NDArray[np.uint8], dpi: int) -> bytes:
    """PNG bytes with a pHYs chunk, so the picture prints at its physical size."""
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise MarkerError("could not encode the PNG")
    data = encoded.tobytes()
    ppm = round(dpi / 0.0254)
    payload = struct.pack(">IIB", ppm, ppm, 1)
    chunk = b"pHYs" + payload
    phys = struct.pack(">I", len(payload)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    ihdr_end = 8 + 8 + 13 + 4  # signature, IHDR length+type, IHDR data, CRC
    return data[:ihdr_end] + phys + data[ihdr_end:]


def write_sheets(spec: SheetSpec, out: Path, dpi: int = 300) -> list[Path]:
    """Write ``out`` as a PDF (all ids, one per page) or PNG (one file per id).

    The format follows the suffix: ``.pdf`` or ``.png``. With several ids and a PNG, files are
    named ``<stem>-<id>.png``.
    """
    suffix = out.suffix.lower()
    if suffix == ".pdf":
        out.write_bytes(pdf_sheet(spec))
        return [out]
    if suffix != ".png":
        raise MarkerError(f"{out.name}: write a .pdf or a .png")
    if not 72 <= dpi <= 1200:
        raise MarkerError("dpi must be between 72 and 1200")
    written = []
    for marker_id in spec.ids:
        path = out if len(spec.ids) == 1 else out.with_name(f"{out.stem}-{marker_id}.png")
        path.write_bytes(png_with_dpi(sheet_image(spec, marker_id, dpi), dpi))
        written.append(path)
    return written
