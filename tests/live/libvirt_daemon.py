"""A real libvirtd (``qemu:///system``) for the tests, started without systemd.

Debian 12 ships no modular daemons: ``libvirtd`` serves the QEMU driver, ``virtlogd`` keeps
the guests' consoles. :class:`Daemon` uses the ones running, or starts them, and stops only
what it started. ``/etc/libvirt/qemu.conf`` needs ``user = "root"`` where ``/dev/kvm``
exists but only root may open it, or every define re-probes QEMU for over a minute; a
missing qemu.conf is written (and removed again), an existing one is left alone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from famfs_xml.live.connection import installed_binding

URI = "qemu:///system"
LIBVIRTD = Path("/usr/sbin/libvirtd")
VIRTLOGD = Path("/usr/sbin/virtlogd")
LIBVIRTD_PID = Path("/run/libvirtd.pid")
VIRTLOGD_PID = Path("/run/virtlogd.pid")
QEMU_CONF = Path("/etc/libvirt/qemu.conf")
SAVED = Path("/etc/libvirt/qemu")  # libvirt's saved definitions
HOOKS = Path("/etc/libvirt/hooks/qemu.d")
PREFIX = "fxlive-"  # every domain the tests define; removed at the end
PACKAGES = "libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86"


class DaemonUnavailable(RuntimeError):
    pass


def unavailable_reason() -> str | None:
    """Why these tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "the system libvirtd needs root"
    missing = [str(p) for p in (LIBVIRTD, VIRTLOGD) if not p.exists()]
    missing += [tool for tool in ("virsh", "qemu-system-x86_64") if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} missing: apt-get install {PACKAGES}"
    if installed_binding() is None:
        return (
            "libvirt's Python binding is not installed: pip install '.[libvirt]' "
            "(needs libvirt-dev and pkg-config)"
        )
    return None


def _pid(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def virsh(*args: str, check: bool = True, uri: str = URI) -> subprocess.CompletedProcess[str]:
    """``virsh -c URI ARGS`` (the system daemon unless ``uri`` names another)."""
    result = subprocess.run(
        ["virsh", "-q", "-c", uri, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=dict(os.environ, LC_ALL="C"),
    )
    if check and result.returncode != 0:
        raise AssertionError(f"virsh {' '.join(args)}: {result.stderr.strip()}")
    return result


class Daemon:
    """The system libvirtd and virtlogd, running for the tests."""

    def __init__(self) -> None:
        self._started: list[Path] = []  # pid files of the daemons started here
        self._wrote_conf = False

    def start(self) -> None:
        Path("/var/log/libvirt").mkdir(parents=True, exist_ok=True)  # else both exit 1
        # libvirtd makes the directory of saved definitions at its first define only; the
        # tests that edit a saved file by hand, as an operator would, need it before that.
        SAVED.mkdir(parents=True, exist_ok=True)
        if not QEMU_CONF.exists():
            QEMU_CONF.write_text('user = "root"\ngroup = "root"\n', encoding="utf-8")
            self._wrote_conf = True
        for binary, pidfile in ((VIRTLOGD, VIRTLOGD_PID), (LIBVIRTD, LIBVIRTD_PID)):
            if _pid(pidfile) is None:
                subprocess.run([str(binary), "--daemon"], check=True, timeout=60)
                self._started.append(pidfile)
        self.wait_ready()

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while virsh("uri", check=False).returncode != 0:
            if time.monotonic() > deadline:
                raise DaemonUnavailable(f"libvirtd does not answer on {URI}")
            time.sleep(0.1)

    def reload(self) -> None:
        """SIGHUP: libvirtd re-reads its configuration, the saved definitions and the hooks."""
        pid = _pid(LIBVIRTD_PID)
        assert pid is not None, "libvirtd is not running"
        os.kill(pid, signal.SIGHUP)
        self.wait_ready()

    def restart(self) -> None:
        pid = _pid(LIBVIRTD_PID)
        assert pid is not None, "libvirtd is not running"
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while _pid(LIBVIRTD_PID) == pid or _alive(pid):
            if time.monotonic() > deadline:
                raise DaemonUnavailable("libvirtd does not stop")
            time.sleep(0.1)
        subprocess.run([str(LIBVIRTD), "--daemon"], check=True, timeout=60)
        self.wait_ready()

    def remove_test_domains(self) -> None:
        names = virsh("list", "--all", "--name", check=False).stdout.split()
        for name in names:
            if name.startswith(PREFIX):
                virsh("destroy", name, check=False)
                virsh("undefine", "--nvram", name, check=False)

    def stop(self) -> None:
        for pidfile in reversed(self._started):
            pid = _pid(pidfile)
            if pid is not None:
                os.kill(pid, signal.SIGTERM)
                deadline = time.monotonic() + 30
                while _alive(pid) and time.monotonic() < deadline:
                    time.sleep(0.1)
        self._started.clear()
        if self._wrote_conf:
            with contextlib.suppress(FileNotFoundError):
                QEMU_CONF.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (our own child's) counts as gone
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (OSError, IndexError):
        return False
    return state != "Z"
