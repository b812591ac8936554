"""``lessoncam-device``: the classroom unit's commands."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from . import __version__, devices, enrolment
from .clock import Clock, RealClock
from .config import CameraConfig, ConfigError, DeviceConfig, load_config
from .daemon import Daemon
from .hardware import sources_for
from .segments import RecordingPlan
from .selftest.person import TerminalPerson
from .selftest.runner import SelftestSettings, run_selftest
from .sim.calibration import simulated_rig
from .sim.sources import simulated_sources
from .sources import Sources
from .states import Event, State
from .tracking import commands as tracking_commands
from .tracking.detection_stream import tracking_problems

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


def _read_config(args: argparse.Namespace) -> DeviceConfig | None:
    """The config, or None after printing what is wrong with it."""
    try:
        return load_config(Path(args.config) if args.config else None)
    except ConfigError as exc:
        print(exc.report(), file=sys.stderr)
        return None


def _load(args: argparse.Namespace) -> DeviceConfig:
    config = _read_config(args)
    if config is None:
        raise SystemExit(2)
    if args.state_dir != str(DEFAULT_STATE_DIR):
        config = config.model_copy(
            update={"unit": config.unit.model_copy(update={"state_dir": Path(args.state_dir)})}
        )
    logging.basicConfig(
        level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return config


async def _run_daemon(daemon: Daemon, script: Callable[[Daemon], Awaitable[None]] | None) -> None:
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, daemon.stop)
    loop.add_signal_handler(signal.SIGINT, daemon.stop)
    # A unit without a button (simulated, or on a bench): signals stand in for presses.
    loop.add_signal_handler(signal.SIGUSR1, daemon.post, Event.SHORT_PRESS)
    loop.add_signal_handler(signal.SIGUSR2, daemon.post, Event.LONG_PRESS)
    runner = asyncio.create_task(daemon.run())
    if script is not None:
        await daemon.ready.wait()
        await script(daemon)
        daemon.stop()
    await runner


def unit_sources(config: DeviceConfig, plan: RecordingPlan, clock: Clock) -> Sources:
    """What the config asks to record from; simulated cameras come from the simulator.

    This module is where the simulator is wired in: nothing else outside ``sim/`` imports it.
    """
    return sources_for(config, plan, clock, simulated=simulated_sources)


def _uses_pins(config: DeviceConfig) -> bool:
    """The unit has GPIO for its button and light (a Pi), unless configured as simulated."""
    if config.unit.hardware == "simulated":
        return False
    return config.unit.hardware == "pi" or Path("/dev/gpiochip0").exists()


def cmd_run(args: argparse.Namespace) -> int:
    config = _load(args)
    creds = enrolment.load(config.unit.state_dir)
    daemon = Daemon(config, RealClock(), unit_sources, creds, use_pins=_uses_pins(config))
    asyncio.run(_run_daemon(daemon, None))
    return 0


def cmd_selftest(args: argparse.Namespace) -> int:
    """Check every fitted part of this unit; exit 1 if a check failed."""
    config = _load(args)
    creds = enrolment.load(config.unit.state_dir)
    person = None if args.yes or not sys.stdin.isatty() else TerminalPerson()
    settings = SelftestSettings(
        seconds=args.seconds, button_timeout_s=args.button_timeout, use_pins=_uses_pins(config)
    )
    report = asyncio.run(run_selftest(config, RealClock(), unit_sources, creds, person, settings))
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        for line in report.lines():
            print(line)
    return 0 if report.ok else 1


def cmd_simulate(args: argparse.Namespace) -> int:
    """Enrol (if needed), record one simulated lesson of --seconds, upload it, exit."""
    config = _load(args)
    if not args.config:
        # Small pictures so a laptop records two cameras in real time.
        small = CameraConfig(source="simulated", width=640, height=360, fps=15)
        config = config.model_copy(
            update={
                "cameras": {"main": small, "pupils": small},
            }
        )
    state_dir = config.unit.state_dir
    creds = enrolment.load(state_dir)
    if creds is None:
        if not (args.server and args.code):
            print("not enrolled: give --server and --code", file=sys.stderr)
            return 1
        try:
            creds = asyncio.run(enrolment.enrol(args.server, args.code))
        except enrolment.EnrolmentFailed as exc:
            print(f"enrolment failed: {exc}", file=sys.stderr)
            return 1
        enrolment.save(state_dir, creds)
    daemon = Daemon(config, RealClock(), simulated_sources, creds, use_pins=False)

    async def lesson(unit: Daemon) -> None:
        await simulated_lesson(unit, args.seconds)

    asyncio.run(_run_daemon(daemon, lesson))
    return 0


#: How long a press may take to start a lesson before the simulation stops waiting (a refused
#: press leaves the unit idle).
START_WAIT_S = 300.0


async def simulated_lesson(
    unit: Daemon, seconds: float, start_wait_s: float = START_WAIT_S
) -> None:
    """Press, record ``seconds`` of lesson, long-press, wait until it is uploaded.

    The seconds count from when the unit records, not from the press: a slow start (half a
    minute on an emulated arm64 unit, see docs/pi-rehearsal.md) must not eat the lesson.
    """
    print(f"simulated unit: recording a {seconds:g} s lesson", flush=True)
    loop = asyncio.get_running_loop()
    unit.post(Event.SHORT_PRESS)
    give_up = loop.time() + start_wait_s
    while unit.status.state in (State.IDLE, State.STARTING) and loop.time() < give_up:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    await asyncio.sleep(seconds)
    unit.post(Event.LONG_PRESS)
    while unit.status.state is not State.IDLE or unit.queue_length() > 0:  # noqa: ASYNC110
        await asyncio.sleep(0.5)
    print("simulated unit: lesson recorded and uploaded", flush=True)


def cmd_check_config(args: argparse.Namespace) -> int:
    config = _read_config(args)
    if config is None:
        return 2
    cams = ", ".join(
        f"{name} ({cam.source} {cam.width}x{cam.height}@{cam.fps})"
        for name, cam in config.cameras.items()
    )
    problems = tracking_problems(config)
    for problem in problems:
        print(f"config refused: {problem}", file=sys.stderr)
    if problems:
        return 2
    print(
        f"config OK; cameras: {cams}; audio: {config.audio.source}; "
        f"state in {config.unit.state_dir}"
    )
    return 0


def cmd_devices(_args: argparse.Namespace) -> int:
    for line in devices.report():
        print(line)
    return 0


def cmd_marker(args: argparse.Namespace) -> int:
    config = _read_config(args)
    return 2 if config is None else tracking_commands.cmd_marker(args, config)


def cmd_calibrate(args: argparse.Namespace) -> int:
    config = _read_config(args)
    if config is None:
        return 2
    return tracking_commands.cmd_calibrate(args, config, simulated_rig)


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
    run = sub.add_parser("run", help="run the unit (what the systemd service starts)")
    run.add_argument("--config", help="TOML file (default /etc/lessoncam/device.toml if present)")
    run.set_defaults(func=cmd_run)
    test = sub.add_parser(
        "selftest", help="check each fitted part of this unit (stop the service first)"
    )
    test.add_argument("--config", help="TOML file (default /etc/lessoncam/device.toml if present)")
    test.add_argument(
        "--seconds", type=float, default=20.0, help="length of the test recording (default 20)"
    )
    test.add_argument(
        "--button-timeout", type=float, default=15.0, help="seconds to wait for a press"
    )
    test.add_argument(
        "--yes", action="store_true", help="ask nothing: skip the checks that need a person"
    )
    test.add_argument("--json", action="store_true", help="print the report as JSON")
    test.set_defaults(func=cmd_selftest)
    sim = sub.add_parser("simulate", help="record and upload one lesson on simulated hardware")
    sim.add_argument("--config", help="TOML file (default: the built-in simulated unit)")
    sim.add_argument("--server", help="server URL, to enrol on first use")
    sim.add_argument("--code", help="enrolment code, to enrol on first use")
    sim.add_argument("--seconds", type=float, default=60.0, help="length of the lesson")
    sim.set_defaults(func=cmd_simulate)
    tracking_commands.add_commands(sub)
    sub.choices["marker"].set_defaults(func=cmd_marker)
    sub.choices["calibrate"].set_defaults(func=cmd_calibrate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
