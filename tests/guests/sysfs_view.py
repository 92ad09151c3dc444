"""What famfs-xml reads of sysfs about pmem namespaces, dax devices and memory blocks, one
fact a line: ``NAME.ATTRIBUTE VALUE`` (``?`` when it cannot be read).

The device-tool guest tests print it inside guests (``print(view("/"))``) and on the fake
machines of ``tests/devices`` (``view(root)``), and compare the two. Standard library only:
the guest runs it from this directory.
"""

from __future__ import annotations

import os
import re

NAMESPACE = re.compile(r"namespace\d+\.\d+")
DAX = re.compile(r"dax\d+\.\d+")
PMEM = re.compile(r"pmem.*")
NAMESPACE_FACTS = ("mode", "size", "resource", "holder", "numa_node")
CLAIM_FACTS = ("mode", "align", "namespace", "size", "resource")
DAX_FACTS = ("size", "align", "resource", "target_node", "mapping0/start", "mapping0/end")


def _natural(name: str) -> tuple[object, ...]:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


def _names(directory: str, pattern: re.Pattern[str]) -> list[str]:
    try:
        found = os.listdir(directory)
    except OSError:
        return []
    return sorted((name for name in found if pattern.fullmatch(name)), key=_natural)


def _value(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read().rstrip("\n")
    except OSError:
        return "?"


def _driver(directory: str) -> str:
    link = os.path.join(directory, "driver")
    return os.path.basename(os.readlink(link)) if os.path.islink(link) else "-"


def _facts(label: str, directory: str, names: tuple[str, ...]) -> list[str]:
    return [f"{label}.{name} {_value(os.path.join(directory, name))}" for name in names]


def _namespace(nd: str, name: str) -> list[str]:
    directory = os.path.join(nd, name)
    lines = _facts(name, directory, NAMESPACE_FACTS)
    lines.append(f"{name}.driver {_driver(directory)}")
    blocks = _names(os.path.join(directory, "block"), PMEM)
    lines.append(f"{name}.block {' '.join(blocks)}")
    claim = _value(os.path.join(directory, "holder"))
    if claim in ("", "?"):
        return lines
    held = os.path.join(nd, claim)
    lines += _facts(claim, held, CLAIM_FACTS)
    lines.append(f"{claim}.driver {_driver(held)}")
    blocks = _names(os.path.join(held, "block"), PMEM)
    lines.append(f"{claim}.block {' '.join(blocks)}")
    lines.append(f"{claim}.dax {' '.join(_names(held, DAX))}")
    return lines


def _dax(bus: str, name: str) -> list[str]:
    directory = os.path.join(bus, name)
    lines = _facts(name, directory, DAX_FACTS)
    lines.append(f"{name}.parent.namespace {_value(os.path.join(directory, '..', 'namespace'))}")
    region = _value(os.path.join(directory, "..", "dax_region", "id"))
    lines.append(f"{name}.parent.region {region}")
    lines.append(f"{name}.driver {_driver(directory)}")
    return lines


def view(root: str = "/") -> str:
    """The facts, one a line, for the machine whose ``/sys`` is under ``root``."""
    sys_dir = os.path.join(root, "sys")
    nd = os.path.join(sys_dir, "bus/nd/devices")
    bus = os.path.join(sys_dir, "bus/dax/devices")
    lines = [line for name in _names(nd, NAMESPACE) for line in _namespace(nd, name)]
    lines += [line for name in _names(bus, DAX) for line in _dax(bus, name)]
    block = os.path.join(sys_dir, "block")
    for disk in _names(block, PMEM):
        lines.append(f"{disk}.sectors {_value(os.path.join(block, disk, 'size'))}")
    memory = os.path.join(sys_dir, "devices/system/memory")
    for attribute in ("block_size_bytes", "auto_online_blocks"):
        lines.append(f"memory.{attribute} {_value(os.path.join(memory, attribute))}")
    for name in _names(memory, re.compile(r"memory\d+")):
        lines.append(f"{name}.state {_value(os.path.join(memory, name, 'state'))}")
    return "\n".join(lines) + "\n"
