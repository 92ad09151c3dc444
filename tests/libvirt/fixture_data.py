"""Where the fixtures are, what is expected of them, and libvirt's size arithmetic.

Shared by the fixture tests, with and without libvirt; it needs no libvirt.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from famfs_xml import api
from famfs_xml.core.findings import Finding
from famfs_xml.core.inventory import Inventory
from tests.releases import RECORDED_RELEASES, ByRelease, for_release, release_key

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"
DEFECTS = FIXTURES / "defects"

#: Domains famfs-xml must find nothing wrong with (at the default selection).
CLEAN = sorted([FIXTURES / "guide" / "f39-dev2.xml", *(FIXTURES / "libvirt-style").glob("*.xml")])


@dataclass(frozen=True)
class Defect:
    """One entry of ``fixtures/defects/expected.toml``."""

    path: Path
    codes: tuple[str, ...]
    libvirt: ByRelease
    libvirt_message: ByRelease = None
    plain_define: ByRelease = None
    select: tuple[str, ...] = ()
    lint_with: tuple[Path, ...] = ()
    inventory: Path | None = None
    style: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.name

    def verdict(self, release: tuple[int, int]) -> str:
        """ "accepts" or "rejects": what libvirt ``release`` does with the file."""
        verdict = for_release(self.libvirt, release)
        assert verdict is not None
        return verdict

    def message(self, release: tuple[int, int]) -> str | None:
        """libvirt's words when ``release`` rejects the file (None when it accepts)."""
        if self.verdict(release) == "accepts":
            return None
        return for_release(self.libvirt_message, release)

    def plain(self, release: tuple[int, int]) -> str | None:
        return for_release(self.plain_define, release)

    def rejected_by(self) -> list[str]:
        """The recorded releases that reject the file."""
        return [r for r in RECORDED_RELEASES if self.verdict(release_key(r)) == "rejects"]


def load_defects() -> list[Defect]:
    with (DEFECTS / "expected.toml").open("rb") as handle:
        table = tomllib.load(handle)
    defects = []
    for name, entry in sorted(table.items()):
        entry = dict(entry)
        inventory = entry.pop("inventory", None)
        defects.append(
            Defect(
                path=DEFECTS / name,
                codes=tuple(entry.pop("codes")),
                libvirt=entry.pop("libvirt"),
                libvirt_message=entry.pop("libvirt_message", None),
                plain_define=entry.pop("plain_define", None),
                select=tuple(entry.pop("select", ())),
                lint_with=tuple(DEFECTS / other for other in entry.pop("lint_with", ())),
                inventory=None if inventory is None else (DEFECTS / inventory).resolve(),
                style=entry.pop("style", ""),
                extra=entry,
            )
        )
    return defects


def lint_defect(
    defect: Defect, data: bytes | None = None, libvirt_version: str | None = None
) -> list[Finding]:
    """famfs-xml's findings for a defect fixture (or ``data`` in its place), linted the way
    ``expected.toml`` says: with its peers, its inventory and its extra selection, for the
    libvirt release ``libvirt_version`` (None: unknown)."""
    facts = Inventory.from_file(defect.inventory) if defect.inventory else None
    return api.lint_text(
        defect.path.read_bytes() if data is None else data,
        path=defect.name,
        peers=[other.read_bytes() for other in defect.lint_with],
        extend_select=list(defect.select),
        facts=facts,
        libvirt_version=libvirt_version,
    )


# -- sizes, as libvirt reads them (virScaleInteger) -------------------------------------

_BINARY = {"": 1024, "b": 1, "byte": 1, "bytes": 1, "k": 1024, "kib": 1024}
_POWERS = "kmgtpe"


def unit_factor(unit: str | None) -> int:
    """Bytes per unit: no unit = KiB; ``KiB``/``k`` = 1024; ``KB`` = 1000 (any case)."""
    text = (unit or "").strip().lower()
    if text in _BINARY:
        return _BINARY[text]
    if text and text[0] in _POWERS:
        power = _POWERS.index(text[0]) + 1
        rest = text[1:]
        if rest in {"", "ib"}:
            return int(1024**power)
        if rest == "b":
            return int(1000**power)
    raise ValueError(f"unknown unit {unit!r}")


def to_bytes(value: str, unit: str | None) -> int:
    """A size in bytes, rounded up to whole KiB as libvirt stores it."""
    raw = int(value.strip()) * unit_factor(unit)
    return -(-raw // 1024) * 1024


def _size(element: etree._Element | None) -> int | None:
    if element is None or element.text is None:
        return None
    return to_bytes(element.text, element.get("unit"))


def memory_facts(root: etree._Element) -> dict[str, Any]:
    """Every size and placement famfs-xml cares about, in bytes, from one domain."""
    max_memory = root.find("maxMemory")
    facts: dict[str, Any] = {
        "maxMemory": _size(max_memory),
        "slots": None if max_memory is None else max_memory.get("slots"),
        "memory": _size(root.find("memory")),
        "currentMemory": _size(root.find("currentMemory")),
        "vcpu": (root.findtext("vcpu") or "").strip(),
        "cells": [
            (
                cell.get("id"),
                cell.get("cpus"),
                to_bytes(cell.get("memory", "0"), cell.get("unit")),
            )
            for cell in root.iterfind("cpu/numa/cell")
        ],
        "memory_devices": [],
    }
    for device in root.iterfind("devices/memory"):
        address = device.find("address")
        facts["memory_devices"].append(
            {
                "model": device.get("model"),
                "access": device.get("access"),
                "path": device.findtext("source/path"),
                "alignsize": _size(device.find("source/alignsize")),
                "pmem": device.find("source/pmem") is not None,
                "size": _size(device.find("target/size")),
                "node": device.findtext("target/node"),
                "label": _size(device.find("target/label/size")),
                "slot": None if address is None else address.get("slot"),
            }
        )
    return facts


def parse(data: bytes | str) -> etree._Element:
    raw = data.encode() if isinstance(data, str) else data
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)
    return etree.fromstring(raw, parser)
