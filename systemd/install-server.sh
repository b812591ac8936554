#!/usr/bin/env bash
# Install the lessoncam server on Debian or Ubuntu as a systemd service.
# Run from a checkout of this repository, as root:  sudo systemd/install-server.sh
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
prefix=/opt/lessoncam

[ "$(id -u)" = 0 ] || { echo "run as root (sudo $0)" >&2; exit 1; }
apt-get update -qq
apt-get install -y -qq python3 python3-venv >/dev/null

id lessoncam >/dev/null 2>&1 || useradd --system --home-dir /var/lib/lessoncam --shell /usr/sbin/nologin lessoncam
install -d -m 0755 "$prefix" /etc/lessoncam
install -d -m 0700 -o lessoncam -g lessoncam /var/lib/lessoncam

python3 -m venv "$prefix/venv"
"$prefix/venv/bin/pip" install --quiet --upgrade pip
"$prefix/venv/bin/pip" install --quiet "${here}[server]"
install -m 0644 "$here/README.md" "$prefix/README.md"

if [ ! -e /etc/lessoncam/server.toml ]; then
  install -m 0640 -g lessoncam "$here/server/lessoncam-server.sample.toml" /etc/lessoncam/server.toml
  echo "wrote /etc/lessoncam/server.toml: review it (host, port, retention)"
fi
LESSONCAM_CONFIG=/etc/lessoncam/server.toml runuser -u lessoncam -- "$prefix/venv/bin/lessoncam-server" check-config

install -m 0644 "$here/systemd/lessoncam-server.service" /etc/systemd/system/lessoncam-server.service
systemctl daemon-reload
systemctl enable --now lessoncam-server.service
echo "started. First admin password: sudo cat /var/lib/lessoncam/initial-admin-password"
