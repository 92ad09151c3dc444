"""Backing-device facts read live from a machine, for ``lint --host``."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from famfs_xml.core.inventory import BackingDevice
from famfs_xml.host.sysfs import dax_device, under

if TYPE_CHECKING:
    from famfs_xml.host.sysfs import Namespace

_DAX_PATH = re.compile(r"/dev/(dax\d+\.\d+)")
_PMEM_PATH = re.compile(r"/dev/pmem\d+")


class HostFacts:
    """Implements :class:`famfs_xml.core.inventory.DeviceFacts` for the machine under ``root``.

    ``/dev/daxX.Y`` comes from sysfs, ``/dev/pmemX`` from ndctl or sysfs, and any other path
    from ``stat`` of the file (inside ``root``). Paths that are not there come back with
    ``exists=False``.
    """

    def __init__(self, root: Path = Path("/"), ndctl: str | None = None) -> None:
        self._root = root
        self._ndctl = ndctl
        self._namespaces: list[Namespace] | None = None

    def lookup(self, path: str) -> BackingDevice | None:
        dax = _DAX_PATH.fullmatch(path)
        if dax:
            return dax_device(self._root, dax.group(1)) or BackingDevice(path, "dax", exists=False)
        if _PMEM_PATH.fullmatch(path):
            return self._pmem(path)
        return self._file(path)

    def _pmem(self, path: str) -> BackingDevice:
        # ndctl and its module only for a /dev/pmemX: the libvirt hook looks up dax devices
        from famfs_xml.host.namespaces import default_ndctl, find_namespace, list_namespaces

        if self._namespaces is None:
            ndctl = self._ndctl if self._ndctl is not None else default_ndctl(self._root)
            self._namespaces = list_namespaces(self._root, ndctl)
        namespace = find_namespace(self._namespaces, path)
        if namespace is None:
            return BackingDevice(path, "pmem", exists=False)
        return namespace.as_backing(path)

    def _file(self, path: str) -> BackingDevice:
        try:
            info = os.stat(under(self._root, path) if os.path.isabs(path) else path)
        except FileNotFoundError:
            return BackingDevice(path, "file", exists=False)
        except OSError:
            return BackingDevice(path, "file")
        size = info.st_size if stat.S_ISREG(info.st_mode) else None
        return BackingDevice(path, "file", size=size)
