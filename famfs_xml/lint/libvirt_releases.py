"""What libvirt decides differently from release to release, and how rules word it.

Each :class:`Change` is one memory question that libvirt answers one way up to a release
and another way after it. ``old_through`` and ``new_from`` bound the change: the release
notes name the first release with the new answer, and real libvirt showed both sides
(measured with ``define --validate`` on the embedded QEMU driver: 9.0.0 of Debian 12, 11.3.0
of Debian 13, 12.8.0 of Debian sid; CI judges with 9.0 and 12.8, docs/libvirt-judge.md).

A rule asks :func:`era` for the run's target release and words its message with
:func:`said`: for a known target, what that release does; for an unknown one, what the
releases on either side of the change do.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

from famfs_xml.core.libvirt_version import LibvirtVersion


class Era(enum.Enum):
    OLD = "old"
    NEW = "new"
    UNKNOWN = "unknown"  # no target, or one between two releases that disagree


class Change(NamedTuple):
    """A libvirt behaviour that changed: the newest release known to behave the old way,
    and the oldest known to behave the new way (consecutive when the release notes tell)."""

    old_through: LibvirtVersion
    new_from: LibvirtVersion

    def era(self, target: LibvirtVersion | None) -> Era:
        if target is None:
            return Era.UNKNOWN
        if target < self.new_from and target[:2] <= self.old_through[:2]:
            return Era.OLD
        if target >= self.new_from:
            return Era.NEW
        return Era.UNKNOWN

    def old_releases(self) -> str:
        return f"libvirt up to {_short(self.old_through)}"

    def new_releases(self) -> str:
        return f"libvirt {_short(self.new_from)} and later"


def _short(version: LibvirtVersion) -> str:
    return f"{version.major}.{version.minor}"


#: 9.6.0: "Add NUMA node automatically for memory hotplug". Up to 9.5 a domain with memory
#: devices (or <maxMemory>) and no NUMA cell is refused at define ("At least one numa node
#: has to be configured when enabling memory hotplug"); from 9.6 define adds cell 0 of
#: <memory> minus the memory devices and keeps <memory> (measured: 9.0 refuses, 11.3 and
#: 12.8 add the cell). Only define does this: a saved file loaded by the daemon is not
#: rewritten.
NUMA_CELL_ADDED = Change(LibvirtVersion(9, 5), LibvirtVersion(9, 6))

#: 9.5.0: slots are counted for dimm and nvdimm only, and <maxMemory> may go without
#: slots. 9.0 counts virtio-pmem and virtio-mem too ("memory device count '2' exceeds slots
#: count '1'") and its schema requires slots; 11.3 and 12.8 accept both.
SLOTS_FOR_DIMMS_ONLY = Change(LibvirtVersion(9, 4), LibvirtVersion(9, 5))

#: 9.8.0 added the check that memory device addresses do not overlap (10.1.0 corrected it
#: for nvdimms). 9.0 accepts overlapping nvdimm bases and QEMU refuses to start; 11.3 and
#: 12.8 refuse the define ("memory device address [...] overlaps with other memory device").
ADDRESS_OVERLAP_REFUSED = Change(LibvirtVersion(9, 7), LibvirtVersion(9, 8))


def said(change: Change, target: LibvirtVersion | None, old: str, new: str) -> str:
    """What libvirt does, as true for the target: ``old`` and ``new`` are verb phrases
    ("refuses the define", "adds the cell itself") of the releases before and after."""
    era = change.era(target)
    if era is Era.OLD:
        return f"libvirt {target} {old}"
    if era is Era.NEW:
        return f"libvirt {target} {new}"
    return f"{change.old_releases()} {old}; {change.new_releases()} {new}"
