"""Whole outputs of the device commands for a host with several problems (syrupy)."""

from __future__ import annotations

import pytest
from devices_fake_machine import FakeMachine
from devices_fake_tools import Cli
from syrupy.assertion import SnapshotAssertion


@pytest.fixture
def troubled_host(guide_host: FakeMachine) -> FakeMachine:
    """The guide's host after an upgrade: a new kernel, leftovers, and a half-done edit."""
    guide_host.set_kernel("6.12.9-200.fc42.x86_64")
    guide_host.set_cmdline("ro memmap=8G!40G efi_fake_mem=8G@8G:0x40000")
    guide_host.set_grub(
        'GRUB_CMDLINE_LINUX="rhgb quiet memmap=8G!8G memhp_default_state=offline"\n'
        "GRUB_ENABLE_BLSCFG=true\n"
    )
    guide_host.set_auto_online("online")
    guide_host.add_dax("dax1.0", mode="system-ram")
    guide_host.add_dax("dax2.0", mode=None)
    guide_host.add_namespace("namespace3.0", mode="fsdax")
    guide_host.add_disabled_namespace("namespace4.0")  # memmap=31M!161M: misaligned
    return guide_host


def test_devices_table(troubled_host: FakeMachine, cli: Cli, snapshot: SnapshotAssertion) -> None:
    result = cli("devices", "--root", str(troubled_host.root))
    assert (result.exit_code, result.stdout) == snapshot


def test_host_check_text(troubled_host: FakeMachine, cli: Cli, snapshot: SnapshotAssertion) -> None:
    result = cli("host", "check", "--root", str(troubled_host.root))
    assert (result.exit_code, result.stdout) == snapshot


def test_host_check_json(troubled_host: FakeMachine, cli: Cli, snapshot: SnapshotAssertion) -> None:
    result = cli("host", "check", "--json", "--root", str(troubled_host.root))
    assert (result.exit_code, result.stdout) == snapshot


def test_convert_plan(troubled_host: FakeMachine, cli: Cli, snapshot: SnapshotAssertion) -> None:
    troubled_host.add_process(812, "qemu-system-x86", mapped=("/dev/dax0.0",))
    result = cli(
        "device", "convert", "dax0.0", "--mode", "system-ram", "--root", str(troubled_host.root)
    )
    assert (result.exit_code, result.stdout) == snapshot
