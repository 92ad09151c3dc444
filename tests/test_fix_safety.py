"""Safe fixes never make a guest worse: sizes settle before the totals computed from them,
a size in doubt is reported and never made consistent, and no safe fix lowers the guest's RAM.

The domains are the shapes virt-install and virt-xml write (KiB without a unit, no
``<maxMemory>``, no NUMA cell, the device left out of ``<memory>``), scaled down so that
``tests/libvirt/test_fix_safety_start.py`` can boot the same ones.
"""

from __future__ import annotations

from lxml import etree

from famfs_xml import api
from famfs_xml.core.findings import Finding
from famfs_xml.core.inventory import BackingDevice, Inventory
from famfs_xml.lint.document import load
from famfs_xml.lint.engine import fix_document
from tests.sized_domains import MiB, SizedDomain, kib

BACKING = "/var/lib/famfs/backing"


def backing_of(size: int) -> Inventory:
    return Inventory([BackingDevice(BACKING, "file", size=size)])


def findings(xml: str | bytes, **options: object) -> dict[str, Finding]:
    return {f.code: f for f in api.lint_text(xml, **options)}  # type: ignore[arg-type]


def fixed(xml: str, **options: object) -> tuple[bytes, list[str]]:
    outcome = fix_document(load(xml.encode(), "vm.xml"), api.options(**options))  # type: ignore[arg-type]
    return outcome.data, outcome.applied


def size_of(data: bytes, path: str) -> int | None:
    return kib(etree.fromstring(data), path)


# -- defect 1: a run never keeps an edit computed from a size it then corrected ------------


def test_totals_are_computed_after_the_device_size_is_corrected() -> None:
    """A 1 TiB target on a 64 MiB file: FX305 sets 64 MiB; nothing may follow the 1 TiB."""
    vm = SizedDomain(memory=192, max_memory=192, cells=(128,), nvdimm=1024 * 1024)
    data, applied = fixed(vm.xml(), facts=backing_of(64 * MiB))
    assert size_of(data, "devices/memory/target/size") == 64 * MiB
    assert size_of(data, "maxMemory") == 192 * MiB  # not raised to 1 TiB + 128 MiB
    assert size_of(data, "memory") == 192 * MiB
    assert applied == ["FX305"]  # no edit counted that a later pass undid
    assert findings(data, facts=backing_of(64 * MiB)) == {}
