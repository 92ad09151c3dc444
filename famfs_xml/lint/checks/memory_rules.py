"""FX101-FX107: maxMemory, slots, memory and currentMemory against the memory devices."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from functools import partial

from lxml import etree

from famfs_xml.core import units
from famfs_xml.core.findings import Applicability, Edit, Finding, Fix, Severity
from famfs_xml.lint.checks.arithmetic import (
    cells_total,
    current_after,
    max_memory_for,
    numa_includes_devices,
    required_total,
    slots_needed,
)
from famfs_xml.lint.checks.base import RuleContext
from famfs_xml.lint.checks.device_sizes import size_checks, sizes_in_doubt
from famfs_xml.lint.domain import Element
from famfs_xml.lint.edits import Node, choose_unit
from famfs_xml.lint.libvirt_releases import SLOTS_FOR_DIMMS_ONLY, Era, said

_H = units.human


def check_maxmemory_missing(ctx: RuleContext) -> Iterator[Finding]:
    domain = ctx.domain
    if not domain.memory_devices or domain.max_memory_element is not None:
        return
    required = required_total(domain)
    total = None if required is None else max_memory_for(required)
    memory_element = domain.memory_element

    def build() -> list[Edit]:
        if total is None or memory_element is None:
            return []
        unit, value = choose_unit(total, domain.memory_unit, domain.memory_unit)
        attributes = [("slots", str(slots_needed(domain)))]
        if unit is not None:
            attributes.append(("unit", unit))
        return [ctx.editor.insert_before(memory_element, Node("maxMemory", attributes, value))]

    yield ctx.finding(
        "FX101",
        domain.root,
        'memory devices need <maxMemory slots=...>; libvirt refuses: "cannot use/hotplug a '
        "memory device when domain 'maxMemory' is not defined\"",
        fix=_total_fix(
            ctx, "add <maxMemory>" + (f" of {units.exact(total)}" if total else ""), build
        ),
    )


def _total_fix(
    ctx: RuleContext, message: str, build: Callable[[], Edit | Iterable[Edit | None] | None]
) -> Fix | None:
    """A fix that writes a total computed from the devices' sizes: safe only while no size
    is in doubt, for otherwise it would make a mistaken size consistent."""
    if sizes_in_doubt(ctx):
        return ctx.fix(f"{message} (a device size is in doubt)", build, Applicability.UNSAFE)
    return ctx.fix(message, build)


def check_maxmemory_slots(ctx: RuleContext) -> Iterator[Finding]:
    domain = ctx.domain
    element = domain.max_memory_element
    if element is None or (domain.slots_text is not None and domain.slots is None):
        return
    problem = _slots_problem(ctx)
    if problem is None:
        return
    message, severity = problem
    wanted = slots_needed(domain)
    yield ctx.finding(
        "FX102",
        element,
        message,
        severity=severity,
        fix=ctx.fix(
            f"set slots to {wanted}",
            partial(ctx.editor.set_attribute, element, "slots", str(wanted)),
        ),
    )


def _slots_problem(ctx: RuleContext) -> tuple[str, Severity | None] | None:
    """What is wrong with <maxMemory>'s slots, and the severity (None: the rule's error)."""
    domain = ctx.domain
    dimms, total, slots = len(domain.slot_devices), len(domain.memory_devices), domain.slots
    era = SLOTS_FOR_DIMMS_ONLY.era(ctx.libvirt_version)
    if slots is None and dimms:
        return (
            f"<maxMemory> has no slots attribute, and {dimms} dimm/nvdimm devices need a slot "
            "each; "
            + said(
                SLOTS_FOR_DIMMS_ONLY,
                ctx.libvirt_version,
                "refuses it: its schema requires slots with <maxMemory>",
                "refuses the define: a dimm/nvdimm finds no free slot",
            ),
            None,
        )
    if slots is None:
        message = "<maxMemory> has no slots attribute; " + said(
            SLOTS_FOR_DIMMS_ONLY,
            ctx.libvirt_version,
            "refuses it: its schema requires slots with <maxMemory>",
            "accepts it, but no dimm or nvdimm can be added without slots",
        )
        return message, _by_era(era, old=None, new=Severity.INFO, unknown=Severity.WARNING)
    if slots == 0:
        return "<maxMemory slots='0'>: QEMU needs at least one hotplug slot", None
    if slots < dimms:
        return (
            f"slots={slots} but {dimms} dimm/nvdimm devices need a slot each; "
            + said(
                SLOTS_FOR_DIMMS_ONLY,
                ctx.libvirt_version,
                f"refuses: \"memory device count '{total}' exceeds slots count '{slots}'\"",
                "refuses the define: a dimm/nvdimm finds no free slot",
            ),
            None,
        )
    if slots < total and era is not Era.NEW:
        return (
            f"slots={slots} but the domain has {total} memory devices; "
            + said(
                SLOTS_FOR_DIMMS_ONLY,
                ctx.libvirt_version,
                "counts virtio-pmem and virtio-mem devices too and refuses: "
                f"\"memory device count '{total}' exceeds slots count '{slots}'\"",
                "counts only dimm and nvdimm",
            ),
            _by_era(era, old=None, new=None, unknown=Severity.WARNING),
        )
    return None


def _by_era(
    era: Era, *, old: Severity | None, new: Severity | None, unknown: Severity | None
) -> Severity | None:
    return {Era.OLD: old, Era.NEW: new, Era.UNKNOWN: unknown}[era]


def check_maxmemory_too_small(ctx: RuleContext) -> Iterator[Finding]:
    domain = ctx.domain
    if domain.max_memory is None or numa_includes_devices(domain):
        return
    total = required_total(domain)
    if total is None or domain.max_memory.bytes >= total:
        return
    max_memory = domain.max_memory
    what = "NUMA cells + memory devices" if domain.cells else "<memory>"
    shown, needed = units.distinct(max_memory.bytes, total)
    wanted = max_memory_for(total)
    yield ctx.finding(
        "FX103",
        max_memory.element,
        f"maxMemory is {shown} but {what} total {needed}; libvirt refuses: "
        '"maximum memory size must be equal or greater than the actual memory size"',
        fix=_total_fix(
            ctx,
            f"set maxMemory to {units.exact(wanted)}",
            lambda: ctx.editor.set_size(max_memory, wanted, domain.memory_unit),
        ),
    )


def check_memory_total(ctx: RuleContext) -> Iterator[Finding]:
    domain = ctx.domain
    memory = domain.memory
    devs = domain.devs_total
    if memory is None or devs is None or numa_includes_devices(domain):
        return
    cells = cells_total(domain)
    if cells is None:
        if domain.cells or not domain.memory_devices or devs < memory.bytes:
            return
        shown_devs, shown_memory = units.distinct(devs, memory.bytes)
        yield ctx.finding(
            "FX104",
            memory.element,
            f"memory devices total {shown_devs}, not less than <memory> {shown_memory}: "
            'libvirt refuses ("Total size of memory devices exceeds the total memory size")',
            severity=Severity.ERROR,
        )
        return
    total = cells + devs
    if memory.bytes == total or sizes_in_doubt(ctx):
        return  # a size in doubt is reported where it is written, not again in each total
    shown, computed = units.distinct(memory.bytes, total)
    yield ctx.finding(
        "FX104",
        memory.element,
        f"<memory> is {shown} but NUMA cells {_H(cells)} + devices {_H(devs)} = "
        f"{computed}; libvirt silently rewrites it to {computed}",
        fix=ctx.fix(f"set memory to {units.exact(total)}", partial(_set_memory, ctx, total)),
    )


def _set_memory(ctx: RuleContext, total: int) -> list[Edit]:
    """``<memory>`` set to ``total``, and ``<currentMemory>`` with it when it was equal: the
    file keeps saying that the guest is not ballooned."""
    memory, current = ctx.domain.memory, ctx.domain.current_memory
    assert memory is not None
    edits = ctx.editor.set_size(memory, total, memory.unit)
    if current is not None:
        wanted = current_after(current.bytes, memory.bytes, total, 0)
        if wanted != current.bytes:
            edits += ctx.editor.set_size(current, wanted, ctx.domain.memory_unit)
    return edits


def check_current_memory(ctx: RuleContext) -> Iterator[Finding]:
    domain = ctx.domain
    memory_element = domain.memory_element
    expected = None
    if not numa_includes_devices(domain) and not sizes_in_doubt(ctx):
        expected = required_total(domain)
    current = domain.current_memory
    if current is None:
        if domain.current_memory_element is not None or not domain.memory_devices:
            return
        if memory_element is None:
            return
        # libvirt fills a missing <currentMemory> in with <memory>: nothing is wrong (Nova
        # never writes it), so this is advice for those who ask for FX105 by name.
        yield ctx.finding(
            "FX105",
            domain.root,
            "<currentMemory> is missing; libvirt sets it to <memory>, and the famfs guide "
            "writes it out",
            severity=Severity.INFO,
            fix=ctx.fix(
                "add <currentMemory> equal to <memory>",
                lambda: _insert_current_memory(ctx, expected),
            ),
        )
        return
    if expected is None or current.bytes <= expected:
        return
    shown, limit = units.distinct(current.bytes, expected)
    yield ctx.finding(
        "FX105",
        current.element,
        f"currentMemory {shown} exceeds memory {limit}; libvirt silently clamps it",
        fix=ctx.fix(
            f"set currentMemory to {units.exact(expected)}",
            lambda: ctx.editor.set_size(current, expected, domain.memory_unit),
        ),
    )


def _insert_current_memory(ctx: RuleContext, total: int | None) -> list[Edit]:
    domain = ctx.domain
    if total is None or domain.memory_element is None:
        return []
    unit, value = choose_unit(total, domain.memory_unit, domain.memory_unit)
    attributes = [] if unit is None else [("unit", unit)]
    node = Node("currentMemory", attributes, value)
    return [ctx.editor.insert_after(domain.memory_element, node)]


# Where a 1000-based unit could be written; character references could hide one from it.
_DECIMAL_UNIT_TEXT = re.compile(rb"""unit\s*=\s*["'][kmgtpeKMGTPE][bB]["']""")


def check_decimal_unit(ctx: RuleContext) -> Iterator[Finding]:
    work = ctx.doc.work
    if b"&#" not in work and _DECIMAL_UNIT_TEXT.search(work) is None:
        return  # a byte scan is ten times cheaper than visiting every element
    for element in ctx.domain.root.iter(etree.Element):  # elements only, filtered in C
        unit = element.get("unit")
        if unit is None or not units.is_decimal(unit):
            continue
        binary = units.binary_counterpart(unit)
        yield ctx.finding(
            "FX106",
            element,
            f"unit='{unit}' is 1000-based in libvirt ({units.multiplier(unit)} bytes); "
            f"did you mean '{binary}'?",
            fix=ctx.fix(
                f"change unit to {binary} (changes the size)",
                partial(ctx.editor.set_attribute, element, "unit", binary),
                Applicability.UNSAFE,
            ),
        )


def check_memory_alignment(ctx: RuleContext) -> Iterator[Finding]:
    domain = ctx.domain
    if not _is_x86(ctx):
        return
    for cell in domain.cells:
        if cell.memory is not None and cell.memory.bytes % units.MiB:
            yield ctx.finding(
                "FX107",
                cell.element,
                f"NUMA cell {cell.id} of {cell.memory.bytes // units.KiB} KiB is not a multiple "
                "of 1 MiB; QEMU start rounds it up",
            )
    if domain.max_memory is not None and domain.max_memory.bytes % units.MiB:
        yield ctx.finding(
            "FX107",
            domain.max_memory.element,
            f"maxMemory of {domain.max_memory.bytes // units.KiB} KiB is not a multiple of 1 MiB; "
            "QEMU start rounds it up",
        )
    reported_elsewhere = _sizes_fx305_or_fx306_report(ctx)
    for device in domain.slot_devices:
        if device.size is None or not device.size.bytes % (2 * units.MiB):
            continue
        if device.element in reported_elsewhere:
            continue
        message = (
            f"{device.model} size of {device.size.bytes // units.KiB} KiB is not a multiple "
            "of 2 MiB; libvirt rounds it up at start, beyond what the file says"
        )
        if device.is_nvdimm:
            message += "; the memory totals are not fixed until it is settled"
        yield ctx.finding("FX107", device.size.element, message)


def _off_step(size: int, step: int) -> bool:
    return step > 0 and size % step != 0


def _sizes_fx305_or_fx306_report(ctx: RuleContext) -> set[Element]:
    """nvdimms whose odd size FX305 (not the device's size) or FX306 (not a whole number of
    its alignsize) already names: one cause, said once."""
    return {
        check.device.element
        for check in size_checks(ctx)
        if (check.backing is not None and check.size != check.backing)
        or (
            check.device.alignsize is not None
            and _off_step(check.size, check.device.alignsize.bytes)
        )
    }


def _is_x86(ctx: RuleContext) -> bool:
    os_type = next(ctx.domain.os.iterchildren("type"), None) if ctx.domain.os is not None else None
    arch = os_type.get("arch") if os_type is not None else None
    return arch is None or arch in ("x86_64", "i686")


def check_memory_size_missing(ctx: RuleContext) -> Iterator[Finding]:
    domain = ctx.domain
    if domain.cells or (domain.memory_element is not None and domain.memory is None):
        return  # NUMA cells give the size; an unparsable <memory> is FX001's
    if domain.memory is not None and domain.memory.bytes > 0:
        return
    yield ctx.finding(
        "FX108",
        domain.memory_element if domain.memory_element is not None else domain.root,
        'the guest has no memory size: libvirt refuses: "Memory size must be specified via '
        '<memory> or in the <numa> configuration"',
    )
