"""The fixture files are what they claim to be (no libvirt needed)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from lxml import etree

from famfs_xml.core.inventory import Inventory
from famfs_xml.lint.catalog import load_catalog

sys.path.insert(0, str(Path(__file__).resolve().parent / "libvirt"))

from fixture_data import (
    CLEAN,
    DEFECTS,
    FIXTURES,
    RECORDED_RELEASES,
    load_defects,
    release_key,
    to_bytes,
)

#: Every famfs-xml rule has a defect fixture, except the info-only FX401/FX403 (the
#: catalog's examples cover them) and FX901 (libvirt's own schema, see FX102/FX205/FX309).
DEFECT_CODES = {code for code in load_catalog() if code.startswith("FX")} - {
    "FX401",
    "FX403",
    "FX901",
}
HEADER = "<!--\nWARNING: THIS IS AN AUTO-GENERATED FILE."

ENTRIES = load_defects()


def test_expected_toml_names_every_defect_file_and_nothing_else() -> None:
    on_disk = {path.name for path in DEFECTS.glob("*.xml")}
    assert {entry.name for entry in ENTRIES} == on_disk


def test_every_rule_has_a_defect_file() -> None:
    prefixes = {entry.name[:5] for entry in ENTRIES}
    assert prefixes == DEFECT_CODES
    assert {"FX501-a.xml", "FX501-b.xml"} <= {entry.name for entry in ENTRIES}


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_entry_is_consistent(entry: object) -> None:
    from fixture_data import Defect

    assert isinstance(entry, Defect)
    assert re.fullmatch(r"FX\d{3}-[a-z0-9-]+\.xml", entry.name)
    assert entry.name[:5] in entry.codes
    for release in map(release_key, RECORDED_RELEASES):
        assert entry.verdict(release) in {"accepts", "rejects"}
        assert (entry.message(release) is not None) == (entry.verdict(release) == "rejects")
        assert entry.plain(release) in {None, "accepts", "rejects"}
    assert not entry.extra, f"unknown keys {sorted(entry.extra)}"
    for other in entry.lint_with:
        assert other.is_file()
    if entry.inventory is not None:
        assert entry.inventory.is_file()


def test_styles_are_mixed() -> None:
    raw = {entry.name: entry.path.read_bytes() for entry in ENTRIES}
    crlf = {name for name, data in raw.items() if b"\r\n" in data}
    tabs = {name for name, data in raw.items() if re.search(rb"^\t+<", data, re.MULTILINE)}
    non_ascii = {name for name, data in raw.items() if any(byte > 127 for byte in data)}
    libvirt = {
        name
        for name, data in raw.items()
        if data.replace(b"\r\n", b"\n").startswith(HEADER.encode())
    }
    assert len(crlf) >= 2
    assert tabs
    assert non_ascii
    assert len(libvirt) >= 8
    for entry in ENTRIES:
        assert ("crlf" in entry.style) == (entry.name in crlf), entry.name
        assert ("tabs" in entry.style) == (entry.name in tabs), entry.name
        assert ("utf-8" in entry.style) == (entry.name in non_ascii), entry.name
        assert entry.style.startswith("libvirt") == (entry.name in libvirt), entry.name
    for data in raw.values():
        data.decode("utf-8")  # every file is UTF-8
        assert b"\r\n" not in data or b"\n" not in data.replace(b"\r\n", b"")  # no mixed EOLs


def _parse(path: Path) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.fromstring(path.read_bytes(), parser)


def test_only_the_syntax_fixture_is_broken() -> None:
    for entry in ENTRIES:
        if entry.name.startswith(("FX001", "FX002")):
            with pytest.raises(etree.XMLSyntaxError):
                _parse(entry.path)
        else:
            root = _parse(entry.path)
            expected = "domainsnapshot" if entry.name.startswith("FX004") else "domain"
            assert root.tag == expected


def test_domain_names_are_unique() -> None:
    """All fixtures can be defined side by side in one libvirt."""
    names: dict[str, str] = {}
    uuids: dict[str, str] = {}
    for path in [*CLEAN, *(entry.path for entry in ENTRIES)]:
        text = path.read_text(encoding="utf-8")
        name = re.findall(r"<name>([^<]+)</name>", text)[-1]
        uuid = re.search(r"<uuid>([^<]+)</uuid>", text)
        assert name not in names, (path.name, names.get(name))
        names[name] = path.name
        if uuid:
            assert uuid.group(1) not in uuids, (path.name, uuids.get(uuid.group(1)))
            uuids[uuid.group(1)] = path.name


@pytest.mark.parametrize("path", CLEAN[1:], ids=lambda p: p.name)
def test_libvirt_style_fixtures_are_as_libvirt_wrote_them(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    name = re.search(r"<name>([^<]+)</name>", text)
    assert name is not None
    assert text.startswith(HEADER)
    assert f"  virsh edit {name.group(1)}\n" in text
    assert '="' not in text.replace('xmlns:libosinfo="', "").replace('libosinfo:os id="', "")
    assert re.search(r"<memory unit='KiB'>\d+</memory>", text)


def test_guide_fixture_matches_the_guide() -> None:
    path = FIXTURES / "guide" / "f39-dev2.xml"
    text = path.read_text(encoding="utf-8")
    assert text.startswith(
        "<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n"
        "  <name>f39-dev2</name>\n"
    )
    for line in (
        "  <maxMemory slots='2' unit='GiB'>40</maxMemory>",
        "  <memory unit='GiB'>40</memory>",
        "  <currentMemory unit='GiB'>40</currentMemory>",
        "      <cell id='0' cpus='0-1' memory='32' unit='GiB'/>",
    ):
        assert line + "\n" in text
    stanza = (
        "    <memory model='nvdimm' access='shared'>\n"
        "      <source>\n"
        "        <path>/dev/dax1.0</path>\n"
        "        <alignsize unit='MiB'>2</alignsize>\n"
        "        <pmem/>\n"
        "      </source>\n"
        "      <target>\n"
        "        <size unit='GiB'>8</size>\n"
        "        <node>0</node>\n"
        "        <label>\n"
        "          <size unit='MiB'>16</size>\n"
        "        </label>\n"
        "      </target>\n"
        "      <address type='dimm' slot='1'/>\n"
        "    </memory>\n"
        "  </devices>\n"
    )
    assert stanza in text  # the last entry of <devices>


@pytest.mark.parametrize(
    ("name", "size", "align", "mode"),
    [
        ("daxctl-list-system-ram.json", 8 << 30, 2 << 20, "system-ram"),
        ("daxctl-list-devdax.json", 8 << 30, 2 << 20, "devdax"),
        ("daxctl-list-u.json", None, 2 << 20, "devdax"),
        ("daxctl-list-R.json", 8 << 30, 2 << 20, "devdax"),
        ("ndctl-list-raw.json", 8573157376, None, "raw"),
        ("ndctl-create-namespace-devdax.json", None, 2 << 20, "devdax"),
    ],
)
def test_inventory_fixtures(name: str, size: int | None, align: int | None, mode: str) -> None:
    path = FIXTURES / "inventory" / name
    json.loads(path.read_text(encoding="utf-8"))
    devices = list(Inventory.from_file(path))
    assert len(devices) == 1
    assert (devices[0].size, devices[0].align, devices[0].mode) == (size, align, mode)


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        ("40", "GiB", 40 << 30),
        ("41943040", "KiB", 40 << 30),
        ("41943040", None, 40 << 30),
        ("16", "MiB", 16 << 20),
        ("40", "GB", 40 * 10**9),
        ("128", "KB", 125 * 1024),
        ("1", "b", 1024),
        ("2048", "k", 2 << 20),
    ],
)
def test_size_arithmetic(value: str, unit: str | None, expected: int) -> None:
    assert to_bytes(value, unit) == expected
