"""The memory settings of a domain, as a change is verified by after libvirt took it.

libvirt accepts a definition and may still change it silently: it recomputes ``<memory>``,
clamps ``<currentMemory>``, widens a NUMA cell's cpus. After each define, famfs-xml reads
the definition back and compares these settings with what it wrote.
"""

from __future__ import annotations

from collections.abc import Iterator

from famfs_xml.core import units
from famfs_xml.lint.document import load
from famfs_xml.lint.domain import MemoryDevice, Size, build

Settings = dict[str, object]


def memory_settings(xml: bytes) -> Settings:
    """Every memory size and setting of a domain definition, by a name for the user.

    Sizes are in bytes, whatever unit the text used. A definition that does not parse has
    no settings (and differs from every one that does).
    """
    doc = load(xml, "<definition>")
    if doc.root is None or doc.root.tag != "domain":
        return {}
    domain = build(doc.root)
    settings: Settings = {
        "memory": _bytes(domain.memory),
        "maxMemory": _bytes(domain.max_memory),
        "maxMemory slots": domain.slots,
        "currentMemory": _bytes(domain.current_memory),
        "NUMA cells": len(domain.cells),
        "memory devices": len(domain.memory_devices),
    }
    for cell in domain.cells:
        settings[f"NUMA cell {cell.id} memory"] = _bytes(cell.memory)
        settings[f"NUMA cell {cell.id} cpus"] = cell.cpus
    for index, device in enumerate(domain.memory_devices):
        settings.update(_device_settings(_device_name(device, index), device))
    return settings


def _bytes(size: Size | None) -> int | None:
    return None if size is None else size.bytes


def _device_name(device: MemoryDevice, index: int) -> str:
    where = device.path if device.path else f"#{index + 1}"
    return f"{device.model or 'memory device'} {where}"


def _device_settings(name: str, device: MemoryDevice) -> Iterator[tuple[str, object]]:
    yield f"{name} model", device.model
    yield f"{name} path", device.path
    yield f"{name} access", device.access
    yield f"{name} discard", device.discard
    yield f"{name} alignsize", _bytes(device.alignsize)
    yield f"{name} pmem", device.pmem
    yield f"{name} size", _bytes(device.size)
    yield f"{name} node", device.node
    yield f"{name} label", _bytes(device.label)
    yield f"{name} slot", device.slot


def differences(written: Settings, kept: Settings) -> list[str]:
    """One phrase per setting that libvirt holds differently from what was written."""
    return [
        f"{name} {_show(name, written.get(name))} written, {_show(name, kept.get(name))} kept"
        for name in dict.fromkeys([*written, *kept])
        if written.get(name) != kept.get(name)
    ]


def _show(name: str, value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, frozenset):
        return ",".join(str(cpu) for cpu in sorted(value)) or "none"
    if isinstance(value, int) and _is_size(name):
        return units.human(value)
    return str(value)


_SIZE_NAMES = ("memory", "maxMemory", "currentMemory", "alignsize", "size", "label")


def _is_size(name: str) -> bool:
    return name.endswith(_SIZE_NAMES)
