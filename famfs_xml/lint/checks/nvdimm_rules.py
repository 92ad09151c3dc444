"""FX301-FX310: each memory device, and the nvdimm stanza the famfs guide prescribes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING, NamedTuple

from famfs_xml.core import units
from famfs_xml.core.findings import Applicability, Edit, Finding, Severity
from famfs_xml.lint.access import Access, device_access
from famfs_xml.lint.checks import device_sizes
from famfs_xml.lint.checks.arithmetic import lowest_free_slot
from famfs_xml.lint.checks.backing import (
    BackingKind,
    backing_facts,
    backing_kind,
    describe,
    unknown_note,
)
from famfs_xml.lint.checks.base import RuleContext
from famfs_xml.lint.domain import Element, MemoryDevice
from famfs_xml.lint.edits import Node, choose_unit
from famfs_xml.lint.libvirt_releases import ADDRESS_OVERLAP_REFUSED, said

if TYPE_CHECKING:
    from famfs_xml.core.inventory import BackingDevice

_H = units.human
DEFAULT_ALIGN = 2 * units.MiB
DEFAULT_LABEL = 16 * units.MiB
MIN_LABEL = 128 * units.KiB
PAGE = 4 * units.KiB  # QEMU's alignment of a file backend without <alignsize> on x86


def _nvdimms(ctx: RuleContext) -> Iterator[MemoryDevice]:
    return (d for d in ctx.domain.memory_devices if d.is_nvdimm)


def _backing(ctx: RuleContext, device: MemoryDevice) -> BackingDevice | None:
    return backing_facts(ctx, device)


def check_access(ctx: RuleContext) -> Iterator[Finding]:
    for device in _nvdimms(ctx):
        if device.access == "shared":
            continue
        access = device_access(ctx.domain, device)
        element = device.element
        fix = ctx.fix(
            "set access='shared'", partial(ctx.editor.set_attribute, element, "access", "shared")
        )
        if access.shared:
            yield ctx.finding(
                "FX301", element, _inherited_share(access), severity=Severity.WARNING, fix=fix
            )
            continue
        state = f"has access='{device.access}'"
        if device.access is None:
            state = "has no access attribute"
            if access.origin != "default":
                state += f" and takes {access.describe()}"
        yield ctx.finding(
            "FX301",
            element,
            f"nvdimm {state}: QEMU maps the backing privately (share=off), so the guest writes "
            "a private copy that no other VM sees",
            fix=fix,
        )


def _inherited_share(access: Access) -> str:
    return (
        f"nvdimm has no access attribute: QEMU maps it shared only through the "
        f"{access.describe()} (libvirt 9.0 and 12.8 give an nvdimm without access its cell's "
        "memAccess, else <memoryBacking>'s); set access='shared' on the nvdimm itself, so "
        "that its sharing does not hang on a setting made for other memory"
    )


class _AlignProblem(NamedTuple):
    message: str
    severity: Severity | None = None  # None: the rule's own (error)
    applicability: Applicability = Applicability.SAFE


def check_alignsize(ctx: RuleContext) -> Iterator[Finding]:
    for device in _nvdimms(ctx):
        if device.source is None:
            continue
        current = device.alignsize
        if current is None and device.alignsize_element is not None:
            continue  # an unparsable value is FX001's
        expected = _expected_align(ctx, device)
        problem = _alignsize_problem(device, backing_kind(ctx, device), expected)
        if problem is None:
            continue
        yield ctx.finding(
            "FX302",
            device.alignsize_element if current else device.source,
            problem.message,
            severity=problem.severity,
            fix=ctx.fix(
                f"set alignsize to {_H(expected)}",
                partial(_set_align, ctx, device, expected),
                problem.applicability,
            ),
        )


def _alignsize_problem(
    device: MemoryDevice, kind: BackingKind, expected: int
) -> _AlignProblem | None:
    current = device.alignsize.bytes if device.alignsize is not None else None
    if current is not None and (current & (current - 1) or current == 0):
        return _AlignProblem(f"alignsize {_H(current)} is not a power of two; QEMU refuses it")
    if current == expected:
        return None
    path = device.path or ""
    if current is not None and current > expected and current % expected == 0:
        return _coarser_alignment(device, kind, current, expected)
    # A device can only be mapped at its own alignment; for any other backing a different
    # value is the recipe's advice, and changing it must not shrink what the guest sees.
    severity = None if kind.is_device else Severity.WARNING
    if kind.is_device:
        need = f"{describe(kind, path)} needs {_H(expected)}"
        safe = True
    else:
        need = f"the famfs recipe uses {_H(expected)}{_no_alignment_needed(kind, path)}"
        safe = _usable(device, current or PAGE) == _usable(device, expected)
    state = "nvdimm has no <alignsize>" if current is None else f"alignsize is {_H(current)}"
    return _AlignProblem(
        f"{state}; {need}",
        severity,
        Applicability.SAFE if safe else Applicability.UNSAFE,
    )


def _no_alignment_needed(kind: BackingKind, path: str) -> str:
    if kind is BackingKind.FILE:
        return f" ({describe(kind, path)} has no device alignment of its own)"
    return unknown_note(kind, path)


def _coarser_alignment(
    device: MemoryDevice, kind: BackingKind, current: int, expected: int
) -> _AlignProblem | None:
    """A multiple of the device's alignment maps fine; QEMU only rounds the guest's usable
    size (target size minus label) down to a multiple of it."""
    usable, finer = _usable(device, current), _usable(device, expected)
    if usable is not None and usable == finer:
        return None  # nothing is lost
    if usable == 0:
        return _AlignProblem(
            f"alignsize {_H(current)} leaves the guest nothing of the nvdimm once its size "
            'minus the label is aligned down to it; QEMU refuses to start ("the size of '
            'memdev ... is too small to contain nvdimm label ... and aligned PMEM")'
        )
    whose = (
        f"that {describe(kind, device.path or '')} needs"
        if kind.is_device
        else "of the famfs recipe"
    )
    loss = ""
    if usable is not None and finer is not None:
        loss = f" ({_exact(usable)} instead of {_exact(finer)})"
    return _AlignProblem(
        f"alignsize {_H(current)} is a multiple of the {_H(expected)} {whose}: QEMU starts, "
        f"but rounds the guest's usable size down to a multiple of {_H(current)}{loss}",
        Severity.WARNING,
        Applicability.UNSAFE,  # the guest would see a different device size
    )


def _usable(device: MemoryDevice, align: int) -> int | None:
    """What QEMU makes visible of an nvdimm: target size minus label, aligned down."""
    if device.size is None:
        return None
    label = device.label.bytes if device.label is not None else 0
    return max(device.size.bytes - label, 0) // align * align


def _exact(size: int) -> str:
    """A size in the largest binary unit that shows it without rounding."""
    for name, scale in (("GiB", units.GiB), ("MiB", units.MiB), ("KiB", units.KiB)):
        if size % scale == 0:
            return f"{size // scale} {name}"
    return f"{size} bytes"


def _expected_align(ctx: RuleContext, device: MemoryDevice) -> int:
    configured = ctx.parameter("FX302", "alignsize", None)
    if isinstance(configured, int):
        return configured
    backing = _backing(ctx, device)
    if backing is not None and backing.align:
        return backing.align
    return DEFAULT_ALIGN


def _set_align(ctx: RuleContext, device: MemoryDevice, expected: int) -> list[Edit]:
    if device.alignsize is not None:
        return ctx.editor.set_size(device.alignsize, expected, "MiB")
    assert device.source is not None
    unit, value = choose_unit(expected, "MiB", None)
    node = Node("alignsize", [] if unit is None else [("unit", unit)], value)
    if device.path_element is not None:
        return [ctx.editor.insert_after(device.path_element, node)]
    return [ctx.editor.insert_child(device.source, node, first=True)]


def check_pmem(ctx: RuleContext) -> Iterator[Finding]:
    for device in _nvdimms(ctx):
        if device.source is None or device.pmem:
            continue
        source = device.source
        kind = backing_kind(ctx, device)
        prealloc = (
            "nvdimm <source> has no <pmem/>: libvirt then sets prealloc=on and QEMU "
            f"preallocates all of {describe(kind, device.path or 'the backing')} at start"
        )
        if kind.is_device:
            yield ctx.finding(
                "FX303",
                source,
                prealloc,
                fix=ctx.fix("add <pmem/>", partial(ctx.editor.insert_child, source, Node("pmem"))),
            )
            continue
        # Not known to be persistent memory: <pmem/> trades the preallocation for QEMU's
        # deprecation warning, a choice the user makes.
        yield ctx.finding(
            "FX303",
            source,
            f'{prealloc}; <pmem/> avoids that, but then QEMU (7.2, 11.1) warns "Using non DAX '
            "backing file with 'pmem=on' option is deprecated\" unless the file is on DAX "
            f"storage{unknown_note(kind, device.path or '')}",
            severity=Severity.WARNING,
            fix=ctx.fix(
                "add <pmem/> (no preallocation, but QEMU's warning for a non-DAX file)",
                partial(ctx.editor.insert_child, source, Node("pmem")),
                Applicability.UNSAFE,
            ),
        )


def check_label(ctx: RuleContext) -> Iterator[Finding]:
    wanted = ctx.parameter("FX304", "size", DEFAULT_LABEL)
    for device in _nvdimms(ctx):
        if device.target is None:
            continue
        label = device.label
        size = device.size
        if device.label_element is None:
            target = device.target
            yield ctx.finding(
                "FX304",
                target,
                f"nvdimm has no <label>; the famfs guide uses a {_H(wanted)} label (adding one "
                "later hides the tail of the device from the guest)",
                severity=Severity.WARNING,
                fix=ctx.fix(
                    f"add a {units.exact(wanted)} label",
                    partial(_add_label, ctx, target, wanted),
                    Applicability.UNSAFE,
                ),
            )
            continue
        if label is None:
            continue
        if label.bytes < MIN_LABEL:
            problem = (
                f"label size {_H(label.bytes)} is below 128 KiB; libvirt refuses: "
                '"nvdimm label must be at least 128KiB"'
            )
        elif size is not None and label.bytes >= size.bytes:
            problem = (
                f"label size {_H(label.bytes)} is not smaller than the nvdimm "
                f"({_H(size.bytes)}); libvirt refuses the domain"
            )
        else:
            continue
        fix = None
        if size is None or wanted < size.bytes:
            fix = ctx.fix(
                f"set the label to {units.exact(wanted)}",
                partial(ctx.editor.set_size, label, wanted, "MiB"),
                Applicability.UNSAFE,
            )
        yield ctx.finding("FX304", label.element, problem, fix=fix)


def _add_label(ctx: RuleContext, target: Element, wanted: int) -> list[Edit]:
    unit, value = choose_unit(wanted, "MiB", None)
    size = Node("size", [] if unit is None else [("unit", unit)], value)
    return [ctx.editor.insert_child(target, Node("label", children=[size]))]


def check_size_matches_backing(ctx: RuleContext) -> Iterator[Finding]:
    for check in device_sizes.size_checks(ctx):
        if check.backing is not None and check.size > check.backing:
            yield _larger_than_backing(ctx, check)
        elif check.backing is not None and check.size < check.backing:
            yield _smaller_than_backing(ctx, check)
        elif check.doubt is device_sizes.Doubt.IMPLAUSIBLE_FOR_GUEST:
            yield _implausible_for_guest(ctx, check)


def _larger_than_backing(ctx: RuleContext, check: device_sizes.SizeCheck) -> Finding:
    size = check.device.size
    assert size is not None and check.backing is not None
    wanted = check.backing
    shown, device = units.distinct(check.size, wanted)
    # No other size starts, so setting the device's size is safe: the guest never ran on this one.
    return ctx.finding(
        "FX305",
        size.element,
        f"target size {shown} is larger than {check.device.path} ({device}); QEMU refuses "
        "to start, its backing store is smaller than the 'size' option (QEMU 7.2 and 11.1)",
        fix=ctx.fix(
            f"set the target size to {units.exact(wanted)}",
            partial(ctx.editor.set_size, size, wanted, ctx.domain.memory_unit),
        ),
    )


def _smaller_than_backing(ctx: RuleContext, check: device_sizes.SizeCheck) -> Finding:
    device = check.device
    size = device.size
    assert size is not None and check.backing is not None
    shown, whole = units.distinct(check.size, check.backing)
    message = (
        f"target size {shown} is smaller than {device.path} ({whole}): QEMU starts, and the "
        f"guest does not see the last {units.human(check.backing - check.size)} of the device"
    )
    if check.doubt is device_sizes.Doubt.FAR_BELOW_DEVICE:
        message += "; so far below the device's size it looks like a slip, not a choice"
    elif check.doubt is device_sizes.Doubt.UNALIGNED:
        message += f"; it is no whole number of {units.human(check.alignment)}"
    if check.doubt is not None:
        message += ", and the memory totals are not fixed until it is settled"
    fix = None
    if device.label_element is None:
        # Without a label the guest's namespace covers the whole target: growing it only
        # shows the guest more of the device, which is still the guest's call.
        fix = ctx.fix(
            f"set the target size to {units.exact(check.backing)} (the guest sees more)",
            partial(ctx.editor.set_size, size, check.backing, ctx.domain.memory_unit),
            Applicability.UNSAFE,
        )
    else:
        message += (
            "; resizing it moves the label area (QEMU keeps it at the end of the target) and "
            "the guest loses its namespace labels"
        )
    return ctx.finding("FX305", size.element, message, severity=Severity.WARNING, fix=fix)


def _implausible_for_guest(ctx: RuleContext, check: device_sizes.SizeCheck) -> Finding:
    size = check.device.size
    ram = device_sizes.guest_ram(ctx.domain)
    assert size is not None and ram is not None
    return ctx.finding(
        "FX305",
        size.element,
        f"target size {units.human(check.size)} is more than {device_sizes.GUEST_RATIO} times "
        f"the guest's {units.human(ram)} of RAM: a unit slip? (virt-install reads --memdev "
        "sizes as MiB; the XML's default unit is KiB). The memory totals are not fixed until "
        "the size is known: give --inventory or --host to check it against the device",
        severity=Severity.WARNING,
    )


def check_size_alignment(ctx: RuleContext) -> Iterator[Finding]:
    for check in device_sizes.size_checks(ctx):
        size, align = check.device.size, check.device.alignsize
        if size is None or align is None or align.bytes == 0 or size.bytes % align.bytes == 0:
            continue
        if check.backing is not None and check.size != check.backing:
            continue  # FX305 names the size the device has
        shown, step = units.distinct(size.bytes, align.bytes)
        yield ctx.finding(
            "FX306",
            size.element,
            f"target size {shown} is not a multiple of alignsize {step}; the memory totals "
            "are not fixed until it is settled",
        )


def check_node(ctx: RuleContext) -> Iterator[Finding]:
    domain = ctx.domain
    if not domain.cells:
        return
    for device in domain.memory_devices:
        if device.model not in ("dimm", "nvdimm", "virtio-mem") or device.target is None:
            continue
        if device.node_element is None:
            target = device.target
            yield ctx.finding(
                "FX307",
                target,
                f'{device.model} has no <node>; libvirt refuses: "target NUMA node needs to '
                'be specified for memory device"',
                fix=ctx.fix("add <node>0</node>", partial(_add_node, ctx, device)),
            )
        elif device.node is not None and device.node >= len(domain.cells):
            node_element = device.node_element
            yield ctx.finding(
                "FX307",
                node_element,
                f"<node>{device.node}</node> names a NUMA cell that does not exist (the guest "
                f"has {len(domain.cells)})",
                fix=ctx.fix(
                    "set <node>0</node>",
                    partial(ctx.editor.set_text, node_element, "0"),
                    Applicability.UNSAFE,
                ),
            )


def _add_node(ctx: RuleContext, device: MemoryDevice) -> list[Edit]:
    node = Node("node", text="0")
    if device.size_element is not None:
        return [ctx.editor.insert_after(device.size_element, node)]
    assert device.target is not None
    return [ctx.editor.insert_child(device.target, node)]


def check_slot(ctx: RuleContext) -> Iterator[Finding]:
    domain = ctx.domain
    devices = [d for d in domain.slot_devices if d.address_type == "dimm"]
    counts = Counter(d.slot for d in devices if d.slot is not None)
    used = set(counts)
    for device in devices:
        address = device.address
        assert address is not None
        if device.slot is None:
            problem = "<address type='dimm'> has no slot; libvirt's parser requires one"
        elif counts[device.slot] > 1:
            problem = f"slot {device.slot} is used by more than one memory device"
            counts[device.slot] -= 1  # the first holder keeps it
        elif domain.slots and device.slot >= domain.slots:
            problem = (
                f"slot {device.slot} is not below slots={domain.slots} (slots are numbered from 0)"
            )
        else:
            continue
        free: int | None = lowest_free_slot(used)
        if domain.slots and free is not None and free >= domain.slots:
            free = None
        fix = None
        if free is not None:
            used.add(free)
            fix = ctx.fix(
                f"use slot {free}", partial(ctx.editor.set_attribute, address, "slot", str(free))
            )
        yield ctx.finding("FX308", address, problem, fix=fix)


def check_source_path(ctx: RuleContext) -> Iterator[Finding]:
    for device in _nvdimms(ctx):
        if not device.path:
            yield ctx.finding(
                "FX309",
                device.source if device.source is not None else device.element,
                'nvdimm has no <source><path>; libvirt refuses: "path is required for model '
                "'nvdimm'\"",
            )
            continue
        backing = _backing(ctx, device)
        if backing is None:
            continue
        if not backing.exists:
            yield ctx.finding(
                "FX309",
                device.path_element,
                f"{device.path} does not exist on this host; QEMU cannot start",
            )
        elif backing.kind == "dax" and backing.mode not in (None, "devdax"):
            yield ctx.finding(
                "FX309",
                device.path_element,
                f"{device.path} is in {backing.mode} mode, not devdax; convert it with "
                f"`famfs-xml device convert {device.path} --mode devdax`",
            )


def check_discard(ctx: RuleContext) -> Iterator[Finding]:
    for device in _nvdimms(ctx):
        if device.discard != "yes":
            continue
        element = device.element
        yield ctx.finding(
            "FX310",
            element,
            "nvdimm has discard='yes'; libvirt refuses: \"discard is not supported for nvdimms\"",
            fix=ctx.fix(
                "remove discard='yes'", partial(ctx.editor.remove_attribute, element, "discard")
            ),
        )


def check_address_overlap(ctx: RuleContext) -> Iterator[Finding]:
    ranges = [
        (start, start + length, device)
        for device in ctx.domain.memory_devices
        if (start := _base(device)) is not None and (length := _mapped_length(device))
    ]
    ranges.sort(key=lambda item: item[0])
    reach = None  # (start, end) of the range that reaches furthest so far
    for start, end, device in ranges:
        if reach is not None and start < reach[1]:
            yield ctx.finding(
                "FX311",
                device.address if device.address is not None else device.element,
                f"memory device address {start:#x} lies inside another device's range "
                f"[{reach[0]:#x}:{reach[1]:#x}]; "
                + said(
                    ADDRESS_OVERLAP_REFUSED,
                    ctx.libvirt_version,
                    'accepts the define and QEMU refuses to start ("address range conflicts '
                    'with memory device")',
                    'refuses the define ("memory device address [...] overlaps with other '
                    'memory device")',
                ),
            )
        if reach is None or end > reach[1]:
            reach = (start, end)


def _base(device: MemoryDevice) -> int | None:
    """The guest physical address: ``<address base=>`` (dimm) or ``<target><address base=>``."""
    holders = [device.address]
    if device.target is not None:
        holders.append(device.target.find("address"))
    for holder in holders:
        raw = holder.get("base") if holder is not None else None
        if raw:
            try:
                return int(raw, 16)
            except ValueError:
                return None
    return None


def _mapped_length(device: MemoryDevice) -> int:
    """The bytes libvirt checks for overlap: an nvdimm's label (rounded up to its alignment)
    sits outside the mapped range."""
    if device.size is None:
        return 0
    length = device.size.bytes
    if device.is_nvdimm and device.label is not None:
        align = device.alignsize.bytes if device.alignsize else 4 * units.KiB
        length -= -(-device.label.bytes // align) * align
    return max(length, 0)
