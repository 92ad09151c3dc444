"""Property tests: random damage to real domains never crashes lint or fix.

Seeds are the bundled fixtures and the guide's VM; each example mutates one of them (attribute
values, element text, units and numbers, deleted or duplicated elements, random bytes,
truncation). For every input, lint returns findings with real positions, and fix either
leaves the file alone or writes well-formed XML that a second fix leaves unchanged.
"""

from __future__ import annotations

import os
import re

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lxml import etree

from famfs_xml.api import fix_text, lint_text
from famfs_xml.lint.document import load
from famfs_xml.lint.engine import FixRefused
from tests.conftest import FIXTURES
from tests.samples import GUIDE_VM

SEEDS: list[bytes] = [GUIDE_VM.encode()] + [
    path.read_bytes() for path in sorted(FIXTURES.rglob("*.xml")) if path.stat().st_size < 64 * 1024
]

# Every rule but FX901 (libvirt's schema, slow and outside this engine).
OPTIONS = {"select": ["ALL"], "ignore": ["FX901"]}

# Bounded for the test suite; FAMFS_XML_FUZZ_EXAMPLES=5000 runs a longer hunt.
FUZZ = settings(
    max_examples=int(os.environ.get("FAMFS_XML_FUZZ_EXAMPLES", "120")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_ATTRIBUTE_VALUE = re.compile(rb"""=\s*(['"])(.*?)\1""", re.DOTALL)
_ELEMENT_TEXT = re.compile(rb">([^<>]+)<")

NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(
        [
            "0",
            "-1",
            "0x10",
            "1e3",
            "1.5",
            "",
            " 8 ",
            "NaN",
            "99999999999999999999999",
            "0-3",
            "0-1,^0",
            "^1",
            "1-",
            ",",
            "0,,1",
        ]
    ),
)
UNITS = st.sampled_from(
    [
        "b",
        "bytes",
        "k",
        "KiB",
        "KB",
        "M",
        "MiB",
        "MB",
        "G",
        "GiB",
        "GB",
        "T",
        "TiB",
        "TB",
        "P",
        "E",
        "EiB",
        "kb",
        "gib",
        "",
        "GiBB",
        "%",
    ]
)
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), max_codepoint=0x2FFF), max_size=12
)
VALUES = st.one_of(
    NUMBERS,
    UNITS,
    TEXT,
    st.sampled_from(
        [
            "shared",
            "private",
            "yes",
            "no",
            "efi",
            "bios",
            "pflash",
            "nvdimm",
            "dimm",
            "virtio-pmem",
            "x86_64",
            "aarch64",
            "q35",
            "pc-i440fx-8.2",
            "/dev/dax1.0",
            "dimm",
            "&amp;",
            "&lt;x",
        ]
    ),
)


def _escape(value: str) -> bytes:
    return (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace("'", "&apos;")
        .replace('"', "&quot;")
        .encode("utf-8")
    )


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        data = draw(_one_mutation(data))
    return data


def _one_mutation(data: bytes) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.builds(
            _replace_match,
            st.just(data),
            st.just(_ATTRIBUTE_VALUE),
            st.just(2),
            st.integers(min_value=0),
            VALUES,
        ),
        st.builds(
            _replace_match,
            st.just(data),
            st.just(_ELEMENT_TEXT),
            st.just(1),
            st.integers(min_value=0),
            st.one_of(NUMBERS, VALUES),
        ),
        st.builds(
            _tree_edit,
            st.just(data),
            st.integers(min_value=0),
            st.sampled_from(["delete", "duplicate", "strip", "clear-attributes"]),
        ),
        st.builds(
            _random_bytes,
            st.just(data),
            st.integers(min_value=0),
            st.binary(min_size=1, max_size=8),
            st.booleans(),
        ),
        st.builds(lambda cut: data[: cut % (len(data) + 1)], st.integers(min_value=0)),
    )


def _replace_match(
    data: bytes, pattern: re.Pattern[bytes], group: int, pick: int, value: str
) -> bytes:
    matches = list(pattern.finditer(data))
    if not matches:
        return data
    match = matches[pick % len(matches)]
    return data[: match.start(group)] + _escape(value) + data[match.end(group) :]


def _tree_edit(data: bytes, pick: int, how: str) -> bytes:
    """A structural change made through lxml (the result is lxml's serialisation)."""
    try:
        root = etree.fromstring(
            data, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        )
    except etree.XMLSyntaxError:
        return data
    elements = [el for el in root.iter(etree.Element) if el is not root]
    if not elements:
        return data
    element = elements[pick % len(elements)]
    parent = element.getparent()
    assert parent is not None
    if how == "delete":
        parent.remove(element)
    elif how == "duplicate":
        element.addnext(etree.fromstring(etree.tostring(element)))
    elif how == "strip":
        for child in list(element):
            element.remove(child)
    else:
        element.attrib.clear()
    return bytes(etree.tostring(root.getroottree(), encoding="utf-8", xml_declaration=False))


def _random_bytes(data: bytes, where: int, junk: bytes, insert: bool) -> bytes:
    at = where % (len(data) + 1)
    return data[:at] + junk + data[at + (0 if insert else len(junk)) :]


def _load_codes(data: bytes) -> set[str] | None:
    """The load-time problem codes, or None when the file does not parse at all."""
    doc = load(data, "x.xml")
    codes = {problem.code for problem in doc.problems}
    return None if doc.tree is None or codes & {"FX001", "FX003"} else codes


@FUZZ
@given(mutated())
@example(GUIDE_VM.encode()[: len(GUIDE_VM) // 3])
@example(GUIDE_VM.replace("<pmem/>", "<pmem/><pmem/>").encode())
def test_lint_never_raises_and_points_at_real_lines(data: bytes) -> None:
    findings = lint_text(data, **OPTIONS)
    lines = data.count(b"\n") + 1
    for finding in findings:
        assert 1 <= finding.line <= max(lines, 1), finding
        assert finding.column >= 1, finding


@FUZZ
@given(mutated(), st.booleans())
def test_fix_writes_well_formed_xml_and_is_idempotent(data: bytes, unsafe: bool) -> None:
    try:
        fixed = fix_text(data, unsafe_fixes=unsafe, **OPTIONS)
    except FixRefused as exc:  # the engine's own guard fired: a fix built bad XML
        raise AssertionError(f"a fix broke the document: {exc}") from None
    before = _load_codes(data)
    if before is None:
        assert fixed == data  # a file we cannot read is never rewritten
        return
    if fixed != data:
        after = _load_codes(fixed)
        assert after is not None and after <= before, fixed.decode("utf-8", "replace")
    assert fix_text(fixed, unsafe_fixes=unsafe, **OPTIONS) == fixed
