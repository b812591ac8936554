"""The ``make reliability`` runner's report: measured figures as measured, the rest null."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

RUNNER = Path(__file__).parents[1] / "bench" / "reliability.py"


def _runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("reliability_runner", RUNNER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_unmeasured_figures_are_null_and_listed_never_filled_in() -> None:
    runner = _runner()
    parts = {
        "fuzzing": {"status": "passed", "pytest": "3 passed", "duration_s": 1.0},
        "server_crashes": {"status": "not_built", "tests": []},
        "load": {"status": "skipped"},
    }
    report = runner.build_report(parts, {"fuzz_cases": 120, "fuzz_5xx": 0, "extra": 3}, False)
    assert report["fuzz_cases"] == 120 and report["fuzz_5xx"] == 0
    assert report["met"] == {"fuzz_5xx": True}
    assert report["load_errors"] is None and report["server_crashes"] is None
    assert set(report["not_measured"]) == set(runner.FIGURES) - {"fuzz_cases", "fuzz_5xx"}
    assert report["parts_not_built"] == ["server_crashes"]
    assert report["other_figures"] == {"extra": 3}
    assert report["all_passed"] is True
    summary = runner.render_summary(report)
    assert "| `load_errors` | not run | <= 0 |  |" in summary
    assert "| `fuzz_cases` | 120 |" in summary
    assert "not built yet" in summary


def test_a_figure_over_its_target_is_not_met_and_a_failed_part_shows() -> None:
    runner = _runner()
    parts = {"load": {"status": "failed", "pytest": "1 failed", "duration_s": 2.0}}
    report = runner.build_report(parts, {"load_errors": 2, "load_api_p99_ms": 250.5}, True)
    assert report["met"] == {"load_errors": False, "load_api_p99_ms": False}
    assert report["all_passed"] is False
    assert report["size"] == "long"


def test_the_web_security_part_reports_its_figures_with_zero_targets() -> None:
    runner = _runner()
    part = next(p for p in runner.PARTS if p.name == "web_security")
    assert "tests/server/test_web_security.py" in part.tests
    assert set(part.keys) <= set(runner.FIGURES)
    for key in ("csrf_unprotected", "header_failures", "secrets_leaked"):
        assert key in part.keys and runner.TARGETS[key] == 0
    upload = next(p for p in runner.PARTS if p.name == "upload_faults")
    assert "tests/device/test_upload_faults.py" in upload.tests
