"""famfs mode: the ``fsdev_dax`` driver, who can bind it, and how.

From Linux 7.0 on, famfs mounts a dax device only while it is bound to ``fsdev_dax`` ("famfs
mode"); ``device_dax`` (devdax mode) is what ``mmap()`` of ``/dev/daxX.Y`` and QEMU need.
Measured in Debian sid's Linux 7.2.13 with ndctl/daxctl 85 and Debian 12's 76.1:

- the dax bus offers ``device_dax``, ``kmem`` and ``fsdev_dax`` (a module); Linux 6.1 has no
  ``fsdev_dax``;
- daxctl 85 binds it with ``reconfigure-device --mode=famfs`` and lists the device as
  ``"mode":"famfs"``; daxctl 76.1 answers ``unknown mode requested``, lists a device bound to
  ``fsdev_dax`` as ``devdax``, and "converts" it to devdax by doing nothing (``was already in
  devdax mode``, exit 0);
- through sysfs, as libdaxctl and famfs do it: the name written to the old driver's
  ``remove_id`` and ``unbind`` releases the device; written to the new driver's ``bind`` alone
  it fails with EIO, because the driver does not match the device: written to ``new_id`` it
  becomes the driver's, and is bound at once;
- in famfs mode ``/dev/daxX.Y`` can still be opened, but ``mmap()`` fails with ENODEV.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from famfs_xml.core.inventory import BackingDevice
from famfs_xml.host.sysfs import dax_driver, dax_driver_dir, read_attr, under
from famfs_xml.host.tools import run_tool

FSDEV_DAX = "fsdev_dax"
MODE_DRIVERS = {"devdax": "device_dax", "system-ram": "kmem", "famfs": FSDEV_DAX}
"""The driver each dax mode binds."""

FAMFS_MODE_KERNEL = (7, 0)
"""The first Linux whose famfs needs famfs mode (fsdev_dax) to mount."""

DAXCTL_FAMFS_VERSION = 85
"""The daxctl measured to have ``--mode=famfs`` (76.1, Debian 12's, has not)."""

_VERSION = re.compile(r"(\d+)(?:\.(\d+))?")


# --- the kernel's fsdev_dax --------------------------------------------------------------


@dataclass(frozen=True)
class FsdevDax:
    """Whether this kernel can bind a dax device to ``fsdev_dax``."""

    loaded: bool  # /sys/bus/dax/drivers/fsdev_dax exists
    module: str | None  # the module file, "built-in", or None
    release: str | None  # the running kernel's release

    @property
    def available(self) -> bool:
        return self.loaded or self.module is not None

    def missing_reason(self) -> str:
        """Why famfs mode is impossible here (for a plan or a finding)."""
        kernel = f"Linux {self.release}" if self.release else "this kernel"
        modules = f"/lib/modules/{self.release}" if self.release else "/lib/modules"
        return (
            f"{kernel} has no fsdev_dax driver (none loaded, none built in, no fsdev_dax module "
            f"in {modules}): famfs mode needs Linux 7.0 or later built with CONFIG_DEV_DAX_FSDEV"
        )


def fsdev_dax(root: Path) -> FsdevDax:
    """The running kernel's ``fsdev_dax``: loaded, or available as a module or built in."""
    release = read_attr(under(root, "/proc/sys/kernel/osrelease"))
    loaded = dax_driver_dir(root, FSDEV_DAX).is_dir()
    return FsdevDax(loaded, _module(root, release) if release else None, release)


def _module(root: Path, release: str) -> str | None:
    modules = under(root, f"/lib/modules/{release}")
    builtin = read_attr(modules / "modules.builtin") or ""
    if re.search(r"(?:^|/)fsdev_dax\.ko\b", builtin, re.MULTILINE):
        return "built-in"
    try:
        found = sorted((modules / "kernel" / "drivers" / "dax").glob("fsdev_dax.ko*"))
    except OSError:
        return None
    return str(found[0].relative_to(root)) if found else None


# --- daxctl ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Daxctl:
    """The installed daxctl, as far as famfs mode goes."""

    version: str | None  # what ``daxctl --version`` printed; None: not installed

    @property
    def has_famfs(self) -> bool:
        match = _VERSION.match(self.version or "")
        return match is not None and int(match.group(1)) >= DAXCTL_FAMFS_VERSION

    def why_sysfs(self) -> str:
        if self.version is None:
            return "daxctl is not installed"
        return (
            f"daxctl {self.version} has no famfs mode (daxctl {DAXCTL_FAMFS_VERSION} has "
            "--mode=famfs)"
        )


def installed_daxctl(timeout: float = 10.0) -> Daxctl:
    result = run_tool(("daxctl", "--version"), timeout=timeout)
    return Daxctl((result.stdout.strip() or None) if result.ok else None)


# --- rebinding through sysfs -------------------------------------------------------------

SysfsWriter = Callable[[Path, str], None]
"""Writes one value to one sysfs attribute (a file under the root); raises OSError."""


def write_attribute(path: Path, value: str) -> None:
    with open(path, "w", encoding="ascii") as handle:
        handle.write(value)


@dataclass(frozen=True)
class Rebind:
    """Move ``name`` from driver ``old`` (None: unbound) to driver ``new`` through sysfs;
    ``load`` first loads the new driver's module, which daxctl would do itself."""

    name: str
    old: str | None
    new: str
    load: bool = False

    def _path(self, driver: str, attribute: str) -> str:
        return f"/sys/bus/dax/drivers/{driver}/{attribute}"

    def shell_lines(self) -> list[str]:
        """What it does, as the shell commands a person would type."""
        lines = [f"modprobe {self.new}"] if self.load else []
        if self.old is not None:
            lines += [
                f"echo {self.name} > {self._path(self.old, a)}" for a in ("remove_id", "unbind")
            ]
        return [*lines, f"echo {self.name} > {self._path(self.new, 'new_id')}"]

    def run(self, root: Path, write: SysfsWriter = write_attribute) -> str | None:
        """Do it; None when the device ends up bound to ``new``, else what went wrong. The
        new driver is made sure of before the old one lets go of the device."""
        if self.load and not dax_driver_dir(root, self.new).is_dir():
            loaded = run_tool(("modprobe", self.new), timeout=60.0)
            if not loaded.ok:
                return loaded.describe_failure()
        if not dax_driver_dir(root, self.new).is_dir():
            return f"the {self.new} driver is not loaded (no {self._path(self.new, '')})"
        if self.old is not None:
            _quietly(write, under(root, self._path(self.old, "remove_id")), self.name)
            failed = _written(write, under(root, self._path(self.old, "unbind")), self.name)
            if failed:
                return failed
        _quietly(write, under(root, self._path(self.new, "new_id")), self.name)
        if dax_driver(root, self.name) == self.new:
            return None
        return _written(write, under(root, self._path(self.new, "bind")), self.name)


def _quietly(write: SysfsWriter, path: Path, value: str) -> None:
    """A write whose failure is expected at times (an id that is already there, or not)."""
    with contextlib.suppress(OSError):
        write(path, value)


def _written(write: SysfsWriter, path: Path, value: str) -> str | None:
    try:
        write(path, value)
    except OSError as exc:
        return f"writing {value} to {path.name} of {path.parent.name} failed: {exc.strerror or exc}"
    return None


# --- devices left in famfs mode ----------------------------------------------------------


def mounted_sources(root: Path) -> dict[str, tuple[str, str]]:
    """``/proc/mounts`` by source: ``{"/dev/dax0.0": ("/mnt/famfs", "fuse.famfs")}``."""
    found: dict[str, tuple[str, str]] = {}
    for line in (read_attr(under(root, "/proc/mounts")) or "").splitlines():
        fields = line.split()
        if len(fields) >= 3:
            found.setdefault(fields[0], (fields[1], fields[2]))
    return found


def left_in_famfs_mode(root: Path, devices: list[BackingDevice]) -> list[BackingDevice]:
    """Dax devices in famfs mode that no file system is mounted from: a famfs ``mkfs`` or
    ``mount`` that failed half way leaves them so, and nothing can map them."""
    mounted = mounted_sources(root)
    return [d for d in devices if d.mode == "famfs" and d.path not in mounted]


def return_hint(device: BackingDevice) -> str:
    name = device.path.rsplit("/", 1)[-1]
    return f"famfs-xml device convert {name} --mode devdax --yes"
