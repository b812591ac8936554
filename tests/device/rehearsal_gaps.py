"""What the arm64 rehearsal (``make pi-rehearsal``) lacks that a Raspberry Pi has.

The rehearsal runs the device tests on plain Debian arm64 with PyPI's aarch64 PyAV 12.3 where
a Pi has apt's. Two things are missing there and nowhere else that matters:

- the ``alsa`` input: PyPI's aarch64 PyAV 12.3 wheel is built without it (apt's PyAV on a Pi,
  built against Debian's FFmpeg, has it; PyPI's x86_64 wheels since 13 have it);
- the server's PyAV: a test that builds a lessoncam server in-process and waits for it to
  assemble a lesson runs that server on the unit's PyAV, and the server needs 14 or later
  (``add_stream_from_template`` in its remuxer). The server never runs on a unit.

Tests that need either skip with that reason, but only on aarch64: anywhere else (the x86 CI)
the same gap fails the test, so a broken test environment can never pass as skipped.
"""

from __future__ import annotations

import platform
from typing import NoReturn

import av
import pytest

#: The PyAV the server's remuxer needs (pyproject.toml's ``av>=14``).
SERVER_PYAV = 14
#: Marker for a test whose in-process server must assemble a lesson.
SERVER_ASSEMBLES = "server_assembles"


def skip_on_arm64_only(reason: str) -> NoReturn:
    """Skip with ``reason`` on aarch64 (the rehearsal); fail with it anywhere else."""
    if platform.machine() != "aarch64":
        pytest.fail(
            f"{reason} (only the arm64 rehearsal may skip this; this is a "
            f"{platform.machine()} machine: install the test environment's PyAV)"
        )
    pytest.skip(reason)


def pyav_major() -> int:
    return int(av.__version__.split(".")[0])


def need_alsa_input() -> None:
    """Skip (aarch64) or fail unless this PyAV can open ALSA capture devices."""
    if "alsa" not in av.formats_available:
        skip_on_arm64_only(
            f"PyAV {av.__version__} has no 'alsa' input (av.formats_available): PyPI's "
            "aarch64 wheel is built without it; apt's PyAV on a Pi has it"
        )


def need_server_pyav() -> None:
    """Skip (aarch64) or fail unless the in-process server can assemble on this PyAV."""
    if pyav_major() < SERVER_PYAV:
        skip_on_arm64_only(
            f"the in-process lessoncam server assembles with PyAV {SERVER_PYAV} or later; "
            f"this is the unit's PyAV {av.__version__} (the server never runs on a unit)"
        )
