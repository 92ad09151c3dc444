"""attach/detach as a library: lint-clean, small diffs, the file's own style, idempotence."""

from __future__ import annotations

import difflib
import re

import pytest
from lxml import etree

from famfs_xml import api
from famfs_xml.attach import (
    AttachError,
    DeviceSpec,
    Request,
    attach_document,
    detach_document,
    parse_size,
    resolve,
)
from famfs_xml.core import units
from famfs_xml.core.findings import Finding, Severity
from famfs_xml.core.inventory import Inventory
from famfs_xml.lint.document import load
from famfs_xml.lint.domain import build
from tests.attach.domains import DATA, crlf, domain_variants
from tests.samples import GUIDE_VM

GiB = units.GiB
DAX = "/dev/dax1.0"
SPEC = DeviceSpec(DAX, 8 * GiB, 2 * units.MiB, 16 * units.MiB)
VARIANTS = domain_variants()
STANZA_LINES = 15  # the guide's nvdimm stanza


def attach(data: bytes, spec: DeviceSpec = SPEC) -> bytes:
    return attach_document(load(data, "vm.xml"), spec).after


def detach(data: bytes, path: str = DAX) -> bytes:
    return detach_document(load(data, "vm.xml"), path).after


def problems(data: bytes) -> list[Finding]:
    """Errors and warnings of the default rule selection."""
    return [f for f in api.lint_text(data) if f.severity >= Severity.WARNING]


def changed_lines(before: bytes, after: bytes) -> tuple[int, int]:
    """(removed, added) lines."""
    old = before.decode().splitlines()
    new = after.decode().splitlines()
    diff = list(difflib.unified_diff(old, new, lineterm="", n=0))[2:]
    removed = sum(1 for line in diff if line.startswith("-"))
    added = sum(1 for line in diff if line.startswith("+"))
    return removed, added


def device(data: bytes, path: str = DAX) -> etree._Element:
    root = etree.fromstring(data)
    found = [m for m in root.iter("memory") if m.findtext("source/path") == path]
    assert len(found) == 1
    return found[0]


def sizes(data: bytes) -> dict[str, int]:
    domain = build(etree.fromstring(data))
    result = {}
    for name in ("memory", "max_memory", "current_memory"):
        size = getattr(domain, name)
        if size is not None:
            result[name] = size.bytes
    if domain.cells:
        result["cells"] = domain.cells_total or 0
    if domain.slots is not None:
        result["slots"] = domain.slots
    return result


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_attach_is_lint_clean_small_and_idempotent(name: str) -> None:
    before = VARIANTS[name]
    assert problems(before) == []
    after = attach(before)
    assert after != before
    assert problems(after) == [], name
    removed, added = changed_lines(before, after)
    # memory, currentMemory and at most an existing maxMemory change; besides the stanza
    # only maxMemory and the NUMA cell (with <numa>/<cpu> around it) are added.
    assert removed <= 3
    assert added - removed <= STANZA_LINES + 6
    assert attach(after) == after  # a second attach changes nothing


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_detach_is_lint_clean_and_reattach_is_stable(name: str) -> None:
    attached = attach(VARIANTS[name])
    detached = detach(attached)
    assert problems(detached) == [], name
    assert DAX.encode() not in detached
    assert detach(detached) == detached
    assert attach(detached) == attached


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_the_files_own_style_and_comments_are_kept(name: str) -> None:
    before = VARIANTS[name]
    after = attach(before)
    if b"\r\n" in before:
        assert after.count(b"\n") == after.count(b"\r\n")
    else:
        assert b"\r" not in after
    added = "\n".join(
        line[1:]
        for line in difflib.unified_diff(
            before.decode().splitlines(), after.decode().splitlines(), lineterm="", n=0
        )
        if line.startswith("+") and not line.startswith("+++")
    )
    if b"\t<" in before:
        assert "\n " not in "\n" + added
    if b'="' in before and b"='" not in before:
        assert "'" not in added
    else:
        assert '"' not in added
    comments = [c.text for c in etree.fromstring(before).iter(etree.Comment)]
    assert comments == [c.text for c in etree.fromstring(after).iter(etree.Comment)]
    assert after.startswith(before[: before.index(b"<domain")])  # header comment, declaration


def test_the_stanza_is_the_guides() -> None:
    after = attach(VARIANTS["libvirt-plain"])
    memory = device(after)
    assert memory.get("model") == "nvdimm" and memory.get("access") == "shared"
    assert memory.findtext("source/alignsize") == "2"
    assert memory.find("source/alignsize").get("unit") == "MiB"  # type: ignore[union-attr]
    assert memory.find("source/pmem") is not None
    assert memory.findtext("target/size") == "8"
    assert memory.find("target/size").get("unit") == "GiB"  # type: ignore[union-attr]
    assert memory.findtext("target/node") == "0"
    assert memory.findtext("target/label/size") == "16"
    assert memory.find("address").attrib == {"type": "dimm", "slot": "0"}  # type: ignore[union-attr]
    devices = etree.fromstring(after).find("devices")
    assert devices is not None and devices[-1] is not None
    assert [c for c in devices if isinstance(c.tag, str)][-1].findtext("source/path") == DAX


def test_memory_sizes_without_numa() -> None:
    before = VARIANTS["libvirt-plain"]
    assert sizes(before) == {"memory": 4 * GiB, "current_memory": 4 * GiB}
    after = attach(before)
    assert sizes(after) == {
        "memory": 12 * GiB,
        "max_memory": 12 * GiB,
        "current_memory": 12 * GiB,
        "cells": 4 * GiB,
        "slots": 1,
    }
    cell = etree.fromstring(after).find("cpu/numa/cell")
    assert cell is not None and cell.get("cpus") == "0-1" and cell.get("id") == "0"
    # the existing <cpu> keeps its model
    assert etree.fromstring(after).findtext("cpu/model") == "qemu64"
    assert sizes(detach(after)) == {
        "memory": 4 * GiB,
        "max_memory": 12 * GiB,
        "current_memory": 4 * GiB,
        "cells": 4 * GiB,
        "slots": 1,
    }


def test_no_cpu_gets_one_after_features() -> None:
    after = attach(VARIANTS["handwritten-no-cpu"])
    root = etree.fromstring(after)
    tags = [c.tag for c in root if isinstance(c.tag, str)]
    assert tags.index("cpu") == tags.index("features") + 1
    cell = root.find("cpu/numa/cell")
    assert cell is not None
    assert (cell.get("memory"), cell.get("unit"), cell.get("cpus")) == ("32", "GiB", "0-1")
    assert sizes(after)["memory"] == 40 * GiB
    assert b'<maxMemory slots="1" unit="GiB">40</maxMemory>' in after


def test_self_closing_host_passthrough_cpu_is_kept() -> None:
    after = attach(VARIANTS["virt-manager-passthrough"])
    cpu = etree.fromstring(after).find("cpu")
    assert cpu is not None
    assert cpu.attrib == {"mode": "host-passthrough", "check": "none", "migratable": "on"}
    assert cpu.find("numa/cell") is not None
    assert b"<cpu mode='host-passthrough' check='none' migratable='on'>\n    <numa>" in after


def test_ballooned_current_memory_is_raised_by_the_device() -> None:
    before = VARIANTS["libvirt-hugepages-ballooned"]
    assert sizes(before)["current_memory"] == 2 * GiB
    after = attach(before)
    assert sizes(after)["memory"] == 12 * GiB
    assert sizes(after)["current_memory"] == 10 * GiB
    assert etree.fromstring(after).find("memoryBacking/hugepages") is not None
    assert sizes(detach(after))["current_memory"] == 2 * GiB


def test_two_cells_node_choice() -> None:
    before = VARIANTS["libvirt-two-cells"]
    after = attach(before, DeviceSpec(DAX, 8 * GiB, 2 * units.MiB, 16 * units.MiB, node=1))
    assert device(after).findtext("target/node") == "1"
    assert sizes(after)["cells"] == 8 * GiB  # cells untouched
    assert sizes(after)["memory"] == 16 * GiB
    with pytest.raises(AttachError, match="only 2 NUMA cell"):
        attach(before, DeviceSpec(DAX, 8 * GiB, 2 * units.MiB, 16 * units.MiB, node=2))


def test_existing_nvdimm_next_free_slot() -> None:
    before = VARIANTS["libvirt-nvdimm"]
    after = attach(before)
    assert device(after).find("address").get("slot") == "1"  # type: ignore[union-attr]
    assert sizes(after) == {
        "memory": 20 * GiB,
        "max_memory": 20 * GiB,
        "current_memory": 20 * GiB,
        "cells": 4 * GiB,
        "slots": 2,
    }
    third = attach(after, DeviceSpec("/dev/dax2.0", 4 * GiB, 2 * units.MiB, 16 * units.MiB))
    assert device(third, "/dev/dax2.0").find("address").get("slot") == "2"  # type: ignore[union-attr]
    assert sizes(third)["slots"] == 3
    assert problems(third) == []
    # detaching the middle one leaves the others alone
    without = detach(third)
    assert problems(without) == []
    assert b"/dev/dax0.0" in without and b"/dev/dax2.0" in without
    assert sizes(without)["memory"] == 16 * GiB


def test_explicit_slot_in_use_is_refused() -> None:
    with pytest.raises(AttachError, match="slot 0 is already used"):
        attach(
            VARIANTS["libvirt-nvdimm"],
            DeviceSpec(DAX, 8 * GiB, 2 * units.MiB, 16 * units.MiB, slot=0),
        )
    after = attach(
        VARIANTS["libvirt-nvdimm"], DeviceSpec(DAX, 8 * GiB, 2 * units.MiB, 16 * units.MiB, slot=5)
    )
    assert sizes(after)["slots"] == 6
    assert problems(after) == []


def test_attach_refuses_broken_or_foreign_files() -> None:
    with pytest.raises(AttachError, match=r"vm\.xml:"):
        attach(b"<domain><name>x</name>")
    with pytest.raises(AttachError, match="not a libvirt domain"):
        attach(b"<network><name>x</name></network>")
    with pytest.raises(AttachError, match="neither <memory> nor NUMA cells"):
        attach(b"<domain type='kvm'><name>x</name><devices/></domain>")


def test_crlf_bytes_survive_exactly_outside_the_edits() -> None:
    before = crlf((DATA / "libvirt-plain.xml").read_bytes())
    after = attach(before)
    assert detach(after).replace(b"\r\n", b"\n") == detach(
        attach((DATA / "libvirt-plain.xml").read_bytes())
    )


# -- sizes and the device description ------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "8G",
        "8GiB",
        "8g",
        "8 GiB",
        "8192MiB",
        "8192M",
        "8388608K",
        "8388608KiB",
        "8589934592",
        "8589934592B",
        "8589934592bytes",
    ],
)
def test_parse_size(text: str) -> None:
    assert parse_size(text) == 8 * GiB


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("8GB", "1000-based; write 8GiB"),
        ("1.5G", "whole number"),
        ("8X", "unknown unit"),
        ("", "whole number"),
    ],
)
def test_parse_size_refusals(text: str, message: str) -> None:
    with pytest.raises(AttachError, match=message):
        parse_size(text)


DAXCTL = '[{"chardev":"dax1.0","size":17179869184,"target_node":0,"align":2097152,"mode":"devdax"}]'


def test_resolve_from_inventory_and_from_other_domains() -> None:
    inventory = Inventory.from_json_text(DAXCTL)
    spec = resolve(Request(DAX), inventory)
    assert (spec.size, spec.align, spec.label) == (16 * GiB, 2 * units.MiB, 16 * units.MiB)
    with pytest.raises(AttachError, match=r"differs from the size of /dev/dax1\.0"):
        resolve(Request(DAX, size=8 * GiB), inventory)
    with pytest.raises(AttachError, match=r"size of /dev/dax1\.0 is unknown"):
        resolve(Request(DAX), None)
    attached = load(
        attach(VARIANTS["libvirt-plain"], DeviceSpec(DAX, 4 * GiB, 2 * units.MiB, 1 * units.MiB)),
        "a.xml",
    )
    spec = resolve(Request(DAX), None, [load(VARIANTS["libvirt-two-cells"], "b.xml"), attached])
    assert (spec.size, spec.label) == (4 * GiB, 1 * units.MiB)


def test_resolve_align_from_device() -> None:
    inventory = Inventory.from_json_text(DAXCTL.replace("2097152", "1073741824"))
    spec = resolve(Request(DAX), inventory)
    assert spec.align == GiB
    after = attach(VARIANTS["libvirt-plain"], spec)
    assert b"<alignsize unit='GiB'>1</alignsize>" in after
    assert [
        f.code for f in api.lint_text(after, facts=inventory) if f.severity >= Severity.WARNING
    ] == []


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (Request("dax1.0", size=8 * GiB), "absolute path"),
        (Request(DAX, size=8 * GiB + units.MiB), "not a multiple of alignsize"),
        (Request(DAX, size=8 * GiB, align=3 * units.MiB), "power of two"),
        (Request(DAX, size=8 * GiB, label=64 * units.KiB), "128 KiB"),
        (Request(DAX, size=16 * units.MiB), "smaller than the device"),
    ],
)
def test_resolve_refuses_invalid_devices(request_: Request, message: str) -> None:
    with pytest.raises(AttachError, match=message):
        resolve(request_, None)


def test_several_domains_agree() -> None:
    first = attach(VARIANTS["libvirt-plain"])
    second = attach(VARIANTS["handwritten-no-cpu"])
    assert [f.code for f in api.lint_text(first, peers=[second])] == []


def test_existing_devices_get_node_0_with_the_new_cell() -> None:
    before = (
        VARIANTS["libvirt-nvdimm"]
        .replace(b"  <maxMemory slots='2' unit='KiB'>12582912</maxMemory>\n", b"")
        .replace(b"        <node>0</node>\n", b"")
    )
    before = re.sub(rb"\s*<numa>.*</numa>", b"", before, flags=re.DOTALL)
    after = attach(before)
    assert problems(after) == []
    assert [
        m.findtext("target/node") for m in etree.fromstring(after).iter("memory") if m.get("model")
    ] == ["0", "0"]
    # The new cell keeps the guest's RAM as libvirt computes it without cells: <memory>
    # minus the device already there (libvirt 9.6 and later define that very cell), and
    # <memory> grows by the attached device only.
    assert sizes(after)["cells"] == 12 * GiB - 8 * GiB
    assert sizes(after)["memory"] == 12 * GiB + 8 * GiB


def test_the_guides_vm_section_in_one_step() -> None:
    """The guide's VM before its section, attached with --slot 1, is the guide's VM."""
    stanza = GUIDE_VM[
        GUIDE_VM.index("    <!-- the shared famfs device -->") : GUIDE_VM.index("  </devices>")
    ]
    numa = GUIDE_VM[GUIDE_VM.index("    <numa>") : GUIDE_VM.index("  </cpu>")]
    before = (
        GUIDE_VM.replace(stanza, "")
        .replace(numa, "")
        .replace(
            "<cpu mode='host-passthrough' check='none' migratable='on'>\n",
            "<cpu mode='host-passthrough' check='none' migratable='on'/>\n",
        )
        .replace("  </cpu>\n", "")
        .replace("  <maxMemory slots='2' unit='GiB'>40</maxMemory>\n", "")
        .replace(">40<", ">32<")
    )
    spec = DeviceSpec(DAX, 8 * GiB, 2 * units.MiB, 16 * units.MiB, slot=1)
    expected = GUIDE_VM.replace("    <!-- the shared famfs device -->\n", "")
    assert attach(before.encode(), spec).decode() == expected


def test_memory_from_numa_cells_only() -> None:
    """Without <memory>, libvirt sums the cells and devices: attach leaves it that way."""
    before = re.sub(
        rb"  <(memory|currentMemory) unit='KiB'>8388608</\1>\n", b"", VARIANTS["libvirt-two-cells"]
    )
    assert b"<memory unit" not in before
    after = attach(before)
    assert problems(after) == []
    assert b"<memory unit" not in after
    assert sizes(after) == {"max_memory": 16 * GiB, "cells": 8 * GiB, "slots": 1}
    assert after.index(b"<maxMemory") > after.index(b"</uuid>")
    assert problems(detach(after)) == []


def test_a_comment_over_memory_stays_with_it() -> None:
    before = VARIANTS["libvirt-plain"].replace(
        b"  <memory unit='KiB'>",
        b"  <!-- famfs-xml: disable=FX104 reason=\"x\" -->\n  <!-- two -->\n  <memory unit='KiB'>",
    )
    after = attach(before)
    assert (
        b"<maxMemory slots='1' unit='KiB'>12582912</maxMemory>\n"
        b'  <!-- famfs-xml: disable=FX104 reason="x" -->\n  <!-- two -->\n'
        b"  <memory unit='KiB'>12582912</memory>"
    ) in after


DECIMAL_CELL = b"""<domain type='qemu'>
  <name>x</name>
  <memory unit='MB'>256</memory>
  <currentMemory unit='MB'>256</currentMemory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <cpu mode='maximum'>
    <numa>
      <cell id='0' cpus='0' memory='256' unit='MB'/>
    </numa>
  </cpu>
  <devices>
  </devices>
</domain>
"""


def test_max_memory_over_a_decimal_cell_is_whole_mib() -> None:
    """A cell in MB (250000 KiB) plus the device is no whole MiB: attach rounds the
    <maxMemory> it writes up to whole MiB, as QEMU runs it, instead of writing a size that
    FX107 reports on the line attach itself wrote."""
    after = attach(DECIMAL_CELL, DeviceSpec(DAX, 64 * units.MiB, 2 * units.MiB, 16 * units.MiB))
    written = sizes(after)
    assert written["memory"] == 256 * 1000 * 1000 + 64 * units.MiB
    assert written["max_memory"] % units.MiB == 0
    assert written["memory"] <= written["max_memory"] < written["memory"] + units.MiB
    assert not [f for f in problems(after) if f.code == "FX107" and "maxMemory" in f.message]


def test_fx101_fix_writes_whole_mib() -> None:
    """The same for the <maxMemory> that FX101's fix adds."""
    attached = attach(DECIMAL_CELL, DeviceSpec(DAX, 64 * units.MiB, 2 * units.MiB, 16 * units.MiB))
    without = re.sub(rb"\s*<maxMemory[^>]*>[^<]*</maxMemory>", b"", attached)
    assert [f.code for f in problems(without)].count("FX101") == 1
    fixed = api.fix_text(without)
    assert sizes(fixed)["max_memory"] % units.MiB == 0
    assert not [
        f for f in problems(fixed) if f.code in ("FX101", "FX107") and "maxMemory" in f.message
    ]
