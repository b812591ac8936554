"""The version is written once, in the package metadata, and every report of it reads it."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import version

import pytest

import lessoncam_device
import lessoncam_server
from lessoncam_device import cli as device_cli
from lessoncam_server import cli as server_cli


def test_both_packages_report_the_metadata_version() -> None:
    installed = version("lessoncam")
    assert lessoncam_server.__version__ == installed
    assert lessoncam_device.__version__ == installed  # the heartbeat and manifests send this


@pytest.mark.parametrize("main", [server_cli.main, device_cli.main])
def test_version_option_prints_the_metadata_version(
    main: Callable[[list[str]], int], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == version("lessoncam")
