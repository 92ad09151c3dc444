"""libvirt's RelaxNG grammar, found, compiled once and used to validate domains."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from famfs_xml.core.libvirt_version import LibvirtVersion
from famfs_xml.host.libvirt_install import installed_libvirt
from famfs_xml.lint import libvirt_schema
from famfs_xml.lint.libvirt_schema import SchemaError, SchemaUnavailable, find_schema, validate

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SCHEMA = find_schema()

if SCHEMA is None:
    _reason = "libvirt's schemas are not installed (package libvirt-clients / libvirt-common)"
    if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
        pytest.fail(f"CI=true but {_reason}", pytrace=False)
    pytest.skip(_reason, allow_module_level=True)


def _tree(text: str) -> etree._ElementTree:
    return etree.ElementTree(etree.fromstring(text.encode()))


MINIMAL = """<domain type='kvm'>
  <name>tiny</name>
  <memory unit='MiB'>512</memory>
  <os>
    <type arch='x86_64'>hvm</type>
  </os>
</domain>
"""


def test_find_schema_default_location() -> None:
    assert SCHEMA is not None
    assert SCHEMA.name == "domain.rng"
    assert SCHEMA.is_file()


def test_find_schema_given_directory_or_file(tmp_path: Path) -> None:
    assert SCHEMA is not None
    assert find_schema(SCHEMA.parent) == SCHEMA.parent / "domain.rng"
    assert find_schema(SCHEMA) == SCHEMA
    assert find_schema(tmp_path) is None
    assert find_schema(tmp_path / "missing.rng") is None


def test_guide_fixture_is_valid() -> None:
    tree = etree.parse(str(FIXTURES / "guide" / "f39-dev2.xml"))
    assert validate(tree) == []


def test_minimal_domain_is_valid() -> None:
    assert validate(_tree(MINIMAL)) == []


def test_accepts_an_element_as_well_as_a_tree() -> None:
    assert validate(etree.fromstring(MINIMAL.encode())) == []


def test_unknown_element_is_reported_with_its_line() -> None:
    text = MINIMAL.replace("  <os>", "  <bogus/>\n  <os>")
    errors = validate(_tree(text))
    assert errors
    assert all(isinstance(error, SchemaError) for error in errors)
    assert any("bogus" in error.message for error in errors)
    assert errors[0].line in {1, 4}  # libxml2 names the parent's or the element's line


def test_maxmemory_without_slots_is_a_schema_error_up_to_libvirt_9_4() -> None:
    """The installed schema is the installed libvirt's: 9.0's requires slots with
    <maxMemory>; from 9.5 slots are optional (12.8 measured)."""
    text = MINIMAL.replace(
        "  <memory unit='MiB'>512</memory>",
        "  <maxMemory unit='MiB'>1024</maxMemory>\n  <memory unit='MiB'>512</memory>",
    )
    installed = installed_libvirt()
    assert installed is not None, "a schema without the libvirt it came with"
    assert bool(validate(_tree(text))) is (installed < LibvirtVersion(9, 5))


def test_bad_unit_is_a_schema_error() -> None:
    assert validate(_tree(MINIMAL.replace("unit='MiB'", "unit='MiBs'")))


def test_given_schema_path(tmp_path: Path) -> None:
    assert SCHEMA is not None
    assert validate(_tree(MINIMAL), schema=SCHEMA) == []
    with pytest.raises(SchemaUnavailable):
        validate(_tree(MINIMAL), schema=tmp_path / "domain.rng")


def test_broken_schema_is_unavailable(tmp_path: Path) -> None:
    broken = tmp_path / "domain.rng"
    broken.write_text("<grammar xmlns='http://relaxng.org/ns/structure/1.0'><start/></grammar>")
    with pytest.raises(SchemaUnavailable, match="cannot load"):
        libvirt_schema.load_schema(broken)


def test_schema_is_compiled_once() -> None:
    assert SCHEMA is not None
    first = libvirt_schema.load_schema(SCHEMA)
    assert libvirt_schema.load_schema(SCHEMA) is first
    assert libvirt_schema.load_schema() is first


def test_missing_default_schema(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(libvirt_schema, "DEFAULT_SCHEMA_DIRS", (tmp_path,))
    assert find_schema() is None
    with pytest.raises(SchemaUnavailable, match="not found"):
        libvirt_schema.load_schema()


def test_fx901_is_opt_in_and_reports_the_schema_line() -> None:
    from famfs_xml import api

    text = MINIMAL.replace("  <os>", "  <bogus/>\n  <os>")
    assert [f.code for f in api.lint_text(text)] == []
    findings = api.lint_text(text, extend_select=["FX901"])
    assert [f.code for f in findings] == ["FX901"]
    assert findings[0].line == 4  # the line of <bogus/>, from the validator's log
    assert "extra content: bogus" in findings[0].message


def test_libvirt_schemas_option_turns_fx901_on(tmp_path: Path) -> None:
    from tests.conftest import run_entry_point

    (tmp_path / "vm.xml").write_text(MINIMAL.replace("  <os>", "  <bogus/>\n  <os>"))
    assert SCHEMA is not None
    result = run_entry_point(
        ["lint", "--libvirt-schemas", str(SCHEMA.parent), "vm.xml"], cwd=tmp_path
    )
    assert result.exit_code == 1
    assert "FX901 libvirt schema:" in result.stdout
    missing = run_entry_point(["lint", "--libvirt-schemas", str(tmp_path), "vm.xml"], cwd=tmp_path)
    assert missing.exit_code == 2
    assert missing.stderr.startswith("famfs-xml: error: no libvirt domain schema")


def _xmllint_verdicts(files: list[Path]) -> dict[str, bool]:
    """xmllint's RelaxNG verdict per file (what virt-xml-validate runs), in one process."""
    assert SCHEMA is not None
    result = subprocess.run(
        ["xmllint", "--noout", "--relaxng", str(SCHEMA), *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    verdicts = {}
    for line in result.stderr.splitlines():
        match = re.match(r"^(\S+) (validates|fails to validate)$", line)
        if match:
            verdicts[match.group(1)] = match.group(2) == "validates"
    return verdicts


@pytest.mark.parametrize(
    ("variable", "subdir"),
    [("FAMFS_XML_LIBVIRT_CORPUS", "inputs"), ("FAMFS_XML_WILD_CORPUS", ".")],
)
def test_same_verdict_as_xmllint_on_a_corpus(variable: str, subdir: str) -> None:
    """Every well-formed domain of the corpus: schema errors exactly where xmllint has them."""
    if not shutil.which("xmllint"):
        pytest.skip("xmllint not installed (package libxml2-utils)")
    folder = os.environ.get(variable)
    if not folder:
        pytest.skip(f"{variable} is not set")
    files = sorted((Path(folder) / subdir).glob("*.xml"))
    assert files, f"no XML files in {folder}/{subdir}"
    verdicts = _xmllint_verdicts(files)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    compared, disagree = 0, []
    for path in files:
        try:
            tree = etree.parse(str(path), parser)
        except etree.XMLSyntaxError:
            continue
        compared += 1
        if (validate(tree) == []) != verdicts.get(str(path)):
            disagree.append(path.name)
    assert compared > 0.9 * len(files)
    assert disagree == []
