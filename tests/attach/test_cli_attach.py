"""famfs-xml attach/detach on the command line: writes, --diff, exit codes, one-line errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from famfs_xml import api
from famfs_xml.core import units
from tests.attach.domains import DATA
from tests.conftest import Cli, run_entry_point
from tests.devices.devices_fake_machine import FakeMachine

DAXCTL = '[{"chardev":"dax1.0","size":8589934592,"target_node":0,"align":2097152,"mode":"devdax"}]'


@pytest.fixture
def vms(tmp_path: Path) -> Path:
    for name in ("handwritten-no-cpu", "virt-manager-passthrough", "libvirt-nvdimm"):
        (tmp_path / f"{name}.xml").write_bytes((DATA / f"{name}.xml").read_bytes())
    (tmp_path / "dax.json").write_text(DAXCTL)
    return tmp_path


def snapshot_of(vms: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(vms.iterdir())}


def test_attach_two_domains_consistently(cli: Cli, vms: Path) -> None:
    names = ["handwritten-no-cpu.xml", "virt-manager-passthrough.xml"]
    result = cli("attach", *names, "--source", "/dev/dax1.0", "--size", "8G", cwd=vms)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[:3] == [
        "handwritten-no-cpu.xml: attached /dev/dax1.0 (8 GiB, slot 0, NUMA node 0)",
        "virt-manager-passthrough.xml: attached /dev/dax1.0 (8 GiB, slot 0, NUMA node 0)",
        "Next steps (the famfs VM guide):",
    ]
    first, second = ((vms / n).read_bytes() for n in names)
    assert api.lint_text(first, peers=[second]) == []  # FX501 included
    assert cli("lint", *names, cwd=vms).exit_code == 0
    # again: nothing changes
    before = snapshot_of(vms)
    again = cli("attach", *names, "--source", "/dev/dax1.0", cwd=vms)
    assert again.exit_code == 0
    assert "already attached; unchanged" in again.stdout
    assert "Next steps" not in again.stdout
    assert snapshot_of(vms) == before


def test_next_steps_for_a_dax_device(cli: Cli, vms: Path) -> None:
    """The newest guide's steps: devdax in the guest (fsdax no longer), famfs mode on 7.x."""
    names = ["handwritten-no-cpu.xml", "virt-manager-passthrough.xml"]
    result = cli("attach", *names, "--source", "/dev/dax1.0", "--size", "8G", cwd=vms)
    steps = result.stdout.split("Next steps (the famfs VM guide):\n", 1)[1]
    assert "keep /dev/dax1.0 in devdax mode on the host" in steps
    assert f"virsh define {' '.join(names)}" in steps
    assert "famfs-xml device convert namespace0.0 --mode devdax --yes" in steps
    assert "famfs-xml device convert dax0.0 --mode famfs --yes" in steps
    assert "not fsdax" in steps


def test_next_steps_for_a_backing_file(cli: Cli, vms: Path) -> None:
    """The newest guide's other option: a file under /var/lib/libvirt/images as the memory."""
    backing = vms / "f42-pmem-backing"
    result = cli("attach", "handwritten-no-cpu.xml", "--source", str(backing), "--size", "64M",
                 cwd=vms)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert (
        f"create the backing file {backing} (64 MiB): truncate -s 67108864 {backing}, or, "
        f"allocated as the guide does, dd if=/dev/zero of={backing} bs=1M count=64"
    ) in result.stdout
    backing.write_bytes(b"")
    again = cli("attach", "virt-manager-passthrough.xml", "--source", str(backing), "--size",
                "64M", cwd=vms)  # fmt: skip
    assert "create the backing file" not in again.stdout
    assert f"{backing} (64 MiB) is the shared memory" in again.stdout


def test_size_from_the_other_domains(cli: Cli, vms: Path) -> None:
    cli("attach", "handwritten-no-cpu.xml", "--source", "/dev/dax1.0", "--size", "4GiB", cwd=vms)
    result = cli(
        "attach",
        "handwritten-no-cpu.xml",
        "virt-manager-passthrough.xml",
        "--source",
        "/dev/dax1.0",
        cwd=vms,
    )
    assert result.exit_code == 0, result.stderr
    assert "attached /dev/dax1.0 (4 GiB" in result.stdout


def test_size_from_inventory(cli: Cli, vms: Path) -> None:
    result = cli(
        "attach",
        "libvirt-nvdimm.xml",
        "--source",
        "/dev/dax1.0",
        "--inventory",
        "dax.json",
        cwd=vms,
    )
    assert result.exit_code == 0, result.stderr
    assert "(8 GiB, slot 1, NUMA node 0)" in result.stdout
    conflict = cli(
        "attach",
        "virt-manager-passthrough.xml",
        "--source",
        "/dev/dax1.0",
        "--inventory",
        "dax.json",
        "--size",
        "16G",
        cwd=vms,
    )
    assert conflict.exit_code == 2
    assert "differs from the size of /dev/dax1.0" in conflict.stderr


def test_unknown_size_exits_2_and_touches_nothing(cli: Cli, vms: Path) -> None:
    before = snapshot_of(vms)
    result = cli("attach", "handwritten-no-cpu.xml", "--source", "/dev/dax1.0", cwd=vms)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "famfs-xml: error: the size of /dev/dax1.0 is unknown: give "
        "--size, --inventory FILE or --host\n"
    )
    assert snapshot_of(vms) == before


def test_one_bad_file_means_no_file_is_written(cli: Cli, vms: Path) -> None:
    (vms / "broken.xml").write_text("<domain><name>x</name>")
    before = snapshot_of(vms)
    result = cli(
        "attach",
        "handwritten-no-cpu.xml",
        "broken.xml",
        "--source",
        "/dev/dax1.0",
        "--size",
        "8G",
        cwd=vms,
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("famfs-xml: error: broken.xml:1:")
    assert len(result.stderr.splitlines()) == 1
    assert snapshot_of(vms) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--size", "8GB"], "GB is 1000-based"),
        (["--size", "8G", "--node", "1"], "--node 1 but the domain has no NUMA cells"),
        (["--size", "8G", "--align", "3M"], "not a power of two"),
        (["--size", "8G", "--inventory", "missing.json"], "cannot read inventory"),
        (["--size", "8G", "--host", "--root", "no-such-dir"], "cannot read root"),
    ],
)
def test_usage_errors(cli: Cli, vms: Path, args: list[str], message: str) -> None:
    before = snapshot_of(vms)
    result = cli("attach", "handwritten-no-cpu.xml", "--source", "/dev/dax1.0", *args, cwd=vms)
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert snapshot_of(vms) == before


def test_directory_is_refused(cli: Cli, vms: Path) -> None:
    result = cli("attach", ".", "--source", "/dev/dax1.0", "--size", "8G", cwd=vms)
    assert result.exit_code == 2
    assert "is a directory" in result.stderr


def test_host_facts(cli: Cli, vms: Path) -> None:
    machine = FakeMachine(vms / "host")
    machine.add_dax("dax1.0", size=16 * units.GiB, align=units.GiB, mode="devdax")
    host = ["--host", "--root", str(machine.root)]
    result = cli("attach", "handwritten-no-cpu.xml", "--source", "/dev/dax1.0", *host, cwd=vms)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "attached /dev/dax1.0 (16 GiB" in result.stdout
    text = (vms / "handwritten-no-cpu.xml").read_text()
    assert '<alignsize unit="GiB">1</alignsize>' in text
    assert '<size unit="GiB">16</size>' in text
    missing = cli("attach", "libvirt-nvdimm.xml", "--source", "/dev/dax7.0", *host, cwd=vms)
    assert missing.exit_code == 2
    assert "/dev/dax7.0 does not exist on this host" in missing.stderr


def test_host_device_not_in_devdax_mode_is_reported(cli: Cli, vms: Path) -> None:
    machine = FakeMachine(vms / "host")
    machine.add_dax("dax1.0", size=8 * units.GiB, align=2 * units.MiB, mode="system-ram")
    result = cli(
        "attach",
        "libvirt-nvdimm.xml",
        "--source",
        "/dev/dax1.0",
        "--host",
        "--root",
        str(machine.root),
        cwd=vms,
    )
    assert result.exit_code == 1
    assert "FX309" in result.stdout and "system-ram" in result.stdout


def test_diff_writes_nothing(cli: Cli, vms: Path, snapshot: SnapshotAssertion) -> None:
    before = snapshot_of(vms)
    result = cli(
        "attach",
        "handwritten-no-cpu.xml",
        "--source",
        "/dev/dax1.0",
        "--size",
        "8G",
        "--diff",
        cwd=vms,
    )
    assert result.exit_code == 1
    assert snapshot_of(vms) == before
    assert result.snapshot() == snapshot


def test_detach(cli: Cli, vms: Path, snapshot: SnapshotAssertion) -> None:
    result = cli("detach", "libvirt-nvdimm.xml", "--source", "/dev/dax0.0", "--diff", cwd=vms)
    assert result.exit_code == 1
    assert result.snapshot() == snapshot
    result = cli("detach", "libvirt-nvdimm.xml", "--source", "/dev/dax0.0", cwd=vms)
    assert result.exit_code == 0
    assert result.stdout == "libvirt-nvdimm.xml: detached /dev/dax0.0\n"
    assert b"model='nvdimm'" not in (vms / "libvirt-nvdimm.xml").read_bytes()
    again = cli("detach", "libvirt-nvdimm.xml", "--source", "/dev/dax0.0", cwd=vms)
    assert again.exit_code == 0
    assert "is not attached; unchanged" in again.stdout


def test_mode_is_kept(cli: Cli, vms: Path) -> None:
    path = vms / "handwritten-no-cpu.xml"
    os.chmod(path, 0o640)
    cli("attach", path.name, "--source", "/dev/dax1.0", "--size", "8G", cwd=vms)
    assert (path.stat().st_mode & 0o777) == 0o640


def test_stdin_to_stdout(cli: Cli) -> None:
    data = (DATA / "libvirt-plain.xml").read_bytes()
    result = cli("attach", "-", "--source", "/dev/dax1.0", "--size", "8G", stdin=data)
    assert result.exit_code == 0
    assert "<path>/dev/dax1.0</path>" in result.stdout
    lines = result.stderr.splitlines()
    assert lines[:2] == [
        "-: attached /dev/dax1.0 (8 GiB, slot 0, NUMA node 0)",
        "Next steps (the famfs VM guide):",
    ]
    assert not any("virsh define" in line for line in lines)  # no file to define


def test_remaining_findings_are_reported(cli: Cli, vms: Path) -> None:
    path = vms / "handwritten-no-cpu.xml"
    path.write_bytes(path.read_bytes().replace(b"        <acpi/>\n", b""))  # FX402
    result = cli("attach", path.name, "--source", "/dev/dax1.0", "--size", "8G", cwd=vms)
    assert result.exit_code == 1
    assert "FX402" in result.stdout
    assert b"/dev/dax1.0" in path.read_bytes()


def test_entry_point_help() -> None:
    result = run_entry_point(["attach", "--help"])
    assert result.exit_code == 0
    for option in (
        "--source",
        "--size",
        "--node",
        "--label",
        "--align",
        "--slot",
        "--inventory",
        "--host",
        "--diff",
    ):
        assert option in result.stdout
    assert run_entry_point(["detach", "--help"]).exit_code == 0
