"""``attach`` and ``detach``: the famfs VM guide's memory recipe applied in one step.

Attaching a shared backing path (``/dev/dax1.0``) to a domain means, as the guide describes:

* an ``<memory model='nvdimm' access='shared'>`` stanza (path, alignsize, ``<pmem/>``, target
  size, node, label, a dimm slot) as the last entry of ``<devices>``;
* ``<maxMemory slots=...>`` large enough for the general memory plus every memory device;
* ``<memory>`` = NUMA cells + memory devices (what libvirt computes anyway), and
  ``<currentMemory>`` raised with it;
* a NUMA cell for the general memory when the domain has none.

Everything is a text edit in the file's own style (see :mod:`famfs_xml.lint.edits`); nothing here
prints, exits or writes files except :func:`write_changes`, which writes atomically.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from famfs_xml.core import units
from famfs_xml.core.findings import Edit, Finding
from famfs_xml.core.inventory import DeviceFacts
from famfs_xml.lint.checks.arithmetic import (
    current_after,
    first_cell,
    lowest_free_slot,
    max_memory_for,
)
from famfs_xml.lint.document import Document
from famfs_xml.lint.domain import Domain, Element, MemoryDevice, build, format_cpuset
from famfs_xml.lint.edits import EditError, Editor, Node, apply_edits, choose_unit
from famfs_xml.lint.engine import FixRefused, encode, lint_documents, reload_checked
from famfs_xml.lint.options import LintOptions
from famfs_xml.lint.run import unified_diff, write_checked
from famfs_xml.lint.sources import STDIN, Source, libvirt_owned_note, read

DEFAULT_ALIGN = 2 * units.MiB
DEFAULT_LABEL = 16 * units.MiB
MIN_LABEL = 128 * units.KiB
X86_DIMM_ALIGN = 2 * units.MiB
MAX_BYTES = 2**63 - 1  # libvirt's size limit (LLONG_MAX bytes)

_SIZE = re.compile(r"\s*([0-9]+)\s*([A-Za-z]*)\s*\Z")


class AttachError(Exception):
    """The request cannot be carried out; the message is one line for the user."""


# -- what the user asks for ----------------------------------------------------------------


def parse_size(text: str, option: str = "size") -> int:
    """A command-line size in bytes: ``8G``, ``8GiB``, ``8192MiB``, ``2M``, ``8589934592``.

    A bare number is bytes (as ``daxctl list`` prints sizes). 1000-based units (``GB``) are
    refused: they are almost always meant as GiB and would give a size no dax device has.
    """
    match = _SIZE.match(text)
    if match is None:
        raise AttachError(
            f"--{option} {text!r}: expected a whole number with an optional unit, "
            "e.g. 8G, 8GiB, 8192MiB or a byte count"
        )
    number, unit = match.group(1), match.group(2)
    if not unit:
        return int(number)
    if units.is_decimal(unit):
        binary = units.binary_counterpart(unit)
        raise AttachError(
            f"--{option} {text!r}: {unit} is 1000-based; write {number}{binary} "
            f"(or {number}{binary[0]}) for a binary size"
        )
    try:
        return int(number) * units.multiplier(unit)
    except units.UnitError:
        raise AttachError(
            f"--{option} {text!r}: unknown unit {unit!r} (use B, K/KiB, M/MiB, G/GiB, T/TiB)"
        ) from None


@dataclass(frozen=True)
class Request:
    """The command line's wishes; ``None`` means "find out" (inventory, host, other domains)."""

    source: str
    size: int | None = None
    align: int | None = None
    label: int | None = None
    node: int = 0
    slot: int | None = None


@dataclass(frozen=True)
class DeviceSpec:
    """The device as it will be written into every domain."""

    path: str
    size: int
    align: int
    label: int
    node: int = 0
    slot: int | None = None  # None: the lowest free slot of each domain
    size_origin: str = "--size"


def _existing(docs: Sequence[Document], path: str) -> list[MemoryDevice]:
    found: list[MemoryDevice] = []
    for doc in docs:
        if doc.root is not None and doc.root.tag == "domain":
            found.extend(
                d for d in build(doc.root).memory_devices if d.is_nvdimm and d.path == path
            )
    return found


def resolve(
    request: Request, facts: DeviceFacts | None, docs: Sequence[Document] = ()
) -> DeviceSpec:
    """Fill in what the request leaves open, and check the result makes a valid nvdimm.

    Size: ``--size``, else the backing device's size (inventory or host), else the size the
    device already has in one of ``docs``. Alignment: ``--align``, else the device's align,
    else the one already used, else 2 MiB. Label: ``--label``, else the one already used,
    else 16 MiB. Raises :class:`AttachError` when the size cannot be known.
    """
    path = request.source
    if not path.startswith("/"):
        raise AttachError(f"--source {path!r}: libvirt needs an absolute path")
    backing = facts.lookup(path) if facts is not None else None
    if backing is not None and not backing.exists:
        raise AttachError(f"{path} does not exist on this host")
    known = _existing(docs, path)
    size, origin = request.size, "--size"
    if backing is not None and backing.size is not None:
        if size is not None and size != backing.size:
            raise AttachError(
                f"--size {units.human(size)} differs from the size of {path} "
                f"({units.human(backing.size)}); QEMU would refuse to start"
            )
        if size is None:
            size, origin = backing.size, "the device"
    if size is None:
        sizes = [d.size.bytes for d in known if d.size is not None]
        if sizes:
            size, origin = sizes[0], "the domains that already use it"
    if size is None:
        raise AttachError(f"the size of {path} is unknown: give --size, --inventory FILE or --host")
    align = request.align
    if align is None and backing is not None and backing.align:
        align = backing.align
    if align is None:
        aligns = [d.alignsize.bytes for d in known if d.alignsize is not None]
        align = aligns[0] if aligns else DEFAULT_ALIGN
    label = request.label
    if label is None:
        labels = [d.label.bytes for d in known if d.label is not None]
        label = labels[0] if labels else DEFAULT_LABEL
    spec = DeviceSpec(path, size, align, label, request.node, request.slot, origin)
    _check_spec(spec)
    return spec


def _check_spec(spec: DeviceSpec) -> None:
    human = units.human
    if spec.size <= 0:
        raise AttachError("the device size must be positive")
    if spec.align <= 0 or spec.align & (spec.align - 1) or spec.align % units.KiB:
        raise AttachError(
            f"alignsize {human(spec.align)} is not a power of two of at least "
            "1 KiB; QEMU refuses it"
        )
    if spec.size % spec.align:
        raise AttachError(
            f"size {human(spec.size)} (from {spec.size_origin}) is not a multiple "
            f"of alignsize {human(spec.align)}"
        )
    if spec.size % X86_DIMM_ALIGN:
        raise AttachError(
            f"size {human(spec.size)} is not a multiple of 2 MiB; libvirt would "
            "round it up beyond the device"
        )
    if spec.label % units.KiB or spec.label < MIN_LABEL:
        raise AttachError(
            f"label {human(spec.label)} is below libvirt's 128 KiB minimum (or not a whole KiB)"
        )
    if spec.label >= spec.size:
        raise AttachError(
            f"label {human(spec.label)} must be smaller than the device ({human(spec.size)})"
        )
    if spec.node < 0:
        raise AttachError("--node must be 0 or more")
    if spec.slot is not None and spec.slot < 0:
        raise AttachError("--slot must be 0 or more")


# -- one document ----------------------------------------------------------------------------


@dataclass
class Change:
    """What attach or detach made of one document."""

    doc: Document  # the result (the input itself when nothing changed)
    before: bytes
    after: bytes
    message: str  # one line for the user

    @property
    def changed(self) -> bool:
        return self.after != self.before


def _domain_of(doc: Document) -> Domain:
    broken = [p for p in doc.problems if p.code in ("FX001", "FX003")]
    if broken:
        problem = broken[0]
        raise AttachError(f"{doc.path}:{problem.line}:{problem.column}: {problem.message}")
    if doc.root is None or doc.root.tag != "domain":
        raise AttachError(f"{doc.path}: not a libvirt domain (no <domain> root)")
    return build(doc.root)


def _memory_facts(doc: Document, domain: Domain) -> tuple[int, int, int | None]:
    """(memory, devices total, cells total or None without cells), all in bytes.

    Without ``<memory>`` libvirt takes the memory from the NUMA cells (plus the devices).
    """
    bad = [
        b
        for b in domain.bad_values
        if b.what in ("memory", "maxMemory", "currentMemory", "slots", "size")
    ]
    if bad:
        raise AttachError(
            f"{doc.path}:{doc.position(bad[0].element)[0]}: {bad[0].message}; fix the file first"
        )
    if domain.memory is None and not domain.cells:
        raise AttachError(f"{doc.path}: the domain has neither <memory> nor NUMA cells")
    devs = domain.devs_total
    if devs is None:
        raise AttachError(f"{doc.path}: a memory device has no readable target size")
    cells = None
    if domain.cells:
        cells = domain.cells_total
        if cells is None:
            raise AttachError(f"{doc.path}: a NUMA cell has no readable memory size")
    if domain.memory is None:
        assert cells is not None
        return cells + devs, devs, cells
    return domain.memory.bytes, devs, cells


def _device_node(spec: DeviceSpec, slot: int) -> Node:
    def size_node(tag: str, size: int) -> Node:
        unit, value = _readable_unit(size)
        return Node(tag, [("unit", unit)], value)

    return Node(
        "memory",
        [("model", "nvdimm"), ("access", "shared")],
        children=[
            Node(
                "source",
                children=[
                    Node("path", text=spec.path),
                    size_node("alignsize", spec.align),
                    Node("pmem"),
                ],
            ),
            Node(
                "target",
                children=[
                    size_node("size", spec.size),
                    Node("node", text=str(spec.node)),
                    Node("label", children=[size_node("size", spec.label)]),
                ],
            ),
            Node("address", [("type", "dimm"), ("slot", str(slot))]),
        ],
    )


def _readable_unit(size: int) -> tuple[str, str]:
    """The largest binary unit that holds ``size`` exactly, as the guide writes sizes."""
    for unit in ("TiB", "GiB", "MiB", "KiB"):
        if units.fits_exactly(size, unit):
            return unit, units.format_value(size, unit)
    return "bytes", str(size)


def _size_attributes(size: int, memory_unit: str | None) -> tuple[list[tuple[str, str]], str]:
    unit, value = choose_unit(size, memory_unit, memory_unit)
    return ([] if unit is None else [("unit", unit)]), value


def _numa_edits(editor: Editor, domain: Domain, general: int) -> list[Edit]:
    vcpus = domain.vcpus if domain.vcpus is not None and domain.vcpus > 0 else 1
    attributes, value = _size_attributes(general, domain.memory_unit)
    cell = Node(
        "cell", [("id", "0"), ("cpus", format_cpuset(vcpus)), ("memory", value), *attributes]
    )
    if domain.numa is not None:
        return [editor.insert_child(domain.numa, cell)]
    numa = Node("numa", children=[cell])
    if domain.cpu is not None:
        return [editor.insert_child(domain.cpu, numa)]
    cpu = Node("cpu", children=[numa])
    root = domain.root
    # libvirt writes <cpu> right after <features>, which follows <os>.
    for tag in ("features", "os", "vcpu", "currentMemory", "memory"):
        anchor = root.find(tag)
        if anchor is not None:
            return [editor.insert_after(anchor, cpu)]
    return [editor.insert_child(root, cpu)]


def _insert_max_memory(editor: Editor, domain: Domain, node: Node) -> Edit:
    """Where libvirt writes ``<maxMemory>``: before ``<memory>``, else after the names."""
    for tag in ("memory", "currentMemory"):
        element = domain.root.find(tag)
        if element is not None:
            return _insert_above(editor, element, node)
    for tag in ("metadata", "description", "title", "genid", "uuid", "name"):
        element = domain.root.find(tag)
        if element is not None:
            return editor.insert_after(element, node)
    return editor.insert_child(domain.root, node, first=True)


def _insert_above(editor: Editor, element: Element, node: Node) -> Edit:
    """Insert ``node`` before ``element`` and above the comments right over it: such a comment
    (a suppression, a note) belongs to ``element``."""
    doc = editor.doc
    span = doc.span(element)
    at = span.start
    previous = element.getprevious()
    while span.known and isinstance(previous, etree._Comment):
        opening = doc.work.rfind(b"<!--", 0, at)
        closing = doc.work.find(b"-->", opening) + 3
        if opening < 0 or doc.work[closing:at].strip() or not doc.starts_line(opening):
            break
        at = opening
        previous = previous.getprevious()
    if at == span.start or not doc.starts_line(span.start):
        return editor.insert_before(element, node)
    indent = doc.line_indent(span.start)
    return Edit(at, at, f"{node.render(doc, indent)}{doc.style.newline}{indent}")


def _node_edits(editor: Editor, domain: Domain) -> list[Edit]:
    edits = []
    for device in domain.memory_devices:
        if (
            device.model not in ("dimm", "nvdimm", "virtio-mem")
            or device.target is None
            or device.node_element is not None
        ):
            continue
        node = Node("node", text="0")
        if device.size_element is not None:
            edits.append(editor.insert_after(device.size_element, node))
        else:
            edits.append(editor.insert_child(device.target, node))
    return edits


def attach_document(doc: Document, spec: DeviceSpec) -> Change:
    """``doc`` with ``spec`` attached; unchanged when the path is already attached."""
    domain = _domain_of(doc)
    if any(d.is_nvdimm and d.path == spec.path for d in domain.memory_devices):
        return Change(doc, doc.raw, doc.raw, f"{spec.path} is already attached; unchanged")
    memory_before, devs, cells = _memory_facts(doc, domain)
    if cells is None:
        if spec.node != 0:
            raise AttachError(
                f"{doc.path}: --node {spec.node} but the domain has no NUMA cells "
                "(attach adds cell 0)"
            )
        # the guest keeps its RAM: <memory> minus the devices it already has, as libvirt
        # computes it without cells (and as FX201's fix writes the cell)
        general, memory_after = first_cell(memory_before, devs, spec.size)
        if general <= 0:
            raise AttachError(
                f"{doc.path}: <memory> leaves no RAM beside the memory devices: "
                "no memory for the guest's NUMA cell"
            )
    else:
        if spec.node >= len(domain.cells):
            raise AttachError(
                f"{doc.path}: --node {spec.node} but the domain has only "
                f"{len(domain.cells)} NUMA cell(s)"
            )
        general = 0
        memory_after = cells + devs + spec.size
    if memory_after > MAX_BYTES:
        raise AttachError(f"{doc.path}: the memory total would exceed libvirt's limit")

    used = {d.slot for d in domain.slot_devices if d.slot is not None}
    if spec.slot is not None and spec.slot in used:
        raise AttachError(f"{doc.path}: slot {spec.slot} is already used by another memory device")
    slot = spec.slot if spec.slot is not None else lowest_free_slot(used)
    # libvirt 9.0 counts every memory device against slots, not only dimm/nvdimm
    slots_wanted = max(len(domain.memory_devices) + 1, max(used | {slot}) + 1)
    if (
        domain.max_memory_element is not None
        and domain.slots_text is not None
        and domain.slots is None
    ):
        raise AttachError(f"{doc.path}: <maxMemory slots={domain.slots_text!r}> does not parse")

    editor = Editor(doc)
    edits: list[Edit] = []
    memory = domain.memory
    try:
        # maxMemory and its slots
        max_memory_after = max_memory_for(memory_after)
        if domain.max_memory_element is None:
            attributes, value = _size_attributes(max_memory_after, domain.memory_unit)
            edits.append(
                _insert_max_memory(
                    editor,
                    domain,
                    Node("maxMemory", [("slots", str(slots_wanted)), *attributes], value),
                )
            )
        else:
            max_memory = domain.max_memory
            if max_memory is None:
                raise AttachError(f"{doc.path}: <maxMemory> has no readable size")
            if max_memory.bytes < memory_after:
                edits += editor.set_size(max_memory, max_memory_after, domain.memory_unit)
            if domain.slots is None or domain.slots < slots_wanted:
                edits.append(
                    editor.set_attribute(
                        domain.max_memory_element,
                        "slots",
                        str(max(slots_wanted, domain.slots or 0)),
                    )
                )
        # memory and currentMemory (without <memory>, libvirt sums the cells and devices)
        if memory is not None and memory.bytes != memory_after:
            edits += editor.set_size(memory, memory_after, memory.unit)
        current = domain.current_memory
        if domain.current_memory_element is None:
            if domain.memory_element is not None:
                attributes, value = _size_attributes(memory_after, domain.memory_unit)
                edits.append(
                    editor.insert_after(
                        domain.memory_element, Node("currentMemory", attributes, value)
                    )
                )
        elif current is not None:
            wanted = current_after(current.bytes, memory_before, memory_after, spec.size)
            if wanted != current.bytes:
                edits += editor.set_size(current, wanted, domain.memory_unit)
        # NUMA: a new cell 0, and (as libvirt does when it adds one) node 0 for the memory
        # devices already there
        if cells is None:
            edits += _numa_edits(editor, domain, general)
            edits += _node_edits(editor, domain)
        # the device, last in <devices>
        device = _device_node(spec, slot)
        if domain.devices is not None:
            edits.append(editor.insert_child(domain.devices, device))
        else:
            edits.append(editor.insert_child(domain.root, Node("devices", children=[device])))
    except EditError as exc:
        raise AttachError(f"{doc.path}: cannot edit this file in place ({exc})") from None
    result = _apply(doc, edits)
    return Change(
        result,
        doc.raw,
        encode(result),
        f"attached {spec.path} ({units.human(spec.size)}, slot {slot}, NUMA node {spec.node})",
    )


def detach_document(doc: Document, path: str) -> Change:
    """``doc`` without the nvdimm(s) backed by ``path``; memory sizes lowered to match.

    ``<maxMemory>``, its slots and the NUMA cells stay: they remain valid without the device,
    they may serve other hotplug plans, and a later attach then changes fewer lines.
    """
    domain = _domain_of(doc)
    removed = [d for d in domain.memory_devices if d.is_nvdimm and d.path == path]
    if not removed:
        return Change(doc, doc.raw, doc.raw, f"{path} is not attached; unchanged")
    memory_before, devs, cells = _memory_facts(doc, domain)
    gone = sum(d.size.bytes for d in removed if d.size is not None)
    memory_after = cells + devs - gone if cells is not None else memory_before - gone
    if memory_after <= 0:
        raise AttachError(f"{doc.path}: removing {path} would leave no memory")
    editor = Editor(doc)
    edits: list[Edit] = []
    memory = domain.memory
    try:
        for device in removed:
            edits.append(editor.remove_element(device.element))
        if memory is not None and memory.bytes != memory_after:
            edits += editor.set_size(memory, memory_after, memory.unit)
        current = domain.current_memory
        if current is not None:
            wanted = current_after(current.bytes, memory_before, memory_after, -gone)
            if wanted != current.bytes:
                edits += editor.set_size(current, wanted, domain.memory_unit)
    except EditError as exc:
        raise AttachError(f"{doc.path}: cannot edit this file in place ({exc})") from None
    result = _apply(doc, edits)
    return Change(result, doc.raw, encode(result), f"detached {path}")


def _apply(doc: Document, edits: list[Edit]) -> Document:
    ordered = sorted(edits)
    for first, second in itertools.pairwise(ordered):
        if first.end > second.start:
            raise AttachError(f"{doc.path}: internal error: overlapping edits")
    try:
        return reload_checked(doc, apply_edits(doc.work, ordered))
    except FixRefused as exc:
        raise AttachError(f"{doc.path}: {exc}") from None


# -- several files ----------------------------------------------------------------------------


@dataclass
class FileChange:
    display: str  # the path as given (``-`` for stdin)
    path: str | None  # None: standard input, or a document that is not a file
    change: Change


@dataclass
class Outcome:
    """A whole attach/detach run: per-file changes, the lint of the results, errors."""

    files: list[FileChange] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # one line each, for stderr
    device: DeviceSpec | None = None  # what attach wrote into the domains

    @property
    def changed(self) -> list[FileChange]:
        return [f for f in self.files if f.change.changed]

    @property
    def stdout_data(self) -> bytes | None:
        for item in self.files:
            if item.path is None:
                return item.change.after
        return None

    def diffs(self) -> str:
        return "".join(
            unified_diff(f.display, f.change.before, f.change.after) for f in self.changed
        )


def load_domains(paths: Sequence[str]) -> tuple[list[tuple[Source, Document]], list[str]]:
    """The named domain files (no directories: attach edits only what it is told to)."""
    loaded: list[tuple[Source, Document]] = []
    errors: list[str] = []
    seen: set[str] = set()
    if sum(1 for p in paths if p == STDIN) > 1:
        errors.append("'-' (standard input) can be given only once")
    for name in paths:
        if name == STDIN:
            source = Source(STDIN, None, True)
        else:
            path = Path(name)
            key = str(path.resolve())
            if key in seen:
                continue
            seen.add(key)
            if path.is_dir():
                errors.append(f"{name}: is a directory; name the domain files to change")
                continue
            if not path.exists():
                errors.append(f"{name}: No such file or directory")
                continue
            source = Source(name, name, True)
        try:
            loaded.append((source, read(source)))
        except OSError as exc:
            errors.append(f"{name}: {exc.strerror or exc}")
    return loaded, errors


def _run(
    paths: Sequence[str],
    options: LintOptions,
    change_one: Callable[[Document], Change],
    prepare: Callable[[list[Document]], None] | None = None,
) -> Outcome:
    loaded, errors = load_domains(paths)
    if errors:
        return Outcome(errors=errors)
    named = [(source.display, source.path, doc) for source, doc in loaded]
    return _plan(named, options, change_one, prepare)


def _plan(
    named: Sequence[tuple[str, str | None, Document]],
    options: LintOptions,
    change_one: Callable[[Document], Change],
    prepare: Callable[[list[Document]], None] | None = None,
) -> Outcome:
    """Change every document (all or none), then lint the results together."""
    outcome = Outcome()
    if prepare is not None:
        try:
            prepare([doc for _, _, doc in named])
        except AttachError as exc:
            outcome.errors.append(str(exc))
            return outcome
    for display, path, doc in named:
        try:
            outcome.files.append(FileChange(display, path, change_one(doc)))
        except AttachError as exc:
            outcome.errors.append(str(exc))
    if outcome.errors:
        outcome.files.clear()
        return outcome
    checked = lint_documents([(f.change.doc, True) for f in outcome.files], options)
    outcome.findings = [finding for item in checked for finding in item.findings]
    return outcome


def attach_paths(paths: Sequence[str], request: Request, options: LintOptions) -> Outcome:
    """Plan the attach for every file (all or none), then lint the results together.

    Nothing is written: see :func:`write_changes`. When any file cannot take the device the
    outcome has errors and no changes.
    """
    specs: list[DeviceSpec] = []
    outcome = _run(paths, options, *_attacher(request, options, specs))
    outcome.device = specs[0] if specs and not outcome.errors else None
    return outcome


def attach_documents(
    named: Sequence[tuple[str, Document]], request: Request, options: LintOptions
) -> Outcome:
    """:func:`attach_paths` for documents that are not files (``display``, document)."""
    return _plan(_not_files(named), options, *_attacher(request, options))


def _attacher(
    request: Request, options: LintOptions, specs: list[DeviceSpec] | None = None
) -> tuple[Callable[[Document], Change], Callable[[list[Document]], None]]:
    """How to change one document, and the step before: the device, resolved once for all
    (and kept in ``specs``)."""
    specs = [] if specs is None else specs

    def prepare(docs: list[Document]) -> None:
        specs.append(resolve(request, options.facts, docs))

    def change(doc: Document) -> Change:
        return attach_document(doc, specs[0])

    return change, prepare


def detach_paths(paths: Sequence[str], source: str, options: LintOptions) -> Outcome:
    """Plan removing the nvdimm backed by ``source`` from every file, then lint the results."""
    return _run(paths, options, lambda doc: detach_document(doc, source))


def detach_documents(
    named: Sequence[tuple[str, Document]], source: str, options: LintOptions
) -> Outcome:
    """:func:`detach_paths` for documents that are not files (``display``, document)."""
    return _plan(_not_files(named), options, lambda doc: detach_document(doc, source))


def _not_files(
    named: Sequence[tuple[str, Document]],
) -> list[tuple[str, str | None, Document]]:
    return [(display, None, doc) for display, doc in named]


def next_steps(outcome: Outcome) -> list[str]:
    """What comes after the attach in the famfs VM guide, for this device: the lines
    ``attach`` prints once it has written the files (none when nothing was attached)."""
    device = outcome.device
    files = [f.path for f in outcome.changed if f.path is not None]
    if device is None or not outcome.changed:
        return []
    lines = ["Next steps (the famfs VM guide):"]
    lines += _backing_steps(device)
    if files:
        lines.append(f"  - give the domains to libvirt: virsh define {' '.join(files)}")
    lines += [
        "  - start the VMs; in each, the device is a raw pmem namespace, and famfs needs it in "
        "devdax mode (not fsdax, which older famfs guides also allowed): "
        "sudo famfs-xml device convert namespace0.0 --mode devdax --yes",
        "  - in a VM with Linux 7.0 or later, famfs mkfs and mount put /dev/daxX.Y in famfs "
        "mode (fsdev_dax) themselves; by hand: famfs-xml device convert dax0.0 --mode famfs "
        "--yes (no EFI firmware needed)",
    ]
    return lines


def _backing_steps(device: DeviceSpec) -> list[str]:
    path = Path(device.path)
    if device.path.startswith("/dev/dax"):
        name = path.name
        return [
            f"  - keep {device.path} in devdax mode on the host, where QEMU maps it (not "
            f"system-ram, not famfs mode): famfs-xml devices; famfs-xml device convert {name} "
            "--mode devdax --yes"
        ]
    if device.path.startswith("/dev/"):
        return []
    if path.exists():
        return [
            f"  - {device.path} ({units.human(device.size)}) is the shared memory: lint the "
            "domains of all the VMs that share it together (famfs-xml lint, FX501)"
        ]
    mib = device.size // units.MiB
    return [
        f"  - create the backing file {device.path} ({units.human(device.size)}): "
        f"truncate -s {device.size} {device.path}, or, allocated as the guide does, "
        f"dd if=/dev/zero of={device.path} bs=1M count={mib}"
    ]


def write_changes(outcome: Outcome, command: str = "attach", extra: str = "") -> None:
    """Write every changed file atomically; a failure becomes an error (others still written).

    A file that another program changed since it was read is not written. A file that is
    libvirt's saved definition gets a note: libvirt will not see the change.
    """
    for item in outcome.changed:
        if item.path is None:
            continue
        note = libvirt_owned_note(item.display, item.change.before, command, extra)
        if note is not None:
            outcome.notes.append(note)
        error = write_checked(
            item.path, item.change.after, item.change.before, item.display, "changed"
        )
        if error is not None:
            outcome.errors.append(error)
