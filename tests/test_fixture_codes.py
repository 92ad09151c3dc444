"""famfs-xml on the realistic fixtures: each defect file draws exactly its codes, clean
files draw nothing (libvirt's view of the same files is in tests/libvirt/)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from famfs_xml import api

sys.path.insert(0, str(Path(__file__).resolve().parent / "libvirt"))

from fixture_data import CLEAN, Defect, lint_defect, load_defects

DEFECTS = load_defects()


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
