"""Loading: safe parsing, exact positions, the file's style, and the load-time findings."""

from __future__ import annotations

import pytest

from famfs_xml import api
from famfs_xml.lint.document import load
from tests.samples import GUIDE_VM


def test_positions_are_exact() -> None:
    doc = load(GUIDE_VM.encode(), "vm.xml")
    root = doc.root
    assert root is not None
    nvdimm = root.find("devices/memory")
    assert nvdimm is not None
    span = doc.span(nvdimm)
    assert (span.line, span.column) == (22, 5)
    assert doc.work[span.start : span.start_tag_end] == b"<memory model='nvdimm' access='shared'>"
    assert doc.work[span.end_tag_start : span.end] == b"</memory>"
    pmem = root.find("devices/memory/source/pmem")
    assert pmem is not None
    assert doc.span(pmem).self_closing


def test_attribute_spans_keep_their_quotes() -> None:
    doc = load(b"<domain type='kvm' id=\"3\"/>", "x.xml")
    assert doc.root is not None
    attrs = doc.attributes(doc.root)
    assert (attrs["type"].value, attrs["type"].quote) == ("kvm", "'")
    assert (attrs["id"].value, attrs["id"].quote) == ("3", '"')


@pytest.mark.parametrize(
    ("text", "quote", "unit", "newline"),
    [
        (GUIDE_VM, "'", "  ", "\n"),
        (GUIDE_VM.replace("'", '"'), '"', "  ", "\n"),
        (GUIDE_VM.replace("\n", "\r\n"), "'", "  ", "\r\n"),
        (GUIDE_VM.replace("  ", "\t"), "'", "\t", "\n"),
    ],
)
def test_style_detection(text: str, quote: str, unit: str, newline: str) -> None:
    style = load(text.encode(), "x.xml").style
    assert (style.quote, style.indent_unit, style.newline) == (quote, unit, newline)


def test_declaration_is_detected() -> None:
    assert load(b"<?xml version='1.0'?>\n<domain/>", "x").style.has_declaration
    assert not load(b"<domain/>", "x").style.has_declaration


def test_doctype_is_refused_before_parsing() -> None:
    text = (
        '<?xml version="1.0"?>\n<!DOCTYPE domain [\n  <!ENTITY e "x">\n]>\n'
        "<domain type='kvm'><name>&e;</name></domain>"
    )
    doc = load(text.encode(), "x.xml")
    assert [p.code for p in doc.problems] == ["FX003"]
    assert doc.problems[0].line == 2
    assert doc.root is None


def test_doctype_text_inside_a_comment_is_not_a_doctype() -> None:
    text = "<!-- no <!DOCTYPE here -->\n" + GUIDE_VM
    assert load(text.encode(), "x.xml").problems == []


def test_unbound_qemu_prefix_is_fx002_and_the_tree_is_recovered() -> None:
    text = GUIDE_VM.replace(" xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'", "")
    text = text.replace(
        "</devices>\n",
        "</devices>\n  <qemu:commandline>\n"
        "    <qemu:arg value='-no-reboot'/>\n  </qemu:commandline>\n",
    )
    doc = load(text.encode(), "x.xml")
    assert [p.code for p in doc.problems] == ["FX002"]
    assert doc.problems[0].line == 38
    assert doc.root is not None and doc.root.find("devices") is not None
    fixed = api.fix_text(text).decode()
    assert "<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>" in fixed
    assert [f.code for f in api.lint_text(fixed)] == []


def test_other_unbound_prefixes_are_syntax_errors() -> None:
    doc = load(b"<domain><foo:bar/></domain>", "x.xml")
    assert [p.code for p in doc.problems] == ["FX001"]


def test_truncated_xml_is_fx001_with_a_position() -> None:
    doc = load(GUIDE_VM[:300].encode(), "x.xml")
    assert [p.code for p in doc.problems] == ["FX001"]
    assert doc.problems[0].line > 1


def test_binary_data_is_fx001() -> None:
    doc = load(bytes(range(256)) * 4, "x.bin")
    assert [p.code for p in doc.problems] == ["FX001"]
    assert "binary" in doc.problems[0].message


def test_invalid_utf8_is_fx001() -> None:
    doc = load(GUIDE_VM.replace("f39-dev2", "f39-\xff").encode("latin-1"), "x.xml")
    assert [p.code for p in doc.problems] == ["FX001"]


def test_declared_latin1_is_decoded() -> None:
    text = "<?xml version='1.0' encoding='ISO-8859-1'?>\n" + GUIDE_VM.replace(
        "<name>f39-dev2</name>", "<name>f39-dev2</name>\n  <description>Größe</description>"
    )
    doc = load(text.encode("latin-1"), "x.xml")
    assert doc.problems == []
    assert doc.root is not None and doc.root.findtext("description") == "Größe"


def test_columns_count_characters_as_expat_does() -> None:
    """Non-ASCII text before an element on its line: the column counts characters."""
    import xml.parsers.expat

    text = "<domain>\n  <title>Prüfstand ✓</title>\t<vcpu>2</vcpu>\n</domain>\n"
    seen: dict[str, tuple[int, int]] = {}
    parser = xml.parsers.expat.ParserCreate(encoding="UTF-8")

    def on_start(name: str, _attrs: object) -> None:
        seen[name] = (parser.CurrentLineNumber, parser.CurrentColumnNumber + 1)

    parser.StartElementHandler = on_start
    parser.Parse(text.encode(), True)
    doc = load(text.encode(), "vm.xml")
    assert doc.root is not None
    vcpu = doc.root.find("vcpu")
    assert vcpu is not None
    assert doc.position(vcpu) == seen["vcpu"] == (2, 30)  # 34 if it counted bytes
