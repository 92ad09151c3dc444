"""Whether an nvdimm's target size can be trusted, decided once for every rule that cares.

``<memory>``, ``<maxMemory>``, ``<currentMemory>`` and a new NUMA cell are all computed from
the devices' target sizes. A fix that writes such a total from a size that is itself a
mistake makes the mistake consistent: lint goes quiet while QEMU refuses to start, or the
guest gets what nobody meant. So a size in doubt is reported once, by the rule it belongs to
(FX305 against the device or the guest, FX306 or FX107 for the alignment), the totals rules
leave their fixes to the user until it is settled, and their warnings, which would only
restate it, stay quiet.

A target size is in doubt when:

* the backing device's size is known and the target is larger (QEMU refuses to start; FX305's
  safe fix settles this one) or at most half of it (more likely a unit slip than a choice);
* it is not a whole number of its ``alignsize`` nor, on x86, of the 2 MiB libvirt rounds
  every nvdimm up to at start: no dax device or namespace has such a size;
* the backing device's size is unknown and the target is more than :data:`GUEST_RATIO` times
  the guest's RAM, the mark of virt-install's MiB read as KiB (``target.size=1048576`` is
  1 TiB). Facts from ``--inventory`` or ``--host`` replace this guess with the device's size.
"""

from __future__ import annotations

import enum
from typing import NamedTuple, cast

from famfs_xml.core import units
from famfs_xml.lint.checks.base import RuleContext
from famfs_xml.lint.domain import Domain, MemoryDevice

GUEST_RATIO = 64
X86_DIMM_ALIGN = 2 * units.MiB  # libvirt rounds dimm and nvdimm sizes up to this at start
_X86 = (None, "x86_64", "i686")
_MEMO_KEY = "device_sizes"


class Doubt(enum.Enum):
    LARGER_THAN_DEVICE = "larger"
    FAR_BELOW_DEVICE = "far below"
    UNALIGNED = "unaligned"
    IMPLAUSIBLE_FOR_GUEST = "implausible"


class SizeCheck(NamedTuple):
    """What is known of one nvdimm's target size."""

    device: MemoryDevice
    size: int
    backing: int | None  # the backing device's size, when known
    alignment: int  # what the size must be a whole number of
    doubt: Doubt | None


def guest_ram(domain: Domain) -> int | None:
    """The guest's ordinary RAM: its NUMA cells, or ``<memory>`` without them."""
    if domain.cells:
        return domain.cells_total
    return None if domain.memory is None else domain.memory.bytes


def backing_size(ctx: RuleContext, device: MemoryDevice) -> int | None:
    if ctx.facts is None or not device.path:
        return None
    backing = ctx.facts.lookup(device.path)
    if backing is None or not backing.exists:
        return None
    return backing.size


def alignment(domain: Domain, device: MemoryDevice) -> int:
    """The step a target size must be a whole number of: its ``alignsize`` and, on x86, the
    2 MiB libvirt rounds it up to (both powers of two where they are valid: the larger)."""
    align = device.alignsize.bytes if device.alignsize is not None else 0
    if domain.arch in _X86:
        align = max(align, X86_DIMM_ALIGN)
    return align


def check_size(ctx: RuleContext, device: MemoryDevice) -> SizeCheck | None:
    """The verdict on one nvdimm's target size; None when it has none that parses."""
    if not device.is_nvdimm or device.size is None:
        return None
    size = device.size.bytes
    backing = backing_size(ctx, device)
    align = alignment(ctx.domain, device)
    return SizeCheck(device, size, backing, align, _doubt(ctx.domain, size, backing, align))


def _doubt(domain: Domain, size: int, backing: int | None, align: int) -> Doubt | None:
    if backing is not None and size > backing:
        return Doubt.LARGER_THAN_DEVICE
    if backing is not None and 2 * size <= backing:
        return Doubt.FAR_BELOW_DEVICE
    if align and size % align:
        return Doubt.UNALIGNED
    ram = guest_ram(domain)
    if backing is None and ram and size > GUEST_RATIO * ram:
        return Doubt.IMPLAUSIBLE_FOR_GUEST
    return None


def size_checks(ctx: RuleContext) -> list[SizeCheck]:
    """The verdict on every nvdimm's target size, worked out once per document (the backing
    facts may come from sysfs)."""
    cached = ctx.memo.get(_MEMO_KEY)
    if cached is None:
        devices = ctx.domain.memory_devices
        cached = [c for d in devices if (c := check_size(ctx, d)) is not None]
        ctx.memo[_MEMO_KEY] = cached
    return cast("list[SizeCheck]", cached)


def sizes_in_doubt(ctx: RuleContext) -> bool:
    """Whether any nvdimm's target size is in doubt: the totals computed from the sizes are
    then not fixed safely."""
    return any(check.doubt is not None for check in size_checks(ctx))
