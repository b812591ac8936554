"""The ``marker`` and ``calibrate`` commands (wired into ``lessoncam-device`` by ``cli.py``)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ..config import DeviceConfig
from ..motors.base import MotorError
from ..motors.factory import open_motor
from .calibrate import CalibrationRig, Calibrator
from .detector import DetectorSettings, MarkerDetector
from .marker import MIN_MARKER_PX, MarkerError, SheetSpec, marker_px, required_side_m, write_sheets


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``marker`` and ``calibrate`` to the CLI's subcommands."""
    marker = sub.add_parser("marker", help="write a printable marker sheet (PDF or PNG)")
    marker.add_argument(
        "--config", help="TOML file (default /etc/lessoncam/device.toml if present)"
    )
    marker.add_argument("--out", required=True, help="marker.pdf (one page per id) or marker.png")
    marker.add_argument("--dictionary", help="ArUco dictionary (default: [tracking] dictionary)")
    marker.add_argument("--id", type=int, action="append", dest="ids", help="marker id (repeat)")
    marker.add_argument("--size-mm", type=float, help="black square side (default: config)")
    marker.add_argument("--dpi", type=int, default=300, help="PNG resolution (default 300)")
    marker.add_argument(
        "--room-depth", type=float, help="farthest distance (m) to check the size against"
    )
    marker.set_defaults(func=cmd_marker)
    cal = sub.add_parser(
        "calibrate", help="find the pan limits and centre; report the marker's size in pixels"
    )
    cal.add_argument("--config", help="TOML file (default /etc/lessoncam/device.toml if present)")
    cal.add_argument("--step-deg", type=float, default=2.0, help="sweep step (default 2)")
    cal.add_argument(
        "--distance", type=float, default=7.5, help="simulated: marker distance in m (default 7.5)"
    )
    cal.add_argument(
        "--bearing", type=float, default=0.0, help="simulated: marker bearing in deg (default 0)"
    )
    cal.add_argument(
        "--end-stops",
        type=float,
        nargs=2,
        metavar=("LEFT", "RIGHT"),
        default=(-85.0, 85.0),
        help="simulated: where the mechanics stop the pan (default -85 85)",
    )
    cal.set_defaults(func=cmd_calibrate)


def cmd_marker(args: argparse.Namespace, config: DeviceConfig) -> int:
    tracking = config.tracking
    size_mm = args.size_mm if args.size_mm is not None else tracking.marker_size_m * 1000
    try:
        spec = SheetSpec(
            dictionary=args.dictionary or tracking.dictionary,
            ids=tuple(args.ids or tracking.marker_ids),
            side_mm=size_mm,
        )
        written = write_sheets(spec, Path(args.out), args.dpi)
    except (MarkerError, OSError) as exc:
        print(f"marker: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    width = config.cameras["main"].width
    hfov = tracking.hfov_deg
    if args.room_depth:
        px = marker_px(size_mm / 1000, args.room_depth, width, hfov)
        need = required_side_m(args.room_depth, width, hfov) * 1000
        verdict = "enough" if px >= MIN_MARKER_PX else f"too small: print at least {need:.0f} mm"
        print(
            f"at {args.room_depth:g} m a {size_mm:g} mm marker is {px:.0f} px wide in a "
            f"{width} px, {hfov:g} deg picture ({verdict}; {MIN_MARKER_PX:g} px needed)"
        )
    print("print at 100% (no 'fit to page'), and measure the black square before use")
    return 0


RigFactory = Callable[[argparse.Namespace, DeviceConfig], CalibrationRig]
"""Builds what ``calibrate`` works on from its arguments and the config (raises MotorError)."""


def cmd_calibrate(args: argparse.Namespace, config: DeviceConfig, rig: RigFactory) -> int:
    """Calibrate on the ``rig`` the CLI hands in (the simulated unit's, today)."""
    tracking = config.tracking
    main = config.cameras["main"]
    detector = MarkerDetector(
        DetectorSettings(
            dictionary=tracking.dictionary,
            ids=tuple(tracking.marker_ids),
            reacquire_hz=1000.0,  # every picture may be searched whole here
        )
    )
    if main.source != "simulated" or config.motor.kind != "simulated":
        # A real camera's tracking frames come from its recording adapter; see docs/tracking.md.
        print(
            "calibrate: this version calibrates the simulated unit only; the camera adapter "
            f"for source = {main.source!r} does not give the tracker frames yet",
            file=sys.stderr,
        )
        return 1
    try:
        unit = rig(args, config)
    except MotorError as exc:
        print(f"calibrate: {exc}", file=sys.stderr)
        return 1
    print(unit.description)
    started = time.monotonic()
    report = Calibrator(unit.motor, unit.frames, detector, unit.wait, step_deg=args.step_deg).run()
    for line in report.lines():
        print(line)
    print(f"(took {time.monotonic() - started:.1f} s)")
    unit.motor.close()
    return 0 if report.marker_px is not None else 1


__all__ = ["add_commands", "cmd_calibrate", "cmd_marker", "open_motor"]
