#!/usr/bin/env bash
# The hardware tests on an installed unit, in one command, from the repository checkout the
# unit was installed from:
#
#   sudo tests/hardware/run-on-unit.sh            # extra arguments go to pytest
#
# pytest goes into an environment of its own (LESSONCAM_TEST_VENV) that sees the unit's
# virtual environment (LESSONCAM_VENV, /opt/lessoncam/venv) and apt's picamera2; nothing is
# installed into the unit's own. The service is stopped while the tests hold the cameras and
# started again afterwards. LESSONCAM_HARDWARE_CONFIG picks another config than the unit's.
set -euo pipefail
cd "$(dirname "$0")/../.."

UNIT_VENV=${LESSONCAM_VENV:-/opt/lessoncam/venv}
TEST_VENV=${LESSONCAM_TEST_VENV:-/var/tmp/lessoncam-hardware-tests}
SERVICE=lessoncam-device

if [ ! -x "$UNIT_VENV/bin/python" ]; then
  echo "no unit installed: $UNIT_VENV/bin/python is missing (set LESSONCAM_VENV)" >&2
  exit 2
fi
UNIT_SITE=$("$UNIT_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

if [ ! -x "$TEST_VENV/bin/pytest" ]; then
  echo "creating $TEST_VENV with pytest (once)"
  "$UNIT_VENV/bin/python" -m venv --system-site-packages "$TEST_VENV"
  "$TEST_VENV/bin/pip" install --quiet "pytest>=8" "pytest-asyncio>=0.23"
fi
TEST_SITE=$("$TEST_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
# The unit's packages (and their own .pth files), after pytest's.
echo "import site; site.addsitedir('$UNIT_SITE')" > "$TEST_SITE/lessoncam-unit.pth"

if command -v systemctl >/dev/null && systemctl is-active --quiet "$SERVICE" 2>/dev/null; then
  echo "stopping $SERVICE for the tests (it is started again afterwards)"
  systemctl stop "$SERVICE"
  trap 'systemctl start "$SERVICE"' EXIT
fi

# Only this folder's conftest: the repository's own needs the server, not installed here.
LESSONCAM_HARDWARE=1 "$TEST_VENV/bin/python" -m pytest -p no:cacheprovider \
  --confcutdir=tests/hardware tests/hardware "$@"
