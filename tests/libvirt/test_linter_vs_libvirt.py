"""famfs-xml against real libvirt, on every fixture and on what ``fix`` makes of it.

The promise checked here: when famfs-xml reports no error, libvirt accepts the domain; when
libvirt rejects a domain, famfs-xml reports at least one error. And once famfs-xml has nothing
left to say (no error, no warning), libvirt keeps every size of the file as written.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fixture_data import CLEAN, FIXTURES, Defect, lint_defect, load_defects, memory_facts, parse
from libvirt_judge import LibvirtJudge, Verdict, domain_name

from famfs_xml import api
from famfs_xml.core.findings import Applicability, Finding, Severity
from famfs_xml.core.inventory import Inventory
from famfs_xml.lint.catalog import load_catalog

DEFECTS = load_defects()
CATALOG = load_catalog()


def _judge(judge: LibvirtJudge, data: bytes) -> Verdict:
    """Schema, ``define --validate`` and the QEMU command line: all three must pass."""
    for step in (judge.validate, judge.define, judge.to_native):
        verdict = step(data)
        if not verdict.ok:
            return verdict
    return Verdict(True)


def _release(judge: LibvirtJudge) -> str:
    return "{}.{}".format(*judge.libvirt_version)


def _errors(findings: list[Finding]) -> list[Finding]:
    """Errors, and FX004: a file that is no domain at all is only a warning (rules.md), since
    directory scans skip such files; libvirt of course refuses to define it."""
    return [f for f in findings if f.severity is Severity.ERROR or f.code == "FX004"]


def _fixed(defect: Defect, unsafe: bool) -> bytes:
    facts = Inventory.from_file(defect.inventory) if defect.inventory else None
    return api.fix_text(
        defect.path.read_bytes(), path=defect.name, facts=facts, unsafe_fixes=unsafe
    )


def _safely_fixable(defect: Defect) -> bool:
    """Safe fixes alone repair it; a fixture linted with others (FX501's pairs) is a tie
    that FX501 has no majority to move to."""
    return not defect.lint_with and all(
        CATALOG[code].fix is Applicability.SAFE for code in defect.codes
    )


@pytest.mark.parametrize(
    ("defect", "release"),
    [(d, release) for d in DEFECTS for release in d.rejected_by()],
    ids=lambda v: v.name if isinstance(v, Defect) else v,
)
def test_what_libvirt_rejects_draws_an_error(defect: Defect, release: str) -> None:
    """For the release that rejects the file, and for an unknown release."""
    for target in (release, None):
        found = lint_defect(defect, libvirt_version=target)
        assert _errors(found), f"libvirt {release} rejects this file; famfs-xml must say so"


@pytest.mark.parametrize("path", CLEAN, ids=lambda p: p.name)
def test_clean_fixture_no_error_and_libvirt_agrees(libvirt_judge: LibvirtJudge, path: Path) -> None:
    data = path.read_bytes()
    assert not _errors(api.lint_text(data, path=path.name))
    verdict = _judge(libvirt_judge, data)
    assert verdict.ok, verdict.message


def _variants() -> list[tuple[Defect, str, bytes]]:
    """Each defect fixture as written, safely fixed and unsafely fixed (when that differs)."""
    variants = []
    for defect in DEFECTS:
        seen: set[bytes] = set()
        for label, data in (
            ("as-written", defect.path.read_bytes()),
            ("safe-fixed", _fixed(defect, unsafe=False)),
            ("unsafe-fixed", _fixed(defect, unsafe=True)),
        ):
            if data not in seen:
                seen.add(data)
                variants.append((defect, label, data))
    return variants


@pytest.mark.parametrize(
    ("defect", "label", "data"),
    _variants(),
    ids=lambda v: v.name if isinstance(v, Defect) else (v if isinstance(v, str) else ""),
)
def test_no_error_means_libvirt_accepts(
    libvirt_judge: LibvirtJudge, defect: Defect, label: str, data: bytes
) -> None:
    """No error from famfs-xml => libvirt accepts (FX306/FX501 errors are QEMU/famfs-level),
    famfs-xml speaking of the judge's own release."""
    errors = _errors(lint_defect(defect, data, libvirt_version=_release(libvirt_judge)))
    # define --validate checks libvirt's schema too (stricter than virt-xml-validate: FX003)
    verdict = libvirt_judge.define(data)
    if verdict.ok:
        verdict = libvirt_judge.to_native(data)
    assert verdict.ok or errors, f"libvirt rejects, famfs-xml is silent: {verdict.message}"


@pytest.mark.parametrize("defect", [d for d in DEFECTS if _safely_fixable(d)], ids=lambda d: d.name)
def test_safe_fix_gives_what_libvirt_runs_as_written(
    libvirt_judge: LibvirtJudge, defect: Defect
) -> None:
    """A safely fixable fixture, once fixed, is clean, accepted, and not rewritten by libvirt."""
    fixed = _fixed(defect, unsafe=False)
    if defect.name.startswith("FX005"):
        assert fixed == defect.path.read_bytes()  # an info rule: `fix` leaves it alone
    else:
        assert fixed != defect.path.read_bytes()
    remaining = [f for f in lint_defect(defect, fixed) if f.code != "FX501"]
    assert remaining == [] or defect.name.startswith("FX005")
    verdict = _judge(libvirt_judge, fixed)
    assert verdict.ok, verdict.message
    name = domain_name(fixed)
    assert name is not None
    assert memory_facts(parse(libvirt_judge.dumpxml_inactive(name))) == memory_facts(parse(fixed))


# Not a well-formed domain (FX001, FX004): libvirt stops before it reaches its schema.
_WELL_FORMED = [d.path for d in DEFECTS if not d.name.startswith(("FX001", "FX004"))]


@pytest.mark.parametrize("path", [*CLEAN, *_WELL_FORMED], ids=lambda p: getattr(p, "name", str(p)))
def test_fx901_fires_where_libvirt_finds_a_schema_error(
    libvirt_judge: LibvirtJudge, path: Path
) -> None:
    """FX901 (opt-in) agrees with ``define --validate``, which checks the schema first."""
    data = path.read_bytes()
    findings = api.lint_text(data, path=path.name, extend_select=["FX901"])
    codes = {finding.code for finding in findings}
    verdict = libvirt_judge.define(data)
    schema_failed = "failed to validate against schema" in verdict.message
    if "FX003" in codes:  # famfs-xml does not validate a document with a DOCTYPE
        assert "FX901" not in codes
        return
    assert ("FX901" in codes) == schema_failed, verdict.message


# FX201 on a domain without NUMA cells: the cell its safe fix writes is the one libvirt 9.6
# and later add themselves at define (<memory> minus the memory devices, <memory> kept).
_NO_CELL = [
    FIXTURES / "defects" / "FX201-no-numa-cell.xml",
    FIXTURES / "clients" / "virt-install" / "virt-xml-no-numa.xml",
]


@pytest.mark.parametrize("path", _NO_CELL, ids=lambda p: p.name)
def test_fx201_fix_is_the_cell_libvirt_adds(libvirt_judge: LibvirtJudge, path: Path) -> None:
    original = path.read_bytes()
    fixed = api.fix_text(original, path=path.name, libvirt_version=_release(libvirt_judge))
    name = domain_name(original)
    assert name is not None
    accepted = libvirt_judge.define(original)
    if libvirt_judge.libvirt_version >= (9, 6):
        assert accepted.ok, accepted.message
        libvirts_own = memory_facts(parse(libvirt_judge.dumpxml_inactive(name)))
    else:
        assert not accepted.ok  # 9.0 refuses: libvirt's own arithmetic stands in for its cell
        facts = memory_facts(parse(original))
        devices = sum(device["size"] for device in facts["memory_devices"])
        libvirts_own = {**facts, "cells": [("0", "0-1", facts["memory"] - devices)]}
    verdict = libvirt_judge.define(fixed)
    assert verdict.ok, verdict.message
    held = memory_facts(parse(libvirt_judge.dumpxml_inactive(name)))
    for key in ("maxMemory", "memory", "currentMemory", "cells"):
        assert held[key] == libvirts_own[key], key
    assert memory_facts(parse(fixed))["cells"] == held["cells"]  # and the file says so
