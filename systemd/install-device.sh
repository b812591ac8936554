#!/usr/bin/env bash
# Install the lessoncam unit on Raspberry Pi OS (Bookworm or Trixie) as a systemd service.
# Run from a checkout of this repository, as root:  sudo systemd/install-device.sh [OPTIONS]
#
#   --yes        ask nothing: take what was detected and the defaults (scripted installs)
#   --dry-run    print every step and what device.toml would say; change nothing
#   --uninstall  remove the service, the virtual environment and device.toml; keep the
#                recordings, the upload queue and the unit's credentials
#   --purge      with --uninstall: remove those too, and the lessoncam user
#   --without-rpi-archive
#                for a rehearsal on plain Debian arm64 (make pi-rehearsal), where the
#                Raspberry Pi archive is not reachable: picamera2 from PyPI (its libcamera is
#                missing, so only the tests' stubs can drive it), numpy and PyAV from PyPI
#                at Raspberry Pi OS Bookworm's versions, no lgpio, and the service enabled
#                by its symlink when systemd is not running (a chroot). Not for a real unit.
#
# It finds the Pi model, the cameras, the microphones and a motor board on I2C, and writes them
# into /etc/lessoncam/device.toml, asking only what it cannot detect. A later run keeps that
# file and changes nothing else that is already right; running it from a newer checkout
# updates the unit's software.
#
# For tests and rehearsals: every system path lies under $LESSONCAM_ROOT (default /), and the
# probes and system tools (rpicam-hello, arecord, i2cdetect, apt-get, dpkg-query, systemctl,
# useradd, ...) are whatever PATH finds.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
root="${LESSONCAM_ROOT:-}"
root="${root%/}"
prefix=/opt/lessoncam
venv="$prefix/venv"
conf=/etc/lessoncam/device.toml
state_dir=/var/lib/lessoncam-device
unit_file=/etc/systemd/system/lessoncam-device.service
service=lessoncam-device.service
user=lessoncam
groups=(video gpio audio i2c)
sample="$here/device/lessoncam-device.sample.toml"
# SplittableOutput (cutting segments at keyframes without dropping frames) came in 0.3.26.
min_picamera2=0.3.26
apt_packages=(python3-venv python3-picamera2 python3-libcamera python3-lgpio python3-numpy
  python3-av python3-smbus i2c-tools alsa-utils ffmpeg)
# --without-rpi-archive: what Raspberry Pi OS Bookworm's apt gives (python3-numpy, python3-av),
# taken from PyPI instead; Debian's own python3-av (10.0) is older than any Pi OS has.
rpi_os_numpy=1.24.2
rpi_os_av=12.3.0
# ... and its python3-picamera2: 0.3.29-1 is the last Bookworm upload in Raspberry Pi's
# packaging (debian/changelog, github.com/raspberrypi/picamera2 branch pios/trixie; later ones
# are for Trixie). PyPI has no 0.3.29 (nor 0.3.28); 0.3.30 differs from it only in the V4L2
# hardware encoder's detection and timestamps (not used without a Pi), so it stands in.
# Pi OS's python3-av 12.3 carries Raspberry Pi's VideoFrame.from_numpy_buffer(width=) (upstream
# from PyAV 14), which picamera2 calls since 0.3.24; PyPI's 12.3 lacks it (docs/pi-rehearsal.md).
rpi_os_picamera2=0.3.30

yes=0
dry_run=0
uninstall=0
purge=0
without_rpi_archive=0

usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; }

for arg in "$@"; do
  case "$arg" in
    --yes | -y) yes=1 ;;
    --dry-run | -n) dry_run=1 ;;
    --uninstall) uninstall=1 ;;
    --purge) purge=1 ;;
    --without-rpi-archive) without_rpi_archive=1 ;;
    --help | -h) usage; exit 0 ;;
    *) echo "unknown option $arg" >&2; usage >&2; exit 2 ;;
  esac
done
if [ "$purge" = 1 ] && [ "$uninstall" = 0 ]; then
  echo "--purge goes with --uninstall" >&2
  exit 2
fi
if [ "$without_rpi_archive" = 1 ]; then
  # Neither apt's picamera2, libcamera and lgpio, nor the numpy and PyAV it is built against.
  apt_packages=(python3-venv python3-smbus i2c-tools alsa-utils ffmpeg)
fi
if [ "$(id -u)" != 0 ] && [ "$dry_run" = 0 ]; then
  echo "run as root (sudo $0), or look first with --dry-run" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

say() { printf '%s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# A step that changes the system: printed, and run unless --dry-run.
step() {
  printf '+ %s\n' "$*"
  [ "$dry_run" = 1 ] || "$@"
}

# Whether $2 is not (yet) a copy of $1.
differs() { ! cmp -s "$1" "$2"; }

# ask QUESTION DEFAULT [ALLOWED...]: sets REPLY. --yes, or nobody answering, takes the default.
ask() {
  local question=$1 default=$2
  shift 2
  while :; do
    if [ "$yes" = 1 ]; then
      REPLY=$default
      say "$question [$default] $default (--yes)"
    else
      printf '%s [%s] ' "$question" "$default"
      if ! read -r REPLY; then
        REPLY=$default
        printf '%s (no answer)\n' "$default"
      fi
      REPLY=${REPLY:-$default}
    fi
    if [ "$#" = 0 ]; then
      return 0
    fi
    local allowed
    for allowed in "$@"; do
      [ "$REPLY" = "$allowed" ] && return 0
    done
    say "please answer one of: $*"
    [ "$yes" = 0 ] || die "the default $default is not one of: $*"
  done
}

# --- the system as it is -------------------------------------------------------------------

passwd_field() { awk -F: -v name="$1" -v n="$2" '$1 == name { print $n }' "$root/etc/passwd" 2>/dev/null || true; }
group_exists() { grep -q "^$1:" "$root/etc/group" 2>/dev/null; }
in_group() { awk -F: -v g="$1" -v u="$2" '$1 == g { n = split($4, m, ","); for (i = 1; i <= n; i++) if (m[i] == u) found = 1 } END { exit !found }' "$root/etc/group" 2>/dev/null; }
dpkg_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true; }
dpkg_installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]; }
# Debian's 1:1.24.2-1+deb12u1 is upstream's 1.24.2.
upstream_version() { local v=${1#*:}; v=${v%-*}; v=${v%%+*}; printf '%s' "${v%%~*}"; }
version_at_least() { printf '%s\n%s\n' "$2" "$1" | sort -V -C; }
# useradd and friends work on the passwd and group files under $LESSONCAM_ROOT.
user_flags=()
[ -z "$root" ] || user_flags=(--prefix "$root")

# --- what the unit has, and what device.toml says ----------------------------------------

# shellcheck source-path=SCRIPTDIR
# shellcheck source=device-config.sh
. "$here/systemd/device-config.sh"

# --- the steps -----------------------------------------------------------------------------

install_packages() {
  local missing=() p
  for p in "${apt_packages[@]}"; do
    dpkg_installed "$p" || missing+=("$p")
  done
  if [ "${#missing[@]}" = 0 ]; then
    say "apt packages: all there"
    return
  fi
  # picamera2 and libcamera come from Raspberry Pi OS itself (they cannot come from PyPI).
  step apt-get update -qq
  step apt-get install -y -qq "${missing[@]}"
}

# picamera2's version: apt's, or with --without-rpi-archive the venv's (empty before it exists).
picamera2_version() {
  if [ "$without_rpi_archive" = 0 ]; then
    upstream_version "$(dpkg_version python3-picamera2)"
  elif [ -x "$root$venv/bin/python" ]; then
    "$root$venv/bin/python" -c 'from importlib.metadata import version; print(version("picamera2"))' 2>/dev/null || true
  fi
}

check_picamera2() {
  local v
  v=$(picamera2_version)
  if [ -z "$v" ] && [ "$without_rpi_archive" = 1 ]; then
    say "picamera2: from PyPI into $venv (--without-rpi-archive)"
  elif [ -z "$v" ]; then
    say "picamera2: not installed yet"
  elif version_at_least "$v" "$min_picamera2"; then
    say "picamera2: $v"
  elif [ "${#pi_cameras[@]}" -gt 0 ] || [ "$pi_camera_tool" = 0 ]; then
    die "picamera2 $v is older than the $min_picamera2 the unit needs (SplittableOutput): run sudo apt update && sudo apt full-upgrade, then this script again"
  else
    warn "picamera2 $v is older than $min_picamera2: fine for USB webcams, too old for a Pi camera"
  fi
}

add_user() {
  local g
  for g in "${groups[@]}"; do
    group_exists "$g" || step groupadd --system "${user_flags[@]}" "$g"
  done
  if [ -z "$(passwd_field "$user" 1)" ]; then
    step useradd --system "${user_flags[@]}" --home-dir "$state_dir" --shell /usr/sbin/nologin "$user"
  fi
  local missing=()
  for g in "${groups[@]}"; do
    in_group "$g" "$user" || missing+=("$g")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    step usermod "${user_flags[@]}" -a -G "$(IFS=,; echo "${missing[*]}")" "$user"
  fi
}

# The unit's user and group as numbers (names would resolve on the host, not under
# $LESSONCAM_ROOT); by name while the user does not exist yet (a dry run).
uid() { local n; n=$(passwd_field "$user" 3); printf '%s' "${n:-$user}"; }
gid() { local n; n=$(passwd_field "$user" 4); printf '%s' "${n:-$user}"; }

make_dirs() {
  [ -d "$root$prefix" ] || step install -d -m 0755 "$root$prefix"
  [ -d "$root${conf%/*}" ] || step install -d -m 0755 "$root${conf%/*}"
  if [ ! -d "$root$state_dir" ]; then
    step install -d -m 0700 "$root$state_dir"
    step chown "$(uid):$(gid)" "$root$state_dir"
  fi
}

# apt's picamera2 is built against apt's numpy (and PyAV): pip must not replace them in the
# venv. Our package goes in without its dependencies, then the rest of them, held to apt's
# numpy and av by a constraints file (pip would otherwise fetch numpy 2 for OpenCV).
install_python() {
  local pip="$root$venv/bin/pip" fresh=0
  if [ ! -x "$root$venv/bin/python" ]; then
    # System site packages: apt's picamera2 and libcamera bindings must be importable.
    step python3 -m venv --system-site-packages "$root$venv"
    fresh=1
  fi
  [ "$fresh" = 0 ] || step "$pip" install --quiet --upgrade pip
  local numpy av
  numpy=$(upstream_version "$(dpkg_version python3-numpy)")
  av=$(upstream_version "$(dpkg_version python3-av)")
  : > "$tmp/constraints.txt"
  : > "$tmp/requirements.txt"
  : > "$tmp/pypi.txt"
  if [ "$without_rpi_archive" = 1 ]; then
    # From PyPI what apt would give: numpy and PyAV at Pi OS's versions, picamera2 without
    # its dependencies (python-prctl and others are built from C; the tests stub them).
    numpy=$rpi_os_numpy av=$rpi_os_av
    printf 'numpy==%s\nav==%s\n' "$numpy" "$av" >> "$tmp/requirements.txt"
    # picamera2 at (nearly) Pi OS's version; what else it imports, as wheels, from the tests' list.
    printf 'picamera2==%s\n' "$rpi_os_picamera2" > "$tmp/pypi.txt"
    sed -E 's/[[:space:]]*;.*//' "$here/tests/picamera2-requirements.txt" | grep -v '^#' | sed '/^$/d' | grep -v '^picamera2\b' >> "$tmp/pypi.txt"
  elif [ -z "$numpy" ] || [ -z "$av" ]; then
    [ "$dry_run" = 1 ] || die "apt's python3-numpy and python3-av are missing: sudo apt install python3-numpy python3-av"
    say "(numpy and PyAV: held to the versions apt installs)"
  fi
  [ -z "$numpy" ] || printf 'numpy==%s\n' "$numpy" >> "$tmp/constraints.txt"
  [ -z "$av" ] || printf 'av==%s\n' "$av" >> "$tmp/constraints.txt"
  # opencv-python-headless 4.12 and later need numpy 2.
  case "$numpy" in 1.*) printf 'opencv-python-headless<4.12\n' >> "$tmp/constraints.txt" ;; esac
  # numpy and PyAV come from apt; so does lgpio, which PyPI has only as C source.
  python3 - "$here/pyproject.toml" "$without_rpi_archive" >> "$tmp/requirements.txt" <<'EOF'
import re, sys, tomllib
extras = tomllib.load(open(sys.argv[1], "rb"))["project"]["optional-dependencies"]
apt = r"(numpy|av|lgpio)\b" if sys.argv[2] == "1" else r"(numpy|av)\b"
for requirement in extras["device"] + extras["pi"]:
    if not re.match(apt, requirement):
        print(requirement)
EOF
  if [ "$without_rpi_archive" = 1 ]; then
    say "numpy $numpy and PyAV $av from PyPI, as Raspberry Pi OS Bookworm's apt has them"
  elif [ -n "$numpy" ]; then
    say "keeping apt's numpy $numpy and PyAV $av for picamera2"
  fi
  case "$av" in "" | 1[4-9]* | [2-9][0-9]*) ;; *)
    warn "apt's PyAV $av is older than the 14 lessoncam is tested with (USB webcam lessons use it)" ;;
  esac
  # What was installed from: the package's files and the pins. Unchanged, pip is not run.
  local stamp="$root$venv/.lessoncam-source"
  {
    cat "$tmp/constraints.txt" "$tmp/requirements.txt" "$tmp/pypi.txt"
    find "$here/pyproject.toml" "$here/device" -type f ! -name '*.pyc' -print0 | sort -z | xargs -0 sha256sum
  } | sha256sum | cut -d' ' -f1 > "$tmp/stamp"
  if cmp -s "$tmp/stamp" "$stamp"; then
    say "lessoncam in $venv: up to date with this checkout"
    return
  fi
  step "$pip" install --quiet --no-deps "$here"
  step "$pip" install --quiet -r "$tmp/requirements.txt" -c "$tmp/constraints.txt"
  [ ! -s "$tmp/pypi.txt" ] || step "$pip" install --quiet --no-deps -r "$tmp/pypi.txt"
  step install -m 0644 "$tmp/stamp" "$stamp"
}

# On the first run: what device.toml will say, asked before the long installs.
plan_config() {
  if [ -e "$root$conf" ]; then
    say "keeping $conf (edit it, or delete it and run this again to detect anew)"
    return
  fi
  choose_config
  render_config
  say "== $conf: the sample, with"
  awk -F'\t' '{ print "  [" $1 "] " $2 " = " $3 }' "$sets"
  awk '/^#/ { next } NF { if (/^\[/) t = $0; else print "  " t " " $0 }' "$second"
}

write_config() {
  [ -e "$tmp/device.toml" ] || return 0
  step install -m 0640 "$tmp/device.toml" "$root$conf"
  step chown "0:$(gid)" "$root$conf"
}

# In a rehearsal's chroot no systemd runs (and minbase has no systemctl): the unit is enabled
# by the link `systemctl enable` would make, and nothing is reloaded.
without_systemd() {
  [ "$without_rpi_archive" = 1 ] && ! { command -v systemctl >/dev/null && [ -d /run/systemd/system ]; }
}
wants="/etc/systemd/system/multi-user.target.wants"

install_service() {
  if differs "$here/systemd/lessoncam-device.service" "$root$unit_file"; then
    step install -m 0644 "$here/systemd/lessoncam-device.service" "$root$unit_file"
    if without_systemd; then
      say "(no systemd running: nothing to reload)"
    else
      step systemctl daemon-reload
    fi
  fi
  if without_systemd; then
    [ -L "$root$wants/$service" ] || {
      step install -d -m 0755 "$root$wants"
      step ln -sfn "$unit_file" "$root$wants/$service"
    }
  else
    systemctl is-enabled --quiet "$service" 2>/dev/null || step systemctl enable "$service"
  fi
  local copy
  for copy in README.md:README.md device/lessoncam-device.sample.toml:lessoncam-device.sample.toml; do
    if differs "$here/${copy%%:*}" "$root$prefix/${copy#*:}"; then
      step install -m 0644 "$here/${copy%%:*}" "$root$prefix/${copy#*:}"
    fi
  done
}

do_install() {
  if [ -r "$root/etc/os-release" ]; then
    # shellcheck source=/dev/null
    . "$root/etc/os-release"
    say "system: ${PRETTY_NAME:-unknown}"
  fi
  [ "$dry_run" = 0 ] || say "(dry run: nothing is changed)"
  install_packages
  detect
  check_picamera2
  plan_config
  add_user
  make_dirs
  install_python
  [ "$without_rpi_archive" = 0 ] || [ "$dry_run" = 1 ] || check_picamera2
  write_config
  if [ "$dry_run" = 0 ]; then
    "$root$venv/bin/lessoncam-device" check-config --config "$root$conf"
  fi
  install_service
  if [ "$dry_run" = 1 ]; then
    say "dry run: nothing was changed"
  elif [ ! -e "$root$state_dir/credentials.json" ]; then
    say "installed. Enrol the unit, then start it:"
    say "  sudo -u $user $venv/bin/lessoncam-device --state-dir $state_dir \\"
    say "       enroll --server https://lessoncam.school.example --code ABCD-EFGH-JKLM"
    say "  sudo systemctl start lessoncam-device"
  else
    say "installed; the unit is enrolled. After an update: sudo systemctl restart lessoncam-device"
  fi
}

do_uninstall() {
  [ "$dry_run" = 0 ] || say "(dry run: nothing is changed)"
  if [ -e "$root$unit_file" ] && without_systemd; then
    step rm -f "$root$wants/$service" "$root$unit_file"
  elif [ -e "$root$unit_file" ]; then
    step systemctl disable --now "$service"
    step rm -f "$root$unit_file"
    step systemctl daemon-reload
  fi
  [ ! -d "$root$venv" ] || step rm -rf "$root$venv"
  local f
  for f in "$root$prefix/README.md" "$root$prefix/lessoncam-device.sample.toml" "$root$conf"; do
    [ ! -e "$f" ] || step rm -f "$f"
  done
  # Only what we put there: a school's CA certificate beside device.toml stays.
  for f in "$root$prefix" "$root${conf%/*}"; do
    if [ -d "$f" ] && [ -z "$(ls -A "$f")" ]; then
      step rmdir "$f"
    fi
  done
  if [ "$purge" = 1 ]; then
    [ ! -d "$root$state_dir" ] || step rm -rf "$root$state_dir"
    [ -z "$(passwd_field "$user" 1)" ] || step userdel "${user_flags[@]}" "$user"
  elif [ -d "$root$state_dir" ]; then
    say "kept $state_dir: recordings, the upload queue and the unit's credentials (--uninstall --purge removes them)"
  fi
  if [ "$dry_run" = 1 ]; then
    say "dry run: nothing was changed"
  else
    say "uninstalled"
  fi
}

if [ "$uninstall" = 1 ]; then
  do_uninstall
else
  do_install
fi
