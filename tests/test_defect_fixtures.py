"""Every defect fixture draws its code at the element at fault, and `fix` repairs what it can."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from famfs_xml import api
from famfs_xml.core.inventory import Inventory
from famfs_xml.lint.catalog import load_catalog
from tests.conftest import FIXTURES

DEFECTS = FIXTURES / "defects"
EXPECTED: dict[str, dict[str, Any]] = tomllib.loads(
    (DEFECTS / "expected.toml").read_text(encoding="utf-8")
)

# The element a finding of each code must point at (its would-be parent for "missing X").
AT: dict[str, set[str]] = {
    "FX002": {"qemu:commandline", "qemu:arg"},
    "FX004": {"domainsnapshot"},
    "FX005": {"domain"},
    "FX101": {"domain"},
    "FX102": {"maxMemory"},
    "FX103": {"maxMemory"},
    "FX104": {"memory"},
    "FX105": {"currentMemory", "domain"},
    "FX106": {"memory", "currentMemory", "maxMemory", "size", "alignsize", "cell"},
    "FX107": {"cell", "maxMemory", "size"},
    "FX201": {"domain", "numa"},
    "FX202": {"numa"},
    "FX203": {"cell", "numa"},
    "FX204": {"numa"},
    "FX301": {"memory"},
    "FX302": {"alignsize", "source"},
    "FX303": {"source"},
    "FX304": {"size", "target"},
    "FX305": {"size"},
    "FX306": {"size"},
    "FX307": {"target", "node"},
    "FX308": {"address"},
    "FX309": {"source", "memory", "path"},
    "FX310": {"memory"},
    "FX402": {"features", "os"},
    "FX501": {"memory"},
}


def _lint(name: str, entry: dict[str, Any]) -> list[Any]:
    options: dict[str, Any] = {"extend_select": entry.get("select", [])}
    if "inventory" in entry:
        options["facts"] = Inventory.from_file(DEFECTS / entry["inventory"])
    peers = [(DEFECTS / peer).read_bytes() for peer in entry.get("lint_with", [])]
    return api.lint_text((DEFECTS / name).read_bytes(), path=name, peers=peers, **options)


def _tags_on_line(path: Path, line: int) -> set[str]:
    """Element names (prefix kept) that start on ``line`` of the file."""
    tags = set()
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if number == line:
            for chunk in text.split("<")[1:]:
                name = chunk.split(None, 1)[0].rstrip("/>")
                if name and name[0] not in "!?/":
                    tags.add(name)
    return tags


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_defect_is_reported_at_its_element(name: str) -> None:
    entry = EXPECTED[name]
    findings = _lint(name, entry)
    codes = {f.code for f in findings}
    assert set(entry["codes"]) <= codes, [f"{f.code}: {f.message}" for f in findings]
    for finding in findings:
        if finding.code in AT:
            assert _tags_on_line(DEFECTS / name, finding.line) & AT[finding.code], (
                f"{finding.code} at line {finding.line} of {name}"
            )


# A file that is not a domain at all (FX004) is a warning by contract: it is no broken domain.
REJECTED = sorted(
    n for n, e in EXPECTED.items() if e["libvirt"] == "rejects" and e["codes"] != ["FX004"]
)


@pytest.mark.parametrize("name", REJECTED)
def test_every_file_libvirt_rejects_draws_an_error(name: str) -> None:
    findings = _lint(name, EXPECTED[name])
    assert any(f.severity.label == "error" for f in findings)


def _fixable(name: str) -> bool:
    """Whether safe fixes alone repair the fixture. FX501's fix moves an outlier to what the
    majority of the domains on its device have; the fixture pairs are ties: nothing to move to."""
    catalog = load_catalog()
    entry = EXPECTED[name]
    return "lint_with" not in entry and all(
        catalog[code].fix.value == "safe" for code in entry["codes"]
    )


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if _fixable(n)))
def test_safe_fixes_leave_the_defect_fixture_clean(name: str) -> None:
    entry = EXPECTED[name]
    options: dict[str, Any] = {"extend_select": entry.get("select", [])}
    if "inventory" in entry:
        options["facts"] = Inventory.from_file(DEFECTS / entry["inventory"])
    original = (DEFECTS / name).read_bytes()
    fixed = api.fix_text(original, **options)
    assert fixed != original
    etree.fromstring(fixed)  # well-formed
    remaining = [f.code for f in api.lint_text(fixed, **options)]
    assert not set(entry["codes"]) & set(remaining), remaining
    assert api.fix_text(fixed, **options) == fixed  # idempotent
    if b"\r\n" in original:
        assert b"\n" not in fixed.replace(b"\r\n", b"")
