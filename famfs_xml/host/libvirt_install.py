"""The libvirt release installed on this machine, found without running anything.

A lint of files runs in git hooks and CI gates, where spawning ``virsh --version`` would
cost more than the lint itself. libvirt's C library carries its release in its file name
(``libvirt.so.0.9000.0`` is 9.0.0, ``libvirt.so.0.12008.0`` is 12.8.0), and every
libvirt client and daemon loads that library, so one ``readlink`` tells.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from famfs_xml.core.libvirt_version import LibvirtVersion

# a daemon or the client: a bare library (pulled in by some other package) is no libvirt
# that defines domains here
_PROGRAMS = ("usr/sbin/virtqemud", "usr/sbin/libvirtd", "usr/bin/virsh")
_SONAME = re.compile(r"libvirt\.so\.0\.(\d+)\.(\d+)")


def _library_dirs() -> list[str]:
    multiarch = getattr(sys.implementation, "_multiarch", None)
    dirs = [f"usr/lib/{multiarch}"] if multiarch else []
    return [*dirs, "usr/lib64", "usr/lib"]


def installed_libvirt(root: Path = Path("/")) -> LibvirtVersion | None:
    """The release of the libvirt installed under ``root``, or None when there is none."""
    if not any(os.path.exists(root / program) for program in _PROGRAMS):
        return None
    for directory in _library_dirs():
        try:
            target = os.readlink(root / directory / "libvirt.so.0")
        except OSError:
            continue
        match = _SONAME.fullmatch(os.path.basename(target))
        if match is not None:
            number, micro = int(match.group(1)), int(match.group(2))
            return LibvirtVersion(number // 1000, number % 1000, micro)
    return None
