"""``lessoncam-device``: the classroom unit's commands."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__, devices, enrolment
from .config import ConfigError, load_config

DEFAULT_STATE_DIR = Path("/var/lib/lessoncam-device")


def cmd_enroll(args: argparse.Namespace) -> int:
    try:
        creds = asyncio.run(enrolment.enrol(args.server, args.code, args.ca_file))
    except enrolment.EnrolmentFailed as exc:
        print(f"enrolment failed: {exc}", file=sys.stderr)
        return 1
    path = enrolment.save(Path(args.state_dir), creds)
    print(f"enrolled as unit {creds.unit_id} with {creds.server_url}; token stored in {path}")
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    try:
        config = load_config(Path(args.config) if args.config else None)
    except ConfigError as exc:
        print(f"configuration error in {exc.source}:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    cams = ", ".join(
        f"{name} ({cam.source} {cam.width}x{cam.height}@{cam.fps})"
        for name, cam in config.cameras.items()
    )
    print(
        f"config OK; cameras: {cams}; audio: {config.audio.source}; "
        f"state in {config.unit.state_dir}"
    )
    return 0


def cmd_devices(_args: argparse.Namespace) -> int:
    for line in devices.report():
        print(line)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lessoncam-device", description=__doc__)
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument(
        "--state-dir",
        default=str(DEFAULT_STATE_DIR),
        help=f"where the unit keeps its token and queue (default {DEFAULT_STATE_DIR})",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    enroll = sub.add_parser("enroll", help="enrol this unit with a code from the server's admin")
    enroll.add_argument("--server", required=True, help="e.g. https://lessoncam.school.example")
    enroll.add_argument("--code", required=True, help="the single-use code, e.g. ABCD-EFGH-JKLM")
    enroll.add_argument("--ca-file", help="the school's private CA certificate (PEM), if any")
    enroll.set_defaults(func=cmd_enroll)
    check = sub.add_parser("check-config", help="validate the configuration and exit")
    check.add_argument("--config", help="TOML file (default /etc/lessoncam/device.toml if present)")
    check.set_defaults(func=cmd_check_config)
    found = sub.add_parser("devices", help="list the cameras, microphones and GPIO chips found")
    found.set_defaults(func=cmd_devices)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
