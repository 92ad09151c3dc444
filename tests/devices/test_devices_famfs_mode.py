"""famfs mode (the ``fsdev_dax`` driver of Linux 7.x): ``device convert --mode famfs`` and
back, with daxctl 85's ``--mode=famfs`` or, with daxctl 76.1, the sysfs rebinding; what
``devices`` says of a device left in famfs mode. The fake machine and tools replay the
Linux 7.2 guests (``tests/guests/test_device_tools_72.py`` holds them against those)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from devices_fake_machine import FAMFS_MAGIC, FakeMachine, MiB
from devices_fake_tools import FAMFS_VERSION, Cli, FakeTools, daxctl

from famfs_xml.host.convert import ConvertUsageError, execute, plan

RELEASE = "7.2.13+deb14-amd64"
RAM_START = 0x108000000


@pytest.fixture
def k72(tmp_path: Path) -> FakeMachine:
    """A Linux 7.2 guest after ``ndctl create-namespace -m devdax``: 250 MiB ``dax0.0``
    (256 MiB namespace, no label) holding one whole 128 MiB memory block."""
    machine = FakeMachine(tmp_path / "host", fsdev=True)
    machine.set_kernel(RELEASE)
    machine.set_memory_blocks(0, 256 * MiB, "online")
    machine.set_auto_online("offline")
    machine.add_namespace("namespace0.0", mode="raw", size=256 * MiB)
    machine.set_namespace_mode("namespace0.0", "devdax")
    return machine


@pytest.fixture
def daxctl85(fake_tools: FakeTools) -> FakeTools:
    fake_tools.behave("normal", FAMFS_VERSION)
    return fake_tools


def convert(cli: Cli, machine: FakeMachine, *args: str) -> tuple[int, str, str]:
    result = cli("device", "convert", *args, "--root", str(machine.root))
    return result.exit_code, result.stdout, result.stderr


def reconfigure_calls(tools: FakeTools) -> list[list[str]]:
    return [call for call in tools.calls if call[1:2] == ["reconfigure-device"]]


# --- with daxctl 85 ----------------------------------------------------------------------


def test_devdax_to_famfs_and_back_with_daxctl_85(
    k72: FakeMachine, daxctl85: FakeTools, cli: Cli
) -> None:
    code, out, _ = convert(cli, k72, "dax0.0", "--mode", "famfs")
    assert code == 1 and reconfigure_calls(daxctl85) == []
    assert "Command:      daxctl reconfigure-device --mode=famfs dax0.0" in out
    assert "Data:         keeps the data: only the driver bound to /dev/dax0.0 changes" in out
    code, out, _ = convert(cli, k72, "dax0.0", "--mode", "famfs", "--yes")
    assert code == 0, out
    assert "dax0.0 is now in famfs mode" in out
    assert k72.dax_mode("dax0.0") == "famfs"
    code, out, _ = convert(cli, k72, "/dev/dax0.0", "--mode", "devdax", "--yes")
    assert code == 0, out
    assert "dax0.0 is now in devdax mode" in out
    assert reconfigure_calls(daxctl85) == [
        ["daxctl", "reconfigure-device", "--mode=famfs", "dax0.0"],
        ["daxctl", "reconfigure-device", "--mode=devdax", "dax0.0"],
    ]


def test_system_ram_to_famfs_is_two_steps(k72: FakeMachine, daxctl85: FakeTools, cli: Cli) -> None:
    """daxctl 85 refuses system-ram -> famfs ('must be in devdax mode'): devdax first."""
    k72.set_dax_mode("dax0.0", "system-ram")
    k72.set_memory_blocks(RAM_START, 128 * MiB, "online")
    code, out, err = convert(cli, k72, "dax0.0", "--mode", "famfs", "--yes")
    assert code == 1 and reconfigure_calls(daxctl85) == []
    assert "1 memory block(s) of dax0.0 are online" in err
    assert "Steps:\n  1. to devdax: daxctl reconfigure-device --mode=devdax dax0.0" in out
    assert "  2. to famfs: daxctl reconfigure-device --mode=famfs dax0.0" in out
    code, out, _ = convert(cli, k72, "dax0.0", "--mode", "famfs", "--yes", "--force")
    assert code == 0, out
    assert "dax0.0 is now in famfs mode (by way of devdax)" in out
    assert reconfigure_calls(daxctl85) == [
        ["daxctl", "reconfigure-device", "--mode=devdax", "-f", "dax0.0"],
        ["daxctl", "reconfigure-device", "--mode=famfs", "-f", "dax0.0"],
    ]


def test_what_daxctl_85_itself_does_from_system_ram(k72: FakeMachine) -> None:
    """The reason for the two steps, as the fake replays the guest's daxctl 85."""
    k72.set_dax_mode("dax0.0", "system-ram")
    assert daxctl(k72, "normal", ["reconfigure-device", "--mode=famfs", "-f", "dax0.0"], "85")
    assert k72.dax_mode("dax0.0") == "system-ram"


def test_famfs_to_system_ram_goes_by_devdax_and_looks_for_famfs_there(
    k72: FakeMachine, daxctl85: FakeTools, cli: Cli
) -> None:
    """In famfs mode the device cannot be mapped: its superblock is looked for between the
    steps, and the second step is refused when there is one."""
    k72.set_dax_mode("dax0.0", "famfs")
    k72.write_dev("/dev/dax0.0", magic=FAMFS_MAGIC)
    k72.add_mount("/dev/dax0.0", "/mnt/famfs", "fuse.famfs")
    code, _, err = convert(cli, k72, "dax0.0", "--mode", "system-ram", "--yes")
    assert code == 1 and "/dev/dax0.0 is mounted on /mnt/famfs (type fuse.famfs)" in err
    (k72.root / "proc/mounts").write_text("proc /proc proc rw 0 0\n")
    code, out, err = convert(cli, k72, "dax0.0", "--mode", "system-ram", "--yes")
    assert "superblock (note): /dev/dax0.0 cannot be mapped in famfs mode" in out
    assert code == 1
    assert "stopped after step 1 of 2: dax0.0 is now in devdax mode" in err
    assert "holds a famfs file system" in err
    assert k72.dax_mode("dax0.0") == "devdax"
    assert reconfigure_calls(daxctl85) == [
        ["daxctl", "reconfigure-device", "--mode=devdax", "dax0.0"]
    ]


def test_an_unbound_device_goes_to_famfs(k72: FakeMachine, daxctl85: FakeTools, cli: Cli) -> None:
    k72.set_dax_mode("dax0.0", None)
    code, out, _ = convert(cli, k72, "dax0.0", "--mode", "famfs", "--yes")
    assert code == 0, out
    assert k72.dax_mode("dax0.0") == "famfs"


def test_refused_while_a_process_maps_it(k72: FakeMachine, daxctl85: FakeTools, cli: Cli) -> None:
    """In the 7.2 guest daxctl converted a mapped device, and the kernel warned (a WARNING in
    vmf_insert_folio_pmd) when the mapping was touched: famfs-xml refuses instead."""
    k72.add_process(4242, "qemu-system-x86", mapped=("/dev/dax0.0",))
    code, _, err = convert(cli, k72, "dax0.0", "--mode", "famfs", "--yes")
    assert code == 1
    assert "process 4242 (qemu-system-x86) has mapped /dev/dax0.0" in err
    assert reconfigure_calls(daxctl85) == []


def test_a_famfs_superblock_is_no_reason_to_refuse_famfs_mode(
    k72: FakeMachine, daxctl85: FakeTools, cli: Cli
) -> None:
    k72.write_dev("/dev/dax0.0", magic=FAMFS_MAGIC)
    code, out, _ = convert(cli, k72, "dax0.0", "--mode", "famfs", "--yes")
    assert code == 0, out


def test_the_liar_is_caught(k72: FakeMachine, daxctl85: FakeTools, cli: Cli) -> None:
    daxctl85.behave("liar", FAMFS_VERSION)
    code, _, err = convert(cli, k72, "dax0.0", "--mode", "famfs", "--yes")
    assert code == 1
    assert "daxctl exited 0 and reported 'reconfigured 1 device', but dax0.0 is still" in err


# --- with daxctl 76.1: sysfs -------------------------------------------------------------


def test_daxctl_76_gets_the_sysfs_way(k72: FakeMachine, fake_tools: FakeTools, cli: Cli) -> None:
    code, out, _ = convert(cli, k72, "dax0.0", "--mode", "famfs")
    assert code == 1
    assert (
        "Command:      echo dax0.0 > /sys/bus/dax/drivers/device_dax/remove_id; "
        "echo dax0.0 > /sys/bus/dax/drivers/device_dax/unbind; "
        "echo dax0.0 > /sys/bus/dax/drivers/fsdev_dax/new_id"
    ) in out
    assert "Via:          sysfs, as famfs does it: daxctl 76.1 has no famfs mode" in out
    code, out, _ = convert(cli, k72, "dax0.0", "--mode", "famfs", "--json")
    (step,) = json.loads(out)["steps"]
    assert (step["via"], step["mode"]) == ("sysfs", "famfs")


def test_the_sysfs_way_there_and_back(k72: FakeMachine, fake_tools: FakeTools) -> None:
    there = plan("dax0.0", "famfs", root=k72.root)
    outcome = execute(there, root=k72.root, write=k72.write_sysfs)
    assert (outcome.ok, outcome.message) == (True, "dax0.0 is now in famfs mode")
    assert k72.dax_mode("dax0.0") == "famfs"
    back = plan("dax0.0", "devdax", root=k72.root)
    assert back.actions[0].rebind is not None
    assert execute(back, root=k72.root, write=k72.write_sysfs).ok
    assert k72.dax_mode("dax0.0") == "devdax"
    assert reconfigure_calls(fake_tools) == []  # daxctl 76.1 was only asked its version


def test_daxctl_76_would_not_have_left_famfs_mode(k72: FakeMachine) -> None:
    """Why famfs -> devdax takes the sysfs way with daxctl 76.1 too (the 7.2 guest)."""
    k72.set_dax_mode("dax0.0", "famfs")
    assert daxctl(k72, "normal", ["reconfigure-device", "--mode=devdax", "dax0.0"]) == 0
    assert k72.dax_mode("dax0.0") == "famfs"


def test_binding_alone_is_refused_by_the_kernel(k72: FakeMachine) -> None:
    """The 7.2 guest: fsdev_dax/bind without new_id fails with EIO."""
    k72.write_sysfs(k72.sys / "bus/dax/drivers/device_dax/unbind", "dax0.0")
    with pytest.raises(OSError, match="Input/output error"):
        k72.write_sysfs(k72.sys / "bus/dax/drivers/fsdev_dax/bind", "dax0.0")


def test_a_sysfs_write_that_fails_is_reported(k72: FakeMachine, fake_tools: FakeTools) -> None:
    def refuse(path: Path, value: str) -> None:
        if path.name == "unbind":
            raise PermissionError(13, "Permission denied")
        k72.write_sysfs(path, value)

    outcome = execute(plan("dax0.0", "famfs", root=k72.root), root=k72.root, write=refuse)
    assert not outcome.ok
    assert "writing dax0.0 to unbind of device_dax failed: Permission denied" in outcome.message
    assert "dax0.0 is still in devdax mode" in outcome.message


def test_a_module_not_loaded_yet_is_loaded_first(tmp_path: Path, fake_tools: FakeTools) -> None:
    machine = FakeMachine(tmp_path / "m", fsdev=False)
    machine.set_kernel(RELEASE)
    machine.install_module(RELEASE)
    machine.add_dax("dax0.0", mode="devdax")
    planned = plan("dax0.0", "famfs", root=machine.root)
    assert planned.findings == ()
    assert planned.command_line.startswith("modprobe fsdev_dax; echo dax0.0 > ")


# --- where famfs mode cannot be --------------------------------------------------------


def test_no_fsdev_dax_is_refused_even_with_force(
    tmp_path: Path, daxctl85: FakeTools, cli: Cli
) -> None:
    """Linux 6.1 (the Debian 12 guests) has no fsdev_dax."""
    machine = FakeMachine(tmp_path / "m", fsdev=False)
    machine.set_kernel("6.1.0-57-amd64")
    machine.add_dax("dax0.0", mode="devdax")
    code, _, err = convert(cli, machine, "dax0.0", "--mode", "famfs", "--yes", "--force")
    assert code == 1
    assert "Linux 6.1.0-57-amd64 has no fsdev_dax driver" in err
    assert "use --force" not in err
    assert reconfigure_calls(daxctl85) == []


def test_a_built_in_fsdev_dax_will_do(tmp_path: Path) -> None:
    machine = FakeMachine(tmp_path / "m", fsdev=False)
    machine.set_kernel("7.0.1")
    machine.set_builtin("7.0.1", ["dax", "fsdev_dax"])
    machine.add_dax("dax0.0", mode="devdax")
    assert plan("dax0.0", "famfs", root=machine.root).findings == ()


def test_a_namespace_has_no_famfs_mode(k72: FakeMachine, cli: Cli) -> None:
    with pytest.raises(ConvertUsageError, match=r"convert namespace0\.0 to devdax, then dax0\.0"):
        plan("namespace0.0", "famfs", root=k72.root)
    code, _, err = convert(cli, k72, "/dev/pmem0", "--mode", "famfs")
    assert code == 2 and err.count("\n") == 1


# --- devices ------------------------------------------------------------------------------


def test_devices_shows_the_driver_and_a_device_left_in_famfs_mode(
    k72: FakeMachine, cli: Cli
) -> None:
    k72.set_dax_mode("dax0.0", "famfs")
    data = json.loads(cli("devices", "--json", "--root", str(k72.root)).stdout)
    (dax,) = [d for d in data["devices"] if d["kind"] == "dax"]
    assert (dax["mode"], dax["driver"]) == ("famfs", "fsdev_dax")
    assert "famfs-xml device convert dax0.0 --mode devdax --yes" in dax["note"]
    table = cli("devices", "--root", str(k72.root)).stdout
    row = re.split(r"\s{2,}", table.splitlines()[1])
    assert (row[0], row[3], row[5]) == ("/dev/dax0.0", "famfs", "namespace0.0")
    assert "/dev/dax0.0 is in famfs mode (fsdev_dax) and no file system is mounted" in table
    k72.add_mount("/dev/dax0.0", "/mnt/famfs", "fuse.famfs")
    assert "is in famfs mode" not in cli("devices", "--root", str(k72.root)).stdout
    data = json.loads(cli("devices", "--json", "--root", str(k72.root)).stdout)
    assert "note" not in data["devices"][0]
