#!/usr/bin/env bash
# Install the lessoncam unit on Raspberry Pi OS (Bookworm or Trixie) as a systemd service.
# Run from a checkout of this repository, as root:  sudo systemd/install-device.sh
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
prefix=/opt/lessoncam

[ "$(id -u)" = 0 ] || { echo "run as root (sudo $0)" >&2; exit 1; }
. /etc/os-release
apt-get update -qq
# picamera2 and libcamera come from Raspberry Pi OS itself (they cannot come from PyPI).
apt-get install -y -qq python3-venv python3-picamera2 python3-libcamera python3-lgpio \
  python3-numpy ffmpeg alsa-utils >/dev/null

id lessoncam >/dev/null 2>&1 || useradd --system --home-dir /var/lib/lessoncam-device \
  --shell /usr/sbin/nologin lessoncam
usermod -a -G video,gpio,audio,i2c lessoncam
install -d -m 0755 "$prefix" /etc/lessoncam
install -d -m 0700 -o lessoncam -g lessoncam /var/lib/lessoncam-device

# System site packages: apt's picamera2 and libcamera bindings must be importable in the venv.
python3 -m venv --system-site-packages "$prefix/venv"
"$prefix/venv/bin/pip" install --quiet --upgrade pip
constraints=$(mktemp)
case "${VERSION_CODENAME:-}" in
  bookworm)
    # apt's picamera2 on Bookworm is built against numpy 1.x; opencv-python-headless >= 4.12
    # needs numpy 2, so both stay on the 1.x line here.
    printf 'numpy<2\nopencv-python-headless<4.12\n' > "$constraints" ;;
  *) : > "$constraints" ;;
esac
"$prefix/venv/bin/pip" install --quiet -c "$constraints" "$here[device,pi]"
rm -f "$constraints"
install -m 0644 "$here/README.md" "$prefix/README.md"

if [ ! -e /etc/lessoncam/device.toml ]; then
  install -m 0640 -g lessoncam "$here/device/lessoncam-device.sample.toml" /etc/lessoncam/device.toml
  sed -i -e '/^\[cameras.main\]/,/^\[/ s/^source = .*/source = "picamera2"/' \
    -e '/^\[audio\]/,/^\[/ s/^source = .*/source = "alsa"/' \
    -e 's/^hardware = "auto"/hardware = "pi"/' /etc/lessoncam/device.toml
  echo "wrote /etc/lessoncam/device.toml: review cameras, microphone and pins"
fi
"$prefix/venv/bin/lessoncam-device" check-config --config /etc/lessoncam/device.toml
"$prefix/venv/bin/lessoncam-device" devices

install -m 0644 "$here/systemd/lessoncam-device.service" /etc/systemd/system/lessoncam-device.service
systemctl daemon-reload
systemctl enable lessoncam-device.service
echo "installed. Enrol the unit, then start it:"
echo "  sudo -u lessoncam $prefix/venv/bin/lessoncam-device --state-dir /var/lib/lessoncam-device \\"
echo "       enroll --server https://lessoncam.school.example --code ABCD-EFGH-JKLM"
echo "  sudo systemctl start lessoncam-device"
