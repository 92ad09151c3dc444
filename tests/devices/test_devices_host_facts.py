"""HostFacts: backing-device facts for ``lint --host``."""

from __future__ import annotations

from devices_fake_machine import FakeMachine, GiB
from devices_fake_tools import FakeTools

from famfs_xml.core.inventory import BackingDevice, ChainedFacts, DeviceFacts, Inventory
from famfs_xml.host.facts import HostFacts


def test_dax_device_size_and_mode(machine: FakeMachine) -> None:
    machine.add_dax("dax0.0", mode="devdax", size=8 * GiB)
    found = HostFacts(machine.root).lookup("/dev/dax0.0")
    assert found is not None
    assert (found.kind, found.size, found.align, found.mode, found.exists) == (
        "dax",
        8 * GiB,
        2 * 1024 * 1024,
        "devdax",
        True,
    )


def test_missing_dax_device(machine: FakeMachine) -> None:
    assert HostFacts(machine.root).lookup("/dev/dax3.0") == BackingDevice(
        "/dev/dax3.0", "dax", exists=False
    )


def test_regular_file_size(machine: FakeMachine) -> None:
    backing = machine.root / "var/lib/libvirt/images/f42-pmem-backing"
    backing.parent.mkdir(parents=True)
    with backing.open("wb") as handle:
        handle.truncate(8 * GiB)  # sparse, like dd of zeros
    found = HostFacts(machine.root).lookup("/var/lib/libvirt/images/f42-pmem-backing")
    assert found == BackingDevice("/var/lib/libvirt/images/f42-pmem-backing", "file", 8 * GiB)


def test_missing_file(machine: FakeMachine) -> None:
    found = HostFacts(machine.root).lookup("/var/lib/libvirt/images/nothing")
    assert found is not None and not found.exists


def test_pmem_from_sysfs(machine: FakeMachine) -> None:
    machine.add_namespace("namespace0.0", mode="fsdax")
    found = HostFacts(machine.root, ndctl=None).lookup("/dev/pmem0")
    assert found is not None
    assert (found.kind, found.mode, found.namespace) == ("pmem", "fsdax", "namespace0.0")
    assert HostFacts(machine.root).lookup("/dev/pmem5") == BackingDevice(
        "/dev/pmem5", "pmem", exists=False
    )


def test_pmem_from_ndctl(machine: FakeMachine, fake_tools: FakeTools) -> None:
    machine.add_namespace("namespace0.0", mode="raw", size=8573157376)
    facts = HostFacts(machine.root, ndctl=fake_tools.path("ndctl"))
    found = facts.lookup("/dev/pmem0")
    assert found is not None and found.size == 8573157376
    facts.lookup("/dev/pmem0")
    assert len(fake_tools.calls) == 1  # listed once, then remembered


def test_is_a_device_facts_source(machine: FakeMachine) -> None:
    machine.add_dax("dax0.0", mode="system-ram")
    source: DeviceFacts = HostFacts(machine.root)
    chained = ChainedFacts(Inventory(), source)
    found = chained.lookup("/dev/dax0.0")
    assert found is not None and found.mode == "system-ram"
