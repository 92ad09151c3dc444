"""The real daxctl and ndctl through our wrappers (CI installs Debian's packages).

The machines these run on have no dax devices or namespaces, so the tests see the tools'
real empty output, real failures for a device that does not exist, and ``--version``.
Device names are chosen so that no real machine has them: nothing real is ever changed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from devices_fake_machine import FakeMachine

from famfs_xml.core.inventory import Inventory
from famfs_xml.host.convert import execute, plan
from famfs_xml.host.namespaces import list_namespaces
from famfs_xml.host.tools import reconfigured_count, run_tool

NO_SUCH_DAX = "dax977.3"
NO_SUCH_NAMESPACE = "namespace977.3"


def real_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        reason = f"{name} is not installed (apt-get install --no-install-recommends {name})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must install it")
        pytest.skip(reason)
    return path


def host_has_devices() -> bool:
    return any(
        Path(bus).is_dir() and any(Path(bus).iterdir())
        for bus in ("/sys/bus/dax/devices", "/sys/bus/nd/devices")
    )


@pytest.fixture
def daxctl() -> str:
    return real_tool("daxctl")


@pytest.fixture
def ndctl() -> str:
    return real_tool("ndctl")


@pytest.mark.parametrize("tool", ["daxctl", "ndctl"])
def test_version(tool: str) -> None:
    result = run_tool([real_tool(tool), "--version"], timeout=30)
    assert result.ok, result.describe_failure()
    assert result.stdout.strip().lstrip("v").split(".")[0].isdigit()


def test_daxctl_list_with_no_devices(daxctl: str) -> None:
    if host_has_devices():
        pytest.skip("this machine has dax devices or namespaces")
    result = run_tool([daxctl, "list"], timeout=30)
    assert (result.returncode, result.stdout) == (0, "")
    assert len(Inventory.from_json_text(result.stdout)) == 0


def test_ndctl_list_with_no_namespaces(ndctl: str, tmp_path: Path) -> None:
    if host_has_devices():
        pytest.skip("this machine has dax devices or namespaces")
    result = run_tool([ndctl, "list", "-N", "-v"], timeout=30)
    assert (result.returncode, result.stdout) == (0, "")
    assert list_namespaces(tmp_path, ndctl) == []


def test_daxctl_usage_error(daxctl: str) -> None:
    result = run_tool([daxctl, "reconfigure-device", NO_SUCH_DAX], timeout=30)
    assert result.returncode == 129
    assert "usage error" in result.describe_failure()
    assert "'mode'" in result.stderr


def test_daxctl_reconfigure_of_a_missing_device_is_not_trusted(
    daxctl: str, machine: FakeMachine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """daxctl may exit 0 or 250 here; either way nothing changed, and we must say so."""
    if Path("/sys/bus/dax/devices", NO_SUCH_DAX).exists():
        pytest.skip(f"this machine really has {NO_SUCH_DAX}")
    monkeypatch.setenv("PATH", str(Path(daxctl).parent))
    machine.add_dax(NO_SUCH_DAX, mode=None)
    outcome = execute(plan(NO_SUCH_DAX, "devdax", root=machine.root), root=machine.root)
    assert outcome.executed and not outcome.ok
    assert outcome.result is not None
    assert reconfigured_count(outcome.result.stderr) == 0
    assert outcome.mode_after == "unbound"


def test_ndctl_reconfig_of_a_missing_namespace(
    ndctl: str, machine: FakeMachine, monkeypatch: pytest.MonkeyPatch
) -> None:
    if Path("/sys/bus/nd/devices", NO_SUCH_NAMESPACE).exists():
        pytest.skip(f"this machine really has {NO_SUCH_NAMESPACE}")
    monkeypatch.setenv("PATH", str(Path(ndctl).parent))
    machine.add_namespace(NO_SUCH_NAMESPACE, mode="raw")
    machine.write_dev("/dev/pmem977")
    outcome = execute(plan(NO_SUCH_NAMESPACE, "devdax", root=machine.root), root=machine.root)
    assert outcome.executed and not outcome.ok
    assert outcome.result is not None and outcome.result.returncode != 0
    assert "failed to reconfigure namespace" in outcome.message
