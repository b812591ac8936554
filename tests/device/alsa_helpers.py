"""A microphone for tests, through real ALSA as a unit opens it.

No sound card here: alsa-lib's ``file`` plugin plays a synthetic beep into a capture PCM
(``lessoncam_test``) defined in a user configuration file, which the *system's* ALSA
configuration (``/usr/share/alsa/alsa.conf``, Debian's libasound2-data) loads from
``$XDG_CONFIG_HOME/alsa/asoundrc``. ``ALSA_CONFIG_PATH`` is unset, as under systemd: the unit
itself must point PyPI PyAV's bundled alsa-lib at the system configuration, or the PCM is
"unknown".

alsa-lib reloads its configuration only when the top-level file changes, not the files that
file loads, so every test shares one such file (one PCM, one beep) for the whole session.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from lessoncam_device.real.alsa_microphone import SYSTEM_ALSA_CONF

from .rehearsal_gaps import need_alsa_input

TEST_PCM = "lessoncam_test"
RATE = 48000
BEEP_LEVEL = 8000  # int16 peak of the beep


def beep(seconds: float = 2.0, silence_s: float = 0.1) -> np.ndarray:
    """``silence_s`` of silence, then a 1 kHz beep, as int16 samples at ``RATE``."""
    t = np.arange(round(seconds * RATE)) / RATE
    pcm = (np.sin(2 * np.pi * 1000 * t) * BEEP_LEVEL).astype("<i2")
    pcm[: round(silence_s * RATE)] = 0
    return pcm


@pytest.fixture(scope="session")
def alsa_user_config(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """The user configuration directory defining ``lessoncam_test``, and its samples."""
    if not SYSTEM_ALSA_CONF.exists():
        pytest.fail(f"{SYSTEM_ALSA_CONF} is missing: apt-get install libasound2-data")
    home = tmp_path_factory.mktemp("alsa-home")
    pcm = beep()
    raw = home / "beep.raw"
    pcm.tofile(raw)
    (home / "alsa").mkdir()
    (home / "alsa" / "asoundrc").write_text(
        f"pcm.{TEST_PCM} {{\n"
        '  type file\n  slave.pcm "null"\n  file "/dev/null"\n'
        f'  infile "{raw}"\n  format "raw"\n}}\n'
    )
    return home, pcm


@pytest.fixture
def system_alsa(
    alsa_user_config: tuple[Path, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> Iterator[np.ndarray]:
    """ALSA as on a unit (``ALSA_CONFIG_PATH`` unset) with ``lessoncam_test`` defined; yields
    the samples it plays. The environment is restored afterwards."""
    need_alsa_input()
    home, pcm = alsa_user_config
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.setenv("ALSA_CONFIG_PATH", "restored-afterwards")  # so it is put back
    monkeypatch.delenv("ALSA_CONFIG_PATH")
    yield pcm
