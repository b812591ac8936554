"""The arm64 rehearsal (``make pi-rehearsal``, as root): the unit installed on Debian arm64.

No Raspberry Pi is reachable from here, but Raspberry Pi OS is Debian bookworm on arm64. This
builds (once, cached) a bookworm arm64 root with debootstrap, enters it through qemu-user, and
there:

1. runs the real ``systemd/install-device.sh --yes --without-rpi-archive`` (picamera2, numpy
   and PyAV from PyPI instead of the Raspberry Pi archive; no systemd in a chroot);
2. checks what it installed: the unit file and its ``multi-user.target.wants`` link,
   device.toml passing ``check-config``, the unit's aarch64 wheels importing (``cv2.aruco``,
   ``av``, picamera2 with the tests' stubs);
3. runs the device test suite (``tests/device``, nothing needing hardware) from a test
   environment that sees the unit's own packages (as ``tests/hardware/run-on-unit.sh`` does);
4. records one simulated lesson as the unit's user and uploads it to a lessoncam server
   running on the host (a chroot shares the host's network, so 127.0.0.1 reaches it).

It writes ``bench/results/pi_rehearsal.json``; logs go to the cache directory
(``LESSONCAM_REHEARSAL_CACHE``, default /var/cache/lessoncam/pi-rehearsal). Emulation is slow:
expect most of an hour, less on re-runs (root, debs and wheels are cached).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from arm64_root import (
    CHECKOUT,
    RehearsalError,
    base_root,
    chroot_cmd,
    copy_checkout,
    copy_host_settings,
    fresh_copy,
    mounted,
    need_binfmt,
    need_host_packages,
    run,
)
from loopback import start_server, stop_processes

REPO = Path(__file__).resolve().parents[1]
RESULT = REPO / "bench" / "results" / "pi_rehearsal.json"
DEFAULT_CACHE = Path("/var/cache/lessoncam/pi-rehearsal")
UNIT_VENV = "/opt/lessoncam/venv"
TEST_VENV = "/var/tmp/lessoncam-rehearsal-tests"
STATE_DIR = "/var/lib/lessoncam-device"
LESSON_CONFIG = "/etc/lessoncam/rehearsal.toml"
# What the device tests need beside the unit's packages: the server's libraries (the root
# conftest builds a server) and the test tools. The linters, the browser and the server
# tests' own tools are not needed (scikit-learn's resolution against the unit's numpy 1.24
# alone ran for most of an hour under emulation), nor aiobotocore (the server imports it only
# for a bucket; its botocore needs python-dateutil < 3, the unit has 4 for sqlite-utils).
NOT_FOR_DEVICE_TESTS = re.compile(
    r"(numpy|av|opencv-python-headless|ruff|mypy|playwright|schemathesis|types-\S+"
    r"|scikit-learn|pympi-ling|moto|aiobotocore)\b"
)
# A short lesson on one small simulated camera: emulated x86-to-arm64 encodes slowly.
LESSON = """\
[unit]
hardware = "simulated"
state_dir = "/var/lib/lessoncam-device"

[cameras.main]
source = "simulated"
width = 640
height = 360
fps = 10

[audio]
source = "simulated"

[motor]
kind = "simulated"

[uploads]
heartbeat_s = 5
"""
# Checked inside the root with the unit's own Python: the wheels this machine's arch needs.
IMPORTS = """\
import platform, cv2, av, numpy
cv2.aruco.ArucoDetector(cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_50))
import lessoncam_device.daemon
print(platform.machine(), numpy.__version__, av.__version__, cv2.__version__)
"""


@dataclass
class Rehearsal:
    """What one run found, step by step; written out as the results JSON."""

    cache: Path
    minutes: dict[str, float] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        print(f"== {name}", flush=True)
        started = time.monotonic()
        try:
            yield
        finally:
            self.minutes[name] = round((time.monotonic() - started) / 60, 2)
            print(f"   {name}: {self.minutes[name]:.1f} min", flush=True)

    def log(self, name: str) -> Path:
        path = self.cache / "logs" / f"{name}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def result(self) -> dict[str, Any]:
        return {
            "arch": self.facts.get("arch", ""),
            "install_ok": int(self.facts.get("install_ok", 0)),
            "device_tests_passed": self.facts.get("device_tests_passed", 0),
            "device_tests_failed": self.facts.get("device_tests_failed", 0),
            "lesson_uploaded": int(self.facts.get("lesson_uploaded", 0)),
            "minutes": self.minutes,
            **{k: v for k, v in self.facts.items() if k not in _HEADLINE},
            "host": f"{platform.machine()}, {os.cpu_count()} cores, emulated with qemu-user",
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }


_HEADLINE = {"arch", "install_ok", "device_tests_passed", "device_tests_failed", "lesson_uploaded"}


def inside(root: Path, cmd: list[str], log: Path, timeout_min: float, **kw: Any) -> int:
    """Run ``cmd`` in the root, its output into ``log``; the exit status (124: timed out)."""
    try:
        return run(chroot_cmd(root, cmd, **kw), log, timeout=timeout_min * 60)
    except subprocess.TimeoutExpired:
        with log.open("a") as out:
            out.write(f"\n(timed out after {timeout_min:g} min)\n")
        return 124


def output_of(root: Path, cmd: list[str], **kw: Any) -> str:
    done = subprocess.run(
        chroot_cmd(root, cmd, **kw), capture_output=True, text=True, check=False, timeout=1200
    )
    return done.stdout.strip() if done.returncode == 0 else ""


def install(r: Rehearsal, root: Path) -> None:
    """The real installer, then a check of what it left."""
    log = r.log("install")
    script = f"{CHECKOUT}/systemd/install-device.sh"
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    status = inside(root, [script, "--yes", "--without-rpi-archive"], log, 90, env=env)
    problems = [] if status == 0 else [f"install-device.sh exited with {status} (see {log})"]
    unit = root / "etc/systemd/system/lessoncam-device.service"
    link = root / "etc/systemd/system/multi-user.target.wants/lessoncam-device.service"
    if (
        not unit.is_file()
        or unit.read_bytes() != (REPO / "systemd/lessoncam-device.service").read_bytes()
    ):
        problems.append("the unit file is missing or not the checkout's")
    if not link.is_symlink() or os.readlink(link) != "/etc/systemd/system/lessoncam-device.service":
        problems.append("the service is not enabled (no multi-user.target.wants link)")
    python = f"{UNIT_VENV}/bin/python"
    found = output_of(root, [python, "-c", IMPORTS]).split()
    if len(found) == 4:
        r.facts["arch"] = found[0]
        r.facts["unit_versions"] = dict(zip(("numpy", "av", "opencv"), found[1:], strict=True))
    else:
        problems.append("the unit's wheels do not import (numpy, av, cv2.aruco, lessoncam)")
        r.facts["arch"] = output_of(
            root, ["python3", "-c", "import platform; print(platform.machine())"]
        )
    checked = output_of(
        root,
        [
            f"{UNIT_VENV}/bin/lessoncam-device",
            "check-config",
            "--config",
            "/etc/lessoncam/device.toml",
        ],
    )
    if not checked.startswith("config OK"):
        problems.append("check-config refuses the device.toml the installer wrote")
    r.facts["check_config"] = checked
    version = output_of(
        root, [python, "-c", "from importlib.metadata import version; print(version('picamera2'))"]
    )
    r.facts["picamera2_from_pypi"] = version
    r.facts["install_problems"] = problems
    r.facts["install_ok"] = not problems
    for problem in problems:
        print(f"   install: {problem}", flush=True)


def test_env(r: Rehearsal, root: Path) -> bool:
    """A venv with pytest and the server's libraries that sees the unit's packages, pinned to
    the unit's own versions so nothing of the unit is shadowed."""
    log = r.log("test-env")
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    wanted = [x for x in extras["server"] + extras["dev"] if not NOT_FOR_DEVICE_TESTS.match(x)]
    tmp = root / "var/tmp"
    (tmp / "rehearsal-test-requirements.txt").write_text("\n".join(wanted) + "\n")
    pins = output_of(root, [f"{UNIT_VENV}/bin/pip", "freeze", "--exclude", "lessoncam"])
    (tmp / "rehearsal-unit-pins.txt").write_text(pins + "\n")
    (tmp / "rehearsal-host-pins.txt").write_text("\n".join(host_pins(pins)) + "\n")
    site = output_of(
        root,
        [
            f"{UNIT_VENV}/bin/python",
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
    )
    script = f"""set -e
python3 -m venv {TEST_VENV}
test_site=$({TEST_VENV}/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "import site; site.addsitedir('{site}')" > "$test_site/lessoncam-unit.pth"
{TEST_VENV}/bin/pip install --quiet -r /var/tmp/rehearsal-test-requirements.txt \\
  -c /var/tmp/rehearsal-unit-pins.txt -c /var/tmp/rehearsal-host-pins.txt
"""
    if inside(root, ["bash", "-c", script], log, 60) != 0:
        return False
    # The installer's tests run the venv's lessoncam-device: the unit's, through the .pth.
    wrapper = root / TEST_VENV.lstrip("/") / "bin/lessoncam-device"
    main = "import sys; from lessoncam_device.cli import main; sys.exit(main())"
    wrapper.write_text(f'#!/bin/sh\nexec {TEST_VENV}/bin/python -c "{main}" "$@"\n')
    wrapper.chmod(0o755)
    return True


def _project(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def host_pins(unit_pins: str) -> list[str]:
    """This machine's versions of what the unit's ``pip freeze`` does not pin, as constraints:
    pip then resolves the test tools at once (left free, it backtracked through botocore's
    versions for aiobotocore for over ten minutes under emulation)."""
    unit = {_project(line.split("==")[0]) for line in unit_pins.splitlines() if "==" in line}
    found = {
        f"{dist.metadata['Name']}=={dist.version}"
        for dist in importlib.metadata.distributions()
        if _project(dist.metadata["Name"]) not in unit | {"lessoncam"}
    }
    return sorted(found)


_OUTCOME = re.compile(r"^(tests/\S+::\S+) (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b", re.M)


def outcomes(text: str) -> dict[str, Any]:
    """Counts from ``pytest -v -ra`` output (complete or cut short), and each failure: its line
    in the summary (with the reason), or only its id when the run was cut short."""
    verdicts = _OUTCOME.findall(text)
    found = [outcome for _, outcome in verdicts]
    # A test can fail and then error in its teardown: two lines, one test.
    failed = list(dict.fromkeys(t for t, o in verdicts if o in ("FAILED", "ERROR")))
    summary = [line for line in text.splitlines() if re.match(r"^(FAILED|ERROR) tests/", line)]
    # -ra's summary: "SKIPPED [n] file:line: reason", one line per place and reason.
    reasons: dict[str, int] = {}
    for n, reason in re.findall(r"^SKIPPED \[(\d+)\] \S+?:\d+: (.*)$", text, re.M):
        reasons[reason] = reasons.get(reason, 0) + int(n)
    counts = {
        "passed": found.count("PASSED"),
        "failed": len(failed),
        "skipped": found.count("SKIPPED"),
        "failures": [line[:400] for line in summary] or failed,
        "skip_reasons": reasons,
    }
    # pytest's last line counts every test; a test's own output can hide its -v verdict.
    final = re.search(r"^=+ (\d+ \w+(?:, \d+ \w+)*) in [\d.]+s", text, re.M)
    if final:
        said = {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", final.group(1))}
        counts["passed"] = said.get("passed", 0)
        counts["failed"] = said.get("failed", 0) + said.get("error", 0) + said.get("errors", 0)
        counts["skipped"] = said.get("skipped", 0)
        counts["finished"] = True
    return counts


def device_tests(r: Rehearsal, root: Path, timeout_min: float, marker: str) -> None:
    log = r.log("device-tests")
    log.unlink(missing_ok=True)
    r.facts["device_tests_selected"] = f"tests/device -m '{marker}'"
    pytest = f"{TEST_VENV}/bin/python -m pytest -p no:cacheprovider -v"
    cmd = f"cd {CHECKOUT} && {pytest} tests/device -m '{marker}'"
    try:
        status = inside(root, ["bash", "-c", cmd], log, timeout_min)
    finally:  # also when interrupted: the verdicts so far are kept
        found = outcomes(log.read_text(errors="replace"))
        r.facts["device_tests_passed"] = found["passed"]
        r.facts["device_tests_failed"] = found["failed"]
        r.facts["device_tests_skipped"] = found["skipped"]
        r.facts["device_tests_skip_reasons"] = found["skip_reasons"]
        r.facts["device_test_failures"] = found["failures"]
        r.facts["device_tests_finished"] = found.get("finished", False)
    r.facts["device_tests_exit_status"] = status
    if status == 124:
        r.facts["device_tests_timed_out"] = True
    print(f"   device tests: {found['passed']} passed, {found['failed']} failed", flush=True)


def server_cli(data: Path, *args: str, stdin: str = "") -> str:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "lessoncam-server"), *args, "--data-dir", str(data)],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        raise RehearsalError(f"lessoncam-server {args[0]}: {done.stderr.strip()}")
    return done.stdout


def lesson(r: Rehearsal, root: Path, seconds: float) -> None:
    """One simulated lesson, recorded in the root by the unit's user, on a host server."""
    log = r.log("lesson")
    log.unlink(missing_ok=True)
    data = Path(tempfile.mkdtemp(prefix="rehearsal-server-", dir=r.cache))
    password = secrets.token_urlsafe(12)
    server_cli(data, "user", "add", "admin", "--role", "admin", "--password-stdin", stdin=password)
    server_cli(
        data, "user", "add", "teacher", "--role", "teacher", "--password-stdin", stdin=password
    )
    said = server_cli(
        data, "enrolment-code", "--unit-name", "arm64 rehearsal", "--teacher", "teacher"
    )
    code = re.search(r": (\S+) \(valid until", said)
    if code is None:
        raise RehearsalError(f"no enrolment code in: {said}")
    with log.open("a") as out:
        try:
            server, url = start_server(data, out)
        except RuntimeError as exc:
            raise RehearsalError(f"the host's lessoncam server did not start: {exc}") from exc
    try:
        (root / LESSON_CONFIG.lstrip("/")).write_text(LESSON)
        # A unit new to this server: a reused root's credentials and queue name an older one.
        for left in (root / STATE_DIR.lstrip("/")).iterdir():
            if left.is_dir() and not left.is_symlink():
                shutil.rmtree(left)
            else:
                left.unlink()
        cmd = [
            f"{UNIT_VENV}/bin/lessoncam-device",
            "--state-dir",
            STATE_DIR,
            "simulate",
            "--config",
            LESSON_CONFIG,
            "--server",
            url,
            "--code",
            code.group(1),
            "--seconds",
            f"{seconds:g}",
        ]
        status = inside(root, cmd, log, 30, user=unit_user(root), env={"HOME": STATE_DIR})
        r.facts["lesson_exit_status"] = status
        r.facts["lesson"] = ready_lesson(data, minutes=10)
        r.facts["lesson_uploaded"] = status == 0 and r.facts["lesson"].get("state") == "ready"
    finally:
        stop_processes([server])
        shutil.rmtree(data, ignore_errors=True)


def unit_user(root: Path) -> str:
    """The installer's ``lessoncam`` user as uid:gid (chroot may look names up on the host)."""
    for line in (root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == "lessoncam":
            return f"{fields[2]}:{fields[3]}"
    raise RehearsalError("the installer made no lessoncam user")


def ready_lesson(data: Path, minutes: float) -> dict[str, Any]:
    """The unit's recording as the server has it, once assembled (or as it is at the deadline)."""
    from lessoncam_server.infra.db import open_database
    from lessoncam_server.infra.paths import DataPaths

    db = open_database(DataPaths(data).database)
    deadline = time.monotonic() + minutes * 60
    row: dict[str, Any] = {}
    while time.monotonic() < deadline:
        rows = list(db.query("SELECT id, state, state_reason, duration_s FROM recordings"))
        row = rows[0] if rows else {}
        if row.get("state") in ("ready", "failed"):
            break
        time.sleep(2)
    db.close()
    return row


def recount(output: Path, log: Path) -> int:
    """The device-test figures in ``output`` counted again from ``log`` (an older count)."""
    result = json.loads(output.read_text())
    found = outcomes(log.read_text(errors="replace"))
    result["device_tests_passed"] = found["passed"]
    result["device_tests_failed"] = found["failed"]
    result["device_tests_skipped"] = found["skipped"]
    result["device_tests_skip_reasons"] = found["skip_reasons"]
    result["device_test_failures"] = found["failures"]
    result["device_tests_finished"] = found.get("finished", False)
    result["device_tests_recounted_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"recounted {output}: {found['passed']} passed, {found['failed']} failed")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(os.environ.get("LESSONCAM_REHEARSAL_CACHE", DEFAULT_CACHE)),
    )
    parser.add_argument(
        "--tests", default="not hardware", help="pytest -m expression for tests/device"
    )
    parser.add_argument("--tests-timeout-min", type=float, default=150.0)
    parser.add_argument("--lesson-seconds", type=float, default=20.0)
    parser.add_argument(
        "--reuse-root",
        action="store_true",
        help="keep the last run's installed root: the installer then updates it (faster)",
    )
    parser.add_argument("--output", type=Path, default=RESULT)
    parser.add_argument(
        "--recount",
        action="store_true",
        help="only count the last run's device-test log again into --output (no root needed)",
    )
    args = parser.parse_args(argv)
    if args.recount:
        return recount(args.output, args.cache / "logs" / "device-tests.log")
    if os.geteuid() != 0:
        print(
            "make pi-rehearsal runs as root (debootstrap, chroot, mounts): sudo make pi-rehearsal",
            file=sys.stderr,
        )
        return 2

    # A terminated run unwinds like Ctrl-C, so its mounts are undone.
    def stop(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    r = Rehearsal(args.cache)
    args.cache.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(args.cache / "logs", ignore_errors=True)  # each run's logs are its own
    root = args.cache / "work"
    try:
        with r.step("host_tools"):
            r.facts["host_packages_installed"] = need_host_packages(r.log("host"))
            need_binfmt(r.log("host"))
        with r.step("arm64_root"):
            base, built = base_root(args.cache, r.log("debootstrap"))
            r.facts["root_built"] = built
            installed = (root / UNIT_VENV.lstrip("/") / "bin/python").exists()
            # Reused: the installer runs a second time there, as an update from this checkout.
            r.facts["root_reused"] = args.reuse_root and installed
            if not r.facts["root_reused"]:
                fresh_copy(base, root)
            copy_host_settings(root)
            copy_checkout(REPO, root)
        caches = {
            "/root/.cache/pip": args.cache / "pip",
            "/var/cache/apt/archives": args.cache / "debs",
        }
        with mounted(root, caches, r.log("mounts")):
            with r.step("install"):
                install(r, root)
            if r.facts["install_ok"] or (root / UNIT_VENV.lstrip("/") / "bin/python").exists():
                # The lesson first: the end-to-end answer, before the long test run.
                with r.step("lesson"):
                    lesson(r, root, args.lesson_seconds)
                with r.step("test_env"):
                    ready = test_env(r, root)
                if ready:
                    with r.step("device_tests"):
                        device_tests(r, root, args.tests_timeout_min, args.tests)
                else:
                    log = r.log("test-env")
                    r.facts["device_tests_error"] = f"the test environment failed: see {log}"
    except RehearsalError as exc:
        r.facts["error"] = str(exc)
        print(f"error: {exc}", file=sys.stderr)
    except KeyboardInterrupt as exc:
        r.facts["error"] = f"interrupted ({exc})"
        print("interrupted: mounts undone", file=sys.stderr)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(r.result(), indent=2) + "\n")
    print(f"wrote {args.output}")
    ok = r.facts.get("install_ok") and r.facts.get("lesson_uploaded") and not r.facts.get("error")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
