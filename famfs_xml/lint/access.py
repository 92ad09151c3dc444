"""How QEMU maps a memory device's backing: shared or private, and who decided it.

libvirt gives QEMU's memory backend ``share=on`` or ``share=off`` by a precedence that 9.0
and 12.8 both follow (measured in the ``"share"`` of the ``memory-backend-file`` that
``domxml-to-native`` builds): the device's own ``access``; without one, the ``memAccess`` of
the guest NUMA cell the device sits in (``<target><node>``); without one, the domain's
``<memoryBacking><access mode=…/>`` (virt-manager's "shared memory" for virtiofs writes
it); without any, private.
"""

from __future__ import annotations

from typing import NamedTuple

from famfs_xml.lint.domain import Domain, MemoryDevice


class Access(NamedTuple):
    """The mapping QEMU gets, and where the value comes from."""

    mode: str  # "shared", "private" (libvirt knows no other)
    origin: str  # "device", "cell", "memoryBacking" or "default"
    cell_id: int | None = None  # the cell, when the cell decided

    @property
    def shared(self) -> bool:
        return self.mode == "shared"

    def describe(self) -> str:
        """Where the mode comes from, as a message says it."""
        if self.origin == "device":
            return f"access='{self.mode}'"
        if self.origin == "cell":
            return f"memAccess='{self.mode}' of NUMA cell {self.cell_id}"
        if self.origin == "memoryBacking":
            return f"<memoryBacking><access mode='{self.mode}'/>"
        return "no access setting anywhere"


def device_access(domain: Domain, device: MemoryDevice) -> Access:
    """The mapping of ``device`` by libvirt's precedence."""
    if device.access is not None:
        return Access(device.access, "device")
    if device.node is not None:
        for cell in domain.cells:
            if cell.id == device.node:
                mode = cell.element.get("memAccess")
                if mode is not None:
                    return Access(mode, "cell", cell.id)
                break
    backing = domain.child("memoryBacking")
    access = backing.find("access") if backing is not None else None
    mode = access.get("mode") if access is not None else None
    if mode is not None:
        return Access(mode, "memoryBacking")
    return Access("private", "default")
