"""Rule gaps and wording found on domains that clients and management stacks write.

Each test names libvirt 9.0's or QEMU 7.2's measured behaviour that the rule must match.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from famfs_xml import api
from famfs_xml.core.findings import Applicability, Finding, Severity
from famfs_xml.core.inventory import BackingDevice, Inventory
from tests.conftest import FIXTURES, Cli
from tests.samples import GUIDE_VM

MiB = 1024 * 1024
DEVICES = GUIDE_VM[GUIDE_VM.index("    <!-- the shared") : GUIDE_VM.index("  </devices>")]


def _findings(text: str, code: str, **kwargs: object) -> list[Finding]:
    return [f for f in api.lint_text(text, **kwargs) if f.code == code]  # type: ignore[arg-type]


# -- FX302: a multiple of the device alignment starts, unless nothing is left -------------


def _aligned(alignsize: str, label: str = "<size unit='KiB'>128</size>") -> str:
    text = GUIDE_VM.replace("<alignsize unit='MiB'>2</alignsize>", alignsize)
    return text.replace("<size unit='MiB'>16</size>", label)


def test_a_multiple_of_the_device_alignment_is_a_warning_about_the_usable_size() -> None:
    """oVirt writes 128 MiB (the x86 memory hotplug block) when ndctl names no alignment."""
    facts = Inventory([BackingDevice("/dev/dax1.0", "dax", size=8 * 1024 * MiB, align=2 * MiB)])
    [finding] = _findings(
        _aligned("<alignsize unit='KiB'>131072</alignsize>"), "FX302", facts=facts
    )
    assert finding.severity is Severity.WARNING
    assert "needs 2 MiB" not in finding.message
    assert "(8064 MiB instead of 8190 MiB)" in finding.message
    assert finding.fix is not None and finding.fix.applicability is Applicability.UNSAFE


def test_a_multiple_that_loses_nothing_is_fine() -> None:
    text = _aligned("<alignsize unit='MiB'>16</alignsize>", "<size unit='MiB'>16</size>")
    assert _findings(text, "FX302") == []


def test_a_smaller_alignment_on_a_dax_device_is_still_an_error() -> None:
    [finding] = _findings(_aligned("<alignsize unit='KiB'>4</alignsize>"), "FX302")
    assert finding.severity is Severity.ERROR
    assert "the dax device /dev/dax1.0 needs 2 MiB" in finding.message


def test_an_alignment_that_leaves_nothing_is_an_error() -> None:
    """virt-install's source.alignsize=2048 is 2 GiB (MiB, not KiB): on a 2 GiB nvdimm with a
    label, QEMU 7.2 has nothing left to map and refuses to start."""
    text = GUIDE_VM.replace("<alignsize unit='MiB'>2</alignsize>", "<alignsize>2097152</alignsize>")
    text = text.replace("<size unit='GiB'>8</size>", "<size unit='GiB'>2</size>")
    text = text.replace("memory='32' unit='GiB'", "memory='38' unit='GiB'")
    [finding] = _findings(text, "FX302")
    assert finding.severity is Severity.ERROR
    assert "too small to contain nvdimm label" in finding.message
    assert finding.fix is not None and finding.fix.applicability is Applicability.SAFE


# -- FX402: libvirt asks for ACPI with UEFI on x86 only ------------------------------------

AARCH64 = """<domain type='kvm'>
  <name>arm-vm</name>
  <memory unit='GiB'>2</memory>
  <vcpu>2</vcpu>
  <os firmware='efi'>
    <type arch='aarch64' machine='virt'>hvm</type>
  </os>
  <features>
    <gic version='3'/>
  </features>
  <devices/>
</domain>
"""


def test_uefi_without_acpi_is_fine_on_aarch64() -> None:
    assert _findings(AARCH64, "FX402") == []
    x86 = AARCH64.replace("arch='aarch64' machine='virt'", "arch='x86_64' machine='q35'")
    assert [f.severity for f in _findings(x86, "FX402")] == [Severity.ERROR]


# -- FX208: <numatune><memory> as libvirt 9.0 parses it ---------------------------------

NUMATUNE = """<domain type='kvm'>
  <name>tuned</name>
  <memory unit='MiB'>256</memory>
  <vcpu{vcpu}>2</vcpu>
  <numatune>
    {memory}
  </numatune>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
  </os>
  <devices/>
</domain>
"""


@pytest.mark.parametrize(
    ("vcpu", "memory", "libvirt_says"),
    [
        # measured with `virsh define` on libvirt 9.0
        ("", "<memory mode='strict' nodeset='0,^0'/>", "Invalid value of 'nodeset': 0,^0"),
        ("", "<memory mode='strict' nodeset='0-70000'/>", "Failed to parse bitmap '0-70000'"),
        ("", "<memory mode='strict'/>", "must be set if 'placement' is 'static'"),
        (
            " placement='auto'",
            "<memory mode='interleave' placement='static'/>",
            "must be set if 'placement' is 'static'",
        ),
    ],
)
def test_numatune_memory_libvirt_rejects(vcpu: str, memory: str, libvirt_says: str) -> None:
    [finding] = _findings(NUMATUNE.format(vcpu=vcpu, memory=memory), "FX208")
    assert finding.severity is Severity.ERROR
    assert libvirt_says in finding.message
    assert finding.line == 6  # the <memory> element


@pytest.mark.parametrize(
    ("vcpu", "memory"),
    [
        (" placement='auto'", "<memory mode='strict'/>"),  # placement follows the vCPUs: auto
        ("", "<memory mode='strict' placement='auto'/>"),
        ("", "<memory nodeset='0'/>"),
    ],
)
def test_numatune_memory_libvirt_accepts(vcpu: str, memory: str) -> None:
    assert _findings(NUMATUNE.format(vcpu=vcpu, memory=memory), "FX208") == []


def test_numatune_memnode_nodeset_naming_no_host_node() -> None:
    memnode = "<memnode cellid='0' mode='strict' nodeset='0,^0'/>"
    text = NUMATUNE.format(vcpu="", memory=memnode).replace(
        "  <devices/>",
        "  <cpu>\n    <numa>\n      <cell id='0' cpus='0-1' memory='256' unit='MiB'/>\n"
        "    </numa>\n  </cpu>\n  <devices/>",
    )
    [finding] = _findings(text, "FX208")
    assert "Invalid value of 'nodeset': 0,^0" in finding.message  # libvirt 9.0's words


# -- FX901: the first schema error points at the element, not at 1:1 --------------------


def test_schema_errors_point_at_the_element() -> None:
    from famfs_xml.lint import libvirt_schema

    if libvirt_schema.find_schema() is None:
        pytest.skip("libvirt's schemas are not installed (package libvirt-clients)")
    path = FIXTURES / "defects" / "FX205-numa-without-cells.xml"
    findings = _findings(path.read_text(), "FX901", select=["FX901"])
    assert findings, "libvirt's schema rejects a <numa> without cells"
    cpu_line = path.read_text().splitlines().index("  <cpu mode='host-model' check='partial'>") + 1
    assert [(f.line, f.column) for f in findings] == [(cpu_line, 3)] * len(findings)


# -- fix --diff on an absolute path ------------------------------------------------------


def test_diff_of_an_absolute_path_has_git_style_names(cli: Cli, tmp_path: Path) -> None:
    vm = tmp_path / "vm.xml"
    vm.write_text(GUIDE_VM.replace(" access='shared'", ""))
    result = cli("fix", "--diff", str(vm))
    assert result.exit_code == 1
    relative = str(vm).lstrip("/")
    assert f"--- a/{relative}\n+++ b/{relative}\n" in result.stdout
    assert "a//" not in result.stdout


# -- FX105: a missing <currentMemory> is what libvirt fills in itself ---------------------

NO_CURRENT = GUIDE_VM.replace("  <currentMemory unit='GiB'>40</currentMemory>\n", "")


def test_missing_current_memory_is_opt_in_info() -> None:
    assert _findings(NO_CURRENT, "FX105") == []
    assert b"currentMemory" not in api.fix_text(NO_CURRENT)
    [finding] = _findings(NO_CURRENT, "FX105", extend_select=["FX105"])
    assert finding.severity is Severity.INFO
    fixed = api.fix_text(NO_CURRENT, extend_select=["FX105"]).decode()
    assert "<currentMemory unit='GiB'>40</currentMemory>" in fixed


def test_current_memory_above_memory_is_still_a_default_warning() -> None:
    above = GUIDE_VM.replace("<currentMemory unit='GiB'>40<", "<currentMemory unit='GiB'>48<")
    assert [f.severity for f in _findings(above, "FX105")] == [Severity.WARNING]


def test_info_findings_follow_every_selector_form() -> None:
    """The opt-in follows every selector form (as for info rules): a prefix, ALL, a name."""
    for selector in ("FX1", "ALL", "current-memory-mismatch"):
        assert [f.severity for f in _findings(NO_CURRENT, "FX105", select=[selector])] == [
            Severity.INFO
        ]


# -- FX102: libvirt 9.0 counts every memory device against slots ------------------------

VIRTIO_PMEM = """    <memory model='virtio-pmem' access='shared'>
      <source>
        <path>/var/lib/libvirt/images/vpmem.img</path>
      </source>
      <target>
        <size unit='GiB'>1</size>
      </target>
    </memory>
"""


def test_virtio_pmem_counts_against_slots_in_libvirt_9() -> None:
    text = GUIDE_VM.replace("  </devices>", VIRTIO_PMEM + "  </devices>")
    text = text.replace(
        "<maxMemory slots='2' unit='GiB'>40<", "<maxMemory slots='1' unit='GiB'>41<"
    )
    text = text.replace("<memory unit='GiB'>40<", "<memory unit='GiB'>41<")
    text = text.replace("<currentMemory unit='GiB'>40<", "<currentMemory unit='GiB'>41<")
    text = text.replace("slot='1'/>", "slot='0'/>")
    # release unknown: up to 9.4 libvirt refuses it (9.0 measured), from 9.5 it counts
    # dimm and nvdimm only (12.8 measured): a warning that says both
    [finding] = _findings(text, "FX102")
    assert finding.severity is Severity.WARNING
    assert "libvirt up to 9.4" in finding.message and "libvirt 9.5 and later" in finding.message
    assert "memory device count '2' exceeds slots count '1'" in finding.message
    assert finding.fix is not None and finding.fix.message == "set slots to 2"
    # libvirt 9.0: the error it is there
    [finding] = _findings(text, "FX102", libvirt_version="9.0")
    assert finding.severity is Severity.ERROR
    assert finding.message.endswith(
        "libvirt 9.0 counts virtio-pmem and virtio-mem devices too "
        "and refuses: \"memory device count '2' exceeds slots count '1'\""
    )
    # libvirt 12.8 accepts it: nothing to say
    assert _findings(text, "FX102", libvirt_version="12.8") == []


def test_explain_fx102_quotes_libvirt_9() -> None:
    from famfs_xml.lint.catalog import load_catalog

    explanation = load_catalog()["FX102"].explanation
    assert "memory device count '2' exceeds slots count '1'" in explanation


def test_attach_next_to_a_virtio_pmem_leaves_enough_slots_for_libvirt_9() -> None:
    from famfs_xml.attach import DeviceSpec, attach_document
    from famfs_xml.lint.document import load

    text = GUIDE_VM.replace(DEVICES, VIRTIO_PMEM).replace("slots='2'", "slots='1'")
    text = text.replace("memory='32' unit='GiB'", "memory='39' unit='GiB'")
    spec = DeviceSpec("/dev/dax1.0", 8 * 1024 * MiB, 2 * MiB, 16 * MiB)
    attached = attach_document(load(text.encode(), "vm.xml"), spec).after
    assert _findings(attached.decode(), "FX102") == []
    assert b"slots='2'" in attached


# -- FX203: one vCPU ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vcpus", "said"),
    [(2, "vCPU 1 is in no NUMA cell"), (3, "vCPUs 1-2 are in no NUMA cell")],
)
def test_vcpus_in_no_cell_are_counted_in_words(vcpus: int, said: str) -> None:
    text = GUIDE_VM.replace("<vcpu placement='static'>2</vcpu>", f"<vcpu>{vcpus}</vcpu>")
    text = text.replace("cpus='0-1'", "cpus='0'")
    [finding] = _findings(text, "FX203")
    assert finding.severity is Severity.WARNING
    assert said in finding.message


def test_a_cell_without_id_is_named_by_its_position() -> None:
    """virt-install writes NUMA cells without an id; libvirt numbers them in order."""
    text = GUIDE_VM.replace("<cell id='0' cpus='0-1'", "<cell cpus='0-3'")
    [finding] = _findings(text, "FX203")
    assert "cell 0 names vCPU 2" in finding.message
    assert "None" not in finding.message
