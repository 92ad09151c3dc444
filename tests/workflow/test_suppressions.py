"""Suppressions: comment directives, the <metadata> block, per-file ignores, and FX006."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from workflow_samples import BROKEN, CLEAN, ROOT

from famfs_xml import api
from famfs_xml.core.findings import Finding
from famfs_xml.lint.document import load
from famfs_xml.lint.engine import fix_document, lint_documents

NVDIMM = "    <memory model='nvdimm'"
METADATA_AT = "  <vcpu placement='static'>2</vcpu>\n"


def lint(text: str, **options: Any) -> list[Finding]:
    return api.lint_text(text, path="vm.xml", **options)


def codes(text: str, **options: Any) -> list[str]:
    return [f.code for f in lint(text, **options)]


def before_nvdimm(text: str, comment: str) -> str:
    assert NVDIMM in text
    return text.replace(NVDIMM, f"    {comment}\n{NVDIMM}")


def with_metadata(text: str, *ignores: str) -> str:
    block = "".join(f"      {line}\n" for line in ignores)
    return text.replace(
        METADATA_AT,
        f"""  <metadata>
    <famfs:lint xmlns:famfs="urn:famfs-xml:lint:1">
{block}    </famfs:lint>
  </metadata>
{METADATA_AT}""",
    )


def test_broken_sample_has_three_findings() -> None:
    assert codes(BROKEN) == ["FX301", "FX302", "FX303"]
    assert codes(CLEAN) == []


# -- comments before an element -----------------------------------------------------------------


def test_comment_covers_the_next_element_subtree() -> None:
    text = before_nvdimm(BROKEN, '<!-- famfs-xml: disable=FX301,FX302 reason="lab box" -->')
    assert codes(text) == ["FX303"]


def test_directive_accepts_codes_prefixes_and_names() -> None:
    text = before_nvdimm(BROKEN, "<!-- famfs-xml: disable=nvdimm-access-not-shared, FX30 -->")
    assert codes(text) == []


def test_comment_before_another_element_covers_nothing_there() -> None:
    text = BROKEN.replace("  <name>", "  <!-- famfs-xml: disable=FX301 -->\n  <name>")
    found = lint(text)
    assert [f.code for f in found] == ["FX006", "FX301", "FX302", "FX303"]
    assert found[0].line == 2 and found[0].column == 3
    assert found[0].message == "unused suppression: FX301 suppressed nothing"


def test_other_comments_between_directive_and_element() -> None:
    text = before_nvdimm(BROKEN, "<!-- famfs-xml: disable=FX3 --><!-- shared with vm2 -->")
    assert codes(text) == []


def test_prolog_directives_cover_the_file() -> None:
    assert codes("<!-- famfs-xml: disable-file=FX301,FX303 -->\n" + BROKEN) == ["FX302"]
    assert codes("<!-- famfs-xml: disable=FX3 -->\n" + BROKEN) == []
    libvirt_header = (
        "<!--\nWARNING: THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO "
        "BE\nOVERWRITTEN AND LOST.\n-->\n"
    )
    assert codes(libvirt_header + "<!-- famfs-xml: disable-file=FX3 -->\n" + BROKEN) == []


def test_directive_with_nothing_after_it() -> None:
    text = BROKEN.replace("  </devices>", "  <!-- famfs-xml: disable=FX301 -->\n  </devices>")
    found = [f for f in lint(text) if f.code == "FX006"]
    assert len(found) == 1
    assert "no element follows it" in found[0].message


@pytest.mark.parametrize(
    ("comment", "message"),
    [
        ("<!-- famfs-xml: disable=FX999 -->", "unknown rule 'FX999' in a suppression"),
        ("<!-- famfs-xml: enable=FX301 -->", "malformed famfs-xml directive: unknown key 'enable'"),
        ('<!-- famfs-xml: reason="x" -->', "malformed famfs-xml directive: expected disable="),
        ("<!-- famfs-xml: disable= -->", "malformed famfs-xml directive: cannot read"),
        ("<!-- famfs-xml: disable=FX301 disable-file=FX302 -->", "one disable= or disable-file="),
    ],
)
def test_bad_directives_are_reported(comment: str, message: str) -> None:
    found = [f for f in lint(before_nvdimm(CLEAN, comment)) if f.code == "FX006"]
    assert len(found) == 1
    assert message in found[0].message
    assert found[0].fix is None


def test_plain_comments_are_not_directives() -> None:
    assert codes(before_nvdimm(CLEAN, "<!-- famfs-xml handles this device -->")) == []


# -- the <metadata> block -----------------------------------------------------------------------


def test_metadata_block_covers_the_file() -> None:
    text = with_metadata(
        BROKEN,
        '<famfs:ignore rule="FX301" reason="x"/>',
        '<famfs:ignore rule="nvdimm-pmem-missing"/>',
    )
    assert codes(text) == ["FX302"]


def test_metadata_path_narrows_to_that_device() -> None:
    second = (
        BROKEN.split("    <memory model='nvdimm'>")[1]
        .split("    </memory>\n")[0]
        .replace("/dev/dax1.0", "/dev/dax2.0")
        .replace("slot='1'", "slot='2'")
    )
    two = BROKEN.replace(
        "  </devices>", f"    <memory model='nvdimm'>{second}    </memory>\n  </devices>"
    ).replace("slots='2'", "slots='3'")
    two = two.replace("unit='GiB'>40<", "unit='GiB'>48<")
    assert codes(two).count("FX301") == 2
    text = with_metadata(two, '<famfs:ignore rule="FX3" path="/dev/dax2.0"/>')
    found = lint(text)
    assert [f.code for f in found] == ["FX301", "FX302", "FX303"]
    assert all(f.line < text.index("/dev/dax2.0") for f in found)  # all on the first nvdimm
    unmatched = with_metadata(two, '<famfs:ignore rule="FX302" path="/dev/dax9.9"/>')
    messages = [f.message for f in lint(unmatched) if f.code == "FX006"]
    assert messages == [
        "unused suppression: FX302 suppressed nothing (no memory device is backed by /dev/dax9.9)"
    ]


@pytest.mark.parametrize(
    "ignore",
    [
        '<famfs:ignore reason="no rule"/>',
        '<famfs:ignore rule="FX301" colour="red"/>',
        '<famfs:ignore rule="FX301;FX302"/>',
        '<famfs:skip rule="FX301"/>',
    ],
)
def test_invalid_metadata_block_is_reported_and_not_applied(ignore: str) -> None:
    found = lint(with_metadata(BROKEN, ignore))
    assert [f.code for f in found] == ["FX006", "FX301", "FX302", "FX303"]
    assert found[0].message.startswith("invalid famfs:lint block, not applied: ")


def test_xmlschema_is_imported_only_for_a_metadata_block(tmp_path: Any) -> None:
    plain = tmp_path / "plain.xml"
    plain.write_text(before_nvdimm(BROKEN, "<!-- famfs-xml: disable=FX3 -->"))
    block = tmp_path / "block.xml"
    block.write_text(with_metadata(BROKEN, '<famfs:ignore rule="FX3"/>'))
    script = (
        "import sys\nfrom famfs_xml.cli.main import run\n"
        "code = run(['lint', '--isolated', sys.argv[1]])\n"
        "print(code, 'xmlschema' in sys.modules)\n"
    )

    def loaded(path: Any) -> str:
        done = subprocess.run(
            [sys.executable, "-c", script, str(path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip().splitlines()[-1]

    assert loaded(plain) == "0 False"
    assert loaded(block) == "0 True"


# -- selection, cross-file and facts ------------------------------------------------------------


def test_unselected_rules_are_not_judged_unused() -> None:
    text = before_nvdimm(CLEAN, "<!-- famfs-xml: disable=FX302 -->")
    assert codes(text) == ["FX006"]
    assert codes(text, select=["FX1", "FX006"]) == []
    assert codes(text, ignore=["FX006"]) == []


def test_a_directive_that_covers_nothing_is_judged_whatever_runs() -> None:
    stale = with_metadata(CLEAN, '<famfs:ignore rule="FX302" path="/dev/dax0.0"/>')
    assert codes(stale, select=["FX006"]) == ["FX006"]
    dangling = CLEAN.replace("  </devices>", "    <!-- famfs-xml: disable=FX501 -->\n  </devices>")
    assert codes(dangling) == ["FX006"]


def test_fx501_is_never_judged_unused() -> None:
    text = before_nvdimm(CLEAN, "<!-- famfs-xml: disable=FX501 -->")
    assert codes(text) == []


def test_cross_file_findings_can_be_suppressed() -> None:
    other = CLEAN.replace("<name>vm1</name>", "<name>vm2</name>").replace(
        "<size unit='MiB'>16</size>", "<size unit='MiB'>32</size>"
    )
    assert codes(CLEAN, peers=[other]) == ["FX501"]
    text = before_nvdimm(CLEAN, "<!-- famfs-xml: disable=shared-backing-mismatch -->")
    assert codes(text, peers=[other]) == []


def test_device_dependent_rules_need_facts_to_be_judged() -> None:
    assert codes(before_nvdimm(CLEAN, "<!-- famfs-xml: disable=FX305 -->")) == []
    # a prefix that covers a device-dependent rule is not judged either
    assert codes(before_nvdimm(CLEAN, "<!-- famfs-xml: disable=FX3 -->")) == []


def test_fx006_can_itself_be_disabled() -> None:
    text = "<!-- famfs-xml: disable-file=FX006 -->\n" + before_nvdimm(
        CLEAN, "<!-- famfs-xml: disable=FX302 -->"
    )
    assert codes(text) == []


# -- per-file ignores (config) ------------------------------------------------------------------


def test_per_file_ignores_apply_in_the_engine() -> None:
    options = api.options()._replace(
        per_file_ignores=(("vm*.xml", frozenset({"FX301"})), ("other.xml", frozenset({"FX302"}))),
    )
    doc = load(BROKEN.encode(), "qemu/vm.xml")
    found = lint_documents([(doc, True)], options)[0].findings
    assert [f.code for f in found] == ["FX302", "FX303"]  # matched by the base name
    fixed = fix_document(load(BROKEN.encode(), "vm.xml"), options).data.decode()
    assert "access=" not in fixed and "<pmem/>" in fixed


# -- fixing -------------------------------------------------------------------------------------


def test_suppressed_findings_are_not_fixed() -> None:
    text = before_nvdimm(BROKEN, '<!-- famfs-xml: disable=FX301 reason="private copy wanted" -->')
    fixed = api.fix_text(text).decode()
    assert "access=" not in fixed
    assert "<pmem/>" in fixed and "<alignsize unit='MiB'>2</alignsize>" in fixed
    assert '<!-- famfs-xml: disable=FX301 reason="private copy wanted" -->' in fixed
    assert codes(fixed) == []


def test_metadata_suppressed_findings_are_not_fixed() -> None:
    fixed = api.fix_text(with_metadata(BROKEN, '<famfs:ignore rule="FX303"/>')).decode()
    assert "<pmem/>" not in fixed and "access='shared'" in fixed


def test_fix_removes_an_unused_comment_line() -> None:
    text = before_nvdimm(CLEAN, '<!-- famfs-xml: disable=FX302 reason="old" -->')
    found = lint(text)
    assert [f.code for f in found] == ["FX006"]
    assert found[0].fixable
    assert api.fix_text(text).decode() == CLEAN


def test_fix_keeps_the_used_rules_of_a_directive() -> None:
    text = before_nvdimm(BROKEN, '<!-- famfs-xml: disable=FX301,FX310 reason="lab" -->')
    fixed = api.fix_text(text).decode()
    assert '<!-- famfs-xml: disable=FX301 reason="lab" -->' in fixed
    assert codes(fixed) == []


def test_fix_leaves_unknown_rules_alone() -> None:
    text = before_nvdimm(CLEAN, "<!-- famfs-xml: disable=FX999 -->")
    assert api.fix_text(text).decode() == text


def test_fix_removes_a_fully_unused_metadata_block() -> None:
    text = with_metadata(CLEAN, '<famfs:ignore rule="FX301"/>', '<famfs:ignore rule="FX302"/>')
    assert codes(text) == ["FX006", "FX006"]
    fixed = api.fix_text(text).decode()
    assert fixed == CLEAN  # the block, and the <metadata> that only held it, are gone
    kept = with_metadata(CLEAN, '<famfs:ignore rule="FX301"/>').replace(
        "  </metadata>", "    <app:note xmlns:app='urn:example:app'/>\n  </metadata>"
    )
    fixed = api.fix_text(kept).decode()
    assert "famfs:lint" not in fixed and "<app:note" in fixed


def test_fix_removes_only_the_unused_metadata_entry() -> None:
    text = with_metadata(
        BROKEN,
        '<famfs:ignore rule="FX301"/>',
        '<famfs:ignore rule="FX310"/>',
        '<famfs:ignore rule="FX302,FX304"/>',
    )
    fixed = api.fix_text(text).decode()
    assert '<famfs:ignore rule="FX301"/>' in fixed
    assert "FX310" not in fixed
    assert '<famfs:ignore rule="FX302"/>' in fixed
    assert codes(fixed) == []
    assert api.fix_text(fixed).decode() == fixed


def test_fix_removes_an_unused_prolog_directive() -> None:
    text = '<!-- famfs-xml: disable-file=FX104 reason="memory is recomputed" -->\n' + CLEAN
    assert codes(text) == ["FX006"]
    assert api.fix_text(text).decode() == CLEAN


def test_fix_removes_a_directive_that_shares_its_line() -> None:
    text = CLEAN.replace("  <name>vm1</name>", "  <!-- famfs-xml: disable=FX1 --><name>vm1</name>")
    assert codes(text) == ["FX006"]
    assert api.fix_text(text).decode() == CLEAN


def test_fix_rewrites_a_spaced_rule_list() -> None:
    text = before_nvdimm(BROKEN, "<!-- famfs-xml: disable=FX301, FX310 -->")
    assert "<!-- famfs-xml: disable=FX301 -->" in api.fix_text(text).decode()


def test_lint_document_stays_unsuppressed_and_lint_documents_suppresses() -> None:
    """Suppression happens in one place: lint_documents (and the fix loop through it)."""
    from famfs_xml.lint.engine import lint_document

    doc = load(before_nvdimm(BROKEN, "<!-- famfs-xml: disable=FX3 -->").encode(), "vm.xml")
    options = api.options()
    assert [f.code for f in lint_document(doc, options).findings] == ["FX301", "FX302", "FX303"]
    assert lint_documents([(doc, True)], options)[0].findings == []


def test_directive_position_counts_characters_and_crlf_files_are_fixed() -> None:
    text = CLEAN.replace(
        "  <name>vm1</name>",
        "  <name>vm1</name><!-- é --><!-- famfs-xml: disable=FX1 --><on_crash>destroy</on_crash>",
    )
    found = lint(text)
    assert [(f.code, f.line, f.column) for f in found] == [("FX006", 2, 29)]  # bytes would say 30
    crlf = before_nvdimm(CLEAN, "<!-- famfs-xml:\n     disable=FX302 -->").replace("\n", "\r\n")
    assert codes(crlf) == ["FX006"]
    assert api.fix_text(crlf).decode() == CLEAN.replace("\n", "\r\n")


def test_lint_elements_in_the_wrong_place_are_reported() -> None:
    bare = BROKEN.replace(
        METADATA_AT,
        '  <metadata>\n    <famfs:ignore xmlns:famfs="urn:famfs-xml:'
        'lint:1" rule="FX3"/>\n  </metadata>\n' + METADATA_AT,
    )
    found = lint(bare)
    assert [f.code for f in found] == ["FX006", "FX301", "FX302", "FX303"]
    assert found[0].message.startswith("invalid famfs:lint block, not applied: ")
    outside = BROKEN.replace(
        "  <devices>",
        '  <famfs:lint xmlns:famfs="urn:famfs-xml:lint:1">'
        '<famfs:ignore rule="FX3"/></famfs:lint>\n  <devices>',
    )
    found = lint(outside)
    assert [f.code for f in found] == ["FX006", "FX301", "FX302", "FX303"]
    assert found[0].message == "a famfs:lint block outside the domain's <metadata> is not applied"
