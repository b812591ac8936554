"""``systemd/install-device.sh`` run for real on a fake Pi (see fake_pi.py): what it detects,
what it writes into device.toml, that a second run changes nothing, ``--dry-run`` and
``--uninstall``."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path
from typing import Any

import pytest

from lessoncam_device.config import parse_config

from .fake_pi import IMX477, IMX708, PI5_MODEL, USB_MIC, FakePi

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="the installer chowns files in its fake root: run as root"
)

CONF = "etc/lessoncam/device.toml"
CHANGES = ("apt-get", "useradd", "usermod", "groupadd", "userdel", "python3", "pip", "systemctl")


def installed(pi: FakePi, *args: str, answers: str = "") -> str:
    done = pi.install(*args, answers=answers)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def config_of(pi: FakePi) -> dict[str, Any]:
    text = (pi.root / CONF).read_text()
    data = tomllib.loads(text)
    parse_config(data)  # also what check-config said during the install
    return data


def changing_calls(pi: FakePi) -> list[str]:
    """The calls that would change a system (probes and look-ups left out)."""
    return [
        c
        for c in pi.calls()
        if c.split()[0] in CHANGES and not c.startswith("systemctl is-enabled")
    ]


@pytest.mark.slow
def test_pi4_with_a_csi_camera_a_usb_microphone_and_a_pca9685(tmp_path: Path) -> None:
    pi = FakePi(tmp_path)
    out = installed(pi, "--yes")
    assert "model: Raspberry Pi 4 Model B Rev 1.5" in out
    assert "Pi camera 0: imx708" in out
    assert "microphone: USB PnP Sound Device (plughw:CARD=Device,DEV=0)" in out
    assert "I2C bus 1 answers at: 40 70" in out
    data = config_of(pi)
    assert data["unit"]["hardware"] == "pi"
    assert data["cameras"] == {
        "main": {"source": "picamera2", "device": "0", "label": "", "width": 1920}
        | {"height": 1080, "fps": 30}
    }
    assert data["audio"]["source"] == "alsa"
    assert data["audio"]["device"] == "plughw:CARD=Device,DEV=0"
    motor = data["motor"]
    assert (motor["kind"], motor["i2c_address"], motor["pca9685_channel"]) == ("pca9685", 64, 0)
    assert (data["controls"]["button_pin"], data["controls"]["led_pin"]) == (17, 27)
    header = (pi.root / CONF).read_text().split("\n\n")[0]
    assert "PCA9685 servo board at I2C 0x40, channel 0" in header
    calls = pi.calls()
    assert any(c.startswith("apt-get install") and "python3-picamera2" in c for c in calls)
    # apt's numpy and PyAV stay: our package without dependencies, the rest held to apt's.
    assert any(c.startswith("pip install --quiet --no-deps") for c in calls)
    (constraints,) = [c for c in calls if c.startswith("  -c ")]
    assert "numpy==1.24.2;" in constraints and "av==12.3.0;" in constraints
    assert "opencv-python-headless<4.12" in constraints  # numpy 1.x: OpenCV before numpy 2
    (requirements,) = [c for c in calls if c.startswith("  -r ")]
    assert "aiohttp" in requirements and "numpy" not in requirements and "av>" not in requirements
    assert "picamera2: 0.3.27" in out
    # The user, its groups, the state directory, the service.
    assert "lessoncam:x:999:999::/var/lib/lessoncam-device:" in (pi.root / "etc/passwd").read_text()
    groups = (pi.root / "etc/group").read_text()
    for group in ("video", "gpio", "audio", "i2c"):
        assert (
            f"\n{group}:" in groups and "lessoncam" in groups.split(f"\n{group}:")[1].split("\n")[0]
        )
    state = (pi.root / "var/lib/lessoncam-device").stat()
    assert (stat.S_IMODE(state.st_mode), state.st_uid) == (0o700, 999)
    conf = (pi.root / CONF).stat()
    assert (stat.S_IMODE(conf.st_mode), conf.st_uid, conf.st_gid) == (0o640, 0, 999)
    unit = (pi.root / "etc/systemd/system/lessoncam-device.service").read_text()
    assert "WorkingDirectory=/var/lib/lessoncam-device" in unit
    assert "systemctl enable lessoncam-device.service" in calls
    assert (
        pi.root / "etc/systemd/system/multi-user.target.wants/lessoncam-device.service"
    ).is_symlink()
    assert "Enrol the unit" in out


@pytest.mark.slow
def test_pi5_with_two_cameras_and_no_motor(tmp_path: Path) -> None:
    pi = FakePi(tmp_path, model=PI5_MODEL, pi_cameras=[IMX708, IMX477], i2c=[])
    out = installed(pi, "--yes")
    assert "I2C bus 1 answers at: nothing" in out
    data = config_of(pi)
    assert "Which camera follows the teacher (the other films the pupils)? [1] 1 (--yes)" in out
    assert data["cameras"]["main"]["device"] == "0"
    pupils = data["cameras"]["pupils"]
    assert (pupils["source"], pupils["device"], pupils["label"]) == ("picamera2", "1", "pupils")
    assert data["motor"]["kind"] == "none"  # asked, and --yes takes "none"
    assert "Which motor turns the camera (none servo)? [none] none (--yes)" in out
    assert parse_config(data).motor.kind == "none"


@pytest.mark.slow
def test_no_microphone_records_without_sound_and_says_so(tmp_path: Path) -> None:
    pi = FakePi(tmp_path, microphones=[])
    out = installed(pi, "--yes")
    assert "microphones: none found" in out
    assert "no microphone: lessons record without sound" in out
    assert config_of(pi)["audio"]["source"] == "none"


@pytest.mark.slow
def test_what_cannot_be_detected_is_asked(tmp_path: Path) -> None:
    pi = FakePi(
        tmp_path, microphones=[USB_MIC, ("seeed2micvoicec", "seeed-2mic-voicecard")], i2c=[]
    )
    # The second microphone; a servo on a pin (a Pi 4: through pigpio); button 22, LED 23.
    out = installed(pi, answers="2\nservo\n22\n23\n")
    assert "2) seeed-2mic-voicecard (plughw:CARD=seeed2micvoicec,DEV=0)" in out
    data = config_of(pi)
    assert data["audio"]["device"] == "plughw:CARD=seeed2micvoicec,DEV=0"
    assert data["motor"]["kind"] == "gpio_servo"
    assert "pigpiod" in out
    assert (data["controls"]["button_pin"], data["controls"]["led_pin"]) == (22, 23)


@pytest.mark.slow
def test_without_probes_it_asks_and_a_pantilt_hat_gets_its_calibration(tmp_path: Path) -> None:
    pi = FakePi(tmp_path, pi_cameras=[], i2c=[0x15])
    pi.without("rpicam-hello", "arecord")
    out = installed(pi, answers="y\nhw:2,0\n\n\n")
    assert "cannot list them (no rpicam-hello or libcamera-hello)" in out
    data = config_of(pi)
    assert data["cameras"]["main"]["source"] == "picamera2"
    assert data["audio"]["device"] == "hw:2,0"
    assert data["motor"]["kind"] == "pantilt_hat"
    assert (data["motor"]["min_pulse_us"], data["motor"]["max_pulse_us"]) == (575.0, 2325.0)


@pytest.mark.slow
def test_usb_webcams_are_found_by_their_stable_names(tmp_path: Path) -> None:
    pi = FakePi(
        tmp_path,
        pi_cameras=[],
        webcams=["046d_HD_Pro_Webcam_C920_A1B2", "046d_C270_HD_WEBCAM_C3D4"],
        i2c=[],
    )
    # Which of two follows the teacher cannot be seen: the C920 (listed second) is chosen.
    out = installed(pi, answers="2\nnone\n\n\n")
    assert "2) USB webcam 046d HD Pro Webcam C920 A1B2 (/dev/v4l/by-id/usb-046d_HD_Pro" in out
    cameras = config_of(pi)["cameras"]
    assert cameras["main"] == cameras["main"] | {
        "source": "v4l2",
        "device": "/dev/v4l/by-id/usb-046d_HD_Pro_Webcam_C920_A1B2-video-index0",
    }
    assert cameras["pupils"]["device"].endswith("C270_HD_WEBCAM_C3D4-video-index0")
    assert (
        "second camera (pupils): USB webcam 046d C270 HD WEBCAM C3D4"
        in (pi.root / CONF).read_text()
    )


@pytest.mark.slow
def test_a_second_run_changes_nothing_and_keeps_what_is_there(tmp_path: Path) -> None:
    pi = FakePi(tmp_path)
    installed(pi, "--yes")
    conf = pi.root / CONF
    conf.write_text(conf.read_text().replace("max_minutes = 120", "max_minutes = 50"))
    state = pi.root / "var/lib/lessoncam-device"
    (state / "credentials.json").write_text('{"token": "secret"}')
    (state / "recordings").mkdir()
    (state / "recordings/segment-000.ts").write_bytes(b"\x47" * 188)
    before = pi.snapshot()
    pi.forget_calls()
    out = installed(pi, "--yes")
    assert pi.snapshot() == before
    assert "keeping /etc/lessoncam/device.toml" in out
    assert "apt packages: all there" in out
    assert "up to date with this checkout" in out
    assert changing_calls(pi) == []
    assert "Enrol the unit" not in out and "the unit is enrolled" in out
    assert config_of(pi)["recording"]["max_minutes"] == 50
    # From another checkout (an update) only the software is installed again.
    (pi.root / "opt/lessoncam/venv/.lessoncam-source").write_text("an older checkout\n")
    pi.forget_calls()
    installed(pi, "--yes")
    assert [c.split()[0] for c in changing_calls(pi)] == ["pip", "pip"]
    assert config_of(pi)["recording"]["max_minutes"] == 50


def test_dry_run_prints_every_step_and_changes_nothing(tmp_path: Path) -> None:
    pi = FakePi(tmp_path)
    before = pi.snapshot()
    out = installed(pi, "--dry-run", "--yes")
    assert pi.snapshot() == before
    assert changing_calls(pi) == []
    for expected in (
        "+ apt-get install -y -qq python3-venv python3-picamera2",
        "+ useradd --system --prefix",
        "+ python3 -m venv --system-site-packages",
        "/opt/lessoncam/venv/bin/pip install --quiet --no-deps",
        "+ install -m 0640",
        "+ systemctl enable lessoncam-device.service",
        '[motor] kind = "pca9685"',
        '[audio] device = "plughw:CARD=Device,DEV=0"',
        "dry run: nothing was changed",
    ):
        assert expected in out


@pytest.mark.slow
def test_uninstall_keeps_recordings_and_credentials_unless_purged(tmp_path: Path) -> None:
    pi = FakePi(tmp_path)
    installed(pi, "--yes")
    state = pi.root / "var/lib/lessoncam-device"
    (state / "credentials.json").write_text('{"token": "secret"}')
    (pi.root / "etc/lessoncam/ca.pem").write_text("the school's CA")
    before = pi.snapshot()
    out = installed(pi, "--uninstall", "--dry-run")
    assert pi.snapshot() == before and "+ rm -rf" in out
    out = installed(pi, "--uninstall")
    assert "systemctl disable --now lessoncam-device.service" in pi.calls()
    for gone in ("etc/systemd/system/lessoncam-device.service", "opt/lessoncam", CONF):
        assert not (pi.root / gone).exists()
    assert (state / "credentials.json").read_text() == '{"token": "secret"}'
    assert (pi.root / "etc/lessoncam/ca.pem").exists()  # not ours to remove
    assert "kept /var/lib/lessoncam-device" in out
    installed(pi, "--uninstall", "--purge")
    assert not state.exists()
    assert "lessoncam" not in (pi.root / "etc/passwd").read_text()


def test_an_old_picamera2_is_refused_with_the_fix(tmp_path: Path) -> None:
    pi = FakePi(tmp_path)
    pi.apt["python3-picamera2"] = "0.3.12-2"
    pi = FakePi(tmp_path / "old", apt=pi.apt)
    done = pi.install("--yes")
    assert done.returncode == 1
    assert "picamera2 0.3.12 is older than the 0.3.26" in done.stderr
    assert "apt full-upgrade" in done.stderr
    assert not (pi.root / CONF).exists()


@pytest.mark.slow
def test_without_the_rpi_archive_picamera2_numpy_and_av_come_from_pypi(tmp_path: Path) -> None:
    # Plain Debian arm64 in a chroot (make pi-rehearsal): no picamera2 in apt, no systemd.
    pi = FakePi(tmp_path, apt={})
    pi.without("systemctl")
    out = installed(pi, "--yes", "--without-rpi-archive")
    calls = pi.calls()
    (apt,) = [c for c in calls if c.startswith("apt-get install")]
    for from_pi_archive in ("picamera2", "libcamera", "lgpio", "python3-numpy", "python3-av"):
        assert from_pi_archive not in apt
    assert "python3-venv" in apt and "alsa-utils" in apt
    requirements, picamera2 = [c for c in calls if c.startswith("  -r ")]
    # Raspberry Pi OS Bookworm's numpy and PyAV, from PyPI; lgpio has no wheel there.
    assert "numpy==1.24.2;" in requirements and "av==12.3.0;" in requirements
    assert "lgpio" not in requirements and "aiohttp" in requirements
    (constraints,) = [c for c in calls if c.startswith("  -c ")]
    assert "opencv-python-headless<4.12" in constraints
    # picamera2 next to Bookworm's apt version (0.3.29 is not on PyPI), not the x86 tests' pin.
    assert picamera2.startswith("  -r picamera2==0.3.30;") and "platform_machine" not in picamera2
    assert picamera2.count("picamera2==") == 1 and "pillow" in picamera2
    assert sum(c.startswith("pip install --quiet --no-deps") for c in calls) == 2
    assert "numpy 1.24.2 and PyAV 12.3.0 from PyPI" in out
    # Enabled as systemctl would, with nothing to reload.
    assert not [c for c in calls if c.startswith("systemctl")]
    assert "no systemd running" in out
    link = pi.root / "etc/systemd/system/multi-user.target.wants/lessoncam-device.service"
    assert os.readlink(link) == "/etc/systemd/system/lessoncam-device.service"
    assert config_of(pi)["cameras"]["main"]["source"] == "picamera2"
    # A second run changes nothing; uninstalling removes the link too.
    before = pi.snapshot()
    pi.forget_calls()
    installed(pi, "--yes", "--without-rpi-archive")
    assert pi.snapshot() == before and changing_calls(pi) == []
    installed(pi, "--uninstall", "--without-rpi-archive")
    assert not link.exists() and not link.is_symlink()
    assert not (pi.root / "etc/systemd/system/lessoncam-device.service").exists()


def test_without_the_rpi_archive_a_dry_run_shows_the_pypi_steps(tmp_path: Path) -> None:
    pi = FakePi(tmp_path, apt={})
    pi.without("systemctl")
    before = pi.snapshot()
    out = installed(pi, "--dry-run", "--yes", "--without-rpi-archive")
    assert pi.snapshot() == before and changing_calls(pi) == []
    assert "+ apt-get install -y -qq python3-venv python3-smbus i2c-tools alsa-utils ffmpeg" in out
    assert "picamera2: from PyPI into /opt/lessoncam/venv (--without-rpi-archive)" in out
    assert out.count("pip install --quiet --no-deps") == 2  # ours, then picamera2's
    assert "multi-user.target.wants/lessoncam-device.service" in out
