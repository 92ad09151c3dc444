"""``devices``, ``device convert`` and ``host check`` inside real guests (docs/guests.md).

The guests and their steps are in ``device_guests.py``; they boot once for this module. Each
test looks at the steps of its scenario: what famfs-xml printed and its exit code, what the
real ndctl and daxctl list before and after, and which ndctl/daxctl calls famfs-xml made
(every call inside is traced). The tests named ``test_d1`` ... ``test_d8`` are the defects
found in a real guest and fixed in ``famfs_xml/host``; each fails on the code before its fix.
The last tests hold the fake machine and fake tools of ``tests/devices`` against the guests.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import device_guests
import pytest
from device_guests import (
    HERE,
    MARKER,
    boot_all,
    fh002_hint,
    finding_codes,
    json_of,
    listings,
    ran,
    table_rows,
)
from guestlab import GuestLab, GuestResult, MiB

sys.path.insert(0, str(HERE.parent / "devices"))

import devices_fake_tools
import sysfs_view
from devices_fake_machine import FakeMachine

pytestmark = pytest.mark.guest

Results = dict[str, GuestResult]


@pytest.fixture(scope="module")
def guests(guest_lab: GuestLab) -> Iterator[Results]:
    directory = Path(tempfile.mkdtemp(prefix="device-tools-", dir=guest_lab.root))
    try:
        yield boot_all(guest_lab, directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def booted(guests: Results, name: str) -> GuestResult:
    result = guests.get(name)
    assert result is not None, f"{name} was not booted (see dev-beyond's FH002 hint)"
    assert result.start_error is None, result.start_error
    assert result.finished, result.diagnosis()
    return result


def refused(result: GuestResult, step: str) -> str:
    """A ``device convert --yes`` that refused (device_guests.refused) in a guest whose
    ndctl and daxctl calls were traced at all."""
    assert result.tool_calls(), "no ndctl/daxctl call of this guest was traced at all"
    return device_guests.refused(result, step)


def converted(result: GuestResult, step: str, name: str, mode: str) -> list[list[str]]:
    """A ``device convert --yes`` that worked and says so; the tool calls it made."""
    out = ran(result, step)
    assert f"{name} is now in {mode} mode" in out, result[step]
    return result.tool_calls(step)


# -- devices against ndctl and daxctl --------------------------------------------------------

LISTED = [
    ("dev-labels", "raw"),
    ("dev-labels", "seed"),
    ("dev-labels", "two"),
    ("dev-labels", "devdax-0-1"),
    ("dev-pmem64", "raw"),
    ("dev-pmem64", "fsdax"),
    ("dev-pmem64", "devdax"),
    ("dev-pmem64", "unbound"),
    ("dev-sysram", "system-ram"),
    ("dev-sysram", "back"),
    ("dev-beyond", "beyond"),
    ("dev-beyond", "beyond-devdax"),
    ("dev-misaligned", "misaligned"),
    ("dev-hint", "legacy"),
    ("dev-hint", "devdax"),
]


@pytest.mark.parametrize(("guest", "when"), LISTED)
def test_devices_json_says_what_ndctl_and_daxctl_say(
    guests: Results, guest: str, when: str
) -> None:
    """Every device node and namespace, with the sizes, modes and nodes the real tools list,
    in natural order (ndctl lists a region's newest namespace first)."""
    shown, expected = listings(booted(guests, guest), when)
    assert shown == expected


def test_the_forked_famfs_xml_is_the_process(guests: Results) -> None:
    """The tests run famfs-xml forked from a process that imported it: the same output."""
    guest = booted(guests, "dev-misaligned")
    assert ran(guest, "devices-process") == ran(guest, "devices-misaligned")


# -- the defects -----------------------------------------------------------------------------


def test_d1_a_misaligned_memmap_namespace_is_disabled_and_not_converted(guests: Results) -> None:
    guest = booted(guests, "dev-misaligned")
    assert ran(guest, "device-nodes") == ""  # no /dev/pmem0: the kernel could not map it
    (namespace,) = json_of(guest, "devices-misaligned")["namespaces"]
    assert (namespace["state"], namespace["paths"], namespace["size"]) == ("disabled", [], 31 * MiB)
    assert "not 2 MiB aligned" in namespace["reason"]
    assert table_rows(ran(guest, "table"))[1] == [
        "-",
        "31 MiB (32505856)",
        "-",
        "fsdax",
        "0",
        "namespace0.0",
    ]
    assert "namespace0.0 is disabled: no driver is bound" in ran(guest, "table")
    out = refused(guest, "convert")
    assert "already" not in out
    assert "namespace0.0 is disabled" in out


def test_d1b_the_empty_namespace_after_init_labels_is_refused_even_with_force(
    guests: Results,
) -> None:
    guest = booted(guests, "dev-labels")
    (namespace,) = json_of(guest, "devices-seed")["namespaces"]
    assert (namespace["name"], namespace["size"], namespace["state"]) == (
        "namespace0.0",
        0,
        "disabled",
    )
    assert "size 0" in ran(guest, "table-seed")
    out = refused(guest, "convert-seed")
    assert "size 0" in out and "destroys" not in out
    assert "ndctl create-namespace --region=region0 --mode=fsdax" in out
    assert "use --force" not in guest["convert-seed"].stderr
    # what ndctl itself would have said
    assert guest["ndctl-convert-seed"].exit_code != 0


def test_d2_d8_the_second_namespace_by_its_block_device_and_natural_order(
    guests: Results,
) -> None:
    guest = booted(guests, "dev-labels")
    ndctl_order = [entry["dev"] for entry in json_of(guest, "ndctl-two")]
    assert ndctl_order == ["namespace0.2", "namespace0.1", "namespace0.0"]
    rows = table_rows(ran(guest, "table-two"))
    assert [row[0] for row in rows[1:]] == ["/dev/pmem0", "/dev/pmem0.1", "-"]
    assert [row[-1] for row in rows[1:]] == ["namespace0.0", "namespace0.1", "namespace0.2"]
    calls = converted(guest, "convert-pmem0-1", "namespace0.1", "devdax")
    assert calls == [
        ["ndctl", "create-namespace", "--force", "--reconfig=namespace0.1", "--mode=devdax"]
    ]
    after = {entry["dev"]: entry for entry in json_of(guest, "ndctl-devdax-0-1")}
    assert after["namespace0.1"]["mode"] == "devdax"
    assert after["namespace0.1"]["daxregion"]["devices"][0]["chardev"] == "dax0.1"
    assert after["namespace0.0"]["mode"] == "fsdax"  # the other namespace is untouched


def test_d3_a_namespace_whose_dax_device_is_system_ram(guests: Results) -> None:
    guest = booted(guests, "dev-sysram")
    out = refused(guest, "convert-namespace-busy")
    assert "dax0.0 is in system-ram mode with 1 memory block online" in out
    assert "famfs-xml device convert dax0.0 --mode devdax --yes --force" in out
    assert "then famfs-xml device convert namespace0.0 --mode fsdax --yes" in out
    # what ndctl does when asked anyway: the reason for the refusal
    busy = guest["ndctl-convert-busy"]
    assert busy.exit_code == 240 and "Device or resource busy" in busy.stderr
    # the two steps, as the plan names them
    calls = converted(guest, "convert-offline", "dax0.0", "devdax")
    assert calls == [["daxctl", "reconfigure-device", "--mode=devdax", "-f", "dax0.0"]]
    calls = converted(guest, "convert-namespace", "namespace0.0", "fsdax")
    assert calls == [
        ["ndctl", "create-namespace", "--force", "--reconfig=namespace0.0", "--mode=fsdax"]
    ]
    (end,) = json_of(guest, "ndctl-end")
    assert (end["mode"], end["blockdev"], end["size"]) == ("fsdax", "pmem0", 250 * MiB)


def test_d4_fh002_hints_a_range_that_fits_and_boots_clean(guests: Results) -> None:
    """The hint is a 64 MiB range inside RAM and clear of the good 32 MiB range at 160 MiB
    (the FH002 fix after the guests: an overlapping hint shrank the device to 32 MiB)."""
    beyond = booted(guests, "dev-beyond")
    assert finding_codes(beyond, "check") == ["FH002"]
    hint = fh002_hint(beyond)
    assert hint is not None, beyond["check"]
    # the range beyond RAM is a namespace and a /dev/pmem1, but not memory: writes are lost
    sizes = {n["name"]: n["size"] for n in json_of(beyond, "devices-beyond")["namespaces"]}
    assert sizes == {"namespace0.0": 32 * MiB, "namespace1.0": 64 * MiB}
    assert ran(beyond, "write-read") != "beyond RAM"
    # the second boot with the hint's memmap= and the good range
    guest = booted(guests, "dev-hint")
    assert guest["check"].exit_code == 0, guest["check"]
    assert finding_codes(guest, "check") == []
    assert ran(guest, "write-read-0") == "inside RAM 0"
    assert ran(guest, "write-read-1") == "inside RAM 1"
    namespaces = json_of(guest, "ndctl-legacy")
    assert sorted((n["mode"], n["map"], n["size"]) for n in namespaces) == [
        ("fsdax", "mem", 32 * MiB),
        ("fsdax", "mem", 64 * MiB),
    ]


def test_d5_system_ram_with_no_whole_memory_block_is_refused(guests: Results) -> None:
    guest = booted(guests, "dev-pmem64")
    out = refused(guest, "convert-small")
    assert "0x100200000-0x103ffffff" in out and "no whole 128 MiB memory block" in out
    assert "use --force" not in guest["convert-small"].stderr
    # what daxctl does when asked anyway: the kernel refuses, the device is left unbound
    small = guest["daxctl-small"]
    assert small.exit_code == 234 and "failed to enable" in small.stderr
    (device,) = json_of(guest, "daxctl-unbound")
    assert device["state"] == "disabled"


def test_d6_not_root_the_in_use_check_says_it_could_not_check(guests: Results) -> None:
    guest = booted(guests, "dev-pmem64")
    as_root = refused(guest, "convert-open")
    assert re.search(r"process \d+ \(sleep\) has open /dev/pmem0", as_root)
    outcome = guest["convert-not-root"]
    # uid 65534 runs famfs-xml from the checkout (PYTHONPATH) or an installed copy
    assert "No module named" not in outcome.stderr, "uid 65534 cannot import famfs_xml"
    assert outcome.exit_code == 1, outcome
    assert "Traceback" not in outcome.stderr
    assert re.search(r"could not check \d+ process", outcome.stdout)
    assert "run as root" in outcome.stderr
    assert "refused to convert namespace0.0" in outcome.stderr
    assert "Permission denied" not in outcome.stderr.replace("Permission denied: run as root", "")


def test_d7_fsdax_to_devdax_keeps_the_data_as_the_plan_says(guests: Results) -> None:
    guest = booted(guests, "dev-pmem64")
    assert ran(guest, "mark") == MARKER
    plan = ran(guest, "plan-keep", code=1)
    assert "Data:         keeps the data" in plan
    assert "destroys all data" not in plan
    converted(guest, "convert-keep", "namespace0.0", "devdax")
    assert ran(guest, "read-kept").strip() == MARKER


# -- the conversions of the guide ------------------------------------------------------------


def test_raw_to_fsdax(guests: Results) -> None:
    guest = booted(guests, "dev-pmem64")
    calls = converted(guest, "convert-fsdax", "namespace0.0", "fsdax")
    assert calls == [
        ["ndctl", "create-namespace", "--force", "--reconfig=namespace0.0", "--mode=fsdax"]
    ]
    (namespace,) = json_of(guest, "ndctl-fsdax")
    assert (namespace["blockdev"], namespace["size"], namespace["align"]) == (
        "pmem0",
        62 * MiB,
        2 * MiB,
    )


def test_raw_to_devdax_to_system_ram_and_back(guests: Results) -> None:
    guest = booted(guests, "dev-sysram")
    assert "Current mode: raw" in ran(guest, "convert-devdax")
    converted(guest, "convert-devdax", "namespace0.0", "devdax")
    calls = converted(guest, "convert-system-ram", "dax0.0", "system-ram")
    assert calls == [["daxctl", "reconfigure-device", "--mode=system-ram", "dax0.0"]]
    (device,) = json_of(guest, "daxctl-system-ram")
    assert (device["mode"], device["online_memblocks"], device["size"]) == (
        "system-ram",
        1,
        250 * MiB,
    )
    assert "memory33.state online" in ran(guest, "sysfs-system-ram")
    converted(guest, "convert-offline", "dax0.0", "devdax")
    (device,) = json_of(guest, "daxctl-back")
    assert device["mode"] == "devdax"
    assert "memory33" not in ran(guest, "sysfs-back")  # the block went away with kmem


def test_legacy_memmap_pmem_to_devdax(guests: Results) -> None:
    guest = booted(guests, "dev-hint")
    out = ran(guest, "convert-devdax")
    assert "the start of /dev/pmem0 is lost" in out
    assert "namespace0.0 is now in devdax mode" in out
    legacy = {n["dev"]: n["size"] for n in json_of(guest, "ndctl-legacy")}["namespace0.0"]
    (device,) = json_of(guest, "daxctl-devdax")
    # ndctl's info block and page metadata (map=dev) take the first 2 MiB
    assert (device["chardev"], device["size"], device["mode"]) == (
        "dax0.0",
        legacy - 2 * MiB,
        "devdax",
    )
    assert finding_codes(guest, "check-devdax") == []


# -- the refusals ----------------------------------------------------------------------------


def test_refused_while_a_famfs_superblock_is_on_a_raw_namespace(guests: Results) -> None:
    out = refused(booted(guests, "dev-pmem64"), "convert-famfs")
    assert "/dev/pmem0 holds a famfs file system (superblock)" in out


def test_refused_while_mounted(guests: Results) -> None:
    guest = booted(guests, "dev-pmem64")
    out = refused(guest, "convert-mounted")
    assert "/dev/pmem0 is mounted on /run/fx/mnt (type minix)" in out
    busy = guest["ndctl-convert-mounted"]  # ndctl refuses too, after its own checks
    assert busy.exit_code == 240 and "Device or resource busy" in busy.stderr


def test_refused_while_memory_is_online_without_force(guests: Results) -> None:
    guest = booted(guests, "dev-sysram")
    out = refused(guest, "convert-online")
    assert "1 memory block(s) of dax0.0 are online as system RAM" in out
    assert guest["daxctl-busy"].exit_code == 240  # daxctl without -f: EBUSY


def test_refused_while_the_kernel_onlines_memory_by_itself(guests: Results) -> None:
    guest = booted(guests, "dev-sysram")
    out = refused(guest, "convert-auto-online")
    assert "auto_online_blocks is 'online'" in out
    daxctl = guest["daxctl-auto-online"]
    assert daxctl.exit_code == 240 and "kernel policy will auto-online memory" in daxctl.stderr


def test_an_unbound_device_is_bound_again_and_keeps_its_data(guests: Results) -> None:
    guest = booted(guests, "dev-pmem64")
    assert table_rows(ran(guest, "table-unbound"))[1][3] == "unbound"
    out = ran(guest, "convert-rebind")
    assert "keeps the data" in out and "dax0.0 is now in devdax mode" in out
    assert ran(guest, "read-rebound").strip() == MARKER


# -- host check ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("guest", "step", "codes"),
    [
        ("dev-beyond", "check", ["FH002"]),
        ("dev-misaligned", "check", ["FH008"]),
        ("dev-hint", "check", []),
        ("dev-sysram", "check-system-ram", ["FH005"]),
        ("dev-sysram", "check-auto-online", ["FH004"]),
        ("dev-pmem64", "check-unbound", ["FH006"]),
    ],
)
def test_host_check(guests: Results, guest: str, step: str, codes: list[str]) -> None:
    result = booted(guests, guest)
    assert finding_codes(result, step) == codes
    assert result[step].exit_code == (1 if codes else 0)


# -- the fakes of tests/devices, held against the guests -------------------------------------

MachineBuilder = Callable[[FakeMachine], None]


def fake_tool(machine: FakeMachine, tool: str, *args: str) -> tuple[int, str, str]:
    """Run the fake ndctl or daxctl on ``machine``: (exit code, stdout, stderr)."""
    run = devices_fake_tools.ndctl if tool == "ndctl" else devices_fake_tools.daxctl
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run(machine, "normal", list(args))
    return code, out.getvalue(), err.getvalue()


def _raw64(m: FakeMachine) -> None:
    m.add_namespace("namespace0.0", mode="raw", size=64 * MiB)


def _fsdax64(m: FakeMachine) -> None:
    _raw64(m)
    m.set_namespace_mode("namespace0.0", "fsdax")


def _devdax64(m: FakeMachine) -> None:
    _fsdax64(m)
    m.set_namespace_mode("namespace0.0", "devdax")


def _unbound64(m: FakeMachine) -> None:
    _devdax64(m)
    fake_tool(m, "daxctl", "reconfigure-device", "--mode=system-ram", "dax0.0")


def _devdax256(m: FakeMachine) -> None:
    m.add_namespace("namespace0.0", mode="raw", size=256 * MiB)
    m.set_namespace_mode("namespace0.0", "devdax")


def _system_ram256(m: FakeMachine) -> None:
    _devdax256(m)
    m.set_dax_mode("dax0.0", "system-ram")
    m.set_memory_blocks(0x108000000, 128 * MiB, "online")


def _labelled_raw(m: FakeMachine) -> None:
    """Before init-labels QEMU's label area is not a label: a raw 48 MiB namespace."""
    m.add_namespace("namespace0.0", mode="raw", size=48 * MiB)


def _seed(m: FakeMachine) -> None:
    m.add_seed_namespace("namespace0.0")


def _two(m: FakeMachine) -> None:
    m.add_labelled_region(2)


def _second_devdax(m: FakeMachine) -> None:
    _two(m)
    m.set_namespace_mode("namespace0.1", "devdax")


def _good_and_beyond(m: FakeMachine) -> None:
    """memmap=32M!160M (region0) and memmap=64M!2G (region1, beyond RAM: no NUMA node)."""
    m.add_namespace("namespace0.0", mode="fsdax", size=32 * MiB, resource=160 * MiB, legacy=True)
    m.add_namespace(
        "namespace1.0", mode="fsdax", size=64 * MiB, resource=2 << 30, legacy=True, numa_node=-1
    )


def _beyond_devdax(m: FakeMachine) -> None:
    _good_and_beyond(m)
    m.set_namespace_mode("namespace1.0", "devdax")


def _misaligned(m: FakeMachine) -> None:
    m.add_disabled_namespace("namespace0.0")


def _legacy_at(start: int) -> MachineBuilder:
    """The hint's 64 MiB at ``start`` and the good 32 MiB at 160 MiB, numbered by address."""

    def build(m: FakeMachine) -> None:
        ranges = sorted([(start, 64 * MiB), (160 * MiB, 32 * MiB)])
        for region, (resource, size) in enumerate(ranges):
            m.add_namespace(
                f"namespace{region}.0", mode="fsdax", size=size, resource=resource, legacy=True
            )

    return build


def _legacy_devdax_at(start: int) -> MachineBuilder:
    def build(m: FakeMachine) -> None:
        _legacy_at(start)(m)
        m.set_namespace_mode("namespace0.0", "devdax")

    return build


FAKES: dict[tuple[str, str], MachineBuilder] = {
    ("dev-labels", "raw"): _labelled_raw,
    ("dev-labels", "seed"): _seed,
    ("dev-labels", "two"): _two,
    ("dev-labels", "devdax-0-1"): _second_devdax,
    ("dev-pmem64", "raw"): _raw64,
    ("dev-pmem64", "fsdax"): _fsdax64,
    ("dev-pmem64", "devdax"): _devdax64,
    ("dev-pmem64", "unbound"): _unbound64,
    ("dev-sysram", "system-ram"): _system_ram256,
    ("dev-sysram", "back"): _devdax256,
    ("dev-beyond", "beyond"): _good_and_beyond,
    ("dev-beyond", "beyond-devdax"): _beyond_devdax,
    ("dev-misaligned", "misaligned"): _misaligned,
}


def fake_of(guests: Results, guest: str, when: str, root: Path) -> FakeMachine:
    """The fake machine of ``guest`` at ``when``: 256 MiB of RAM in two online memory blocks,
    auto-online off, and the devices as the test's fake builds them."""
    machine = FakeMachine(root)
    machine.set_memory_blocks(0, 256 * MiB, "online")
    machine.set_auto_online("offline")
    if guest == "dev-hint":
        start = memmap_start(guests)
        build = _legacy_at(start) if when == "legacy" else _legacy_devdax_at(start)
    else:
        build = FAKES[(guest, when)]
    build(machine)
    return machine


def memmap_start(guests: Results) -> int:
    hint = fh002_hint(booted(guests, "dev-beyond"))
    assert hint is not None
    number = hint.split("!")[1]
    return int(number[:-1]) << {"K": 10, "M": 20, "G": 30}[number[-1]]


def _uuids_out(value: Any) -> Any:
    """ndctl's JSON with every non-zero uuid as ``<uuid>``: they differ on every run."""
    if isinstance(value, list):
        return [_uuids_out(item) for item in value]
    if isinstance(value, dict):
        return {
            key: "<uuid>" if key.endswith("uuid") and set(item) != set("0-") else _uuids_out(item)
            for key, item in value.items()
        }
    return value


def _listed(text: str) -> Any:
    return _uuids_out(json.loads(text)) if text.strip() else []


FAKED = [*FAKES, ("dev-hint", "legacy"), ("dev-hint", "devdax")]


@pytest.mark.parametrize(("guest", "when"), FAKED)
def test_the_fake_machine_is_the_guests_sysfs(
    guests: Results, guest: str, when: str, tmp_path: Path
) -> None:
    """What famfs-xml reads of sysfs (sysfs_view.py) is the same in the guest and its fake."""
    real = ran(booted(guests, guest), f"sysfs-{when}")
    fake = fake_of(guests, guest, when, tmp_path)
    assert sysfs_view.view(str(fake.root)).splitlines() == real.splitlines()


@pytest.mark.parametrize(("guest", "when"), FAKED)
def test_the_fake_tools_list_what_the_guests_tools_list(
    guests: Results, guest: str, when: str, tmp_path: Path
) -> None:
    result = booted(guests, guest)
    machine = fake_of(guests, guest, when, tmp_path)
    for tool, args in (("ndctl", ("list", "-N", "-i", "-v")), ("daxctl", ("list", "-i"))):
        code, out, _ = fake_tool(machine, tool, *args)
        assert code == 0
        assert _listed(out) == _listed(ran(result, f"{tool}-{when}")), tool


FAILED_TOOLS = [
    # guest, the step that ran the real tool, the fake machine before it
    ("dev-labels", "ndctl-convert-seed", "seed"),
    ("dev-pmem64", "ndctl-convert-mounted", "fsdax"),
    ("dev-pmem64", "daxctl-small", "devdax"),
    ("dev-sysram", "ndctl-convert-busy", "system-ram"),
    ("dev-sysram", "daxctl-busy", "system-ram"),
    ("dev-sysram", "daxctl-auto-online", "back"),
    ("dev-misaligned", "ndctl-convert", "misaligned"),
]


@pytest.mark.parametrize(("guest", "step", "when"), FAILED_TOOLS)
def test_the_fake_tools_fail_as_the_guests_tools_fail(
    guests: Results, guest: str, step: str, when: str, tmp_path: Path
) -> None:
    """Exit code and messages of what the real tools refused, on the same machine."""
    result = booted(guests, guest)
    machine = fake_of(guests, guest, when, tmp_path)
    if step == "ndctl-convert-mounted":
        machine.add_mount("/dev/pmem0", "/run/fx/mnt", "minix")
    if step == "daxctl-auto-online":
        machine.set_auto_online("online")
    ((tool, *args),) = result.tool_calls(step)  # the call the step made, traced
    code, _, err = fake_tool(machine, tool, *args)
    real = result[step]
    assert (code, err) == (real.exit_code, real.stderr)
