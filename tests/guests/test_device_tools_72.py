"""``devices``, ``device convert`` and ``host check`` on Linux 7.2 (docs/guests.md).

The guests are the 7.2 wave (``wave72.py``), booted once for the session: Debian sid's Linux
7.2.13 with ndctl/daxctl 85 (the sid root) and with 76.1 (the host's root), and one Linux
6.1 guest for the ``memmap=`` forms on both kernels. As in ``test_device_tools.py``, each
test reads the steps of its scenario: what famfs-xml printed, what the real ndctl and
daxctl list, and which ndctl/daxctl calls famfs-xml made. The last tests hold the fake
machine and tools of ``tests/devices`` against these guests.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from device_guests import HERE, MARKER, json_of, listings, ran, refused, table_rows
from guestlab import GuestResult, MiB
from wave72 import SMALL_61, SMALL_72, WHOLE_61, WHOLE_72, Wave72

sys.path.insert(0, str(HERE.parent / "devices"))

import devices_fake_tools
import sysfs_view
from devices_fake_machine import FakeMachine

pytestmark = pytest.mark.guest

DAX85 = devices_fake_tools.FAMFS_VERSION
DAX76 = devices_fake_tools.VERSION


def booted(wave: Wave72, name: str) -> GuestResult:
    result = wave.results[name]
    assert result.start_error is None, result.start_error
    assert result.finished, result.diagnosis()
    return result


def converted(result: GuestResult, step: str, name: str, mode: str) -> list[list[str]]:
    """A ``device convert --yes`` that worked; the calls it made (``--version`` left out)."""
    out = ran(result, step)
    assert f"{name} is now in {mode} mode" in out, result[step]
    return [call for call in result.tool_calls(step) if call[1:] != ["--version"]]


def codes(result: GuestResult, step: str) -> list[str]:
    outcome = result[step]
    assert "Traceback" not in outcome.stderr, outcome
    return [finding["code"] for finding in json.loads(outcome.stdout)["findings"]]


def drivers(sysfs: str) -> dict[str, str]:
    """The driver of each dax device in a sysfs view (the dax bus lines come last)."""
    found = {}
    for line in sysfs.splitlines():
        match = re.fullmatch(r"(dax\d+\.\d+)\.driver (\S+)", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


# -- devices against ndctl and daxctl 85 -------------------------------------------------------

LISTED_85 = [
    ("k72-famfs", "raw"),
    ("k72-famfs", "devdax"),
    ("k72-famfs", "famfs"),
    ("k72-famfs", "system-ram"),
    ("k72-famfs", "famfs-again"),
    ("k72-famfs", "stopped"),
    ("k72-memmap", "memmap"),
    ("k72-memmap", "converted"),
    ("k72-sysfs", "raw"),
    ("k72-sysfs", "devdax"),
    ("k72-sysfs", "back"),
    ("k61-memmap", "memmap"),
    ("k61-memmap", "converted"),
]


@pytest.mark.parametrize(("guest", "when"), LISTED_85)
def test_devices_json_says_what_ndctl_and_daxctl_say(
    linux72_wave: Wave72, guest: str, when: str
) -> None:
    """Every device and namespace as the real tools list them (daxctl 85 in the sid root,
    76.1 elsewhere, where no device is in famfs mode), and the driver as sysfs has it."""
    result = booted(linux72_wave, guest)
    shown, expected = listings(result, when)
    assert shown == expected
    document = json_of(result, f"devices-{when}")
    bound = drivers(ran(result, f"sysfs-{when}"))
    for device in document["devices"]:
        if device["kind"] == "dax":
            name = device["path"].removeprefix("/dev/")
            assert device["driver"] == (None if bound[name] == "-" else bound[name])


def test_daxctl_76_calls_famfs_mode_devdax_and_famfs_xml_does_not(linux72_wave: Wave72) -> None:
    guest = booted(linux72_wave, "k72-sysfs")
    (listed,) = json_of(guest, "daxctl-famfs")
    assert listed["mode"] == "devdax"  # daxctl 76.1 knows no famfs mode
    assert drivers(ran(guest, "sysfs-famfs"))["dax0.0"] == "fsdev_dax"
    (device,) = [d for d in json_of(guest, "devices-famfs")["devices"] if d["kind"] == "dax"]
    assert (device["mode"], device["driver"]) == ("famfs", "fsdev_dax")


# -- famfs mode with daxctl 85 ---------------------------------------------------------------


def test_the_guide_then_devdax_to_famfs_and_back_keeping_the_data(linux72_wave: Wave72) -> None:
    guest = booted(linux72_wave, "k72-famfs")
    calls = converted(guest, "convert-devdax", "namespace0.0", "devdax")
    assert calls == [
        ["ndctl", "create-namespace", "--force", "--reconfig=namespace0.0", "--mode=devdax"]
    ]
    (device,) = json_of(guest, "daxctl-devdax")
    assert (device["size"], device["mode"]) == (250 * MiB, "devdax")
    calls = converted(guest, "convert-famfs", "dax0.0", "famfs")
    assert calls == [["daxctl", "reconfigure-device", "--mode=famfs", "dax0.0"]]
    (device,) = json_of(guest, "daxctl-famfs")
    assert device["mode"] == "famfs"
    assert drivers(ran(guest, "sysfs-famfs"))["dax0.0"] == "fsdev_dax"
    calls = converted(guest, "convert-back", "dax0.0", "devdax")
    assert calls == [["daxctl", "reconfigure-device", "--mode=devdax", "dax0.0"]]
    assert ran(guest, "read-back").strip() == MARKER


def test_the_plan_as_json(linux72_wave: Wave72) -> None:
    plan = json.loads(ran(booted(linux72_wave, "k72-famfs"), "plan-famfs", code=1))
    assert plan["steps"] == [
        {
            "mode": "famfs",
            "via": "daxctl",
            "command": ["daxctl", "reconfigure-device", "--mode=famfs", "dax0.0"],
        }
    ]
    assert (plan["destroys_data"], plan["executed"]) == (False, False)


def test_in_famfs_mode_nothing_can_map_the_device(linux72_wave: Wave72) -> None:
    guest = booted(linux72_wave, "k72-famfs")
    assert ran(guest, "map-famfs").strip() == "No such device"
    table = ran(guest, "table-famfs")
    assert table_rows(table)[1][3] == "famfs"
    assert "/dev/dax0.0 is in famfs mode (fsdev_dax) and no file system is mounted" in table
    assert codes(guest, "check-famfs") == ["FH011"]
    assert codes(guest, "check-mounted") == []


def test_system_ram_and_famfs_only_by_way_of_devdax(linux72_wave: Wave72) -> None:
    guest = booted(linux72_wave, "k72-famfs")
    calls = converted(guest, "convert-system-ram", "dax0.0", "system-ram")
    assert calls == [["daxctl", "reconfigure-device", "--mode=system-ram", "dax0.0"]]
    (device,) = json_of(guest, "daxctl-system-ram")
    assert (device["mode"], device["online_memblocks"]) == ("system-ram", 1)
    # what daxctl 85 does when asked directly: the reason for the two steps
    direct = guest["daxctl-ram-to-famfs"]
    assert direct.exit_code == 234
    assert "must be in devdax mode to convert to famfs" in direct.stderr
    out = ran(guest, "convert-ram-to-famfs")
    assert "Steps:\n  1. to devdax: daxctl reconfigure-device --mode=devdax -f dax0.0" in out
    assert "dax0.0 is now in famfs mode (by way of devdax)" in out
    assert guest.tool_calls("convert-ram-to-famfs")[1:] == [
        ["daxctl", "reconfigure-device", "--mode=devdax", "-f", "dax0.0"],
        ["daxctl", "reconfigure-device", "--mode=famfs", "-f", "dax0.0"],
    ]
    (device,) = json_of(guest, "daxctl-famfs-again")
    assert device["mode"] == "famfs"


def test_famfs_to_system_ram_stops_at_a_famfs_superblock(linux72_wave: Wave72) -> None:
    """The superblock cannot be read in famfs mode; back in devdax it is found and the
    second step is refused. With --force the device becomes system RAM."""
    guest = booted(linux72_wave, "k72-famfs")
    converted(guest, "convert-famfs-superblock", "dax0.0", "famfs")
    stopped = guest["convert-famfs-to-ram"]
    assert stopped.exit_code == 1, stopped
    assert "cannot be mapped in famfs mode" in stopped.stdout
    assert "stopped after step 1 of 2: dax0.0 is now in devdax mode" in stopped.stderr
    assert "/dev/dax0.0 holds a famfs file system (superblock)" in stopped.stderr
    assert guest.tool_calls("convert-famfs-to-ram")[1:] == [
        ["daxctl", "reconfigure-device", "--mode=devdax", "dax0.0"]
    ]
    (device,) = json_of(guest, "daxctl-stopped")
    assert device["mode"] == "devdax"
    converted(guest, "convert-famfs-to-ram-forced", "dax0.0", "system-ram")


def test_refused_while_a_process_maps_the_device(linux72_wave: Wave72) -> None:
    """daxctl 85 does not look: in a guest it converted a mapped device, and the kernel
    warned when the mapping was touched (WARNING at mm/huge_memory.c, vmf_insert_folio_pmd)."""
    out = refused(booted(linux72_wave, "k72-famfs"), "convert-mapped")
    assert re.search(r"process \d+ \(python\S*\) has mapped /dev/dax0\.0", out)


def test_refused_while_a_file_system_is_mounted_from_the_device(linux72_wave: Wave72) -> None:
    out = refused(booted(linux72_wave, "k72-famfs"), "convert-mounted")
    assert "/dev/dax0.0 is mounted on /run/fx/famfs (type tmpfs)" in out


# -- famfs mode through sysfs, daxctl 76.1 --------------------------------------------------


def test_daxctl_76_gets_the_sysfs_rebinding(linux72_wave: Wave72) -> None:
    guest = booted(linux72_wave, "k72-sysfs")
    plan = ran(guest, "plan-famfs", code=1)
    assert "echo dax0.0 > /sys/bus/dax/drivers/fsdev_dax/new_id" in plan
    assert "Via:          sysfs, as famfs does it: daxctl 76.1 has no famfs mode" in plan
    unknown = guest["daxctl76-famfs"]
    assert (unknown.exit_code, unknown.stderr.splitlines()[0]) == (
        234,
        "dax0.0: unknown mode requested: 0",
    )
    assert converted(guest, "convert-famfs", "dax0.0", "famfs") == []
    assert drivers(ran(guest, "sysfs-famfs"))["dax0.0"] == "fsdev_dax"
    # daxctl 76.1 "converts" a famfs-mode device to devdax by doing nothing
    lying = guest["daxctl76-devdax"]
    assert lying.exit_code == 0 and "dax0.0 was already in devdax mode" in lying.stderr
    assert lying.stdout.splitlines()[-1] == "fsdev_dax"
    assert converted(guest, "convert-back", "dax0.0", "devdax") == []
    assert ran(guest, "read-back").strip() == MARKER
    (device,) = json_of(guest, "daxctl-devdax")
    assert device["size"] == 236 * MiB  # 256 MiB less the 16 MiB label and 4 MiB of metadata


# -- memmap= on Linux 7.2 and 6.1 ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("guest", "small", "whole"),
    [("k72-memmap", SMALL_72, WHOLE_72), ("k61-memmap", SMALL_61, WHOLE_61)],
)
def test_what_each_memmap_form_makes(
    linux72_wave: Wave72, guest: str, small: str, whole: str
) -> None:
    """``!``: a legacy pmem namespace; ``$``: a Reserved range and no device; ``%…+0xefffffff``:
    a soft-reserved range and a dax device (7.2: no driver when it holds no whole memory
    block, system-ram when it does; 6.1: devdax either way)."""
    result = booted(linux72_wave, guest)
    iomem = ran(result, "iomem")
    assert "06000000-07ffffff : Persistent Memory (legacy)" in iomem
    assert "09000000-0affffff : Reserved" in iomem
    (namespace,) = json_of(result, "ndctl-memmap")
    assert (namespace["mode"], namespace["map"], namespace["size"]) == ("fsdax", "mem", 32 * MiB)
    listed = {d["chardev"]: d for d in json_of(result, "daxctl-memmap")}
    assert (listed[small]["size"], listed[whole]["size"]) == (32 * MiB, 128 * MiB)
    modes = {name: d.get("state", d["mode"]) for name, d in listed.items()}
    if guest == "k72-memmap":
        assert modes == {small: "disabled", whole: "system-ram"}
        assert listed[whole]["online_memblocks"] == 1  # the kernel onlined it (auto-online)
    else:
        assert modes == {small: "devdax", whole: "devdax"}
    after = {d["chardev"]: d["mode"] for d in json_of(result, "daxctl-converted")}
    assert after == {small: "devdax", whole: "devdax"}


def test_soft_reserved_devices_come_to_devdax(linux72_wave: Wave72) -> None:
    guest = booted(linux72_wave, "k72-memmap")
    assert "Current mode: unbound" in ran(guest, "convert-small")
    assert converted(guest, "convert-small", SMALL_72, "devdax") == [
        ["daxctl", "reconfigure-device", "--mode=devdax", SMALL_72]
    ]
    out = ran(guest, "convert-whole")
    assert f"1 memory block(s) of {WHOLE_72} are online as system RAM" in out
    assert converted(guest, "convert-whole", WHOLE_72, "devdax") == [
        ["daxctl", "reconfigure-device", "--mode=devdax", "-f", WHOLE_72]
    ]


@pytest.mark.parametrize(("guest", "region"), [("k72-memmap", 0), ("k61-memmap", 2)])
def test_a_legacy_memmap_namespace_to_devdax_then_fsdax_keeping_the_data(
    linux72_wave: Wave72, guest: str, region: int
) -> None:
    result = booted(linux72_wave, guest)
    out = ran(result, "convert-legacy")
    assert f"the start of /dev/pmem{region} is lost" in out
    assert converted(result, "convert-legacy", f"namespace{region}.0", "devdax") == [
        ["ndctl", "create-namespace", "--force", f"--reconfig=namespace{region}.0", "--mode=devdax"]
    ]
    assert "Data:         keeps the data" in ran(result, "convert-fsdax")
    converted(result, "convert-fsdax", f"namespace{region}.0", "fsdax")
    assert ran(result, "read-fsdax") == MARKER


@pytest.mark.parametrize(("guest", "name"), [("k72-memmap", SMALL_72), ("k61-memmap", SMALL_61)])
def test_famfs_mode_is_refused_without_fsdev_dax(
    linux72_wave: Wave72, guest: str, name: str
) -> None:
    out = refused(booted(linux72_wave, guest), "convert-famfs")
    assert f"refused to convert {name}" in out
    assert "has no fsdev_dax driver" in out
    assert "use --force" not in out  # it was given, and cannot help


@pytest.mark.parametrize(
    ("guest", "step", "expected"),
    [
        ("k72-memmap", "check", ["FH004", "FH005", "FH006", "FH009", "FH010"]),
        ("k72-memmap", "check-converted", ["FH004", "FH009", "FH010"]),
        ("k61-memmap", "check", ["FH010"]),
        ("k61-memmap", "check-converted", ["FH010"]),
    ],
)
def test_host_check_of_the_memmap_forms(
    linux72_wave: Wave72, guest: str, step: str, expected: list[str]
) -> None:
    """7.2 onlines memory by itself (FH004), leaves the whole-block range in system-ram
    (FH005) and the small one unbound (FH006), and has no fsdev_dax loaded here (FH009);
    on both kernels the ``$`` range, set through the guide's grub variable, is FH010."""
    result = booted(linux72_wave, guest)
    assert codes(result, step) == expected
    (finding,) = [f for f in json.loads(ran(result, step, 1))["findings"] if f["code"] == "FH010"]
    assert "set by $memmap_val of /boot/grub2/grubenv" in finding["message"]
    assert finding["hint"] == (
        "grub2-editenv /boot/grub2/grubenv set memmap_val='32M%144M+0xefffffff', then reboot"
    )


# -- the sharing proof on 7.2 is in test_sharing.py; the fakes, held against the guests --------

MachineBuilder = Callable[[Path], FakeMachine]
K72 = "7.2.13+deb14-amd64"


def _k72(root: Path, *, online: bool, fsdev: bool = True, ram_mib: int = 256) -> FakeMachine:
    machine = FakeMachine(root, fsdev=fsdev)
    machine.set_memory_blocks(0, ram_mib * MiB, "online")
    machine.set_auto_online("online" if online else "offline")
    return machine


def _famfs_guest(mode: str | None) -> MachineBuilder:
    """k72-famfs: 256 MiB, no label, memhp offline; the dax device in ``mode``."""

    def build(root: Path) -> FakeMachine:
        machine = _k72(root, online=False)
        machine.add_namespace("namespace0.0", mode="raw", size=256 * MiB)
        if mode is not None:
            machine.set_namespace_mode("namespace0.0", "devdax")
            machine.set_dax_mode("dax0.0", mode)
        if mode == "system-ram":  # daxctl onlined the whole block, movable
            machine.set_memory_blocks(0x108000000, 128 * MiB, "online", zone="Movable")
        return machine

    return build


def _sysfs_guest(mode: str | None) -> MachineBuilder:
    """k72-sysfs: the guide's 16 MiB label; ndctl wrote labels at create-namespace time."""

    def build(root: Path) -> FakeMachine:
        machine = _k72(root, online=True)
        if mode is None:
            machine.add_namespace("namespace0.0", mode="raw", size=240 * MiB)
            return machine
        machine.add_namespace("namespace0.0", mode="devdax", size=240 * MiB, labelled=True)
        machine.add_seed_namespace("namespace0.1")
        machine.set_dax_mode("dax0.0", mode)
        return machine

    return build


def _memmap_guest(kernel: str, converted: bool) -> MachineBuilder:
    """``MEMMAP`` in 512 MiB: the legacy pmem, and the two soft-reserved dax devices."""

    def build(root: Path) -> FakeMachine:
        machine = _k72(root, online=kernel == "7.2", fsdev=False, ram_mib=512)
        region = 0 if kernel == "7.2" else 2
        machine.add_namespace(
            f"namespace{region}.0", mode="fsdax", size=32 * MiB, resource=96 * MiB, legacy=True
        )
        if converted:  # to devdax, then on to fsdax
            machine.set_namespace_mode(f"namespace{region}.0", "devdax")
            machine.set_namespace_mode(f"namespace{region}.0", "fsdax")
        small, whole = (SMALL_72, WHOLE_72) if kernel == "7.2" else (SMALL_61, WHOLE_61)
        (machine.sys / "devices/system/memory/memory2/state").unlink()
        (machine.sys / "devices/system/memory/memory2").rmdir()
        if kernel == "7.2" and not converted:  # kmem took it; the kernel onlined it (Normal)
            machine.set_memory_blocks(256 * MiB, 128 * MiB, "online", zone="Normal")
            modes = (None, "system-ram")
        else:
            modes = ("devdax", "devdax")
        machine.add_dax(small, size=32 * MiB, resource=192 * MiB, mode=modes[0])
        machine.add_dax(whole, size=128 * MiB, resource=256 * MiB, mode=modes[1])
        return machine

    return build


FAKES_72: dict[tuple[str, str], MachineBuilder] = {
    ("k72-famfs", "raw"): _famfs_guest(None),
    ("k72-famfs", "devdax"): _famfs_guest("devdax"),
    ("k72-famfs", "famfs"): _famfs_guest("famfs"),
    ("k72-famfs", "system-ram"): _famfs_guest("system-ram"),
    ("k72-famfs", "famfs-again"): _famfs_guest("famfs"),
    ("k72-famfs", "stopped"): _famfs_guest("devdax"),
    ("k72-sysfs", "raw"): _sysfs_guest(None),
    ("k72-sysfs", "devdax"): _sysfs_guest("devdax"),
    ("k72-sysfs", "famfs"): _sysfs_guest("famfs"),
    ("k72-sysfs", "back"): _sysfs_guest("devdax"),
    ("k72-memmap", "memmap"): _memmap_guest("7.2", converted=False),
    ("k72-memmap", "converted"): _memmap_guest("7.2", converted=True),
    ("k61-memmap", "memmap"): _memmap_guest("6.1", converted=False),
    ("k61-memmap", "converted"): _memmap_guest("6.1", converted=True),
}
TOOLS_OF = {"k72-famfs": DAX85, "k72-memmap": DAX85, "k72-sysfs": DAX76, "k61-memmap": DAX76}


def fake_tool(machine: FakeMachine, tool: str, version: str, *args: str) -> tuple[int, str, str]:
    run = devices_fake_tools.ndctl if tool == "ndctl" else devices_fake_tools.daxctl
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run(machine, "normal", list(args), version)
    return code, out.getvalue(), err.getvalue()


def _uuids_out(value: Any) -> Any:
    if isinstance(value, list):
        return [_uuids_out(item) for item in value]
    if isinstance(value, dict):
        return {
            key: "<uuid>" if key.endswith("uuid") and set(item) != set("0-") else _uuids_out(item)
            for key, item in value.items()
        }
    return value


def _listed(text: str, tool: str) -> Any:
    entries = _uuids_out(json.loads(text)) if text.strip() else []
    # daxctl prints devices in the order sysfs's directory gives them (6.1: dax1.0 before
    # dax0.0), which the fake does not imitate: compare them by name
    return sorted(entries, key=lambda e: e["chardev"]) if tool == "daxctl" else entries


@pytest.mark.parametrize(("guest", "when"), list(FAKES_72))
def test_the_fake_machine_is_the_72_guests_sysfs(
    linux72_wave: Wave72, guest: str, when: str, tmp_path: Path
) -> None:
    real = ran(booted(linux72_wave, guest), f"sysfs-{when}")
    fake = FAKES_72[(guest, when)](tmp_path)
    assert sysfs_view.view(str(fake.root)).splitlines() == real.splitlines()


@pytest.mark.parametrize(("guest", "when"), list(FAKES_72))
def test_the_fake_tools_list_what_the_72_guests_tools_list(
    linux72_wave: Wave72, guest: str, when: str, tmp_path: Path
) -> None:
    result = booted(linux72_wave, guest)
    machine = FAKES_72[(guest, when)](tmp_path)
    for tool, args in (("ndctl", ("list", "-N", "-i", "-v")), ("daxctl", ("list", "-i"))):
        code, out, _ = fake_tool(machine, tool, TOOLS_OF[guest], *args)
        assert code == 0
        assert _listed(out, tool) == _listed(ran(result, f"{tool}-{when}"), tool), tool


FAILED_72 = [
    # guest, the step that ran the real tool, the fake machine before it
    ("k72-famfs", "daxctl-ram-to-famfs", "system-ram"),
    ("k72-sysfs", "daxctl76-famfs", "devdax"),
    ("k72-sysfs", "daxctl76-devdax", "famfs"),
]


@pytest.mark.parametrize(("guest", "step", "when"), FAILED_72)
def test_the_fake_tools_refuse_as_the_72_guests_tools_do(
    linux72_wave: Wave72, guest: str, step: str, when: str, tmp_path: Path
) -> None:
    """Exit code and stderr of daxctl 85's and 76.1's answers, and the mode they leave."""
    result = booted(linux72_wave, guest)
    machine = FAKES_72[(guest, when)](tmp_path)
    before = machine.dax_mode("dax0.0")
    ((tool, *args),) = result.tool_calls(step)
    code, _, err = fake_tool(machine, tool, TOOLS_OF[guest], *args)
    real = result[step]
    assert (code, err) == (real.exit_code, real.stderr)
    assert machine.dax_mode("dax0.0") == before
