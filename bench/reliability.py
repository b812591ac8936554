"""The reliability and security suite (issue 6) in one command: ``make reliability``.

Runs each part's tests in their long form (``LESSONCAM_RELIABILITY=long``: more faults, more
fuzz cases, more clients) as its own pytest process with a time limit, collects the figures the
tests measured (``tests/reliability.py``) and writes ``bench/results/reliability.json`` plus a
readable ``reliability.md`` beside it.

A figure no test measured is ``null`` and listed under ``not_measured``; a part without tests yet
is listed under ``parts_not_built``. Nothing is ever filled in by hand.

    python bench/reliability.py                 # everything, long
    python bench/reliability.py --short         # the make-test sizes (a quick check of the runner)
    python bench/reliability.py --part fuzzing  # one part (repeatable); other figures stay null
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "reliability.json"
SUMMARY = RESULTS.with_suffix(".md")


@dataclass(frozen=True)
class Part:
    name: str
    title: str
    tests: tuple[str, ...]  # pytest selections; empty: not built yet
    keys: tuple[str, ...]  # the figures this part measures
    timeout_s: int


PARTS = (
    Part(
        "upload_faults",
        "Uploads through a fault-injecting proxy",
        ("tests/device/test_upload_soak.py", "tests/device/test_upload_faults.py"),
        ("upload_faults_injected", "upload_bytes_mismatched"),
        900,
    ),
    Part(
        "power_cuts",
        "kill -9 of the unit daemon while recording",
        ("tests/device/test_power_cut.py",),
        ("power_cuts", "max_loss_s_per_cut"),
        900,
    ),
    Part(
        "server_crashes",
        "kill -9 of the server during uploads and assembly",
        ("tests/server/test_server_crash.py", "tests/server/test_crash_recovery.py"),
        ("server_crashes", "lessons_lost"),
        600,
    ),
    Part(
        "full_disks",
        "Full disks on the unit and the server (a small tmpfs)",
        ("tests/device/test_full_disk.py", "tests/server/test_full_disk.py"),
        ("disk_full_cases", "disk_full_lost_segments", "disk_full_max_loss_s"),
        600,
    ),
    Part(
        "permission_matrix",
        "Every endpoint x relationship x method",
        ("tests/server/test_permissions.py",),
        ("matrix_cells", "unauthorised_2xx"),
        600,
    ),
    Part(
        "web_security",
        "CSRF, sessions, throttling, headers",
        (
            "tests/server/test_accounts.py",
            "tests/server/test_policies.py",
            "tests/server/test_web_security.py",
        ),
        (
            "csrf_routes_checked",
            "csrf_unprotected",
            "pages_checked",
            "header_failures",
            "secrets_checked",
            "secrets_leaked",
        ),
        600,
    ),
    Part(
        "fuzzing",
        "schemathesis on the OpenAPI document; hypothesis on the parsers",
        ("tests/server/test_fuzz_api.py", "tests/test_fuzz_parsers.py"),
        ("fuzz_cases", "fuzz_5xx"),
        1500,
    ),
    Part(
        "load",
        "Viewers, units and commenters at once on loopback",
        ("tests/server/test_load.py",),
        ("load_errors", "load_api_p99_ms"),
        600,
    ),
)
FIGURES = (
    "upload_faults_injected",
    "upload_bytes_mismatched",
    "power_cuts",
    "max_loss_s_per_cut",
    "server_crashes",
    "lessons_lost",
    "disk_full_cases",
    "disk_full_lost_segments",
    "disk_full_max_loss_s",
    "matrix_cells",
    "unauthorised_2xx",
    "csrf_routes_checked",
    "csrf_unprotected",
    "pages_checked",
    "header_failures",
    "secrets_checked",
    "secrets_leaked",
    "fuzz_cases",
    "fuzz_5xx",
    "load_errors",
    "load_api_p99_ms",
)
# Targets (the issue's, and ours for the figures it does not name): each must be at most this.
TARGETS = {
    "upload_bytes_mismatched": 0,
    "max_loss_s_per_cut": 2,
    "lessons_lost": 0,
    "disk_full_lost_segments": 0,
    "disk_full_max_loss_s": 0.25,
    "unauthorised_2xx": 0,
    "csrf_unprotected": 0,
    "header_failures": 0,
    "secrets_leaked": 0,
    "fuzz_5xx": 0,
    "load_errors": 0,
    "load_api_p99_ms": 200,
}
# pytest's last line, with or without -q: "3 passed, 1 skipped in 12.3s".
_SUMMARY_LINE = re.compile(r"^=*\s*(\d+ (?:passed|failed|error|skipped|deselected).*?) in [0-9.]+s")


def run_part(part: Part, long: bool, figures_dir: Path) -> dict[str, Any]:
    """Run one part's tests in a child pytest (killed, with its children, at the time limit)."""
    existing = [t for t in part.tests if (ROOT / t.split("::")[0]).exists()]
    if not existing:
        return {"status": "not_built", "tests": list(part.tests)}
    env = {
        **os.environ,
        "LESSONCAM_RELIABILITY": "long" if long else "short",
        "LESSONCAM_RELIABILITY_DIR": str(figures_dir),
    }
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *existing]
    started = time.monotonic()
    with subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    ) as child:
        try:
            output, _ = child.communicate(timeout=part.timeout_s)
            status = "passed" if child.returncode == 0 else "failed"
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            output, _ = child.communicate()
            status = "timed_out"
    lines = output.splitlines()
    summary = next((m.group(1) for m in map(_SUMMARY_LINE.match, reversed(lines)) if m), "")
    report: dict[str, Any] = {
        "status": status,
        "tests": existing,
        "pytest": summary,
        "duration_s": round(time.monotonic() - started, 1),
    }
    if status != "passed":
        report["output_tail"] = lines[-40:]
    return report


def build_report(
    parts: dict[str, dict[str, Any]], figures: dict[str, float], long: bool
) -> dict[str, Any]:
    """The figures (null when not measured), targets, and how each part went."""
    values: dict[str, Any] = {key: figures.get(key) for key in FIGURES}
    met = {key: values[key] <= limit for key, limit in TARGETS.items() if values[key] is not None}
    return {
        **values,
        "targets": {key: f"<= {limit}" for key, limit in TARGETS.items()},
        "met": met,
        "all_passed": all(
            p["status"] == "passed"
            for p in parts.values()
            if p["status"] not in ("skipped", "not_built")
        ),
        "other_figures": {k: v for k, v in sorted(figures.items()) if k not in FIGURES},
        "not_measured": [key for key in FIGURES if values[key] is None],
        "parts_not_built": [name for name, p in parts.items() if p["status"] == "not_built"],
        "parts": parts,
        "size": "long" if long else "short",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def render_summary(report: dict[str, Any]) -> str:
    """A readable page for people: one line per figure and per part."""
    lines = [
        "# Reliability and security suite",
        "",
        f"Run `make reliability` to reproduce ({report['size']} run, {report['measured_at']}).",
        "",
        "| figure | value | target | met |",
        "| --- | --- | --- | --- |",
    ]
    for key in FIGURES:
        value = report[key]
        shown = "not run" if value is None else f"{value:g}"
        target = report["targets"].get(key, "")
        met = report["met"].get(key)
        lines.append(f"| `{key}` | {shown} | {target} | {'' if met is None else met} |")
    lines += ["", "| part | status | tests | time |", "| --- | --- | --- | --- |"]
    for part in PARTS:
        got = report["parts"].get(part.name)
        if got is None:
            continue
        status = {"not_built": "not built yet", "skipped": "not selected"}.get(
            got["status"], got["status"]
        )
        duration = f"{got['duration_s']} s" if "duration_s" in got else ""
        lines.append(f"| {part.title} | {status} | {got.get('pytest', '')} | {duration} |")
    if report["not_measured"]:
        lines += ["", "Not measured in this run: " + ", ".join(report["not_measured"]) + "."]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--short", action="store_true", help="the make-test sizes")
    parser.add_argument(
        "--part", action="append", choices=[p.name for p in PARTS], help="run only these"
    )
    args = parser.parse_args()
    long = not args.short
    chosen = set(args.part or [p.name for p in PARTS])
    parts: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="lessoncam-reliability-") as work:
        figures_dir = Path(work)
        for part in PARTS:
            if part.name not in chosen:
                parts[part.name] = {"status": "skipped"}
                continue
            print(f"reliability: {part.name} ...", flush=True)
            parts[part.name] = run_part(part, long, figures_dir)
            print(f"  {parts[part.name]['status']} {parts[part.name].get('pytest', '')}")
        path = figures_dir / "figures.json"
        figures = json.loads(path.read_text()) if path.exists() else {}
    report = build_report(parts, figures, long)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    SUMMARY.write_text(render_summary(report))
    print(render_summary(report))
    ran = [p for p in parts.values() if p["status"] not in ("skipped", "not_built")]
    return 0 if all(p["status"] == "passed" for p in ran) else 1


if __name__ == "__main__":
    raise SystemExit(main())
