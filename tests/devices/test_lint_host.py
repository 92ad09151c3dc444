"""`lint --host`: backing-device facts from a (fake) live machine feed FX305, FX302, FX309."""

from __future__ import annotations

from pathlib import Path

from devices_fake_machine import FakeMachine

from famfs_xml.core import units
from tests.conftest import Cli
from tests.samples import GUIDE_VM


def _vm(tmp_path: Path, text: str = GUIDE_VM) -> Path:
    path = tmp_path / "vm.xml"
    path.write_text(text)
    return path


def test_a_devdax_device_of_the_right_size_is_clean(
    famfs_cli: Cli, tmp_path: Path, machine: FakeMachine
) -> None:
    machine.add_dax("dax1.0", size=8 * units.GiB, align=2 * units.MiB, mode="devdax")
    result = famfs_cli("lint", "--host", "--root", str(machine.root), str(_vm(tmp_path)))
    assert result.exit_code == 0, result.stdout


def test_size_and_align_come_from_sysfs(
    famfs_cli: Cli, tmp_path: Path, machine: FakeMachine
) -> None:
    machine.add_dax("dax1.0", size=4 * units.GiB, align=units.GiB, mode="devdax")
    vm = _vm(tmp_path)
    result = famfs_cli("lint", "--host", "--root", str(machine.root), str(vm))
    assert result.exit_code == 1
    assert "FX305" in result.stdout and "4 GiB" in result.stdout
    assert "FX302" in result.stdout and "1 GiB" in result.stdout
    fixed = famfs_cli("fix", "--host", "--root", str(machine.root), str(vm))
    assert fixed.exit_code == 0, fixed.stdout
    text = vm.read_text()
    assert "<size unit='GiB'>4</size>" in text
    assert "<alignsize unit='MiB'>1024</alignsize>" in text


def test_a_device_in_system_ram_mode_is_fx309(
    famfs_cli: Cli, tmp_path: Path, machine: FakeMachine
) -> None:
    machine.add_dax("dax1.0", mode="system-ram")
    result = famfs_cli("lint", "--host", "--root", str(machine.root), str(_vm(tmp_path)))
    assert result.exit_code == 1
    assert "FX309" in result.stdout and "system-ram" in result.stdout


def test_an_unbound_device_is_fx309(famfs_cli: Cli, tmp_path: Path, machine: FakeMachine) -> None:
    machine.add_dax("dax1.0", mode=None)
    result = famfs_cli("lint", "--host", "--root", str(machine.root), str(_vm(tmp_path)))
    assert "FX309" in result.stdout and "unbound" in result.stdout


def test_a_missing_device_is_fx309(famfs_cli: Cli, tmp_path: Path, machine: FakeMachine) -> None:
    result = famfs_cli("lint", "--host", "--root", str(machine.root), str(_vm(tmp_path)))
    assert result.exit_code == 1
    assert "FX309" in result.stdout and "does not exist" in result.stdout


def test_a_regular_backing_file_is_sized_with_stat(famfs_cli: Cli, tmp_path: Path) -> None:
    backing = tmp_path / "pmem-backing"
    with backing.open("wb") as handle:
        handle.truncate(64 * units.MiB)
    vm = _vm(tmp_path, GUIDE_VM.replace("/dev/dax1.0", str(backing)))
    result = famfs_cli("lint", "--host", str(vm))
    assert result.exit_code == 1
    assert "FX305" in result.stdout and "64 MiB" in result.stdout
    assert "FX309" not in result.stdout


def test_a_missing_root_is_a_usage_error(famfs_cli: Cli, tmp_path: Path) -> None:
    result = famfs_cli("lint", "--host", "--root", str(tmp_path / "nope"), str(_vm(tmp_path)))
    assert result.exit_code == 2
    assert result.stderr.startswith("famfs-xml: error: cannot read root")
