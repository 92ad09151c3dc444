"""``device convert`` against a fake machine and fake daxctl/ndctl."""

from __future__ import annotations

import json

import pytest
from devices_fake_machine import FAMFS_MAGIC, FakeMachine, GiB
from devices_fake_tools import Cli, FakeTools

from famfs_xml.host.convert import ConvertUsageError, execute, plan

DAX_START = 0x240000000


def convert(cli: Cli, machine: FakeMachine, *args: str) -> tuple[int, str, str]:
    result = cli("device", "convert", *args, "--root", str(machine.root))
    return result.exit_code, result.stdout, result.stderr


# --- the plan --------------------------------------------------------------------------


def test_without_yes_nothing_runs(machine: FakeMachine, fake_tools: FakeTools, cli: Cli) -> None:
    machine.add_dax("dax0.0", mode="system-ram")
    code, out, _ = convert(cli, machine, "dax0.0", "--mode", "devdax")
    assert code == 1
    assert fake_tools.calls == []
    assert machine.dax_mode("dax0.0") == "system-ram"
    assert "daxctl reconfigure-device --mode=devdax dax0.0" in out
    assert "Current mode: system-ram" in out
    assert "Data:         /dev/dax0.0 comes back with what the kernel left in the memory" in out


def test_plan_as_json(machine: FakeMachine, fake_tools: FakeTools, cli: Cli) -> None:
    machine.add_namespace("namespace0.0", mode="raw")
    code, out, _ = convert(cli, machine, "namespace0.0", "--mode", "devdax", "--json")
    data = json.loads(out)
    assert code == 1
    assert fake_tools.calls == []
    assert data["command"] == [
        "ndctl",
        "create-namespace",
        "--force",
        "--reconfig=namespace0.0",
        "--mode=devdax",
    ]
    assert (data["version"], data["executed"], data["destroys_data"]) == (1, False, True)
    assert data["current_mode"] == "raw"


def test_fsdax_for_a_namespace_dax_device_names_the_namespace(machine: FakeMachine) -> None:
    machine.add_namespace("namespace0.0", mode="devdax")
    with pytest.raises(ConvertUsageError, match=r"convert namespace0\.0 to fsdax"):
        plan("dax0.0", "fsdax", root=machine.root)
    assert plan("namespace0.0", "fsdax", root=machine.root).paths == ("/dev/dax0.0",)


def test_force_adds_daxctl_f(machine: FakeMachine) -> None:
    machine.add_dax("dax0.0", mode="system-ram")
    assert plan("/dev/dax0.0", "devdax", root=machine.root, force=True).argv == (
        "daxctl",
        "reconfigure-device",
        "--mode=devdax",
        "-f",
        "dax0.0",
    )


def test_pmem_path_names_its_namespace(machine: FakeMachine) -> None:
    machine.add_namespace("namespace0.0", mode="fsdax")
    planned = plan("/dev/pmem0", "devdax", root=machine.root)
    assert planned.name == "namespace0.0"
    assert planned.paths == ("/dev/pmem0",)


@pytest.mark.parametrize(
    ("device", "mode"),
    [("dax0.0", "fsdax"), ("namespace0.0", "system-ram"), ("sda", "devdax"), ("dax0.0", "x")],
)
def test_usage_errors(device: str, mode: str, machine: FakeMachine, cli: Cli) -> None:
    with pytest.raises(ConvertUsageError):
        plan(device, mode, root=machine.root)
    code, _, err = convert(cli, machine, device, "--mode", mode, "--yes")
    assert code == 2
    assert err.count("\n") == 1


def test_missing_device_is_refused_even_with_force(
    machine: FakeMachine, fake_tools: FakeTools, cli: Cli
) -> None:
    code, _, err = convert(cli, machine, "dax7.0", "--mode", "devdax", "--yes", "--force")
    assert code == 1
    assert "dax7.0 does not exist" in err
    assert fake_tools.calls == []


def test_missing_pmem_is_refused(machine: FakeMachine, fake_tools: FakeTools, cli: Cli) -> None:
    machine.add_namespace("namespace0.0", mode="fsdax")
    code, out, _ = convert(cli, machine, "/dev/pmem9", "--mode", "devdax")
    assert code == 1
    assert "nothing was run: /dev/pmem9 does not exist" in out
    assert fake_tools.calls == []


def test_plan_says_when_yes_would_be_refused(machine: FakeMachine, cli: Cli) -> None:
    machine.add_dax("dax0.0", mode="devdax")
    machine.write_dev("/dev/dax0.0", magic=FAMFS_MAGIC)
    code, out, _ = convert(cli, machine, "dax0.0", "--mode", "system-ram")
    assert code == 1
    assert "--yes alone would be refused" in out


def test_already_in_mode_runs_nothing(
    machine: FakeMachine, fake_tools: FakeTools, cli: Cli
) -> None:
    machine.add_dax("dax0.0", mode="devdax")
    code, out, _ = convert(cli, machine, "dax0.0", "--mode", "devdax")
    assert code == 1  # without --yes the plan is shown and the exit status is always 1
    assert "already in devdax mode: --yes will run nothing" in out
    code, out, _ = convert(cli, machine, "dax0.0", "--mode", "devdax", "--yes")
    assert code == 0
    assert "already in devdax mode" in out
    assert fake_tools.calls == []


# --- running it ------------------------------------------------------------------------


def test_yes_runs_the_command_and_verifies(
    machine: FakeMachine, fake_tools: FakeTools, cli: Cli
) -> None:
    machine.add_dax("dax0.0", mode="system-ram", resource=DAX_START)
    machine.set_memory_blocks(DAX_START, 8 * GiB, "offline")
    code, out, err = convert(cli, machine, "dax0.0", "--mode", "devdax", "--yes")
    assert (code, err) == (0, "")
    assert fake_tools.calls == [["daxctl", "reconfigure-device", "--mode=devdax", "dax0.0"]]
    assert machine.dax_mode("dax0.0") == "devdax"
    assert "dax0.0 is now in devdax mode" in out


def test_unbound_device_is_bound(machine: FakeMachine, fake_tools: FakeTools, cli: Cli) -> None:
    machine.add_dax("dax0.0", mode=None)
    assert not plan("dax0.0", "devdax", root=machine.root).destroys_data
    code, _, _ = convert(cli, machine, "dax0.0", "--mode", "devdax", "--yes")
    assert code == 0
    assert machine.dax_mode("dax0.0") == "devdax"


def test_a_tool_that_lies_is_caught(machine: FakeMachine, fake_tools: FakeTools, cli: Cli) -> None:
    machine.add_dax("dax0.0", mode="system-ram")
    fake_tools.behave("liar")
    code, _, err = convert(cli, machine, "dax0.0", "--mode", "devdax", "--yes")
    assert code == 1
    assert len(fake_tools.calls) == 1
    assert "exited 0 and reported 'reconfigured 1 device'" in err
    assert "dax0.0 is still in system-ram mode, not devdax" in err


def test_busy_exit_quotes_the_tool(machine: FakeMachine, fake_tools: FakeTools, cli: Cli) -> None:
    machine.add_dax("dax0.0", mode="devdax")
    fake_tools.behave("busy")
    code, _, err = convert(cli, machine, "dax0.0", "--mode", "system-ram", "--yes")
    assert code == 1
    assert "exit 240 (device or resource busy)" in err
    assert "error reconfiguring devices: Device or resource busy" in err
    assert err.count("\n") == 1


def test_offline_failure_is_reported(machine: FakeMachine, fake_tools: FakeTools, cli: Cli) -> None:
    machine.add_dax("dax0.0", mode="system-ram", resource=DAX_START)
    machine.set_memory_blocks(DAX_START, 8 * GiB, "online")
    fake_tools.behave("offline-ebusy")
    code, _, err = convert(cli, machine, "dax0.0", "--mode", "devdax", "--yes")
    assert code == 1
    assert fake_tools.calls == []  # refused: memory is online and --force was not given
    assert "online" in err and "--force" in err
    code, _, err = convert(cli, machine, "dax0.0", "--mode", "devdax", "--yes", "--force")
    assert code == 1
    assert fake_tools.calls == [["daxctl", "reconfigure-device", "--mode=devdax", "-f", "dax0.0"]]
    assert "error reconfiguring devices: Device or resource busy" in err
    assert machine.dax_mode("dax0.0") == "system-ram"


def test_auto_online_policy_blocks_system_ram(
    machine: FakeMachine, fake_tools: FakeTools, cli: Cli
) -> None:
    machine.add_dax("dax0.0", mode="devdax")
    machine.write_dev("/dev/dax0.0")
    machine.set_auto_online("online_movable")
    code, out, _ = convert(cli, machine, "dax0.0", "--mode", "system-ram", "--yes")
    assert code == 1
    assert "auto-online" in out
    assert fake_tools.calls == []


def test_namespace_conversion(machine: FakeMachine, fake_tools: FakeTools, cli: Cli) -> None:
    machine.add_namespace("namespace0.0", mode="raw")
    machine.write_dev("/dev/pmem0")
    code, out, err = convert(cli, machine, "namespace0.0", "--mode", "devdax", "--yes", "--json")
    assert (code, err) == (0, "")
    assert fake_tools.calls == [
        ["ndctl", "create-namespace", "--force", "--reconfig=namespace0.0", "--mode=devdax"]
    ]
    data = json.loads(out)
    assert (data["ok"], data["executed"], data["mode_after"]) == (True, True, "devdax")
    assert machine.namespace_mode("namespace0.0") == "devdax"


def test_namespace_liar_is_caught(machine: FakeMachine, fake_tools: FakeTools) -> None:
    machine.add_namespace("namespace0.0", mode="raw")
    machine.write_dev("/dev/pmem0")
    fake_tools.behave("liar")
    outcome = execute(plan("namespace0.0", "fsdax", root=machine.root), root=machine.root)
    assert not outcome.ok
    assert outcome.mode_after == "raw"


def test_timeout(machine: FakeMachine, fake_tools: FakeTools, cli: Cli) -> None:
    machine.add_dax("dax0.0", mode=None)
    slow = fake_tools.bin_dir / "daxctl"
    slow.write_text("#!/bin/sh\nsleep 5\n")
    code, _, err = convert(cli, machine, "dax0.0", "--mode", "devdax", "--yes", "--timeout", "0.3")
    assert code == 1
    assert "did not finish within 0.3 s" in err


def test_missing_tool(machine: FakeMachine, fake_tools: FakeTools, cli: Cli) -> None:
    machine.add_dax("dax0.0", mode=None)
    (fake_tools.bin_dir / "daxctl").unlink()
    (fake_tools.bin_dir / "daxctl").symlink_to(fake_tools.bin_dir / "no-such-program")
    code, _, err = convert(cli, machine, "dax0.0", "--mode", "devdax", "--yes")
    assert code == 1
    assert err.startswith("famfs-xml: ")


# --- pre-flight refusals ---------------------------------------------------------------


def test_refuses_a_mounted_device(machine: FakeMachine, fake_tools: FakeTools, cli: Cli) -> None:
    machine.add_namespace("namespace0.0", mode="fsdax")
    machine.write_dev("/dev/pmem0")
    machine.add_mount("/dev/pmem0", "/mnt/famfs", "xfs")
    code, out, err = convert(cli, machine, "/dev/pmem0", "--mode", "devdax", "--yes")
    assert code == 1
    assert "/dev/pmem0 is mounted on /mnt/famfs (type xfs)" in out
    assert "refused" in err
    assert fake_tools.calls == []


def test_refuses_a_mounted_partition(machine: FakeMachine, fake_tools: FakeTools) -> None:
    machine.add_namespace("namespace0.0", mode="fsdax")
    machine.write_dev("/dev/pmem0")
    machine.add_mount("/dev/pmem0p1", "/data", "ext4")
    assert plan("namespace0.0", "devdax", root=machine.root).refused


def test_refuses_a_famfs_mount(machine: FakeMachine, fake_tools: FakeTools) -> None:
    machine.add_dax("dax0.0", mode="devdax")
    machine.write_dev("/dev/dax0.0")
    machine.add_mount("/dev/dax0.0", "/mnt/famfs", "fuse.famfs")
    assert [f.check for f in plan("dax0.0", "system-ram", root=machine.root).blocking] == [
        "mounted"
    ]


def test_refuses_a_held_block_device(machine: FakeMachine) -> None:
    machine.add_namespace("namespace0.0", mode="raw")
    machine.write_dev("/dev/pmem0")
    (machine.sys / "block/pmem0/holders/dm-0").mkdir(parents=True)
    planned = plan("namespace0.0", "fsdax", root=machine.root)
    assert [f.message for f in planned.blocking] == ["/dev/pmem0 is held by /dev/dm-0"]


def test_refuses_a_device_mapped_by_a_process(
    machine: FakeMachine, fake_tools: FakeTools, cli: Cli
) -> None:
    machine.add_dax("dax0.0", mode="devdax")
    machine.write_dev("/dev/dax0.0")
    machine.add_process(4242, "qemu-system-x86", mapped=("/dev/dax0.0",))
    machine.add_process(4243, "bash", opened=("/dev/null",))
    code, out, _ = convert(cli, machine, "dax0.0", "--mode", "system-ram", "--yes")
    assert code == 1
    assert "process 4242 (qemu-system-x86) has mapped /dev/dax0.0" in out
    assert "4243" not in out
    assert fake_tools.calls == []


def test_refuses_a_device_open_in_a_process(machine: FakeMachine) -> None:
    machine.add_dax("dax0.0", mode="devdax")
    machine.write_dev("/dev/dax0.0")
    machine.add_process(77, "famfs", opened=("/dev/dax0.0",))
    planned = plan("dax0.0", "system-ram", root=machine.root)
    assert [f.message for f in planned.blocking] == ["process 77 (famfs) has open /dev/dax0.0"]


def test_refuses_a_famfs_superblock(machine: FakeMachine, fake_tools: FakeTools, cli: Cli) -> None:
    machine.add_dax("dax0.0", mode="devdax")
    machine.write_dev("/dev/dax0.0", magic=FAMFS_MAGIC)
    code, out, _ = convert(cli, machine, "dax0.0", "--mode", "system-ram", "--yes")
    assert code == 1
    assert "/dev/dax0.0 holds a famfs file system" in out
    assert fake_tools.calls == []


def test_superblock_on_pmem_is_read(machine: FakeMachine) -> None:
    machine.add_namespace("namespace0.0", mode="raw")
    machine.write_dev("/dev/pmem0", magic=FAMFS_MAGIC)
    assert [f.check for f in plan("/dev/pmem0", "devdax", root=machine.root).blocking] == [
        "superblock"
    ]


def test_force_overrides_pre_flight(machine: FakeMachine, fake_tools: FakeTools, cli: Cli) -> None:
    machine.add_dax("dax0.0", mode="devdax")
    machine.write_dev("/dev/dax0.0", magic=FAMFS_MAGIC)
    code, _, _ = convert(cli, machine, "dax0.0", "--mode", "system-ram", "--yes", "--force")
    assert code == 0
    assert fake_tools.calls == [
        ["daxctl", "reconfigure-device", "--mode=system-ram", "-f", "dax0.0"]
    ]
    assert machine.dax_mode("dax0.0") == "system-ram"


def test_unreadable_device_is_a_note_not_a_refusal(machine: FakeMachine) -> None:
    machine.add_dax("dax0.0", mode="devdax")  # no /dev/dax0.0 in the fake tree
    planned = plan("dax0.0", "system-ram", root=machine.root)
    assert not planned.refused
    assert [(f.check, f.blocking) for f in planned.findings] == [("superblock", False)]
