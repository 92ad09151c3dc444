"""A typed, read-only view of one libvirt domain: the facts the rules reason about.

Every value keeps the element it came from, so a finding can point at it and a fix can
edit it. Values libvirt would refuse to parse are kept as :class:`BadValue` entries rather
than raising: a bad number is a finding, never a crash.
"""

from __future__ import annotations

from typing import NamedTuple

from lxml import etree

from famfs_xml.core import units

Element = etree._Element


class BadValue(NamedTuple):
    """A number or unit libvirt would reject, with the element to blame."""

    element: Element
    what: str
    message: str


class Size(NamedTuple):
    """A size in bytes, and where it is written.

    ``attribute`` is None when the number is the element's text (``<memory>40</memory>``),
    else the attribute holding it (``<cell memory='32'>``). ``unit`` is the raw ``unit=``.
    """

    bytes: int
    element: Element
    unit: str | None
    attribute: str | None = None


class Cell(NamedTuple):
    element: Element
    id: int | None  # the id libvirt gives it (its position without an id); None: unparsable
    cpus: frozenset[int] | None  # None: no cpus attribute, or one that does not parse
    cpus_text: str | None
    memory: Size | None


class MemoryDevice(NamedTuple):
    """One ``<devices><memory>``: a dimm, an nvdimm, virtio-mem..."""

    element: Element
    model: str | None
    access: str | None
    discard: str | None
    source: Element | None
    path: str | None
    path_element: Element | None
    alignsize: Size | None
    alignsize_element: Element | None
    pmem: bool
    target: Element | None
    size: Size | None
    size_element: Element | None
    node: int | None
    node_element: Element | None
    label: Size | None
    label_element: Element | None  # the <label> element
    address: Element | None
    address_type: str | None
    slot: int | None
    slot_text: str | None

    @property
    def is_nvdimm(self) -> bool:
        return self.model == "nvdimm"

    @property
    def uses_slot(self) -> bool:
        """dimm and nvdimm take a hotplug slot; virtio-pmem/virtio-mem do not."""
        return self.model in ("dimm", "nvdimm")


class Domain:
    """What the rules read of one ``<domain>``, filled in by :func:`build`.

    A plain class, not a dataclass: the view is built field by field and never compared,
    and a 20-field dataclass costs a noticeable part of a one-file lint's start-up.
    """

    vcpu_element: Element | None = None
    vcpus: int | None = None
    memory: Size | None = None
    memory_element: Element | None = None
    max_memory: Size | None = None
    max_memory_element: Element | None = None
    slots: int | None = None
    slots_text: str | None = None
    current_memory: Size | None = None
    current_memory_element: Element | None = None
    cpu: Element | None = None
    numa: Element | None = None
    devices: Element | None = None
    os: Element | None = None
    features: Element | None = None
    arch: str | None = None  # <os><type arch=...>; None when not given

    def __init__(self, root: Element) -> None:
        self.root = root
        self.cells: list[Cell] = []
        self.memory_devices: list[MemoryDevice] = []
        self.bad_values: list[BadValue] = []
        # The first child of <domain> of each tag, gathered in one pass: rules ask for many.
        self.top: dict[str, Element] = {}

    def child(self, tag: str) -> Element | None:
        """The first ``<domain>`` child named ``tag`` (``root.find(tag)``, precomputed)."""
        return self.top.get(tag)

    @property
    def devs_total(self) -> int | None:
        """Sum of memory-device target sizes; None when one of them is unknown."""
        total = 0
        for device in self.memory_devices:
            if device.size is None:
                return None
            total += device.size.bytes
        return total

    @property
    def cells_total(self) -> int | None:
        total = 0
        for cell in self.cells:
            if cell.memory is None:
                return None
            total += cell.memory.bytes
        return total

    @property
    def memory_unit(self) -> str | None:
        return None if self.memory_element is None else self.memory_element.get("unit")

    @property
    def slot_devices(self) -> list[MemoryDevice]:
        return [d for d in self.memory_devices if d.uses_slot]

    @property
    def guest_nodes(self) -> int:
        """Guest NUMA nodes as libvirt counts them: the cells, or one without any."""
        return max(len(self.cells), 1)


def _child(element: Element, tag: str) -> Element | None:
    """``element.find(tag)`` for a plain tag name, without ElementPath's per-call overhead."""
    return next(element.iterchildren(tag), None)


def _children(element: Element, tag: str) -> list[Element]:
    """``element.findall(tag)`` for a plain tag name."""
    return list(element.iterchildren(tag))


def build(root: Element) -> Domain:
    """The view of a ``<domain>`` element."""
    domain = Domain(root)
    top = domain.top
    for element in root.iterchildren(etree.Element):  # elements only, filtered in C
        top.setdefault(element.tag, element)
    _read_resources(domain)
    _read_cpu(domain)
    domain.devices = top.get("devices")
    if domain.devices is not None:
        domain.memory_devices = [
            _read_memory_device(domain, el) for el in _children(domain.devices, "memory")
        ]
    domain.os = top.get("os")
    if domain.os is not None:  # read once: several rules depend on the architecture
        os_type = _child(domain.os, "type")
        domain.arch = os_type.get("arch") if os_type is not None else None
    domain.features = top.get("features")
    return domain


def _size_from_text(domain: Domain, element: Element | None) -> Size | None:
    if element is None:
        return None
    unit = element.get("unit")
    try:
        return Size(units.to_bytes(element.text, unit), element, unit)
    except units.UnitError as exc:
        domain.bad_values.append(BadValue(element, element.tag, str(exc)))
        return None


def _read_resources(domain: Domain) -> None:
    top = domain.top
    domain.memory_element = top.get("memory")
    domain.memory = _size_from_text(domain, domain.memory_element)
    domain.max_memory_element = top.get("maxMemory")
    domain.max_memory = _size_from_text(domain, domain.max_memory_element)
    if domain.max_memory_element is not None:
        domain.slots_text = domain.max_memory_element.get("slots")
        if domain.slots_text is not None:
            try:
                domain.slots = units.parse_number(domain.slots_text)
            except units.UnitError:
                domain.bad_values.append(
                    BadValue(
                        domain.max_memory_element,
                        "slots",
                        f"Failed to parse memory slot count '{domain.slots_text}'",
                    )
                )
    domain.current_memory_element = top.get("currentMemory")
    domain.current_memory = _size_from_text(domain, domain.current_memory_element)
    domain.vcpu_element = top.get("vcpu")
    if domain.vcpu_element is not None:
        try:
            domain.vcpus = units.parse_number(domain.vcpu_element.text)
        except units.UnitError as exc:
            domain.bad_values.append(BadValue(domain.vcpu_element, "vcpu", str(exc)))


def _read_cpu(domain: Domain) -> None:
    domain.cpu = domain.top.get("cpu")
    if domain.cpu is None:
        return
    domain.numa = _child(domain.cpu, "numa")
    if domain.numa is None:
        return
    domain.cells = [
        _read_cell(domain, el, position)
        for position, el in enumerate(_children(domain.numa, "cell"))
    ]


def _read_cell(domain: Domain, element: Element, position: int) -> Cell:
    # libvirt numbers a cell without an id by its position (virt-install writes none)
    cell_id: int | None = position
    raw_id = element.get("id")
    if raw_id is not None:
        try:
            cell_id = units.parse_number(raw_id)
        except units.UnitError:
            cell_id = None
            domain.bad_values.append(BadValue(element, "id", f"Invalid cell id '{raw_id}'"))
    memory: Size | None = None
    raw_memory = element.get("memory")
    unit = element.get("unit")
    if raw_memory is None:
        domain.bad_values.append(
            BadValue(element, "memory", "missing element or attribute './@memory'")
        )
    else:
        try:
            memory = Size(units.to_bytes(raw_memory, unit), element, unit, "memory")
        except units.UnitError as exc:
            domain.bad_values.append(BadValue(element, "memory", str(exc)))
    cpus_text = element.get("cpus")
    return Cell(element, cell_id, parse_cpuset(cpus_text), cpus_text, memory)


def parse_cpuset(text: str | None) -> frozenset[int] | None:
    """libvirt's cpuset syntax: ``0-3,6,^2``; None when it does not parse."""
    if text is None:
        return None
    included: set[int] = set()
    excluded: set[int] = set()
    for part in text.replace(" ", "").split(","):
        if not part:
            return None
        target = excluded if part.startswith("^") else included
        part = part.lstrip("^")
        low, _, high = part.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            return None
        first, last = int(low), int(high) if high else int(low)
        if last < first or last > 65535:
            return None
        target.update(range(first, last + 1))
    return frozenset(included - excluded)


def format_cpuset(cpus: int) -> str:
    return "0" if cpus == 1 else f"0-{cpus - 1}"


def _read_memory_device(domain: Domain, element: Element) -> MemoryDevice:
    source = _child(element, "source")
    target = _child(element, "target")
    path_element = _child(source, "path") if source is not None else None
    align_element = _child(source, "alignsize") if source is not None else None
    size_element = _child(target, "size") if target is not None else None
    node_element = _child(target, "node") if target is not None else None
    label_element = _child(target, "label") if target is not None else None
    label_size = _child(label_element, "size") if label_element is not None else None
    address = _child(element, "address")
    slot_text = address.get("slot") if address is not None else None
    return MemoryDevice(
        element=element,
        model=element.get("model"),
        access=element.get("access"),
        discard=element.get("discard"),
        source=source,
        path=(path_element.text or "").strip() if path_element is not None else None,
        path_element=path_element,
        alignsize=_size_from_text(domain, align_element),
        alignsize_element=align_element,
        pmem=source is not None and _child(source, "pmem") is not None,
        target=target,
        size=_size_from_text(domain, size_element),
        size_element=size_element,
        node=_int_text(domain, node_element, "invalid value of memory device node"),
        node_element=node_element,
        label=_size_from_text(domain, label_size),
        label_element=label_element,
        address=address,
        address_type=address.get("type") if address is not None else None,
        slot=_slot(slot_text),
        slot_text=slot_text,
    )


def _int_text(domain: Domain, element: Element | None, message: str) -> int | None:
    if element is None:
        return None
    try:
        return units.parse_number(element.text)
    except units.UnitError:
        domain.bad_values.append(BadValue(element, element.tag, message))
        return None


def _slot(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text.strip(), 0) if text.strip().startswith("0x") else int(text.strip())
    except ValueError:
        return None
