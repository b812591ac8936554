"""A Debian bookworm arm64 root on this x86 machine, run through qemu-user (``make pi-rehearsal``).

Raspberry Pi OS is Debian on arm64, so a ``debootstrap --arch=arm64 --variant=minbase`` root
entered with ``chroot`` (binfmt_misc hands its aarch64 programs to ``qemu-aarch64-static``)
runs the unit's installer and wheels as a Pi would, only slower. The root is built once and
cached; each rehearsal works on a fresh copy of it. Every mount made here is undone on exit,
also after a failure or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
# Raspberry Pi OS Lite has these before anything is installed; minbase has neither.
BASE_PACKAGES = ("python3", "ca-certificates")
HOST_PACKAGES = ("debootstrap", "qemu-user-static", "binfmt-support")
BINFMT = Path("/proc/sys/fs/binfmt_misc")
# Inside the root: where the checkout goes, and what the installer's PATH is.
CHECKOUT = "/root/lessoncam"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class RehearsalError(Exception):
    """A step cannot go on; the message says what to do."""


def run(cmd: Sequence[str], log: Path | None = None, timeout: float | None = None) -> int:
    """Run ``cmd`` (output appended to ``log``, else inherited); its exit status.

    It runs in a process group of its own: on a time-out or an interruption the whole group
    is killed, so no apt or dpkg goes on working in a root whose mounts are being undone.
    """
    with contextlib.ExitStack() as stack:
        out = None
        if log is not None:
            out = stack.enter_context(log.open("a"))
            out.write(f"$ {' '.join(cmd)}\n")
            out.flush()
        child = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT if out else None, start_new_session=True
        )
        try:
            return child.wait(timeout=timeout)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            raise


def need_host_packages(log: Path) -> list[str]:
    """Install debootstrap, qemu-user-static and binfmt-support if missing; what was installed."""
    missing = []
    for package in HOST_PACKAGES:
        status = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", package],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        if status != "install ok installed":
            missing.append(package)
    if missing:
        env = ["env", "DEBIAN_FRONTEND=noninteractive"]
        if run(["apt-get", "update", "-q"], log) != 0 or (
            run([*env, "apt-get", "install", "-y", "-q", *missing], log) != 0
        ):
            raise RehearsalError(f"apt-get could not install {' '.join(missing)}: see {log}")
    return missing


def need_binfmt(log: Path) -> bool:
    """binfmt_misc mounted and qemu-aarch64 registered; True when this call mounted it."""
    mounted = False
    if not (BINFMT / "register").exists():
        if run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)], log) != 0:
            raise RehearsalError(
                f"cannot mount binfmt_misc on {BINFMT} (a container needs --privileged): see {log}"
            )
        mounted = True
    handler = BINFMT / "qemu-aarch64"
    if not handler.exists() or "enabled" not in handler.read_text():
        run(["update-binfmts", "--enable", "qemu-aarch64"], log)
    if not handler.exists() or "enabled" not in handler.read_text():
        raise RehearsalError(
            "qemu-aarch64 is not registered with binfmt_misc: "
            f"update-binfmts --enable qemu-aarch64 failed (see {log})"
        )
    return mounted


def base_root(cache: Path, log: Path) -> tuple[Path, bool]:
    """The cached bookworm arm64 root (built by debootstrap when missing); True if just built."""
    base = cache / "base"
    if (base / "usr/bin/python3").exists():
        return base, False
    partial = cache / "base.partial"
    shutil.rmtree(partial, ignore_errors=True)
    cache.mkdir(parents=True, exist_ok=True)
    cmd = [
        *("debootstrap", "--arch=arm64", "--variant=minbase"),
        f"--include={','.join(BASE_PACKAGES)}",
        *(SUITE, str(partial), MIRROR),
    ]
    if run(cmd, log) != 0:
        raise RehearsalError(f"debootstrap failed (is {MIRROR} reachable?): see {log}")
    partial.rename(base)
    return base, True


def fresh_copy(base: Path, work: Path) -> None:
    """``work`` as a copy of the base root (hard links would let one run change the next)."""
    if work.exists():
        # A mount left by a killed run must not take the host's /dev or /proc down with it.
        for mount in mounts_under(work):
            subprocess.run(["umount", "-l", str(mount)], check=False)
        left = mounts_under(work)
        if left:  # rmtree would go on into the host's /dev
            raise RehearsalError(f"still mounted, unmount by hand: {' '.join(map(str, left))}")
        shutil.rmtree(work)
    if subprocess.run(["cp", "-a", str(base), str(work)], check=False).returncode != 0:
        raise RehearsalError(f"cannot copy {base} to {work}")


def mounts_under(path: Path) -> list[Path]:
    """Mount points at or below ``path``, deepest first."""
    found = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        point = Path(line.split()[1].replace("\\040", " "))
        if point == path or path in point.parents:
            found.append(point)
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def copy_host_settings(root: Path) -> None:
    """What lets apt and pip reach their archives from inside: DNS, CA certificates, pip config.

    The host's CA bundle goes in twice: as the root's bundle now, and as a local certificate
    that ``update-ca-certificates`` (run by apt's triggers) keeps in the bundle afterwards.
    """
    shutil.copy2("/etc/resolv.conf", root / "etc/resolv.conf")
    bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    if bundle.exists():
        shutil.copyfile(bundle, root / "etc/ssl/certs/ca-certificates.crt")
        local = root / "usr/local/share/ca-certificates"
        local.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(bundle, local / "host-bundle.crt")
    # Inside, everything runs as root (HOME=/root) or as the unit's user (no pip there).
    for conf, inside in (
        (Path("/etc/pip.conf"), "etc/pip.conf"),
        (Path.home() / ".config/pip/pip.conf", "root/.config/pip/pip.conf"),
    ):
        if conf.exists():
            (root / inside).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(conf, root / inside)


def copy_checkout(repo: Path, root: Path) -> None:
    """The checkout's files (tracked and new, not ignored) into the root at ``CHECKOUT``."""
    listed = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    target = root / CHECKOUT.lstrip("/")
    shutil.rmtree(target, ignore_errors=True)
    for name in filter(None, listed):
        source = repo / os.fsdecode(name)
        if not source.is_file():
            continue  # deleted in the work tree
        dest = target / os.fsdecode(name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest)


# What a chroot needs mounted: mount's arguments, and where in the root.
SYSTEM_MOUNTS = (
    (("-t", "proc", "proc"), "proc"),
    (("-t", "sysfs", "sysfs"), "sys"),
    (("--bind", "/dev"), "dev"),
    (("--bind", "/dev/pts"), "dev/pts"),
)


@contextlib.contextmanager
def mounted(
    root: Path,
    caches: dict[str, Path],
    log: Path,
    system: Sequence[tuple[Sequence[str], str]] = SYSTEM_MOUNTS,
) -> Iterator[None]:
    """The ``system`` mounts and the download caches (path in the root -> host dir) mounted in
    the root while the block runs; all unmounted afterwards, whatever happened."""
    plan = [(list(args), root / inside) for args, inside in system]
    for inside, host in caches.items():
        host.mkdir(parents=True, exist_ok=True)
        plan.append((["--bind", str(host)], root / inside.lstrip("/")))
    done: list[Path] = []
    try:
        for args, point in plan:
            point.mkdir(parents=True, exist_ok=True)
            if run(["mount", *args, str(point)], log) != 0:
                raise RehearsalError(f"cannot mount {point}: see {log}")
            done.append(point)
        yield
    finally:
        for point in reversed(done):
            if run(["umount", str(point)], log) != 0:
                run(["umount", "-l", str(point)], log)
        left = mounts_under(root)
        if left:
            raise RehearsalError(f"still mounted, unmount by hand: {' '.join(map(str, left))}")


def chroot_cmd(
    root: Path, cmd: Sequence[str], env: dict[str, str] | None = None, user: str | None = None
) -> list[str]:
    """``cmd`` run inside ``root`` with a clean environment (plus ``env``), as ``user``
    (``uid:gid``)."""
    base = {"PATH": PATH, "HOME": "/root", "LANG": "C.UTF-8"}
    for name, value in os.environ.items():
        if name.startswith("PIP_"):  # the host's pip settings, as in its pip.conf
            base[name] = value
    words = [f"{k}={v}" for k, v in (base | (env or {})).items()]
    spec = [f"--userspec={user}"] if user else []
    return ["chroot", *spec, str(root), "/usr/bin/env", "-i", *words, *cmd]
