"""--inventory: every JSON shape daxctl, ndctl and `famfs-xml devices --json` print."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from famfs_xml import api
from famfs_xml.core.inventory import Inventory, InventoryError
from tests.conftest import Cli
from tests.samples import GUIDE_VM

DAXCTL_LIST = (
    '[{"chardev":"dax1.0","size":8589934592,"target_node":0,"align":2097152,'
    '"mode":"system-ram","online_memblocks":0,"total_memblocks":64}]'
)
DAXCTL_LIST_U = (
    '{"chardev":"dax1.0","size":"8.00 GiB (8.59 GB)","target_node":0,'
    '"align":2097152,"mode":"devdax"}'
)
DAXCTL_REGIONS = (
    '[{"path":"\\/platform\\/hmem.0","id":0,"size":17179869184,"align":2097152,'
    '"devices":[{"chardev":"dax0.0","size":17179869184,"target_node":1,'
    '"align":2097152,"mode":"devdax"}]}]'
)
NDCTL_RAW = (
    '[{"dev":"namespace0.0","mode":"raw","size":8573157376,"uuid":"1acedc2a-cf5d-4f20-'
    '8e34-f1909e0286a5","sector_size":512,"blockdev":"pmem0"}]'
)
NDCTL_DEVDAX = (
    '{"dev":"namespace0.0","mode":"devdax","map":"dev","size":8438939648,'
    '"uuid":"8c2894ed-ba4a-45c5-bc1b-8b9fe8412f7e","daxregion":{"id":0,'
    '"size":8438939648,"align":2097152,"devices":[{"chardev":"dax0.0",'
    '"size":8438939648,"target_node":0,"align":2097152,"mode":"devdax"}]},'
    '"align":2097152}'
)
FAMFS_XML_DEVICES = json.dumps(
    {
        "version": 1,
        "devices": [
            {
                "path": "/dev/dax0.0",
                "kind": "dax",
                "size": 8589934592,
                "align": 2097152,
                "mode": "devdax",
                "target_node": 0,
                "region": "0",
            },
            {
                "path": "/dev/pmem0",
                "kind": "pmem",
                "size": 8573157376,
                "align": 2097152,
                "mode": "fsdax",
                "namespace": "namespace0.0",
            },
        ],
    }
)


def test_daxctl_array() -> None:
    device = Inventory.from_json_text(DAXCTL_LIST).lookup("/dev/dax1.0")
    assert device is not None
    assert (device.size, device.align, device.mode) == (8589934592, 2097152, "system-ram")


def test_daxctl_human_bare_object_has_no_exact_size() -> None:
    device = Inventory.from_json_text(DAXCTL_LIST_U).lookup("/dev/dax1.0")
    assert device is not None
    assert device.size is None  # "8.00 GiB (8.59 GB)" is rounded: never trusted
    assert device.align == 2097152


def test_daxctl_regions_with_nested_devices() -> None:
    device = Inventory.from_json_text(DAXCTL_REGIONS).lookup("/dev/dax0.0")
    assert device is not None
    assert (device.size, device.region, device.target_node) == (17179869184, "0", 1)


def test_ndctl_namespaces() -> None:
    raw = Inventory.from_json_text(NDCTL_RAW).lookup("/dev/pmem0")
    assert raw is not None and (raw.kind, raw.mode, raw.size) == ("pmem", "raw", 8573157376)
    dax = Inventory.from_json_text(NDCTL_DEVDAX).lookup("/dev/dax0.0")
    assert dax is not None
    assert (dax.size, dax.namespace, dax.align) == (8438939648, "namespace0.0", 2097152)


def test_famfs_xml_devices_json() -> None:
    inventory = Inventory.from_json_text(FAMFS_XML_DEVICES)
    assert len(inventory) == 2
    pmem = inventory.lookup("/dev/pmem0")
    assert pmem is not None and pmem.mode == "fsdax"


def test_disabled_dax_device_is_not_devdax() -> None:
    text = '[{"chardev":"dax2.0","size":1073741824,"mode":"devdax","state":"disabled"}]'
    device = Inventory.from_json_text(text).lookup("/dev/dax2.0")
    assert device is not None and device.mode == "unbound"


def test_empty_output_means_no_devices() -> None:
    assert len(Inventory.from_json_text("")) == 0
    assert len(Inventory.from_json_text("[]")) == 0


@pytest.mark.parametrize("text", ["{not json", '{"hello": 1}', "42"])
def test_unknown_shapes_are_errors(text: str) -> None:
    with pytest.raises(InventoryError):
        Inventory.from_json_text(text)


def test_inventory_drives_size_and_align_rules() -> None:
    facts = Inventory.from_json_text(
        '[{"chardev":"dax1.0","size":4294967296,"align":1073741824,"mode":"devdax"}]'
    )
    found = {f.code: f for f in api.lint_text(GUIDE_VM, facts=facts)}
    assert set(found) == {"FX305", "FX302"}
    fixed = api.fix_text(GUIDE_VM, facts=facts).decode()
    assert "<size unit='GiB'>4</size>" in fixed
    assert "<alignsize unit='MiB'>1024</alignsize>" in fixed
    # The smaller device lowers memory (and currentMemory, which was equal) with it;
    # maxMemory keeps its headroom.
    assert "<memory unit='GiB'>36</memory>" in fixed
    assert "<currentMemory unit='GiB'>36</currentMemory>" in fixed
    assert "<maxMemory slots='2' unit='GiB'>40</maxMemory>" in fixed
    assert api.lint_text(fixed, facts=facts) == []


def test_inventory_mode_drives_fx309(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "vm.xml").write_text(GUIDE_VM)
    (tmp_path / "inv.json").write_text(DAXCTL_LIST)
    result = cli("lint", "--inventory", "inv.json", "vm.xml", cwd=tmp_path)
    assert result.exit_code == 1
    assert "FX309" in result.stdout and "system-ram" in result.stdout
    assert "famfs-xml device convert /dev/dax1.0 --mode devdax" in result.stdout
