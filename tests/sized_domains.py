"""Small domains with chosen memory sizes, for the tests of what fixes do to sizes and totals.

Every domain is a TCG guest that can really start (no disk, no balloon, a ``qemu64`` CPU), so
the libvirt tests can boot what ``fix`` makes of it. Sizes are given in MiB and written in KiB
without a unit, as virt-install and libvirt write them; ``None`` leaves an element out, as
virt-install does for ``<maxMemory>``, the NUMA cell and the nvdimm's settings.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from lxml import etree

from famfs_xml.core import units

MiB = units.MiB
GiB = units.GiB


@dataclass(frozen=True)
class SizedDomain:
    name: str = "sized"
    memory: int | None = 128  # MiB
    current: int | None = -1  # MiB; -1: equal to memory
    max_memory: int | None = None  # MiB
    slots: int = 1
    cells: tuple[int, ...] | None = None  # MiB per NUMA cell
    nvdimm: int | None = 64  # target size in MiB
    path: str = "/var/lib/famfs/backing"
    famfs_settings: bool = True  # access, alignsize, <pmem/>, a 128 KiB label
    node: bool | None = None  # <node>0</node>; None: when there are cells

    def with_(self, **changes: object) -> SizedDomain:
        return replace(self, **changes)  # type: ignore[arg-type]

    def xml(self) -> str:
        lines = ["<domain type='qemu'>", f"  <name>{self.name}</name>"]
        if self.max_memory is not None:
            lines.append(f"  <maxMemory slots='{self.slots}'>{self.max_memory * 1024}</maxMemory>")
        if self.memory is not None:
            lines.append(f"  <memory>{self.memory * 1024}</memory>")
        current = self.memory if self.current == -1 else self.current
        if current is not None:
            lines.append(f"  <currentMemory>{current * 1024}</currentMemory>")
        vcpus = max(1, len(self.cells or ()))
        lines += [
            f"  <vcpu placement='static'>{vcpus}</vcpu>",
            "  <os>",
            "    <type arch='x86_64' machine='q35'>hvm</type>",
            "  </os>",
            "  <features>",
            "    <acpi/>",
            "    <apic/>",
            "  </features>",
            *self._cpu(),
            "  <devices>",
            "    <emulator>/usr/bin/qemu-system-x86_64</emulator>",
            "    <controller type='usb' model='none'/>",
            "    <memballoon model='none'/>",
            *self._nvdimm(),
            "  </devices>",
            "</domain>",
        ]
        return "\n".join(lines) + "\n"

    def _cpu(self) -> list[str]:
        if self.cells is None:
            return []
        cells = [
            f"      <cell id='{i}' cpus='{i}' memory='{size * 1024}'/>"
            for i, size in enumerate(self.cells)
        ]
        return [
            "  <cpu mode='custom' match='exact' check='none'>",
            "    <model fallback='forbid'>qemu64</model>",
            "    <numa>",
            *cells,
            "    </numa>",
            "  </cpu>",
        ]

    def _nvdimm(self) -> list[str]:
        if self.nvdimm is None:
            return []
        access = " access='shared'" if self.famfs_settings else ""
        source = [f"        <path>{self.path}</path>"]
        if self.famfs_settings:
            source += ["        <alignsize>2048</alignsize>", "        <pmem/>"]
        target = [f"        <size>{self.nvdimm * 1024}</size>"]
        node = self.cells is not None if self.node is None else self.node
        if node:
            target.append("        <node>0</node>")
        if self.famfs_settings:
            target += ["        <label>", "          <size>128</size>", "        </label>"]
        return [
            f"    <memory model='nvdimm'{access}>",
            "      <source>",
            *source,
            "      </source>",
            "      <target>",
            *target,
            "      </target>",
            "    </memory>",
        ]


def kib(root: etree._Element, path: str) -> int | None:
    """A size of a domain in bytes (``path`` an ElementPath to an element with the number)."""
    element = root.find(path)
    if element is None:
        return None
    return units.to_bytes(element.text, element.get("unit"))


def guest_ram(data: bytes | str) -> int | None:
    """The guest's ordinary RAM as libvirt computes it: the NUMA cells, or without cells
    ``<memory>`` minus the memory devices (libvirt 9.0's arithmetic, and the cell 9.6 and
    later add at define). None when it is not a domain or a size does not parse."""
    raw = data.encode() if isinstance(data, str) else data
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    root = etree.fromstring(raw, parser)
    if root.tag != "domain":
        return None
    cells = root.findall("cpu/numa/cell")
    try:
        if cells:
            return sum(units.to_bytes(c.get("memory"), c.get("unit")) for c in cells)
        memory = kib(root, "memory")
        devices = [m.find("target/size") for m in root.iterfind("devices/memory")]
        sizes = [units.to_bytes(d.text, d.get("unit")) for d in devices if d is not None]
        return None if memory is None else memory - sum(sizes)
    except units.UnitError:
        return None
