"""The memory sums libvirt computes (notes: virDomainDefPostParseMemory), shared by the rules."""

from __future__ import annotations

from typing import NamedTuple

from famfs_xml.core import units
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


def max_memory_for(total: int) -> int:
    """The ``<maxMemory>`` to write for a memory ``total``: rounded up to whole MiB, which
    is what QEMU runs on x86 (FX107), so that a fix never writes a size FX107 reports."""
    return -(-total // units.MiB) * units.MiB


def numa_includes_devices(domain: Domain) -> bool:
    """FX202's pattern: the NUMA cells equal ``<memory>`` while memory devices exist, as if
    the cells had been sized to the whole memory, devices included (whatever ``<maxMemory>``
    says; it only decides whether libvirt refuses the domain or runs the cells as RAM)."""
    devs = domain.devs_total
    cells = cells_total(domain)
    if not devs or cells is None or domain.memory is None:
        return False
    return cells == domain.memory.bytes and cells > devs


def numa_refused(domain: Domain) -> bool:
    """libvirt refuses the domain: the cells plus the devices exceed ``<maxMemory>``."""
    cells, devs = cells_total(domain), domain.devs_total
    if cells is None or devs is None or domain.max_memory is None:
        return False
    return cells + devs > domain.max_memory.bytes


class FirstCell(NamedTuple):
    """A NUMA cell for a guest that has none, and the ``<memory>`` that goes with it."""

    cell: int
    memory: int


def first_cell(memory: int, devices: int, added: int = 0) -> FirstCell:
    """The first NUMA cell of a guest that has none, and the ``<memory>`` that goes with it.

    Without cells the guest's RAM is ``<memory>`` minus the ``devices`` already in the
    domain (libvirt's arithmetic; 9.6 and later write exactly that cell at define). The cell
    keeps that RAM, rounded up to whole MiB as QEMU runs a cell on x86, and ``<memory>``
    becomes the cell plus the devices, ``added`` ones included. ``attach`` and the
    keep-all-of-``<memory>`` alternative of FX201's fix (``devices=0, added=D``) compute
    the cell here.
    """
    ram = memory - devices
    cell = -(-ram // units.MiB) * units.MiB
    return FirstCell(cell, cell + devices + added)


def current_after(current: int, memory_before: int, memory_after: int, delta: int) -> int:
    """``<currentMemory>`` when ``<memory>`` moves: it follows ``<memory>`` when it was equal
    (or above), and a ballooned value moves by ``delta``, never above the new memory."""
    if current >= memory_before:
        return memory_after
    moved = current + delta
    if moved <= 0:
        return min(current, memory_after)
    return min(moved, memory_after)


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
