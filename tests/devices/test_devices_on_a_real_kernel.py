"""What ``device convert`` got wrong inside a real 6.1 guest, replayed on fake machines.

Each test names the guest scenario it replays; ``guest-recordings.md`` (next to this file)
has what the real kernel, ndctl and daxctl showed there. The listing's share (disabled
namespaces, their order) is in ``test_devices_listing.py``, FH002's in
``test_devices_host_check.py``.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from devices_fake_machine import FAMFS_MAGIC, FakeMachine, GiB, MiB
from devices_fake_tools import Cli, FakeTools

from famfs_xml.host import preflight
from famfs_xml.host.convert import plan
from famfs_xml.host.devices import read_inventory


def convert(cli: Cli, machine: FakeMachine, *args: str) -> tuple[int, str, str]:
    result = cli("device", "convert", *args, "--root", str(machine.root))
    return result.exit_code, result.stdout, result.stderr


# --- 1. a disabled namespace, or one of size 0, is not live ---------------------------


def test_convert_refuses_a_disabled_namespace(
    machine: FakeMachine, fake_tools: FakeTools, cli: Cli
) -> None:
    """It used to say "already in fsdax mode; nothing was run" and exit 0."""
    machine.add_disabled_namespace("namespace0.0", mode="fsdax")
    planned = plan("namespace0.0", "fsdax", root=machine.root)
    assert not planned.nothing_to_do
    assert planned.refused
    code, out, err = convert(cli, machine, "namespace0.0", "--mode", "fsdax", "--yes")
    assert code == 1
    assert "already" not in out + err
    assert "namespace0.0 is disabled: no driver is bound" in out
    assert "refused to convert namespace0.0" in err
    assert fake_tools.calls == []


def test_convert_refuses_an_empty_seed_namespace_even_with_force(
    machine: FakeMachine, fake_tools: FakeTools, cli: Cli
) -> None:
    """It used to plan "Current mode: raw ... This destroys all data"; ndctl then failed."""
    machine.add_seed_namespace("namespace0.0")
    code, out, err = convert(cli, machine, "namespace0.0", "--mode", "fsdax", "--yes", "--force")
    assert code == 1
    assert "size 0" in out
    assert "destroys" not in out
    assert "use --force" not in err
    assert fake_tools.calls == []


# --- 2. /dev/pmemX.Y names its namespace ------------------------------------------------


@pytest.mark.parametrize("name", ["/dev/pmem0.1", "pmem0.1"])
def test_the_second_namespace_is_named_by_its_block_device(
    name: str, machine: FakeMachine, cli: Cli
) -> None:
    machine.add_labelled_region()
    planned = plan(name, "devdax", root=machine.root)
    assert (planned.name, planned.paths) == ("namespace0.1", ("/dev/pmem0.1",))
    code, out, _ = convert(cli, machine, name, "--mode", "devdax")
    assert code == 1  # the plan, not a usage error
    assert "ndctl create-namespace --force --reconfig=namespace0.1 --mode=devdax" in out


def test_every_block_device_the_listing_shows_can_be_converted(machine: FakeMachine) -> None:
    machine.add_labelled_region()
    listing = read_inventory(machine.root, ndctl=None)
    for device in listing.devices:
        assert plan(device.path, "devdax", root=machine.root).name == device.namespace


# --- 3. a namespace whose dax device is system RAM --------------------------------------


def system_ram_namespace(machine: FakeMachine) -> None:
    """256 MiB nvdimm -> devdax (250 MiB at 0x100600000) -> system-ram: memory33 online."""
    machine.add_namespace("namespace0.0", mode="devdax", size=256 * MiB)
    machine.set_dax_mode("dax0.0", "system-ram")
    machine.set_memory_blocks(0x108000000, 128 * MiB, "online")


@pytest.mark.parametrize("mode", ["fsdax", "devdax"])
def test_namespace_plan_sees_its_dax_device_in_system_ram(
    mode: str, machine: FakeMachine, fake_tools: FakeTools, cli: Cli
) -> None:
    system_ram_namespace(machine)
    planned = plan("namespace0.0", mode, root=machine.root)
    assert not planned.nothing_to_do
    [finding] = [f for f in planned.blocking if f.check == "system-ram"]
    assert "dax0.0 is in system-ram mode with 1 memory block online" in finding.message
    assert "famfs-xml device convert dax0.0 --mode devdax" in finding.message
    code, out, err = convert(cli, machine, "namespace0.0", "--mode", mode, "--yes")
    assert code == 1
    assert "system-ram" in out and "refused" in err
    assert fake_tools.calls == []


def test_a_system_ram_namespace_has_no_data_to_keep(machine: FakeMachine) -> None:
    system_ram_namespace(machine)
    planned = plan("namespace0.0", "fsdax", root=machine.root, force=True)
    assert planned.destroys_data
    assert "system RAM now" in planned.data_effect


def test_a_namespace_whose_dax_device_lost_its_driver(machine: FakeMachine) -> None:
    """After the kernel rejected system-ram, the guest showed dax0.0 with no driver."""
    machine.add_namespace("namespace0.0", mode="devdax", size=64 * MiB)
    machine.set_dax_mode("dax0.0", None)
    machine.write_dev("/dev/dax0.0")
    planned = plan("namespace0.0", "devdax", root=machine.root)
    assert not planned.nothing_to_do
    assert not planned.refused
    [note] = [f for f in planned.findings if f.check == "unbound"]
    assert "famfs-xml device convert dax0.0 --mode devdax" in note.message


def test_after_the_first_step_the_namespace_converts(
    machine: FakeMachine, fake_tools: FakeTools, cli: Cli
) -> None:
    system_ram_namespace(machine)
    code, _, _ = convert(cli, machine, "dax0.0", "--mode", "devdax", "--yes", "--force")
    assert code == 0
    code, _, err = convert(cli, machine, "namespace0.0", "--mode", "fsdax", "--yes")
    assert (code, err) == (0, "")
    assert machine.namespace_mode("namespace0.0") == "fsdax"


# --- 5. system-ram needs a whole memory block -------------------------------------------


def test_system_ram_refused_when_no_whole_memory_block_fits(
    machine: FakeMachine, fake_tools: FakeTools, cli: Cli
) -> None:
    """64 MiB nvdimm -> devdax: 62 MiB at 0x100200000, 128 MiB blocks; kmem rejects it."""
    machine.add_namespace("namespace0.0", mode="devdax", size=64 * MiB)
    machine.write_dev("/dev/dax0.0")
    planned = plan("dax0.0", "system-ram", root=machine.root, force=True)
    assert planned.refused
    [finding] = [f for f in planned.blocking if f.check == "memory-blocks"]
    assert "0x100200000-0x103ffffff" in finding.message
    assert "no whole 128 MiB memory block" in finding.message
    code, out, err = convert(cli, machine, "dax0.0", "--mode", "system-ram", "--yes", "--force")
    assert code == 1
    assert "rejecting DAX region without any memory after alignment" in out
    assert "refused" in err and "use --force" not in err
    assert fake_tools.calls == []
    assert machine.dax_mode("dax0.0") == "devdax"


def test_the_fake_kernel_refuses_it_too(machine: FakeMachine, fake_tools: FakeTools) -> None:
    """What happens when the check is skipped: the device is left unbound."""
    from famfs_xml.host.tools import run_tool

    machine.add_namespace("namespace0.0", mode="devdax", size=64 * MiB)
    result = run_tool(
        [fake_tools.path("daxctl"), "reconfigure-device", "--mode=system-ram", "dax0.0"], 30
    )
    assert result.returncode == 234
    assert "failed to enable" in result.stderr
    assert machine.dax_mode("dax0.0") is None


def test_system_ram_allowed_when_a_whole_block_fits(machine: FakeMachine) -> None:
    """256 MiB nvdimm: 250 MiB at 0x100600000 holds memory block 33 (0x108000000)."""
    machine.add_namespace("namespace0.0", mode="devdax", size=256 * MiB)
    machine.write_dev("/dev/dax0.0")
    planned = plan("dax0.0", "system-ram", root=machine.root)
    assert not planned.refused
    [note] = [f for f in planned.findings if f.check == "memory-blocks"]
    assert not note.blocking
    assert "128 MiB of the 250 MiB" in note.message


def test_memory_blocks_are_checked_per_mapping(machine: FakeMachine) -> None:
    """Whole blocks count inside each mapping, not inside ``resource`` + ``size``.

    As a range, 0x13c000000 + 192 MiB would hold block 40 (0x140000000-0x147ffffff); split
    into 64 MiB at 0x13c000000 and 128 MiB at 0x154000000 it holds none.
    """
    device = machine.add_dax("dax3.0", size=192 * MiB, resource=0x13C000000)
    (device / "mapping0/end").write_text(f"{0x13FFFFFFF:#x}\n")
    (device / "mapping1").mkdir()
    (device / "mapping1/start").write_text(f"{0x154000000:#x}\n")
    (device / "mapping1/end").write_text(f"{0x15BFFFFFF:#x}\n")
    machine.write_dev("/dev/dax3.0")
    assert [f.check for f in plan("dax3.0", "system-ram", root=machine.root).blocking] == [
        "memory-blocks"
    ]


# --- 6. not root: the in-use check cannot see other users' processes -------------------


@pytest.fixture
def not_root(monkeypatch: pytest.MonkeyPatch, machine: FakeMachine) -> None:
    """Replays an unprivileged user: ``/proc/PID/fd`` of a root process fails with EACCES.

    The tests may run as root, who reads everything, so the refusal is injected where the
    kernel gives it (source: the guest, ``setpriv --reuid=65534``).
    """
    real_listdir = os.listdir
    proc = str(machine.root / "proc")

    def listdir(path: str | os.PathLike[str]) -> list[str]:
        text = os.fspath(path)
        if text.startswith(proc) and text.endswith("/fd") and "/4242/" in text:
            raise PermissionError(errno.EACCES, "Permission denied", text)
        return real_listdir(path)

    monkeypatch.setattr(preflight.os, "listdir", listdir)


def test_in_use_check_says_it_could_not_check(
    not_root: None, machine: FakeMachine, fake_tools: FakeTools, cli: Cli
) -> None:
    machine.add_namespace("namespace0.0", mode="raw", size=64 * MiB)
    machine.write_dev("/dev/pmem0")
    machine.add_process(4242, "sleep", opened=("/dev/pmem0",))
    machine.add_process(4300, "bash", opened=("/dev/null",))
    planned = plan("namespace0.0", "devdax", root=machine.root)
    [finding] = [f for f in planned.findings if f.check == "in-use"]
    assert finding.blocking
    assert "could not check 1 process" in finding.message
    assert "run as root" in finding.message
    code, out, err = convert(cli, machine, "namespace0.0", "--mode", "devdax", "--yes")
    assert code == 1
    assert "could not check" in out and "refused" in err
    assert fake_tools.calls == []


def test_unreadable_device_for_want_of_permission_blocks(
    machine: FakeMachine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``/dev/pmem0`` is ``brw-------`` root: an unprivileged read fails with EACCES."""
    machine.add_namespace("namespace0.0", mode="raw", size=64 * MiB)

    def denied(path: Path, use_mmap: bool, map_size: int) -> int:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(preflight, "_first_u64", denied)
    [finding] = [f for f in plan("namespace0.0", "devdax", root=machine.root).findings]
    assert (finding.check, finding.blocking) == ("superblock", True)
    assert "Permission denied" in finding.message and "run as root" in finding.message


def test_exit_243_is_named(machine: FakeMachine) -> None:
    from famfs_xml.host.tools import ToolResult

    result = ToolResult(("ndctl",), 243, "", "failed to reconfigure namespace: Permission denied\n")
    assert "exit 243 (permission denied)" in result.describe_failure()


# --- 7. the plan says precisely what is lost --------------------------------------------


def test_fsdax_to_devdax_keeps_the_data(machine: FakeMachine, cli: Cli) -> None:
    """Measured: bytes at offset 0 of /dev/pmem0 read back at offset 0 of /dev/dax0.0."""
    machine.add_namespace("namespace0.0", mode="fsdax", size=64 * MiB)
    machine.write_dev("/dev/pmem0")
    planned = plan("namespace0.0", "devdax", root=machine.root)
    assert not planned.destroys_data
    assert "keeps the data" in planned.data_effect
    assert "info block" in planned.data_effect
    code, out, _ = convert(cli, machine, "namespace0.0", "--mode", "devdax")
    assert code == 1
    assert "destroys all data" not in out
    assert "Data:" in out and "keeps the data" in out


def test_famfs_on_fsdax_is_kept_by_the_conversion_to_devdax(machine: FakeMachine) -> None:
    machine.add_namespace("namespace0.0", mode="fsdax", size=64 * MiB)
    machine.write_dev("/dev/pmem0", magic=FAMFS_MAGIC)
    planned = plan("namespace0.0", "devdax", root=machine.root)
    [finding] = planned.findings
    assert (finding.check, finding.blocking) == ("superblock", False)
    assert "kept" in finding.message


def test_raw_to_devdax_loses_the_start_of_the_namespace(machine: FakeMachine) -> None:
    machine.add_namespace("namespace0.0", mode="raw", size=64 * MiB)
    machine.write_dev("/dev/pmem0")
    planned = plan("namespace0.0", "devdax", root=machine.root)
    assert planned.destroys_data
    assert "first 8 KiB" in planned.data_effect
    assert "offset 0 of /dev/pmem0" in planned.data_effect
    assert "all data" not in planned.data_effect


def test_raw_with_famfs_is_still_refused(machine: FakeMachine) -> None:
    machine.add_namespace("namespace0.0", mode="raw", size=64 * MiB)
    machine.write_dev("/dev/pmem0", magic=FAMFS_MAGIC)
    assert [f.check for f in plan("namespace0.0", "devdax", root=machine.root).blocking] == [
        "superblock"
    ]


@pytest.mark.parametrize(
    ("current", "wanted"), [("devdax", "system-ram"), ("system-ram", "devdax")]
)
def test_system_ram_loses_everything(current: str, wanted: str, machine: FakeMachine) -> None:
    machine.add_dax("dax0.0", mode=current, size=8 * GiB)
    planned = plan("dax0.0", wanted, root=machine.root)
    assert planned.destroys_data
    assert "/dev/dax0.0" in planned.data_effect and "kernel" in planned.data_effect


def test_binding_an_unbound_device_keeps_the_data(machine: FakeMachine) -> None:
    machine.add_dax("dax0.0", mode=None)
    planned = plan("dax0.0", "devdax", root=machine.root)
    assert not planned.destroys_data
    assert "keeps the data" in planned.data_effect
