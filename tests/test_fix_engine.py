"""The fix engine: minimal text edits in the file's own style, to a fixed point."""

from __future__ import annotations

import pytest
from lxml import etree

from famfs_xml import api
from famfs_xml.core.findings import Edit
from famfs_xml.lint.document import load
from famfs_xml.lint.edits import Editor, Node, apply_edits
from famfs_xml.lint.engine import FixRefused, fix_document
from tests.samples import GUIDE_VM, changed_lines


def codes(text: str | bytes, **kwargs: object) -> list[str]:
    return [f.code for f in api.lint_text(text, **kwargs)]  # type: ignore[arg-type]


def test_guide_vm_is_clean() -> None:
    assert codes(GUIDE_VM) == []


def test_adding_access_shared_changes_exactly_one_line() -> None:
    broken = GUIDE_VM.replace(" access='shared'", "")
    fixed = api.fix_text(broken).decode()
    assert fixed == GUIDE_VM
    assert changed_lines(broken, fixed) == 1


def test_every_other_byte_is_identical() -> None:
    broken = GUIDE_VM.replace(
        "<memory model='nvdimm' access='shared'>", "<memory model='nvdimm' access='private'>"
    )
    fixed = api.fix_text(broken)
    assert fixed == GUIDE_VM.encode()


def test_second_fix_changes_nothing() -> None:
    broken = (
        GUIDE_VM.replace(" access='shared'", "")
        .replace("        <pmem/>\n", "")
        .replace("  <maxMemory slots='2' unit='GiB'>40</maxMemory>\n", "")
    )
    once = api.fix_text(broken)
    assert codes(once) == []
    assert api.fix_text(once) == once


def test_crlf_is_kept() -> None:
    broken = GUIDE_VM.replace(" access='shared'", "").replace("        <pmem/>\n", "")
    crlf = broken.replace("\n", "\r\n").encode()
    fixed = api.fix_text(crlf)
    assert fixed == GUIDE_VM.replace("\n", "\r\n").encode()
    assert b"\r\n" in fixed and b"\n" not in fixed.replace(b"\r\n", b"")


def test_tabs_are_kept() -> None:
    tabbed = "\n".join(
        "\t" * ((len(line) - len(line.lstrip(" "))) // 2) + line.lstrip(" ")
        for line in GUIDE_VM.split("\n")
    )
    broken = tabbed.replace("\t\t\t\t<pmem/>\n", "")
    assert broken != tabbed
    assert api.fix_text(broken).decode() == tabbed


def test_four_space_indentation_is_followed() -> None:
    wide = "\n".join(
        " " * (2 * (len(line) - len(line.lstrip(" ")))) + line.lstrip(" ")
        for line in GUIDE_VM.split("\n")
    )
    broken = wide.replace("                <pmem/>\n", "")
    assert api.fix_text(broken).decode() == wide


def test_double_quotes_are_followed_for_new_attributes() -> None:
    double = GUIDE_VM.replace("'", '"')
    broken = double.replace(' access="shared"', "")
    assert api.fix_text(broken).decode() == double


def test_utf8_text_and_comments_survive() -> None:
    styled = GUIDE_VM.replace(
        "  <name>f39-dev2</name>\n",
        "<!-- Größe: 40 GiB, geteilt über /dev/dax1.0 -->\n  <name>f39-dev2</name>\n"
        "  <description>Prüfstand für famfs — ünïcödé</description>\n",
    )
    broken = styled.replace(" access='shared'", "")
    fixed = api.fix_text(broken.encode("utf-8"))
    assert fixed.decode("utf-8") == styled


def test_libvirt_header_comment_survives() -> None:
    header = (
        "<!--\nWARNING: THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE\n"
        "OVERWRITTEN AND LOST. Changes to this xml configuration should be made using:\n"
        "  virsh edit f39-dev2\n-->\n\n"
    )
    broken = header + GUIDE_VM.replace(" access='shared'", "")
    assert api.fix_text(broken).decode() == header + GUIDE_VM


def test_utf16_with_bom_is_fixed_in_its_own_encoding() -> None:
    text = "<?xml version='1.0' encoding='UTF-16'?>\n" + GUIDE_VM
    broken = text.replace(" access='shared'", "").encode("utf-16")
    fixed = api.fix_text(broken)
    assert fixed.startswith(b"\xff\xfe")
    assert fixed.decode("utf-16") == text


def test_missing_maxmemory_is_inserted_before_memory() -> None:
    broken = GUIDE_VM.replace("  <maxMemory slots='2' unit='GiB'>40</maxMemory>\n", "")
    fixed = api.fix_text(broken).decode()
    assert fixed == GUIDE_VM
    assert changed_lines(broken, fixed) == 1


def test_numa_including_the_device_is_shrunk() -> None:
    broken = GUIDE_VM.replace("memory='32' unit='GiB'", "memory='40' unit='GiB'")
    assert "FX202" in codes(broken)
    assert api.fix_text(broken).decode() == broken  # lowering the cell takes the guest's RAM
    assert api.fix_text(broken, unsafe_fixes=True).decode() == GUIDE_VM


def test_values_keep_their_unit_when_exact() -> None:
    broken = GUIDE_VM.replace("<memory unit='GiB'>40</memory>", "<memory unit='GiB'>36</memory>")
    fixed = api.fix_text(broken).decode()
    assert "<memory unit='GiB'>40</memory>" in fixed


def test_values_fall_back_to_kib_when_not_exact() -> None:
    broken = GUIDE_VM.replace("<memory unit='GiB'>40</memory>", "<memory unit='GiB'>36</memory>")
    broken = broken.replace("memory='32' unit='GiB'", "memory='33555456' unit='KiB'")
    fixed = api.fix_text(broken).decode()
    # 32 GiB + 1 MiB + 8 GiB is not a whole number of GiB: written in KiB.
    assert "<memory unit='KiB'>41944064</memory>" in fixed


def test_unsafe_fixes_need_opt_in() -> None:
    broken = GUIDE_VM.replace("<size unit='MiB'>16</size>", "<size unit='MB'>16</size>")
    assert api.fix_text(broken) == broken.encode()
    assert b"unit='MiB'>16<" in api.fix_text(broken, unsafe_fixes=True)


def test_a_fix_that_breaks_the_xml_is_refused() -> None:
    doc = load(GUIDE_VM.encode(), "vm.xml")
    editor = Editor(doc)
    root = doc.root
    assert root is not None
    bad = editor.set_attribute(root, "type", "kvm")
    broken = Edit(bad.start, bad.end, "kvm'><oops")
    work = apply_edits(doc.work, [broken])
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(work)

    from famfs_xml.lint import engine

    with pytest.raises(FixRefused):
        engine.reload_checked(doc, work)


def test_fix_loop_stops_at_a_fixed_point() -> None:
    broken = (
        GUIDE_VM.replace("  <maxMemory slots='2' unit='GiB'>40</maxMemory>\n", "")
        .replace(
            "    <numa>\n      <cell id='0' cpus='0-1' memory='32' unit='GiB'/>\n    </numa>\n", ""
        )
        .replace("        <node>0</node>\n", "")
    )
    outcome = fix_document(load(broken.encode(), "vm.xml"), api.options())
    assert outcome.changed
    assert codes(outcome.data) == []
    assert set(outcome.applied) >= {"FX101", "FX201"}


GUIDE_CPU = (
    "  <cpu mode='host-passthrough' check='none' migratable='on'>\n    <numa>\n"
    "      <cell id='0' cpus='0-1' memory='32' unit='GiB'/>\n    </numa>\n  </cpu>\n"
)
WITHOUT_CPU = GUIDE_VM.replace(GUIDE_CPU, "")


def test_numa_and_cpu_are_created_when_missing() -> None:
    broken = WITHOUT_CPU
    fixed = api.fix_text(broken).decode()
    assert codes(fixed) == []
    # The cell libvirt 9.6 and later add at define: <memory> minus the nvdimm, <memory> kept.
    assert (
        "  <cpu>\n    <numa>\n      <cell id='0' cpus='0-1' memory='32' unit='GiB'/>\n"
        "    </numa>\n  </cpu>\n"
    ) in fixed
    assert "<memory unit='GiB'>40</memory>" in fixed
    assert "<maxMemory slots='2' unit='GiB'>40</maxMemory>" in fixed


def test_the_alternative_cell_keeps_all_of_memory_as_an_unsafe_fix() -> None:
    broken = WITHOUT_CPU
    keep_memory = {"FX201": {"ram": "memory"}}
    assert api.fix_text(broken, parameters=keep_memory).decode() == broken  # not a safe fix
    fixed = api.fix_text(broken, parameters=keep_memory, unsafe_fixes=True).decode()
    assert "<cell id='0' cpus='0-1' memory='40' unit='GiB'/>" in fixed
    assert "<memory unit='GiB'>48</memory>" in fixed


def test_self_closing_cpu_gets_a_numa_child() -> None:
    broken = GUIDE_VM.replace(
        GUIDE_CPU, "  <cpu mode='host-passthrough' check='none' migratable='on'/>\n"
    )
    fixed = api.fix_text(broken).decode()
    assert fixed == GUIDE_VM


def test_insert_child_into_an_empty_element() -> None:
    doc = load(b"<domain>\n  <features>\n  </features>\n</domain>\n", "x.xml")
    root = doc.root
    assert root is not None
    features = root.find("features")
    assert features is not None
    edit = Editor(doc).insert_child(features, Node("acpi"))
    assert apply_edits(doc.work, [edit]) == (
        b"<domain>\n  <features>\n    <acpi/>\n  </features>\n</domain>\n"
    )


def test_remove_element_takes_its_whole_line() -> None:
    doc = load(GUIDE_VM.encode(), "x.xml")
    root = doc.root
    assert root is not None
    pmem = root.find("devices/memory/source/pmem")
    assert pmem is not None
    edit = Editor(doc).remove_element(pmem)
    assert apply_edits(doc.work, [edit]).decode() == GUIDE_VM.replace("        <pmem/>\n", "")
