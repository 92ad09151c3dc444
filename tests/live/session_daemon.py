"""A second real libvirt daemon beside the system one: ``libvirtd`` in session mode, run as an
unprivileged user with XDG directories of its own, reached from root through libvirt's
remote transport ``qemu+unix:///session?socket=PATH``.

Two daemons with their own domains on one machine stand for two hypervisors: each keeps its
definitions in its own directory and answers on its own socket. A session daemon needs no
configuration of the machine (no second set of system paths), runs the same ``libvirtd``
binary (Debian 12's 9.0 and sid's 12.8 alike), and its QEMU driver defines TCG domains
without access to ``/dev/kvm``. It is started and stopped here, by its process id.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.live.libvirt_daemon import LIBVIRTD, DaemonUnavailable, virsh

USER = 65534  # nobody: a user with nothing of its own on any Debian
_DIRS = ("config", "runtime", "cache", "data", "home")


class SessionDaemon:
    """``libvirtd`` of user ``USER`` with its own state under a temporary directory."""

    def __init__(self, uid: int = USER) -> None:
        self.uid = uid
        # outside pytest's tmp_path: the daemon's user must reach it
        self.base = Path(tempfile.mkdtemp(prefix="famfs-xml-session-"))
        self.base.chmod(0o755)
        for name in _DIRS:
            (self.base / name).mkdir(mode=0o700)
            os.chown(self.base / name, uid, uid)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        return self.base / "runtime" / "libvirt" / "libvirt-sock"

    @property
    def uri(self) -> str:
        return f"qemu+unix:///session?socket={self.socket}"

    @property
    def saved(self) -> Path:
        """Where this daemon keeps its domains' definitions."""
        return self.base / "config" / "libvirt" / "qemu"

    def start(self, timeout: float = 60.0) -> None:
        env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(self.base / "home"),
            "XDG_CONFIG_HOME": str(self.base / "config"),
            "XDG_RUNTIME_DIR": str(self.base / "runtime"),
            "XDG_CACHE_HOME": str(self.base / "cache"),
            "XDG_DATA_HOME": str(self.base / "data"),
            "LC_ALL": "C",
        }
        log = (self.base / "libvirtd.log").open("ab")
        self._process = subprocess.Popen(
            [str(LIBVIRTD)],
            env=env,
            cwd=self.base,
            user=self.uid,
            group=self.uid,
            extra_groups=[],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while self.virsh("uri", check=False).returncode != 0:
            if self._process.poll() is not None:
                raise DaemonUnavailable(f"the session libvirtd exited: {self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise DaemonUnavailable(f"the session libvirtd does not answer on {self.uri}")
            time.sleep(0.1)

    def log_tail(self) -> str:
        path = self.base / "libvirtd.log"
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        return " | ".join(lines[-3:])

    def virsh(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return virsh(*args, check=check, uri=self.uri)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        """End the daemon this object started (and only it), by its process id."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
        self._process = None

    def remove(self) -> None:
        """Stop the daemon and delete its state."""
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
