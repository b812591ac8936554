"""A Raspberry Pi for ``systemd/install-device.sh`` to install onto, inside a temp directory.

The script finds every system path under ``LESSONCAM_ROOT`` and its probes and system tools on
``PATH``. ``FakePi`` makes the root (``/proc/device-tree/model``, ``/dev/i2c-1``,
``/dev/v4l/by-id``, ``/etc/passwd``...) and a ``PATH`` of stand-ins that answer as a Pi would
(``rpicam-hello --list-cameras``, ``arecord -l``, ``i2cdetect -y 1``) or keep their state in
the root (``apt-get`` and ``dpkg-query``, ``systemctl enable``, ``useradd --prefix``) and log
each call. The venv's ``lessoncam-device`` is the real one, so the config the script writes
goes through the real ``check-config``. Real tools the script needs are linked in; nothing
else of the host is on the ``PATH``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "systemd" / "install-device.sh"
# What Raspberry Pi OS Bookworm's apt gives (python3-picamera2 0.3.27 and friends).
APT_VERSIONS = {
    "python3-picamera2": "0.3.27-1",
    "python3-numpy": "1:1.24.2-1+deb12u1",
    "python3-av": "12.3.0-2+rpt1",
}
HOST_TOOLS = [
    *("bash", "env", "mktemp", "rm", "sed", "awk", "tr", "cmp", "install", "chown", "grep"),
    *("sort", "seq", "cat", "id", "ls", "rmdir", "dirname", "readlink", "mkdir", "ln", "head"),
    *("tail", "basename", "cp", "chmod", "find", "xargs", "sha256sum", "cut"),
]

PI4_MODEL = "Raspberry Pi 4 Model B Rev 1.5"
PI5_MODEL = "Raspberry Pi 5 Model B Rev 1.0"
IMX708 = "imx708 [4608x2592 10-bit RGGB] (/base/soc/i2c0mux/i2c@1/imx708@1a)"
IMX477 = "imx477 [4056x3040 12-bit RGGB] (/base/axi/pcie@120000/rp1/i2c@80000/imx477@1a)"
USB_MIC = ("Device", "USB PnP Sound Device")

_LOG = 'printf "%s\\n" "$(basename "$0") $*" >> "$FAKE_LOG"\n'

_PYTHON_TOOL = '''#!{python}
"""{doc}"""
import os, sys
from pathlib import Path
args = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(" ".join([Path(sys.argv[0]).name, *args]) + "\\n")
'''

_USERS = (
    _PYTHON_TOOL
    + """
tool = Path(sys.argv[0]).name
root = Path(args[args.index("--prefix") + 1]) if "--prefix" in args else Path("/")
if root == Path("/"):
    sys.exit("the fake {{tool}} only works under --prefix")
passwd, group = root / "etc/passwd", root / "etc/group"
name = args[-1]
groups = [line.split(":") for line in group.read_text().splitlines()]
if tool == "groupadd":
    gid = 990 - len(groups)
    group.write_text(group.read_text() + f"{{name}}:x:{{gid}}:\\n")
elif tool == "useradd":
    group.write_text(group.read_text() + f"{{name}}:x:999:\\n")
    home = args[args.index("--home-dir") + 1]
    passwd.write_text(passwd.read_text() + f"{{name}}:x:999:999::{{home}}:/usr/sbin/nologin\\n")
elif tool == "usermod":
    wanted = args[args.index("-G") + 1].split(",")
    for g in groups:
        members = [m for m in g[3].split(",") if m]
        if g[0] in wanted and name not in members:
            g[3] = ",".join([*members, name])
    group.write_text("".join(":".join(g) + "\\n" for g in groups))
elif tool == "userdel":
    lines = passwd.read_text().splitlines()
    passwd.write_text("".join(l + "\\n" for l in lines if not l.startswith(name + ":")))
"""
)

_DPKG = (
    _PYTHON_TOOL
    + """
state = Path(os.environ["FAKE_STATE"]) / "dpkg"
lines = state.read_text().splitlines() if state.exists() else []
installed = dict(line.split(" ", 1) for line in lines)
if Path(sys.argv[0]).name == "apt-get":
    if args and args[0] == "install":
        versions = {versions!r}
        for package in (a for a in args[1:] if not a.startswith("-")):
            installed.setdefault(package, versions.get(package, "1.0-1"))
        state.write_text("".join(f"{{k}} {{v}}\\n" for k, v in installed.items()))
    sys.exit(0)
fmt = next(a for a in args if a.startswith("-f=")).removeprefix("-f=")
package = args[-1]
if package not in installed:
    sys.exit(f"dpkg-query: no packages found matching {{package}}")
fmt = fmt.replace("${{Status}}", "install ok installed")
print(fmt.replace("${{Version}}", installed[package]), end="")
"""
)

_PIP = (
    _PYTHON_TOOL
    + """
with open(os.environ["FAKE_LOG"], "a") as log:
    for flag in ("-r", "-c"):
        if flag in args:
            text = Path(args[args.index(flag) + 1]).read_text()
            log.write(f"  {{flag}} " + text.replace("\\n", "; ") + "\\n")
"""
)

_PYTHON3 = (
    """#!/bin/bash
if [ "$1" = -m ] && [ "$2" = venv ]; then
  """
    + _LOG
    + """  dir="${@: -1}"
  mkdir -p "$dir/bin"
  printf '#!/bin/bash\\nexec %s "$@"\\n' "$FAKE_PYTHON" > "$dir/bin/python"
  cp "$FAKE_BIN/.pip" "$dir/bin/pip"
  printf '#!/bin/bash\\nexec %s "$@"\\n' "$FAKE_LESSONCAM" > "$dir/bin/lessoncam-device"
  chmod +x "$dir/bin/"*
  exit 0
fi
exec "$FAKE_PYTHON" "$@"
"""
)

_SYSTEMCTL = (
    "#!/bin/bash\n"
    + _LOG
    + """wants="$LESSONCAM_ROOT/etc/systemd/system/multi-user.target.wants"
case "$1" in
  is-enabled) [ -L "$wants/${@: -1}" ] ;;
  enable) mkdir -p "$wants"; ln -sf "/etc/systemd/system/$2" "$wants/$2" ;;
  disable) rm -f "$wants/${@: -1}" ;;
esac
"""
)


def _i2cdetect_grid(addresses: Iterable[int]) -> str:
    """``i2cdetect -y 1``'s table with ``addresses`` answering."""
    found = set(addresses)
    lines = ["     0  1  2  3  4  5  6  7  8  9  a  b  c  d  e  f"]
    for row in range(0, 0x80, 0x10):
        cells = []
        for address in range(row, row + 16):
            if address < 0x03 or address > 0x77:
                cells.append("  ")
            else:
                cells.append(f"{address:02x}" if address in found else "--")
        lines.append(f"{row:02x}: " + " ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


@dataclass
class FakePi:
    """A Pi with ``model``, Pi cameras (rpicam-hello's lines), USB webcams (by-id names),
    microphones (ALSA card id, name) and I2C devices (None: I2C switched off)."""

    base: Path
    model: str | None = PI4_MODEL
    pi_cameras: list[str] = field(default_factory=lambda: [IMX708])
    webcams: list[str] = field(default_factory=list)
    microphones: list[tuple[str, str]] = field(default_factory=lambda: [USB_MIC])
    i2c: list[int] | None = field(default_factory=lambda: [0x40, 0x70])
    apt: dict[str, str] = field(default_factory=lambda: dict(APT_VERSIONS))
    root: Path = field(init=False)
    bin: Path = field(init=False)
    state: Path = field(init=False)
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.root = self.base / "root"
        self.bin = self.base / "bin"
        self.state = self.base / "state"
        self.log = self.base / "calls.log"
        for path in (
            self.root / "etc/systemd/system",
            self.root / "proc",
            self.root / "dev",
            self.bin,
        ):
            path.mkdir(parents=True, exist_ok=True)
        self.state.mkdir(exist_ok=True)
        (self.root / "etc/os-release").write_text(
            'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_CODENAME=bookworm\n'
        )
        (self.root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
        (self.root / "etc/group").write_text(
            "root:x:0:\nvideo:x:44:pi\naudio:x:29:pi\ngpio:x:997:pi\n"
        )
        if self.model is not None:
            (self.root / "proc/device-tree").mkdir()
            (self.root / "proc/device-tree/model").write_bytes(self.model.encode() + b"\0")
        if self.i2c is not None:
            (self.root / "dev/i2c-1").touch()
        for name in self.webcams:
            by_id = self.root / "dev/v4l/by-id"
            by_id.mkdir(parents=True, exist_ok=True)
            (by_id / f"usb-{name}-video-index0").symlink_to("../../video0")
        self._tools()

    def _tool(self, name: str, text: str) -> None:
        path = self.bin / name
        path.write_text(text)
        path.chmod(0o755)

    def _tools(self) -> None:
        for name in HOST_TOOLS:
            found = shutil.which(name, path="/usr/bin:/bin:/usr/sbin:/sbin")
            assert found, f"{name} is needed on this machine"
            (self.bin / name).symlink_to(found)
        python = sys.executable
        self._tool("python3", _PYTHON3)
        self._tool(".pip", _PIP.format(python=python, doc="pip: logs what it would install"))
        self._tool("systemctl", _SYSTEMCTL)
        for name in ("useradd", "usermod", "groupadd", "userdel"):
            self._tool(name, _USERS.format(python=python, doc="users under --prefix"))
        dpkg = _DPKG.format(python=python, doc="apt and dpkg", versions=self.apt)
        self._tool("apt-get", dpkg)
        self._tool("dpkg-query", dpkg)
        listing = "Available cameras\n-----------------\n" + "".join(
            f"{n} : {line}\n    Modes: 'SRGGB10_CSI2P' : 1536x864 [120.13 fps]\n\n"
            for n, line in enumerate(self.pi_cameras)
        )
        if not self.pi_cameras:
            listing = "No cameras available!\n"
        self._tool("rpicam-hello", f"#!/bin/bash\n{_LOG}cat <<'EOF'\n{listing}EOF\n")
        cards = "".join(
            f"card {n + 1}: {card} [{name}], device 0: USB Audio [USB Audio]\n"
            "  Subdevices: 1/1\n  Subdevice #0: subdevice #0\n"
            for n, (card, name) in enumerate(self.microphones)
        )
        self._tool(
            "arecord",
            f"#!/bin/bash\n{_LOG}printf '**** List of CAPTURE Hardware Devices ****\\n'\n"
            f"cat <<'EOF'\n{cards}EOF\n",
        )
        grid = _i2cdetect_grid(self.i2c or [])
        self._tool("i2cdetect", f"#!/bin/bash\n{_LOG}cat <<'EOF'\n{grid}EOF\n")

    def without(self, *tools: str) -> None:
        """Take probes off the PATH (a Pi OS without rpicam-apps, alsa-utils...)."""
        for tool in tools:
            (self.bin / tool).unlink()

    def install(self, *args: str, answers: str = "") -> subprocess.CompletedProcess[str]:
        """Run the real script; ``answers`` are typed at its questions."""
        env = {
            "PATH": str(self.bin),
            "LESSONCAM_ROOT": str(self.root),
            "FAKE_LOG": str(self.log),
            "FAKE_STATE": str(self.state),
            "FAKE_BIN": str(self.bin),
            "FAKE_PYTHON": sys.executable,
            "FAKE_LESSONCAM": str(Path(sys.executable).parent / "lessoncam-device"),
            "HOME": str(self.base),
            "LANG": "C.UTF-8",
        }
        return subprocess.run(
            [str(SCRIPT), *args],
            input=answers,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def forget_calls(self) -> None:
        self.log.unlink(missing_ok=True)

    def snapshot(self) -> dict[str, tuple[str, int, int, int, bytes | str]]:
        """Every path under the root: its kind, mode, owner, group and content."""
        seen: dict[str, tuple[str, int, int, int, bytes | str]] = {}
        for path in sorted(self.root.rglob("*")):
            st = path.lstat()
            key = str(path.relative_to(self.root))
            if path.is_symlink():
                seen[key] = ("link", 0, st.st_uid, st.st_gid, os.readlink(path))
            elif path.is_dir():
                seen[key] = ("dir", st.st_mode, st.st_uid, st.st_gid, b"")
            else:
                seen[key] = ("file", st.st_mode, st.st_uid, st.st_gid, path.read_bytes())
        return seen
