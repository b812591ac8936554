"""Device-test rules that need no fixture of their own: the rehearsal's known gaps
(``rehearsal_gaps``), no thread left running (``thread_guard``) and never the machine's own
``/etc/lessoncam/device.toml``."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator

import pytest

from lessoncam_device import config

from .rehearsal_gaps import SERVER_ASSEMBLES, need_server_pyav
from .thread_guard import GRACE_S, described, lingering

# What runs when the device tests are collected (this conftest loads after session start).
_AT_START = set(threading.enumerate())


@pytest.fixture(autouse=True)
def _server_pyav(request: pytest.FixtureRequest) -> None:
    """A test marked ``server_assembles`` needs the server's PyAV (see ``rehearsal_gaps``)."""
    if request.node.get_closest_marker(SERVER_ASSEMBLES) is not None:
        need_server_pyav()


@pytest.fixture(autouse=True)
def _not_this_machines_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A command run without ``--config`` gets the defaults, as on a machine with no unit
    installed: on an installed unit (a Pi, the arm64 rehearsal's root) the installer's
    ``/etc/lessoncam/device.toml`` describes real cameras and no motor, and a test of the
    simulated unit that read it failed there."""
    monkeypatch.setattr(config, "DEFAULT_PATH", tmp_path_factory.getbasetemp() / "none.toml")


@pytest.fixture(autouse=True)
def _no_thread_left_running() -> Iterator[None]:
    """Fails a test that leaves a non-daemon thread running (it would hang pytest's exit)."""
    before = set(threading.enumerate())
    yield
    left = lingering(before, GRACE_S)
    if left:
        pytest.fail(
            f"left non-daemon threads running: {described(left)} (stop what the test started, "
            "also when it fails: Python would wait for them at exit)"
        )


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """A leak has failed its test already; waiting for it at exit would only hang the run."""
    left = lingering(_AT_START, 0.0)
    if left:
        print(
            f"\nnon-daemon threads still running: {described(left)}; exiting without them",
            file=sys.stderr,
            flush=True,
        )
        sys.stdout.flush()
        os._exit(1)
