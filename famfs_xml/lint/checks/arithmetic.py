"""The memory sums libvirt computes (notes: virDomainDefPostParseMemory), shared by the rules."""

from __future__ import annotations

from famfs_xml.lint.domain import Domain


def cells_total(domain: Domain) -> int | None:
    """Σ NUMA cell sizes, or None without cells (or with a cell size that does not parse)."""
    return domain.cells_total if domain.cells else None


def required_total(domain: Domain) -> int | None:
    """What ``<memory>`` must be: cells + devs with NUMA (libvirt recomputes it), else memory."""
    devs = domain.devs_total
    cells = cells_total(domain)
    if cells is not None and devs is not None:
        return cells + devs
    if domain.cells:
        return None
    return None if domain.memory is None else domain.memory.bytes


def numa_includes_devices(domain: Domain) -> bool:
    """FX202's condition: the NUMA cells were sized to the whole memory, device included."""
    devs = domain.devs_total
    cells = cells_total(domain)
    if not devs or cells is None or domain.max_memory is None or domain.memory is None:
        return False
    return cells == domain.memory.bytes and cells + devs > domain.max_memory.bytes


def slots_needed(domain: Domain) -> int:
    """Enough slots for every memory device and the highest dimm slot number in use.

    libvirt 9.0 counts every memory device against ``slots``, virtio-pmem and virtio-mem
    included ("memory device count '2' exceeds slots count '1'").
    """
    highest = max((d.slot for d in domain.slot_devices if d.slot is not None), default=-1)
    return max(len(domain.memory_devices), highest + 1, 1)


def lowest_free_slot(used: set[int]) -> int:
    """The lowest slot number not in ``used`` (libvirt assigns slots the same way)."""
    candidate = 0
    while candidate in used:
        candidate += 1
    return candidate
