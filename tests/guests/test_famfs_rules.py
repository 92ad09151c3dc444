"""What a guest shows for the other rules tagged ``famfs`` (FX301 has its own file).

One batch boots every guest below at once (they are independent, apart from the FX501 pair),
then each test looks at its own: famfs-xml's verdict on the domain file, what libvirt handed
QEMU (from QEMU's log), and what the guest kernel saw. docs/guests.md records the outcomes.

- ``rule-ref``: ``famfs-xml attach`` output as written, the reference.
- FX302: no ``alignsize`` on a regular file (a warning): the guest sees the same device.
  ``alignsize`` 3 MiB: QEMU refuses to start.
- FX303: no ``<pmem/>``: libvirt asks QEMU to preallocate, the whole file is allocated at
  start; the data already there survives.
- FX104/FX105: ``<memory>`` and ``<currentMemory>`` that do not add up: libvirt ignores them,
  the guest gets the NUMA cell.
- FX106/FX107: a NUMA cell of ``256 MB``: the guest gets 245 MiB (244.14 rounded up).
- FX305: a 48 MiB target on a 64 MiB file: the guest sees 16 MiB less, and its label area
  sits at target size minus label size (32 MiB into the file), not at the end of the file.
- FX306: a 65 MiB target on a 65 MiB file: rounded up to 66 MiB at start, QEMU refuses.
- FX401/FX403: BIOS and the ``pc`` machine: the guest sees the same device as on q35.
- FX501: two guests on one file with different label sizes: B's data area is A's label area;
  A's labels show up in B's data, and B's writes destroy them.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from guestlab import (
    Guest,
    GuestLab,
    GuestResult,
    MiB,
    Step,
    attach_domains,
    famfs_xml,
    make_backing,
)
from scenarios import PMEM_OFFSET, pmem_read

pytestmark = pytest.mark.guest

NAMESPACES = Step("namespaces", "ndctl list -N")
MEMORY = Step("memory", "dmesg | grep 'ACPI: SRAT: Node'")
FIRMWARE = Step("firmware", "if [ -d /sys/firmware/efi ]; then echo efi; else echo bios; fi")
LABEL_START = 48 * MiB  # A's 16 MiB label area: the last 16 MiB of the 64 MiB file
INIT_LABELS = Step(
    "init-labels",
    "ndctl disable-region region0 && ndctl init-labels nmem0 && ndctl enable-region region0",
)


@dataclass
class Batch:
    files: dict[str, Path]
    backings: dict[str, Path]
    results: dict[str, GuestResult]
    seed: bytes


def lint(*paths: Path, options: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(code, severity) of every finding famfs-xml reports on the files."""
    result = famfs_xml("lint", "--format", "json", *options, *map(str, paths))
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    return [(f["code"], f["severity"]) for f in json.loads(result.stdout)["findings"]]


def ram_end_mib(memory_step: str) -> float:
    """Where node 0's RAM ends, in MiB, from the kernel's SRAT lines (hotplug and
    non-volatile ranges left out)."""
    ends = [
        int(match.group(1), 16) + 1
        for line in memory_step.splitlines()
        if "hotplug" not in line and "non-volatile" not in line
        for match in [re.search(r"\[mem 0x[0-9a-f]+-0x([0-9a-f]+)\]", line)]
        if match
    ]
    assert ends, memory_step
    return max(ends) / MiB


def namespaces(result: GuestResult) -> list[tuple[str, str, int]]:
    step = result["namespaces"]
    assert step.exit_code == 0, step
    return [(n["dev"], n["mode"], n["size"]) for n in json.loads(step.stdout)]


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new)


@pytest.fixture(scope="module")
def batch(guest_lab: GuestLab) -> Iterator[Batch]:
    directory = Path(tempfile.mkdtemp(prefix="famfs-rules-", dir=guest_lab.root))
    try:
        yield _boot_batch(guest_lab, directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _boot_batch(lab: GuestLab, directory: Path) -> Batch:
    files: dict[str, Path] = {}
    backings: dict[str, Path] = {}
    seed = b"written by the host before the start"

    def one(
        name: str,
        edit: dict[str, str] | None = None,
        seed: dict[int, bytes] | None = None,
        **options: Any,
    ) -> None:
        backings[name] = make_backing(directory / f"{name}.img", 64, seed)
        (path,) = attach_domains(lab, directory, backings[name], [name], **options)
        text = path.read_text()
        for old, new in (edit or {}).items():
            text = _replace(text, old, new)
        path.write_text(text)
        files[name] = path

    align = "\n        <alignsize unit='MiB'>2</alignsize>"
    one("rule-ref")
    one("rule-fx302", {align: ""})
    one("rule-fx302-3mib", {align: "\n        <alignsize unit='MiB'>3</alignsize>"})
    one("rule-fx303", {"\n        <pmem/>": ""}, {PMEM_OFFSET: seed})
    one(
        "rule-fx104",
        {
            "<memory unit='MiB'>320</memory>": "<memory unit='MiB'>1024</memory>",
            "<currentMemory unit='MiB'>320<": "<currentMemory unit='MiB'>2048<",
        },
    )
    one(
        "rule-fx106",
        edit_base=lambda xml: _replace(
            xml, "memory='256' unit='MiB'/>", "memory='256' unit='MB'/>"
        ),
        numa=True,
    )
    one("rule-fx403", machine="pc")
    # FX306: attach refuses an odd size, so grow a good domain and its file by 1 MiB
    one(
        "rule-fx306",
        {
            "<size unit='MiB'>64</size>": "<size unit='MiB'>65</size>",
            ">320</maxMemory>": ">321</maxMemory>",
            "<memory unit='MiB'>320<": "<memory unit='MiB'>321<",
            "<currentMemory unit='MiB'>320<": "<currentMemory unit='MiB'>321<",
        },
    )
    with backings["rule-fx306"].open("r+b") as handle:
        handle.truncate(65 * MiB)
    # FX305: a target 16 MiB smaller than its file (oVirt's way)
    one(
        "rule-fx305",
        {
            "<size unit='MiB'>64</size>": "<size unit='MiB'>48</size>",
            ">320</maxMemory>": ">304</maxMemory>",
            "<memory unit='MiB'>320<": "<memory unit='MiB'>304<",
            "<currentMemory unit='MiB'>320<": "<currentMemory unit='MiB'>304<",
        },
    )
    # FX501: one file, a 16 MiB label in A and a 128 KiB one in B
    shared = make_backing(directory / "rule-fx501.img", 64)
    backings["rule-fx501-a"] = backings["rule-fx501-b"] = shared
    (files["rule-fx501-a"],) = attach_domains(lab, directory, shared, ["rule-fx501-a"])
    (files["rule-fx501-b"],) = attach_domains(
        lab, directory, shared, ["rule-fx501-b"], options=("--label", "128KiB")
    )

    block = LABEL_START // 4096
    steps = {
        "rule-ref": [FIRMWARE, NAMESPACES, MEMORY],
        "rule-fx302": [NAMESPACES],
        "rule-fx302-3mib": [],
        "rule-fx303": [Step("read", pmem_read("iflag=direct"))],
        "rule-fx104": [MEMORY],
        "rule-fx106": [MEMORY],
        "rule-fx403": [FIRMWARE, NAMESPACES],
        "rule-fx306": [],
        "rule-fx305": [NAMESPACES, INIT_LABELS],
        "rule-fx501-a": [
            NAMESPACES,
            INIT_LABELS,
            Step(
                "check-labels",
                "ndctl disable-region region0\nndctl check-labels -v nmem0 2>&1\nrc=$?\n"
                "ndctl enable-region region0\nexit $rc",
                after="rule-fx501-b.overwrite",
            ),
        ],
        "rule-fx501-b": [
            NAMESPACES,
            Step(
                "read-label-area",
                f"dd if=/dev/pmem0 bs=4096 skip={block} count=1 iflag=direct status=none"
                " | head -c 16 | tr -d '\\000'",
                after="rule-fx501-a.init-labels",
            ),
            Step(
                "overwrite",
                f"dd if=/dev/zero of=/dev/pmem0 bs=4096 seek={block} count=64 oflag=direct"
                " status=none",
            ),
        ],
    }
    results = lab.run([Guest(files[name].read_text(), steps[name]) for name in steps], timeout=420)
    return Batch(files, backings, results, seed)


def booted(batch: Batch, name: str) -> GuestResult:
    result = batch.results[name]
    assert result.start_error is None, result.start_error
    assert result.finished, result.diagnosis()
    return result


def test_reference_guest(batch: Batch) -> None:
    """What attach writes: a 64 MiB file with a 16 MiB label is a 48 MiB raw namespace."""
    assert lint(batch.files["rule-ref"]) == []
    ref = booted(batch, "rule-ref")
    assert namespaces(ref) == [("namespace0.0", "raw", 48 * MiB)]
    assert ram_end_mib(ref["memory"].stdout) == 256
    (backend,) = ref.memory_backends()
    assert (backend["share"], backend["align"], backend["pmem"]) == (True, 2 * MiB, True)
    assert "prealloc" not in backend


def test_fx302_no_alignsize_on_a_file_changes_nothing_the_guest_sees(batch: Batch) -> None:
    assert lint(batch.files["rule-fx302"]) == [("FX302", "warning")]
    guest = booted(batch, "rule-fx302")
    (backend,) = guest.memory_backends()
    assert "align" not in backend
    assert namespaces(guest) == namespaces(booted(batch, "rule-ref"))


def test_fx302_alignsize_not_a_power_of_two_does_not_start(batch: Batch) -> None:
    # an error whatever backs it, since QEMU refuses; 64 MiB is no multiple of 3 MiB: FX306 too
    assert sorted(lint(batch.files["rule-fx302-3mib"])) == [
        ("FX302", "error"),
        ("FX306", "error"),
    ]
    error = batch.results["rule-fx302-3mib"].start_error
    assert error is not None and "alignment 0x300000 must be a power of two" in error


def test_fx303_without_pmem_qemu_allocates_the_whole_file(batch: Batch) -> None:
    assert lint(batch.files["rule-fx303"]) == [("FX303", "warning")]
    guest = booted(batch, "rule-fx303")
    (backend,) = guest.memory_backends()
    assert backend.get("prealloc") is True and "pmem" not in backend
    assert guest["read"].stdout == batch.seed.decode()  # preallocation kept the data
    allocated = batch.backings["rule-fx303"].stat().st_blocks * 512
    reference = batch.backings["rule-ref"].stat().st_blocks * 512
    assert allocated >= 64 * MiB
    assert reference < 4 * MiB


def test_fx104_fx105_memory_totals_in_the_file_do_not_reach_the_guest(batch: Batch) -> None:
    codes = lint(batch.files["rule-fx104"])
    assert ("FX104", "warning") in codes and ("FX105", "warning") in codes
    guest = booted(batch, "rule-fx104")
    assert ram_end_mib(guest["memory"].stdout) == 256  # the cell, not <memory> (1 GiB)
    assert "-m size=262144k," in guest.qemu_log


def test_fx106_fx107_a_decimal_cell_gives_the_guest_less_memory(batch: Batch) -> None:
    codes = {code for code, _ in lint(batch.files["rule-fx106"])}
    assert {"FX106", "FX107"} <= codes
    guest = booted(batch, "rule-fx106")
    # 256 MB = 244.14 MiB, rounded up to whole MiB when the domain starts
    assert ram_end_mib(guest["memory"].stdout) == 245
    assert "-m size=250880k," in guest.qemu_log


def test_fx305_a_smaller_target_hides_the_end_and_moves_the_label_area(batch: Batch) -> None:
    """QEMU starts a target smaller than its file; the guest sees only the target, and the
    label area is at target size minus label size: a later resize would move it."""
    assert lint(batch.files["rule-fx305"], options=("--host",)) == [("FX305", "warning")]
    guest = booted(batch, "rule-fx305")
    assert namespaces(guest) == [("namespace0.0", "raw", 32 * MiB)]  # 48 - 16 MiB label
    assert guest["init-labels"].exit_code == 0, guest["init-labels"]
    with batch.backings["rule-fx305"].open("rb") as backing:
        backing.seek(32 * MiB)
        assert backing.read(15) == b"NAMESPACE_INDEX"
        backing.seek(LABEL_START)  # where the label area of a 64 MiB target would be
        assert backing.read(15) != b"NAMESPACE_INDEX"


def test_fx306_size_not_a_multiple_of_alignsize_does_not_start(batch: Batch) -> None:
    assert ("FX306", "error") in lint(batch.files["rule-fx306"])
    error = batch.results["rule-fx306"].start_error
    assert error is not None
    assert "backing store size 0x4100000 does not match 'size' option 0x4200000" in error


def test_fx401_fx403_bios_and_pc_machine_see_the_same_device(batch: Batch) -> None:
    info = ("--extend-select", "FX401,FX403")
    assert lint(batch.files["rule-ref"], options=info) == [("FX401", "info")]
    assert sorted(lint(batch.files["rule-fx403"], options=info)) == [
        ("FX401", "info"),
        ("FX403", "info"),
    ]
    ref, pc = booted(batch, "rule-ref"), booted(batch, "rule-fx403")
    assert ref["firmware"].stdout.strip() == pc["firmware"].stdout.strip() == "bios"
    assert namespaces(pc) == namespaces(ref)


def test_fx501_label_sizes_that_differ_let_one_guest_destroy_the_others_labels(
    batch: Batch,
) -> None:
    findings = lint(batch.files["rule-fx501-a"], batch.files["rule-fx501-b"])
    assert findings == [("FX501", "error"), ("FX501", "error")]
    a, b = booted(batch, "rule-fx501-a"), booted(batch, "rule-fx501-b")
    assert namespaces(a) == [("namespace0.0", "raw", 48 * MiB)]
    # QEMU rounds the data area (64 MiB - 128 KiB) down to alignsize: B's is [0, 62 MiB),
    # A's label area [48, 64 MiB)
    assert namespaces(b) == [("namespace0.0", "raw", 62 * MiB)]
    assert a["init-labels"].exit_code == 0, a["init-labels"]
    # B's data at 48 MiB is A's label area: A's label index is there to read (and write)
    assert b["read-label-area"].stdout == "NAMESPACE_INDEX"
    assert b["overwrite"].exit_code == 0, b["overwrite"]
    check = a["check-labels"]
    assert check.exit_code != 0, check
    assert "nsindex0 signature invalid" in check.stdout
