"""Safe fixes never make a guest worse: sizes settle before the totals computed from them,
a size in doubt is reported and never made consistent, and no safe fix lowers the guest's RAM.

The domains are the shapes virt-install and virt-xml write (KiB without a unit, no
``<maxMemory>``, no NUMA cell, the device left out of ``<memory>``), scaled down so that
``tests/libvirt/test_fix_safety_start.py`` can boot the same ones.
"""

from __future__ import annotations

from lxml import etree

from famfs_xml import api
from famfs_xml.attach import DeviceSpec, attach_document
from famfs_xml.core import units
from famfs_xml.core.findings import Applicability, Finding, Severity
from famfs_xml.core.inventory import BackingDevice, Inventory
from famfs_xml.lint.document import load
from famfs_xml.lint.engine import fix_document
from tests.sized_domains import GiB, MiB, SizedDomain, guest_ram, kib

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


def test_with_unsafe_fixes_too_the_size_settles_before_the_totals() -> None:
    """--unsafe-fixes offers FX103's raise for the 1 TiB target; it must wait for the pass
    after FX305's correction, and is then no longer needed (the fix loop's stages)."""
    vm = SizedDomain(memory=192, max_memory=192, cells=(128,), nvdimm=1024 * 1024)
    data, applied = fixed(vm.xml(), facts=backing_of(64 * MiB), unsafe_fixes=True)
    assert size_of(data, "devices/memory/target/size") == 64 * MiB
    assert size_of(data, "maxMemory") == 192 * MiB
    assert applied == ["FX305"]


def test_totals_follow_the_corrected_size_in_a_later_pass() -> None:
    vm = SizedDomain(memory=384, max_memory=256, cells=(128,), nvdimm=256)
    data, applied = fixed(vm.xml(), facts=backing_of(64 * MiB))
    assert size_of(data, "devices/memory/target/size") == 64 * MiB
    assert size_of(data, "memory") == 192 * MiB
    assert size_of(data, "currentMemory") == 192 * MiB  # it was equal to <memory>: it follows
    assert size_of(data, "maxMemory") == 256 * MiB  # headroom left alone
    assert applied == ["FX305", "FX104"]
    assert findings(data, facts=backing_of(64 * MiB)) == {}


# -- defect 2: a size in doubt is reported, and the totals derived from it are not fixed ----


def test_a_mib_for_kib_slip_is_reported_and_not_made_consistent() -> None:
    """virt-install's target.size=1048576 (MiB) in a 4 GiB guest: a 1 TiB nvdimm."""
    vm = SizedDomain(memory=4096, nvdimm=1024 * 1024, famfs_settings=False)
    found = findings(vm.xml())
    assert found["FX305"].severity is Severity.WARNING
    assert "1 TiB" in found["FX305"].message and "4 GiB" in found["FX305"].message
    for code in ("FX101", "FX201"):  # their sizes would come from the 1 TiB
        assert found[code].fix is not None
        assert found[code].fix.applicability is Applicability.UNSAFE
    data, _ = fixed(vm.xml())
    assert b"<maxMemory" not in data and b"<numa>" not in data
    assert size_of(data, "memory") == 4 * GiB
    assert any(f.severity is Severity.ERROR for f in api.lint_text(data))


def test_a_size_that_is_no_whole_number_of_the_alignment_is_not_made_consistent() -> None:
    """target.size=1: 1 MiB, which libvirt rounds up to 2 MiB at start."""
    vm = SizedDomain(memory=4096, nvdimm=1, famfs_settings=False)
    data, _ = fixed(vm.xml())
    assert size_of(data, "memory") == 4 * GiB
    assert b"<numa>" not in data and b"<maxMemory" not in data
    assert guest_ram(data) == guest_ram(vm.xml()) == 4 * GiB - 1 * MiB
    # the slip is still reported: FX107 (no whole 2 MiB) on an unknown backing, whose
    # alignsize is no safe fix (FX302); FX306 once an alignsize is there
    remaining = findings(data)
    assert "FX107" in remaining and "size" in remaining["FX107"].message
    assert remaining["FX101"].fix is not None
    assert remaining["FX101"].fix.applicability is Applicability.UNSAFE


def test_a_target_far_below_the_device_holds_the_totals_back() -> None:
    """512 MiB of a 1 GiB device, with totals written for 1 GiB (scaled: 32 of 64 MiB)."""
    vm = SizedDomain(memory=192, max_memory=192, cells=(128,), nvdimm=32)
    found = findings(vm.xml(), facts=backing_of(64 * MiB))
    assert set(found) == {"FX305"}
    assert found["FX305"].severity is Severity.WARNING
    data, applied = fixed(vm.xml(), facts=backing_of(64 * MiB))
    assert applied == []
    assert data == vm.xml().encode()


def test_implausible_size_is_judged_by_the_device_when_it_is_known() -> None:
    """A 1 TiB pool for a 4 GiB guest is fine when the device says it has 1 TiB."""
    total = 4096 + 1024 * 1024
    vm = SizedDomain(memory=total, max_memory=total, cells=(4096,), nvdimm=1024 * 1024)
    assert "FX305" in findings(vm.xml())
    assert findings(vm.xml(), facts=backing_of(1024 * GiB)) == {}


# -- defect 3: cells equal to <memory> while devices exist --------------------------------


def test_cells_equal_to_memory_draw_fx202_whatever_maxmemory_says() -> None:
    vm = SizedDomain(memory=5120, max_memory=8192, cells=(5120,), nvdimm=1024)
    found = findings(vm.xml())
    assert set(found) == {"FX202"}
    assert found["FX202"].severity is Severity.WARNING  # libvirt accepts it, with 5 GiB RAM
    assert found["FX202"].fix is not None
    assert found["FX202"].fix.applicability is Applicability.UNSAFE
    data, applied = fixed(vm.xml())
    assert applied == [] and size_of(data, "memory") == 5 * GiB
    unsafe, _ = fixed(vm.xml(), unsafe_fixes=True)
    assert guest_ram(unsafe) == 4 * GiB and findings(unsafe) == {}


def test_fx202_is_an_error_where_libvirt_refuses() -> None:
    vm = SizedDomain(memory=5120, max_memory=5120, cells=(5120,), nvdimm=1024)
    assert findings(vm.xml())["FX202"].severity is Severity.ERROR


# -- defect 4: the FX201 fix keeps the guest's RAM, as attach does --------------------------


def test_fx201_fix_writes_the_cell_libvirt_adds_and_keeps_memory() -> None:
    """Without cells libvirt gives the guest <memory> minus the devices (9.6 and later
    write that cell at define); the fix writes the same cell and leaves <memory> alone."""
    vm = SizedDomain(memory=4096, nvdimm=1024)
    data, _ = fixed(vm.xml())
    assert guest_ram(data) == guest_ram(vm.xml()) == 3 * GiB
    assert size_of(data, "memory") == 4 * GiB
    assert size_of(data, "maxMemory") == 4 * GiB
    assert findings(data) == {}


def test_fix_and_attach_agree_on_every_size() -> None:
    """A domain fixed from libvirt's reading (<memory> holds the device) is the domain that
    attach makes of the same guest before the device (<memory> its RAM)."""
    with_device = SizedDomain(memory=4096, nvdimm=1024)
    via_fix, _ = fixed(with_device.xml())
    spec = DeviceSpec(BACKING, 1024 * MiB, 2 * MiB, 128 * units.KiB)
    plain = with_device.with_(nvdimm=None, memory=3072).xml().encode()
    via_attach = attach_document(load(plain, "vm.xml"), spec).after
    for path in ("memory", "currentMemory", "maxMemory", "cpu/numa/cell"):
        one, other = etree.fromstring(via_fix).find(path), etree.fromstring(via_attach).find(path)
        assert one is not None and other is not None
        assert (one.text, dict(one.attrib)) == (other.text, dict(other.attrib)), path


# -- defect 5: FX305 says what QEMU does with a smaller or a larger target -------------------


def test_a_target_smaller_than_the_device_is_a_warning_without_a_safe_fix() -> None:
    vm = SizedDomain(memory=188, max_memory=188, cells=(128,), nvdimm=60)
    finding = findings(vm.xml(), facts=backing_of(64 * MiB))["FX305"]
    assert finding.severity is Severity.WARNING
    assert "smaller" in finding.message and "4 MiB" in finding.message
    assert finding.fix is None  # a label sits at the end of the target: resizing moves it
    unlabelled = SizedDomain(memory=188, max_memory=188, cells=(128,), nvdimm=60)
    unlabelled_xml = unlabelled.xml().replace(
        "        <label>\n          <size>128</size>\n        </label>\n", ""
    )
    fix = findings(unlabelled_xml, facts=backing_of(64 * MiB))["FX305"].fix
    assert fix is not None and fix.applicability is Applicability.UNSAFE


def test_a_target_larger_than_the_device_is_an_error_with_a_safe_fix() -> None:
    vm = SizedDomain(memory=256, max_memory=256, cells=(128,), nvdimm=128)
    finding = findings(vm.xml(), facts=backing_of(64 * MiB))["FX305"]
    assert finding.severity is Severity.ERROR
    assert "larger" in finding.message
    assert finding.fix is not None and finding.fix.applicability is Applicability.SAFE


def test_fx305_is_not_tagged_libvirt() -> None:
    from famfs_xml.lint.catalog import load_catalog

    assert "libvirt" not in load_catalog()["FX305"].tags


# -- defect 6: messages never show two different sizes as equal ----------------------------


def test_one_odd_size_is_reported_once() -> None:
    """1023 MiB where the device has 1 GiB (scaled: 63 of 64 MiB)."""
    vm = SizedDomain(memory=192, max_memory=192, cells=(128,), nvdimm=63)
    found = findings(vm.xml(), facts=backing_of(64 * MiB))
    assert set(found) == {"FX305"}


def test_compared_sizes_are_never_shown_equal() -> None:
    vm = SizedDomain(memory=5120, max_memory=5120, cells=(4096,), nvdimm=1022)
    found = findings(vm.xml())
    assert "5118 MiB" in found["FX104"].message  # not "5.00 GiB" next to "5 GiB"
    assert "5118 MiB" in found["FX105"].message
    assert found["FX104"].fix is not None and "5118 MiB" in found["FX104"].fix.message


def test_fix_messages_are_exact() -> None:
    """1032 GiB is "1.01 TiB" when rounded; a fix says exactly what it writes."""
    total = 4096 + 1028 * 1024
    vm = SizedDomain(memory=total, max_memory=4096, cells=(4096,), nvdimm=1028 * 1024)
    finding = findings(vm.xml(), facts=backing_of(1028 * GiB))["FX103"]
    assert finding.fix is not None
    assert finding.fix.message == "set maxMemory to 1032 GiB"
