"""``make pi-rehearsal``'s own parts that run without emulation: reading pytest's verdicts,
the chroot's environment, and mounts undone after a failure."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).parents[1] / "bench"


def _bench(name: str) -> ModuleType:
    sys.path.insert(0, str(BENCH))  # pi_rehearsal imports arm64_root as a sibling
    try:
        spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


def test_verdicts_are_counted_from_a_complete_or_a_cut_short_run() -> None:
    rehearsal = _bench("pi_rehearsal")
    log = """\
tests/device/test_a.py::test_one PASSED                                  [ 25%]
tests/device/test_a.py::test_two[x-1] FAILED                             [ 50%]
tests/device/test_b.py::test_three SKIPPED (needs a Pi)                  [ 75%]
tests/device/test_b.py::test_four PASSED                                 [100%]
tests/device/test_b.py::test_four ERROR                                  [100%]
=========================== short test summary info ============================
SKIPPED [1] tests/device/test_b.py:3: needs a Pi
FAILED tests/device/test_a.py::test_two[x-1] - TimeoutError: took too long
ERROR tests/device/test_b.py::test_four - OSError: teardown
"""
    found = rehearsal.outcomes(log)
    # test_four passed its call and errored in teardown: a failure, counted once.
    assert (found["passed"], found["failed"], found["skipped"]) == (2, 2, 1)
    assert found["skip_reasons"] == {"needs a Pi": 1}
    assert found["failures"] == [
        "FAILED tests/device/test_a.py::test_two[x-1] - TimeoutError: took too long",
        "ERROR tests/device/test_b.py::test_four - OSError: teardown",
    ]
    # The last line counts what -v lines lost (a test's output before its verdict).
    summed = rehearsal.outcomes(log + "=== 2 failed, 5 passed, 3 deselected, 1 error in 9.5s ===\n")
    assert (summed["passed"], summed["failed"], summed["skipped"]) == (5, 3, 0)
    cut = rehearsal.outcomes(log.split("tests/device/test_b.py::test_three")[0])
    assert (cut["passed"], cut["failed"]) == (1, 1)
    assert cut["failures"] == ["tests/device/test_a.py::test_two[x-1]"]


def test_the_chroot_gets_a_clean_environment_with_the_hosts_pip_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = _bench("arm64_root")
    monkeypatch.setenv("PIP_CERT", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("SECRET_TOKEN", "not for the root")
    cmd = root.chroot_cmd(Path("/r"), ["pip", "list"], env={"HOME": "/var/lib/x"}, user="999:999")
    assert cmd[:4] == ["chroot", "--userspec=999:999", "/r", "/usr/bin/env"]
    assert cmd[4] == "-i" and cmd[-2:] == ["pip", "list"]
    assert "PIP_CERT=/etc/ssl/certs/ca-certificates.crt" in cmd and "HOME=/var/lib/x" in cmd
    assert not any(word.startswith("SECRET_TOKEN") for word in cmd)


@pytest.mark.skipif(os.geteuid() != 0, reason="bind mounts need root")
def test_mounts_are_undone_when_a_step_fails(tmp_path: Path) -> None:
    root_mod = _bench("arm64_root")
    root, cache = tmp_path / "root", tmp_path / "debs"
    (root / "var").mkdir(parents=True)
    (cache / "a.deb").parent.mkdir()
    (cache / "a.deb").write_text("deb")
    log = tmp_path / "mounts.log"
    with (
        pytest.raises(RuntimeError, match="the installer failed"),
        root_mod.mounted(root, {"/var/cache/apt/archives": cache}, log, system=()),
    ):
        assert (root / "var/cache/apt/archives/a.deb").read_text() == "deb"
        assert root_mod.mounts_under(root) == [root / "var/cache/apt/archives"]
        raise RuntimeError("the installer failed")
    assert root_mod.mounts_under(root) == []
    assert "umount" in log.read_text()
    # A mount left by a killed run is undone before the root is replaced, never deleted through.
    target = root / "var/cache/apt/archives"
    subprocess.run(["mount", "--bind", str(cache), str(target)], check=True)
    base = tmp_path / "base"
    (base / "etc").mkdir(parents=True)
    root_mod.fresh_copy(base, root)
    assert (cache / "a.deb").exists() and (root / "etc").is_dir()
    assert root_mod.mounts_under(root) == []


def test_a_timed_out_step_takes_its_grandchildren_with_it(tmp_path: Path) -> None:
    # As apt-get leaves dpkg running: a child that started a child of its own.
    root_mod = _bench("arm64_root")
    log = tmp_path / "step.log"
    script = f"sleep 600 & echo $! > {tmp_path}/grandchild; wait"
    with pytest.raises(subprocess.TimeoutExpired):
        root_mod.run(["bash", "-c", script], log, timeout=2)
    status = Path(f"/proc/{int((tmp_path / 'grandchild').read_text())}/status")

    def dead() -> bool:  # gone, or dead and waiting for init to reap it
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            return "\nState:\tZ" in status.read_text()
        return True

    # SIGKILL was sent; a loaded machine may take a moment to run the exit.
    for _ in range(100):
        if dead():
            break
        time.sleep(0.1)
    assert dead()
    assert log.read_text().startswith("$ bash -c")


def test_the_test_tools_are_pinned_to_this_machines_versions_except_the_units() -> None:
    rehearsal = _bench("pi_rehearsal")
    pins = rehearsal.host_pins("NumPy==1.24.2\npytest_asyncio==0.1\n")
    names = {pin.split("==")[0].lower() for pin in pins}
    assert "numpy" not in names and "pytest-asyncio" not in names and "lessoncam" not in names
    assert f"pytest=={pytest.__version__}" in pins
