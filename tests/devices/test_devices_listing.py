"""Listing dax devices and pmem namespaces from a fake machine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from devices_fake_machine import FakeMachine, GiB, MiB
from devices_fake_tools import Cli, FakeTools

from famfs_xml.core.inventory import Inventory
from famfs_xml.host.devices import (
    devices_to_json,
    format_size,
    format_table,
    list_devices,
    read_inventory,
)
from famfs_xml.host.namespaces import list_namespaces, namespaces_from_ndctl_json
from famfs_xml.host.tools import run_tool


def test_modes_come_from_the_driver_link(machine: FakeMachine) -> None:
    machine.add_dax("dax0.0", mode="devdax")
    machine.add_dax("dax1.0", mode="system-ram")
    machine.add_dax("dax2.0", mode=None)
    machine.add_dax("dax10.0", mode="famfs")
    devices = list_devices(machine.root, ndctl=None)
    assert [(d.path, d.mode) for d in devices] == [
        ("/dev/dax0.0", "devdax"),
        ("/dev/dax1.0", "system-ram"),
        ("/dev/dax2.0", "unbound"),
        ("/dev/dax10.0", "famfs"),
    ]
    assert devices[0].size == 8 * GiB
    assert devices[0].align == 2 * 1024 * 1024
    assert devices[0].target_node == 0
    assert devices[1].region == "1"


def test_no_devices_at_all(machine: FakeMachine) -> None:
    assert list_devices(machine.root) == []
    assert devices_to_json([]) == {"version": 1, "devices": []}
    assert format_table([]) == "No dax devices or pmem namespaces found."


def test_pmem_namespaces_from_sysfs(machine: FakeMachine) -> None:
    machine.add_namespace("namespace0.0", mode="raw", size=8573157376)
    machine.add_namespace("namespace1.0", mode="fsdax")
    machine.add_namespace("namespace2.0", mode="devdax")
    devices = list_devices(machine.root, ndctl=None)
    by_path = {d.path: d for d in devices}
    assert by_path["/dev/pmem0"].mode == "raw"
    assert by_path["/dev/pmem0"].size == 8573157376
    assert by_path["/dev/pmem0"].namespace == "namespace0.0"
    assert by_path["/dev/pmem1"].mode == "fsdax"
    assert by_path["/dev/pmem1"].align == 2 * 1024 * 1024
    assert by_path["/dev/dax2.0"].mode == "devdax"
    assert by_path["/dev/dax2.0"].namespace == "namespace2.0"
    assert "/dev/pmem2" not in by_path


def test_pmem_namespaces_from_ndctl(machine: FakeMachine, fake_tools: FakeTools) -> None:
    machine.add_namespace("namespace0.0", mode="fsdax")
    namespaces = list_namespaces(machine.root, fake_tools.path("ndctl"))
    assert fake_tools.calls == [["ndctl", "list", "-N", "-i", "-v"]]
    assert [(n.name, n.mode, n.blockdev) for n in namespaces] == [
        ("namespace0.0", "fsdax", "pmem0")
    ]


def test_ndctl_output_shapes() -> None:
    assert namespaces_from_ndctl_json("") == []
    bare = '{"dev":"namespace0.0","mode":"raw","size":8573157376,"blockdev":"pmem0"}'
    assert namespaces_from_ndctl_json(bare)[0].size == 8573157376
    devdax = json.dumps(
        {
            "dev": "namespace0.0",
            "mode": "devdax",
            "size": "7.86 GiB (8.44 GB)",
            "daxregion": {"id": 0, "devices": [{"chardev": "dax0.0", "mode": "devdax"}]},
        }
    )
    parsed = namespaces_from_ndctl_json(devdax)[0]
    assert parsed.chardev == "dax0.0"
    assert parsed.size is None  # human sizes are rounded: never trusted


def test_json_is_accepted_as_an_inventory(machine: FakeMachine) -> None:
    machine.add_dax("dax0.0", mode="devdax")
    machine.add_dax("dax1.0", mode=None)
    machine.add_namespace("namespace3.0", mode="fsdax")
    devices = list_devices(machine.root, ndctl=None)
    text = json.dumps(devices_to_json(devices))
    inventory = Inventory.from_json_text(text, source="devices --json")
    assert sorted(inventory, key=lambda d: d.path) == sorted(devices, key=lambda d: d.path)


def test_json_shape_matches_the_spec(machine: FakeMachine) -> None:
    machine.add_dax("dax0.0", mode="devdax")
    machine.add_namespace("namespace1.0", mode="fsdax", size=8573157376)
    data = devices_to_json(list_devices(machine.root, ndctl=None))
    assert data["version"] == 1
    assert data["devices"][0] == {
        "path": "/dev/dax0.0",
        "kind": "dax",
        "size": 8589934592,
        "align": 2097152,
        "mode": "devdax",
        "driver": "device_dax",
        "target_node": 0,
        "region": "0",
    }
    pmem = data["devices"][1]
    assert set(pmem) == {"path", "kind", "size", "align", "mode", "target_node", "namespace"}
    assert (pmem["kind"], pmem["mode"], pmem["namespace"]) == ("pmem", "fsdax", "namespace1.0")


def test_sizes_are_human_and_exact() -> None:
    assert format_size(8 * GiB) == "8 GiB (8589934592)"
    assert format_size(2 * 1024 * 1024) == "2 MiB (2097152)"
    assert format_size(8438939648) == "7.86 GiB (8438939648)"
    assert format_size(512) == "512 B"
    assert format_size(None) == "-"


def test_devices_command_table(machine: FakeMachine, cli: Cli) -> None:
    machine.add_dax("dax0.0", mode="devdax")
    machine.add_dax("dax1.0", mode=None)
    result = cli("devices", "--root", str(machine.root))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["PATH", "SIZE", "ALIGN", "MODE", "NODE", "NAMESPACE"]
    assert "8 GiB (8589934592)" in lines[1] and "devdax" in lines[1]
    assert "unbound" in lines[2]


def test_devices_command_json(machine: FakeMachine, cli: Cli) -> None:
    machine.add_dax("dax0.0", mode="system-ram")
    result = cli("devices", "--json", "--root", str(machine.root))
    assert result.exit_code == 0
    assert json.loads(result.stdout)["devices"][0]["mode"] == "system-ram"


def test_unreadable_root_is_a_usage_error(tmp_path: Path, cli: Cli) -> None:
    result = cli("devices", "--root", str(tmp_path / "missing"))
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "cannot read root" in result.stderr


def test_every_shape_the_tools_print_is_understood(
    machine: FakeMachine, fake_tools: FakeTools
) -> None:
    daxctl, ndctl = fake_tools.path("daxctl"), fake_tools.path("ndctl")
    empty = run_tool([daxctl, "list"], timeout=30)
    assert (empty.returncode, empty.stdout) == (0, "")
    assert len(Inventory.from_json_text(empty.stdout)) == 0

    machine.add_dax("dax0.0", mode="system-ram")
    bare = run_tool([daxctl, "list", "-u"], timeout=30).stdout
    assert json.loads(bare)["chardev"] == "dax0.0"  # one device with -u: a bare object
    assert [d.mode for d in Inventory.from_json_text(bare)] == ["system-ram"]

    machine.add_dax("dax1.0", mode="devdax")
    array = run_tool([daxctl, "list"], timeout=30).stdout
    assert "\\/" not in array and isinstance(json.loads(array), list)
    assert len(Inventory.from_json_text(array)) == 2

    machine.add_namespace("namespace2.0", mode="raw")
    one = run_tool([ndctl, "list", "-N", "-v", "-u"], timeout=30).stdout
    assert isinstance(json.loads(one), dict)
    assert [n.blockdev for n in namespaces_from_ndctl_json(one)] == ["pmem2"]


def test_usage_errors_of_the_tools_are_named(fake_tools: FakeTools) -> None:
    result = run_tool([fake_tools.path("daxctl"), "reconfigure-device", "dax0.0"], timeout=30)
    assert result.returncode == 129
    assert result.describe_failure() == (
        "daxctl failed with exit 129 (usage error): "
        "error: a 'align', 'mode' or 'size' option is required"
    )


# --- as a real 6.1 kernel shows them (tests/devices/guest-recordings.md) ------------


def test_a_misaligned_legacy_namespace_is_listed_as_disabled(
    machine: FakeMachine, cli: Cli
) -> None:
    """``memmap=31M!161M``: no driver, no /dev/pmem0; the kernel: misaligned, unable to map."""
    machine.add_disabled_namespace("namespace0.0")
    listing = read_inventory(machine.root, ndctl=None)
    [namespace] = listing.namespaces
    assert (namespace.name, namespace.mode, namespace.size) == ("namespace0.0", "fsdax", 31 * MiB)
    assert not namespace.enabled
    assert namespace.disabled is not None
    assert "0xa100000-0xbffffff is not 2 MiB aligned" in namespace.disabled

    result = cli("devices", "--json", "--root", str(machine.root))
    data = json.loads(result.stdout)
    assert data["devices"] == []  # no device node: nothing a version-1 reader can use
    [entry] = data["namespaces"]
    assert (entry["name"], entry["state"], entry["paths"]) == ("namespace0.0", "disabled", [])
    assert "not 2 MiB aligned" in entry["reason"]

    text = cli("devices", "--root", str(machine.root)).stdout
    assert "namespace0.0" in text
    assert "namespace0.0 is disabled: no driver is bound" in text


def test_ndctl_is_asked_for_disabled_namespaces_too(
    machine: FakeMachine, fake_tools: FakeTools
) -> None:
    """Real ndctl leaves a disabled namespace out of ``list -N`` unless given ``-i``."""
    machine.add_disabled_namespace("namespace0.0")
    namespaces = list_namespaces(machine.root, fake_tools.path("ndctl"))
    assert fake_tools.calls == [["ndctl", "list", "-N", "-i", "-v"]]
    assert [(n.name, n.enabled) for n in namespaces] == [("namespace0.0", False)]


def test_an_empty_seed_namespace_is_listed_as_such(machine: FakeMachine) -> None:
    """After ``ndctl init-labels`` the region offers namespace0.0 of size 0, no driver."""
    machine.add_seed_namespace("namespace0.0")
    listing = read_inventory(machine.root, ndctl=None)
    [namespace] = listing.namespaces
    assert namespace.size == 0
    assert namespace.disabled is not None and "size 0" in namespace.disabled
    entry = devices_to_json(listing.devices, listing.namespaces)["namespaces"][0]
    assert (entry["state"], entry["size"]) == ("disabled", 0)


def test_live_namespaces_are_enabled_in_the_json(machine: FakeMachine) -> None:
    machine.add_namespace("namespace0.0", mode="raw", size=64 * MiB)
    machine.add_namespace("namespace1.0", mode="devdax", size=64 * MiB)
    listing = read_inventory(machine.root, ndctl=None)
    entries = devices_to_json(listing.devices, listing.namespaces)["namespaces"]
    assert [(e["name"], e["state"], e["paths"]) for e in entries] == [
        ("namespace0.0", "enabled", ["/dev/pmem0"]),
        ("namespace1.0", "enabled", ["/dev/dax1.0"]),
    ]
    assert "reason" not in entries[0]


@pytest.mark.parametrize("with_devices", [False, True])
def test_version_1_readers_still_read_the_json(
    with_devices: bool, machine: FakeMachine, cli: Cli
) -> None:
    """``--inventory`` reads the devices and passes over the new ``namespaces`` key."""
    machine.add_disabled_namespace("namespace0.0")
    if with_devices:
        machine.add_namespace("namespace1.0", mode="fsdax", size=64 * MiB)
    text = cli("devices", "--json", "--root", str(machine.root)).stdout
    inventory = Inventory.from_json_text(text, source="devices --json")
    assert [d.path for d in inventory] == (["/dev/pmem1"] if with_devices else [])


def test_namespaces_are_in_natural_order_from_ndctl_and_from_sysfs(
    machine: FakeMachine, fake_tools: FakeTools
) -> None:
    machine.add_labelled_region()
    machine.add_namespace("namespace10.0", mode="raw", size=64 * MiB)
    from_ndctl = read_inventory(machine.root, ndctl=fake_tools.path("ndctl"))
    from_sysfs = read_inventory(machine.root, ndctl=None)
    expected = ["namespace0.0", "namespace0.1", "namespace0.2", "namespace10.0"]
    assert [n.name for n in from_ndctl.namespaces] == expected
    assert [n.name for n in from_sysfs.namespaces] == expected
    assert [d.path for d in from_ndctl.devices] == [d.path for d in from_sysfs.devices]
    assert [d.path for d in from_sysfs.devices] == ["/dev/pmem0", "/dev/pmem0.1", "/dev/pmem10"]
    assert format_table(from_ndctl.devices, from_ndctl.namespaces) == format_table(
        from_sysfs.devices, from_sysfs.namespaces
    )


def test_a_device_with_no_numa_node(machine: FakeMachine, fake_tools: FakeTools) -> None:
    """``memmap=64M!2G`` on a 256 MiB guest: its namespace, and the dax device made of it,
    have no node; ndctl and daxctl leave the keys out (source: the guest)."""
    machine.add_namespace(
        "namespace0.0", mode="fsdax", size=64 * MiB, resource=2 * GiB, legacy=True, numa_node=-1
    )
    machine.set_namespace_mode("namespace0.0", "devdax")
    for ndctl in (fake_tools.path("ndctl"), None):
        listing = read_inventory(machine.root, ndctl=ndctl)
        [device] = listing.devices
        assert (device.path, device.target_node, device.namespace) == (
            "/dev/dax0.0",
            None,
            "namespace0.0",
        )
        assert "target_node" not in devices_to_json(listing.devices)["devices"][0]
        assert format_table(listing.devices).splitlines()[1].split()[-2] == "-"
