"""What ``fix`` makes of a domain either starts under TCG or still reports an error.

The domains are the shapes of ``tests/test_fix_safety.py`` (virt-install's, virt-xml's, the
recipe's slips), scaled down to a 64 MiB regular file as the nvdimm's backing, and fixed with
safe fixes only: without device facts, or with ``--host`` facts read from the real file.
QEMU's own verdicts on the sizes that safe fixes used to write are shown here too.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from libvirt_judge import LibvirtJudge

from famfs_xml import api
from famfs_xml.core.findings import Severity
from famfs_xml.host.facts import HostFacts

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.sized_domains import MiB, SizedDomain

TiB_IN_MIB = 1024 * 1024

# (name, the domain, fixed with --host facts of the 64 MiB file?, what fix leaves)
STARTS, ERROR = "starts", "still reports an error"
CASES = [
    ("virt-install", SizedDomain(memory=128, nvdimm=64, famfs_settings=False), False, STARTS),
    ("mib-slip", SizedDomain(memory=128, nvdimm=TiB_IN_MIB, famfs_settings=False), False, ERROR),
    (
        "mib-slip-host",
        SizedDomain(memory=128, nvdimm=TiB_IN_MIB, famfs_settings=False),
        True,
        STARTS,
    ),
    (
        "mib-slip-numa",
        SizedDomain(memory=192, max_memory=192, cells=(128,), nvdimm=TiB_IN_MIB),
        False,
        ERROR,
    ),
    ("one-mib", SizedDomain(memory=128, nvdimm=1, famfs_settings=False), False, ERROR),
    ("counted-in-memory", SizedDomain(memory=192, max_memory=192, nvdimm=64), False, STARTS),
    # FX305 is a warning for a target smaller than its backing: QEMU starts it (oVirt's way)
    ("smaller", SizedDomain(memory=160, max_memory=160, cells=(128,), nvdimm=32), True, STARTS),
    (
        "odd-mib-host",
        SizedDomain(memory=192, max_memory=192, cells=(128,), nvdimm=63),
        True,
        STARTS,
    ),
    ("odd-mib", SizedDomain(memory=192, max_memory=192, cells=(128,), nvdimm=63), False, ERROR),
    ("larger", SizedDomain(memory=256, max_memory=192, cells=(128,), nvdimm=128), True, STARTS),
    (
        "cells-equal-memory",
        SizedDomain(memory=192, max_memory=512, cells=(192,), nvdimm=64),
        False,
        STARTS,
    ),
    (
        "cells-equal-refused",
        SizedDomain(memory=192, max_memory=192, cells=(192,), nvdimm=64),
        False,
        ERROR,
    ),
]


@pytest.fixture
def backing(tmp_path: Path) -> Path:
    path = tmp_path / "famfs-backing"
    with path.open("wb") as handle:
        handle.truncate(64 * MiB)
    return path


def start_error(judge: LibvirtJudge, name: str, xml: bytes | str) -> str:
    """Start ``xml`` under TCG: libvirt's error and QEMU's log, or '' when it runs."""
    try:
        verdict = judge.start(xml)
        return "" if verdict.ok else verdict.message + "\n" + judge.qemu_log(name)
    finally:
        judge.destroy(name)
        judge.undefine(name)


@pytest.mark.parametrize(("name", "vm", "host", "outcome"), CASES, ids=[c[0] for c in CASES])
def test_a_safely_fixed_domain_starts_or_still_reports_an_error(
    libvirt_judge: LibvirtJudge, backing: Path, name: str, vm: SizedDomain, host: bool, outcome: str
) -> None:
    facts = HostFacts() if host else None
    xml = vm.with_(name=f"fix-safety-{name}", path=str(backing)).xml()
    fixed = api.fix_text(xml, facts=facts)
    errors = [f.code for f in api.lint_text(fixed, facts=facts) if f.severity is Severity.ERROR]
    if outcome == ERROR:
        assert errors, "an error must remain: the domain is not ready"
        return
    assert errors == []
    error = start_error(libvirt_judge, f"fix-safety-{name}", fixed)
    assert error == "", f"fix left no error, yet it does not start:\n{fixed.decode()}\n{error}"


def test_a_total_kept_from_the_corrected_size_does_not_start(
    libvirt_judge: LibvirtJudge, backing: Path
) -> None:
    """A 1 TiB target on a 64 MiB file: a run that applied FX103 computed from 1 TiB next
    to FX305's correction left maxMemory at 1 TiB + 128 MiB, which QEMU refuses under TCG.
    The fix run now settles the size first, and its result starts."""
    vm = SizedDomain(memory=192, max_memory=192, cells=(128,), nvdimm=TiB_IN_MIB)
    vm = vm.with_(name="fix-safety-stale", path=str(backing))
    stale = vm.with_(max_memory=TiB_IN_MIB + 128, nvdimm=64).xml()
    assert "phys-bits too low" in start_error(libvirt_judge, vm.name, stale)
    fixed = api.fix_text(vm.xml(), facts=HostFacts())
    assert b"<maxMemory slots='1'>196608</maxMemory>" in fixed
    assert start_error(libvirt_judge, vm.name, fixed) == ""


def test_totals_made_consistent_with_a_mib_slip_do_not_start(
    libvirt_judge: LibvirtJudge, backing: Path
) -> None:
    """What safe fixes used to make of virt-install's target.size=1048576 without device
    facts: every total raised to the 1 TiB nvdimm. Lint was clean; QEMU refuses it."""
    total = 128 + TiB_IN_MIB
    made_consistent = SizedDomain(
        name="fix-safety-consistent",
        memory=total,
        max_memory=total,
        cells=(128,),
        nvdimm=TiB_IN_MIB,
        path=str(backing),
    ).xml()
    assert start_error(libvirt_judge, "fix-safety-consistent", made_consistent) != ""
