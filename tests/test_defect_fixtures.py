"""famfs-xml on the realistic fixtures: each defect file draws exactly its codes, clean
files draw nothing (libvirt's view of the same files is in tests/libvirt/)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from famfs_xml import api
from famfs_xml.findings import Finding
from famfs_xml.inventory import Inventory

sys.path.insert(0, str(Path(__file__).resolve().parent / "libvirt"))

from fixture_data import CLEAN, Defect, load_defects

DEFECTS = load_defects()


def lint_defect(defect: Defect, data: bytes | None = None) -> list[Finding]:
    """Lint a defect fixture the way expected.toml says (peers, inventory, selection)."""
    facts = Inventory.from_file(defect.inventory) if defect.inventory else None
    return api.lint_text(
        defect.path.read_bytes() if data is None else data,
        path=defect.name,
        peers=[other.read_bytes() for other in defect.lint_with],
        extend_select=list(defect.select),
        facts=facts,
    )


@pytest.mark.parametrize("defect", DEFECTS, ids=lambda d: d.name)
def test_defect_fixture_draws_exactly_its_codes(defect: Defect) -> None:
    found = sorted({finding.code for finding in lint_defect(defect)})
    assert found == sorted(defect.codes)


@pytest.mark.parametrize("path", CLEAN, ids=lambda p: p.name)
def test_clean_fixture_draws_nothing(path: Path) -> None:
    assert api.lint_text(path.read_bytes(), path=path.name) == []


def test_fx501_needs_both_files() -> None:
    for defect in DEFECTS:
        if defect.name.startswith("FX501"):
            alone = api.lint_text(defect.path.read_bytes(), path=defect.name)
            assert alone == []
