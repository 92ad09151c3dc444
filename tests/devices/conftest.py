"""Fixtures for the device tools: a fake machine under tmp_path and fake daxctl/ndctl."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import typer
from devices_fake_machine import FakeMachine
from devices_fake_tools import Cli, FakeTools
from typer.testing import CliRunner, Result

from famfs_xml.cli.devices import register


@pytest.fixture
def machine(tmp_path: Path) -> FakeMachine:
    return FakeMachine(tmp_path / "host")


@pytest.fixture
def fake_tools(tmp_path: Path, machine: FakeMachine, monkeypatch: pytest.MonkeyPatch) -> FakeTools:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tools = FakeTools(bin_dir, machine.root)
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin")
    return tools


@pytest.fixture
def guide_host(machine: FakeMachine) -> FakeMachine:
    """A 40 GiB Fedora 42 host set up as the famfs guide says, with no problems."""
    machine.set_efi()
    machine.set_kernel("6.14.5-300.fc42.x86_64")
    machine.set_os_release("fedora", "42")
    machine.set_firmware_memmap(
        [
            (0x0, 0x9FBFF, "System RAM"),
            (0x100000, 0xBFFFFFFF, "System RAM"),
            (0x100000000, 0xA3FFFFFFF, "System RAM"),
        ]
    )
    machine.set_cmdline(
        "BOOT_IMAGE=(hd0,gpt2)/vmlinuz-6.14.5 root=UUID=1234 ro memmap=8G!8G"
        " memhp_default_state=offline"
    )
    machine.set_grub(
        "GRUB_TIMEOUT=5\n"
        'GRUB_CMDLINE_LINUX="rhgb quiet memmap=8G!8G memhp_default_state=offline"\n'
        "GRUB_ENABLE_BLSCFG=true\n"
    )
    machine.set_auto_online("offline")
    machine.add_dax("dax0.0", mode="devdax")
    return machine


@pytest.fixture
def cli() -> Cli:
    """Run the device commands registered on a fresh app: ``cli("devices", "--json")``."""
    app = typer.Typer()
    register(app)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(app, list(args))

    return invoke
