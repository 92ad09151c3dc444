"""A property every safe fix keeps: the guest's RAM is never lowered.

RAM is what libvirt gives the guest: the NUMA cells, or without cells ``<memory>`` minus the
memory devices (see ``tests/sized_domains.guest_ram``). It is checked over every fixture (the
whole ``fixtures`` tree, so new corpora are covered as they are added), every example of the
rule catalog, and
generated domains in the shapes virt-install, virt-xml and hand edits produce, with and
without the backing device's real size. ``tests/libvirt/test_fix_safety_start.py`` adds the
other half: a fixed domain starts under TCG or still reports an error.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from famfs_xml import api
from famfs_xml.core.inventory import BackingDevice, DeviceFacts, Inventory
from famfs_xml.lint.catalog import load_catalog
from tests.conftest import FIXTURES
from tests.sized_domains import MiB, SizedDomain, guest_ram

sys.path.insert(0, str(Path(__file__).resolve().parent / "libvirt"))

from fixture_data import load_defects

BACKING = "/var/lib/famfs/backing"
PROPERTY = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def assert_ram_kept(data: bytes, facts: DeviceFacts | None = None, name: str = "") -> bytes:
    before = guest_ram(data)
    fixed = api.fix_text(data, facts=facts)
    if before is not None:
        after = guest_ram(fixed)
        assert after is not None and after >= before, f"{name}: RAM {before} -> {after}"
    return fixed


def _inventories() -> dict[str, Inventory]:
    """The saved device listing each defect fixture is linted with (expected.toml)."""
    return {
        defect.name: Inventory.from_file(defect.inventory)
        for defect in load_defects()
        if defect.inventory is not None
    }


FIXTURE_FILES = sorted(FIXTURES.rglob("*.xml"))
INVENTORIES = _inventories()


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_safe_fixes_never_lower_a_fixtures_ram(path: Path) -> None:
    data = path.read_bytes()
    if guest_ram_or_none(data) is None:
        pytest.skip("not a domain with a readable memory size")
    assert_ram_kept(data, name=path.name)
    if path.name in INVENTORIES:
        assert_ram_kept(data, INVENTORIES[path.name], name=path.name)


def guest_ram_or_none(data: bytes) -> int | None:
    try:
        return guest_ram(data)
    except Exception:  # not well-formed: FX001's business, and fix leaves it alone
        return None


CATALOG = load_catalog()


@pytest.mark.parametrize("code", sorted(code for code in CATALOG if code.startswith("FX")))
def test_safe_fixes_never_lower_a_catalog_examples_ram(code: str) -> None:
    example = CATALOG[code].example
    if example is None:
        pytest.skip("no example")
    facts = Inventory.from_json_text(example.inventory) if example.inventory else None
    for kind, text in (("bad", example.bad), ("good", example.good), ("fixed", example.fixed)):
        if text and guest_ram_or_none(text.encode()) is not None:
            assert_ram_kept(text.encode(), facts, name=f"{code} {kind}")


# Target sizes that people really write, slips included: virt-install's MiB read as KiB
# (x1024), GiB read as MiB (/1024), an odd MiB, an unaligned one, and ordinary sizes.
TARGETS = st.sampled_from([1, 2, 63, 64, 1023, 1024, 4096, 1024 * 1024, 16 * 1024 * 1024])
RAM = st.sampled_from([128, 1024, 4095, 4096, 5120, 32768])


@st.composite
def domains(draw: st.DrawFn) -> tuple[SizedDomain, int | None]:
    """A domain and the backing device's real size in MiB (None: unknown)."""
    ram = draw(RAM)
    nvdimm = draw(TARGETS)
    shape = draw(st.sampled_from(["virt-install", "numa", "numa-counted", "no-numa-counted"]))
    cells: tuple[int, ...] | None = None
    memory = ram
    if shape == "numa":
        cells = draw(st.sampled_from([(ram,), (ram // 2, ram - ram // 2)]))
        memory = draw(st.sampled_from([ram, ram + nvdimm]))
    elif shape == "numa-counted":  # the recipe's slip: the cell holds the device too
        cells = (ram + nvdimm,)
        memory = ram + nvdimm
    elif shape == "no-numa-counted":  # libvirt's reading: <memory> includes the device
        memory = ram + nvdimm
    max_memory = draw(st.sampled_from([None, memory, memory + nvdimm, 2 * memory]))
    current = draw(st.sampled_from([-1, memory // 2, memory + 1]))
    vm = SizedDomain(
        memory=memory,
        current=current,
        max_memory=max_memory,
        cells=cells,
        nvdimm=nvdimm,
        path=BACKING,
        famfs_settings=draw(st.booleans()),
        node=draw(st.sampled_from([None, False])),
    )
    backing = draw(st.sampled_from([None, nvdimm, 64, 1024, 2 * nvdimm]))
    return vm, backing


@PROPERTY
@given(domains())
def test_safe_fixes_never_lower_a_generated_domains_ram(
    case: tuple[SizedDomain, int | None],
) -> None:
    vm, backing = case
    facts = (
        None if backing is None else Inventory([BackingDevice(BACKING, "file", size=backing * MiB)])
    )
    data = vm.xml().encode()
    fixed = assert_ram_kept(data, facts, name=repr(case))
    assert api.fix_text(fixed, facts=facts) == fixed  # settled in one run
