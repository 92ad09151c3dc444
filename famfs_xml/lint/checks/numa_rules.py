"""FX201-FX204: the guest NUMA topology that memory devices need."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from functools import partial

from famfs_xml.core import units
from famfs_xml.core.findings import Applicability, Edit, Finding, Fix, Severity
from famfs_xml.lint.checks.arithmetic import (
    FirstCell,
    cells_total,
    current_after,
    first_cell,
    numa_includes_devices,
    numa_refused,
)
from famfs_xml.lint.checks.base import RuleContext
from famfs_xml.lint.checks.device_sizes import sizes_in_doubt
from famfs_xml.lint.domain import Element, format_cpuset, parse_cpuset
from famfs_xml.lint.edits import Node, choose_unit
from famfs_xml.lint.libvirt_releases import NUMA_CELL_ADDED, Era, said

_H = units.human
# ppc64 guests may hotplug memory without guest NUMA; s390 gets no automatic cell either.
_NO_NUMA_NEEDED = frozenset({"ppc64", "ppc64le", "s390x"})


def check_numa_missing(ctx: RuleContext) -> Iterator[Finding]:
    domain = ctx.domain
    hotplug = bool(domain.memory_devices) or domain.max_memory_element is not None
    if not hotplug or domain.cells or domain.numa is not None or domain.arch in _NO_NUMA_NEEDED:
        return
    memory, devs = domain.memory, domain.devs_total
    if memory is not None and devs is not None and memory.bytes <= devs:
        yield _no_room_for_ram(ctx, memory.bytes, devs)
        return
    what = "memory devices need" if domain.memory_devices else "<maxMemory> (memory hotplug) needs"
    ram = None if memory is None or devs is None else memory.bytes - devs
    era = NUMA_CELL_ADDED.era(ctx.libvirt_version)
    yield ctx.finding(
        "FX201",
        domain.root,
        f"{what} a guest NUMA cell; {_what_libvirt_does(ctx, ram)}",
        # libvirt that adds the cell itself still starts the domain; the file just
        # no longer says what runs
        severity=Severity.WARNING if era is Era.NEW else None,
        fix=None if ram is None else _first_cell_fix(ctx, ram),
    )


def _what_libvirt_does(ctx: RuleContext, ram: int | None) -> str:
    adds = "adds cell 0 itself at define"
    if ram is not None:
        adds = f"adds cell 0 of {units.exact(ram)} itself at define"
        if ctx.domain.memory_devices:
            adds += " (<memory> minus the devices)"
    return said(
        NUMA_CELL_ADDED,
        ctx.libvirt_version,
        'refuses the define: "At least one numa node has to be configured when enabling '
        'memory hotplug"',
        adds + ", so its definition differs from this file",
    )


def _no_room_for_ram(ctx: RuleContext, memory: int, devs: int) -> Finding:
    """<memory> no larger than the devices: every libvirt refuses (9.0, 11.3 and 12.8 say
    so), and the only cell that makes sense keeps <memory> as the guest's RAM."""
    refusal = (
        "Memory size must be specified via <memory> or in the <numa> configuration"
        if memory == devs
        else "Total size of memory devices exceeds the total memory size"
    )
    return ctx.finding(
        "FX201",
        ctx.domain.root,
        f"no guest NUMA cell, and <memory> {units.human(memory)} leaves the guest no RAM "
        f'beside the memory devices ({units.human(devs)}); libvirt refuses: "{refusal}"',
        fix=_memory_as_ram_fix(ctx, memory, devs),
    )


def _first_cell_fix(ctx: RuleContext, ram: int) -> Fix | None:
    """The cell libvirt adds itself (9.6 and later): <memory> minus the devices, <memory>
    kept; with ``[rules.FX201] ram = "memory"``, all of <memory> (an unsafe fix)."""
    domain = ctx.domain
    memory, devs = domain.memory, domain.devs_total
    assert memory is not None and devs is not None
    if ctx.parameter("FX201", "ram", "libvirt") == "memory":
        return _memory_as_ram_fix(ctx, memory.bytes, devs)
    message = f"add NUMA cell 0 of {units.exact(ram)}, as libvirt 9.6 and later add it"
    if devs:
        message += " (<memory> minus the devices)"
    applicability = Applicability.SAFE
    if devs and sizes_in_doubt(ctx):
        # the cell would come from a device size that is itself in doubt
        applicability = Applicability.UNSAFE
    return ctx.fix(message, partial(_add_cell, ctx, FirstCell(ram, memory.bytes)), applicability)


def _memory_as_ram_fix(ctx: RuleContext, memory: int, devs: int) -> Fix | None:
    """All of <memory> as the cell, the devices on top: more RAM than libvirt would give."""
    plan = first_cell(memory, 0, devs)
    message = f"add NUMA cell 0 of {units.exact(plan.cell)}, all of <memory>"
    if plan.memory != memory:
        message += f", and set memory to {units.exact(plan.memory)} with the devices"
    return ctx.fix(message, partial(_add_cell, ctx, plan), Applicability.UNSAFE)


def _add_cell(ctx: RuleContext, plan: FirstCell) -> list[Edit]:
    domain = ctx.domain
    memory = domain.memory
    if memory is None or domain.vcpus is None or domain.vcpus < 1:
        return []
    unit, value = choose_unit(plan.cell, domain.memory_unit, domain.memory_unit)
    attributes = [("id", "0"), ("cpus", format_cpuset(domain.vcpus)), ("memory", value)]
    if unit is not None:
        attributes.append(("unit", unit))
    edits = _insert_cell(ctx, Node("cell", attributes))
    if not edits:
        return []
    if plan.memory != memory.bytes:
        edits += ctx.editor.set_size(memory, plan.memory, memory.unit)
    current = domain.current_memory
    if current is not None:
        delta = plan.memory - memory.bytes
        wanted = current_after(current.bytes, memory.bytes, plan.memory, delta)
        if wanted != current.bytes:
            edits += ctx.editor.set_size(current, wanted, domain.memory_unit)
    return edits


def _insert_cell(ctx: RuleContext, cell: Node) -> list[Edit]:
    domain = ctx.domain
    if domain.numa is not None:
        return [ctx.editor.insert_child(domain.numa, cell)]
    numa = Node("numa", children=[cell])
    if domain.cpu is not None:
        return [ctx.editor.insert_child(domain.cpu, numa)]
    anchor = _cpu_anchor(ctx)
    if anchor is None:
        return []
    return [ctx.editor.insert_after(anchor, Node("cpu", children=[numa]))]


def _cpu_anchor(ctx: RuleContext) -> Element | None:
    """libvirt writes <cpu> after <features>, else after <os>."""
    root = ctx.domain.root
    for tag in ("features", "os", "vcpu"):
        element = root.find(tag)
        if element is not None:
            return element
    return None


def check_numa_includes_devices(ctx: RuleContext) -> Iterator[Finding]:
    domain = ctx.domain
    if not numa_includes_devices(domain):
        return
    devs = domain.devs_total or 0
    cells = cells_total(domain) or 0
    memory = domain.memory
    assert memory is not None
    general = memory.bytes - devs
    both = cells + devs
    message = (
        f"NUMA cells total {_H(cells)} = <memory>, as if they included the {_H(devs)} of "
        "memory devices; libvirt adds the devices on top of the cells"
    )
    severity = Severity.ERROR
    if numa_refused(domain):
        assert domain.max_memory is not None
        limit, total = units.distinct(domain.max_memory.bytes, both)
        message += (
            f": cells + devices = {total} exceeds maxMemory {limit} and libvirt refuses the domain"
        )
    else:
        severity = Severity.WARNING
        message += (
            f", runs {_H(cells)} of RAM and rewrites <memory> to {_H(both)}. If the cells "
            f"were meant to exclude the devices (the famfs recipe), lower them to "
            f"{_H(general)}; if not, raise <memory> to {_H(both)}"
        )
    fix = None
    if len(domain.cells) == 1 and domain.cells[0].memory is not None:
        cell_size = domain.cells[0].memory
        # Unsafe: it takes the devices' size from the guest's RAM, which is the recipe's
        # reading of the file, not the only one.
        fix = ctx.fix(
            f"set the NUMA cell to {units.exact(general)} (memory minus devices)",
            lambda: ctx.editor.set_size(cell_size, general, domain.memory_unit),
            Applicability.UNSAFE,
        )
    yield ctx.finding("FX202", domain.numa, message, severity=severity, fix=fix)


def check_numa_cpus(ctx: RuleContext) -> Iterator[Finding]:
    domain = ctx.domain
    if not domain.cells or domain.vcpus is None:
        return
    problems: list[str] = []
    seen: Counter[int] = Counter()
    for cell in domain.cells:
        if cell.cpus_text is not None and cell.cpus is None:
            problems.append(f"cell {cell.id} has cpus='{cell.cpus_text}', which does not parse")
            continue
        cpus = cell.cpus or frozenset()
        seen.update(cpus)
        beyond = sorted(c for c in cpus if c >= domain.vcpus)
        if beyond:
            problems.append(
                f"cell {cell.id} names vCPU {beyond[0]} but <vcpu> is "
                f"{domain.vcpus} (ids 0-{domain.vcpus - 1})"
            )
    overlap = sorted(c for c, n in seen.items() if n > 1)
    if overlap:
        problems.append(f"vCPU {overlap[0]} is in more than one cell")
    severity = Severity.ERROR
    if not problems:
        missing = sorted(set(range(domain.vcpus)) - set(seen))
        if not missing:
            return
        severity = Severity.WARNING
        which = f"vCPU {missing[0]} is" if len(missing) == 1 else f"vCPUs {_ranges(missing)} are"
        problems.append(f"{which} in no NUMA cell; libvirt silently adds them to cell 0")
    fix = None
    if len(domain.cells) == 1:
        cell_element = domain.cells[0].element
        wanted = format_cpuset(domain.vcpus)
        fix = ctx.fix(
            f"set cpus='{wanted}'", partial(ctx.editor.set_attribute, cell_element, "cpus", wanted)
        )
    target = domain.cells[0].element if len(domain.cells) == 1 else domain.numa
    yield ctx.finding("FX203", target, "; ".join(problems), severity=severity, fix=fix)


def _ranges(numbers: list[int]) -> str:
    parts: list[str] = []
    start = previous = numbers[0]
    for number in [*numbers[1:], -2]:
        if number != previous + 1:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
            start = number
        previous = number
    return ",".join(parts)


def check_numa_cell_ids(ctx: RuleContext) -> Iterator[Finding]:
    domain = ctx.domain
    ids = [cell.id for cell in domain.cells if cell.id is not None]
    if not ids:
        return
    duplicates = sorted(i for i, n in Counter(ids).items() if n > 1)
    if duplicates:
        yield ctx.finding(
            "FX204",
            domain.numa,
            f"duplicate NUMA cell id {duplicates[0]}; libvirt refuses the domain",
        )
    elif sorted(ids) != list(range(len(domain.cells))):
        yield ctx.finding(
            "FX204",
            domain.numa,
            f"NUMA cell ids {sorted(ids)} are not exactly 0..{len(domain.cells) - 1}; libvirt "
            "refuses non-contiguous ids",
        )


def check_numa_without_cells(ctx: RuleContext) -> Iterator[Finding]:
    numa = ctx.domain.numa
    if numa is None or ctx.domain.cells:
        return
    yield ctx.finding(
        "FX205",
        numa,
        '<numa> has no <cell>; libvirt refuses: "NUMA topology defined without NUMA cells"',
    )


def check_numa_distances(ctx: RuleContext) -> Iterator[Finding]:
    ids = {cell.id for cell in ctx.domain.cells if cell.id is not None}
    for cell in ctx.domain.cells:
        for sibling in cell.element.iterfind("distances/sibling"):
            raw = sibling.get("id")
            if raw is not None and raw.strip().isdigit() and int(raw) in ids:
                continue
            yield ctx.finding(
                "FX206",
                sibling,
                f"distance sibling id '{raw}' of cell {cell.id} is not a NUMA cell of this "
                "guest; libvirt refuses the domain",
            )


def check_hugepage_nodesets(ctx: RuleContext) -> Iterator[Finding]:
    backing = ctx.domain.child("memoryBacking")
    hugepages = None if backing is None else next(backing.iterchildren("hugepages"), None)
    if hugepages is None:
        return
    nodes = ctx.domain.guest_nodes
    defaults = [page for page in hugepages.findall("page") if page.get("nodeset") is None]
    covered: set[int] = set()
    for page in hugepages.findall("page"):
        raw = page.get("nodeset")
        if raw is None:
            continue
        nodeset = parse_cpuset(raw)
        if nodeset is None:
            yield ctx.finding("FX207", page, f"hugepage nodeset '{raw}' does not parse")
            continue
        missing = sorted(n for n in nodeset if n >= nodes)
        if missing:
            yield ctx.finding(
                "FX207",
                page,
                f"hugepage nodeset names guest node {missing[0]}, but the guest has {nodes}; "
                f'libvirt refuses: "hugepages: node {missing[0]} not found"',
            )
        covered |= nodeset
    if len(defaults) > 1 or (defaults and covered >= set(range(nodes))):
        yield ctx.finding(
            "FX207",
            defaults[-1],
            "more than one hugepage size applies to all guest memory; libvirt refuses: "
            '"two master hugepages detected"',
        )


def check_numatune_memnodes(ctx: RuleContext) -> Iterator[Finding]:
    numatune = ctx.domain.child("numatune")
    if numatune is None:
        return
    memory = numatune.find("memory")
    if memory is not None:
        problem = _numatune_memory_problem(ctx, memory)
        if problem is not None:
            yield ctx.finding("FX208", memory, problem)
    memnodes = numatune.findall("memnode")
    cells = len(ctx.domain.cells)
    for memnode in memnodes:
        cellid = memnode.get("cellid", "")
        if not cells:
            problem = "<memnode> without guest NUMA cells; libvirt refuses the domain"
        elif not cellid.isdigit() or int(cellid) >= cells:
            problem = f"<memnode cellid='{cellid}'> names a guest NUMA cell that does not exist"
        elif memory is not None and memory.get("placement") == "auto":
            problem = (
                "per-node <memnode> binding with <memory placement='auto'>; libvirt "
                'refuses: "Per-node binding is not compatible with automatic NUMA '
                'placement"'
            )
        elif memory is not None and (memory.get("mode") == "restrictive") != (
            memnode.get("mode") == "restrictive"
        ):
            problem = (
                "'restrictive' mode must be used on <memory> and on every <memnode> or "
                "on none of them"
            )
        else:
            problem = _nodeset_problem(memnode.get("nodeset"))
            if problem is None:
                continue
            problem = f"<memnode cellid='{cellid}'> {problem}"
        yield ctx.finding("FX208", memnode, problem)


def _numatune_memory_problem(ctx: RuleContext, memory: Element) -> str | None:
    nodeset = memory.get("nodeset")
    if nodeset is not None:
        problem = _nodeset_problem(nodeset)
        return None if problem is None else f"<numatune><memory> {problem}"
    placement = memory.get("placement")
    vcpu = ctx.domain.vcpu_element
    if placement is None:
        # libvirt places the memory where it places the vCPUs: static unless they are 'auto'
        automatic = vcpu is not None and vcpu.get("placement") == "auto"
        placement = "auto" if automatic else "static"
        why = "no nodeset and no placement, so placement is static (as for <vcpu>)"
    else:
        why = f"placement='{placement}' but no nodeset"
    if placement != "static":
        return None
    return (
        f'<numatune><memory> has {why}; libvirt refuses: "nodeset for NUMA memory '
        "tuning must be set if 'placement' is 'static'\""
    )


def _nodeset_problem(nodeset: str | None) -> str | None:
    """libvirt's verdict on a host nodeset, worded for a finding; None when it parses."""
    if nodeset is None:
        return None
    nodes = parse_cpuset(nodeset)
    if nodes is None:
        return f"has nodeset='{nodeset}'; libvirt refuses: \"Failed to parse bitmap '{nodeset}'\""
    if not nodes:
        return (
            f"has nodeset='{nodeset}', which names no host node; libvirt refuses: "
            f"\"Invalid value of 'nodeset': {nodeset}\""
        )
    return None
