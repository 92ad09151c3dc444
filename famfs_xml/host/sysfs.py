"""Read dax devices, pmem namespaces and memory blocks from a sysfs tree.

Every function takes ``root``: the directory that holds the machine's ``sys`` tree (``/`` on
the live machine, a temporary directory in tests). Nothing here runs a program.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import NamedTuple

from famfs_xml.core.inventory import BackingDevice

DRIVER_MODES = {
    "device_dax": "devdax",
    "kmem": "system-ram",
    "fsdev_dax": "famfs",
}
"""The dax mode each kernel driver stands for; a device with no driver is ``unbound``."""

NAMESPACE_MODES = {"memory": "fsdax", "dax": "devdax", "safe": "sector", "raw": "raw"}
"""The kernel's names for namespace modes, mapped to the names ndctl prints."""

CLAIM_MAPS = {"pmem": "dev", "ram": "mem"}
"""A pfn/dax claim's ``mode`` attribute: where the page metadata lives, as ndctl's ``map``."""

MAP_ALIGN = 2 * 1024 * 1024
"""The kernel maps a namespace only if its range starts and ends on this (x86)."""

_DAX_NAME = re.compile(r"dax(\d+)\.(\d+)")
_NAMESPACE_NAME = re.compile(r"namespace(\d+)\.(\d+)")


def under(root: Path, path: str) -> Path:
    """The place of an absolute machine path (``/sys/...``) inside ``root``."""
    return root / path.lstrip("/")


def read_attr(path: Path) -> str | None:
    """A sysfs attribute's text without the newline, or None when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def read_int(path: Path) -> int | None:
    """An integer attribute in decimal or ``0x`` hex; None when absent or not a number."""
    text = read_attr(path)
    if text is None:
        return None
    try:
        return int(text, 0)
    except ValueError:
        return None


def _read_hex(path: Path) -> int | None:
    text = read_attr(path)
    if text is None:
        return None
    try:
        return int(text, 16)
    except ValueError:
        return None


def natural_key(name: str) -> tuple[object, ...]:
    """Sort ``dax10.0`` after ``dax2.0``."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


def _node(value: int | None) -> int | None:
    return value if value is not None and value >= 0 else None


# --- dax devices -------------------------------------------------------------------------


def dax_bus_dir(root: Path) -> Path:
    return under(root, "/sys/bus/dax/devices")


def dax_names(root: Path) -> list[str]:
    """Names of the devices on the dax bus (``dax0.0`` ...), in natural order."""
    try:
        entries = os.listdir(dax_bus_dir(root))
    except OSError:
        return []
    return sorted((n for n in entries if _DAX_NAME.fullmatch(n)), key=natural_key)


def driver_name(device_dir: Path) -> str | None:
    """The basename of the device's ``driver`` link, or None when no driver is bound."""
    try:
        return os.path.basename(os.readlink(device_dir / "driver"))
    except OSError:
        return None


def mode_of_driver(driver: str | None) -> str:
    if driver is None:
        return "unbound"
    return DRIVER_MODES.get(driver, driver)


def dax_mode(root: Path, name: str) -> str | None:
    """The current mode of ``daxX.Y`` from its driver link; None when the device is absent."""
    device_dir = dax_bus_dir(root) / name
    if not _DAX_NAME.fullmatch(name) or not device_dir.exists():
        return None
    return mode_of_driver(driver_name(device_dir))


def dax_driver(root: Path, name: str) -> str | None:
    """The driver bound to ``daxX.Y`` (``device_dax``, ``kmem``, ``fsdev_dax``), or None."""
    return driver_name(dax_bus_dir(root) / name)


def dax_driver_dir(root: Path, driver: str) -> Path:
    """``/sys/bus/dax/drivers/DRIVER``: it exists while the driver's module is loaded."""
    return under(root, f"/sys/bus/dax/drivers/{driver}")


def dax_resource(root: Path, name: str) -> int | None:
    """The physical start address of the device's memory."""
    return read_int(dax_bus_dir(root) / name / "resource")


def dax_device(root: Path, name: str) -> BackingDevice | None:
    """Everything sysfs knows about ``daxX.Y``; None when there is no such device."""
    device_dir = dax_bus_dir(root) / name
    if not _DAX_NAME.fullmatch(name) or not device_dir.exists():
        return None
    parent = Path(os.path.join(device_dir, os.pardir))
    driver = driver_name(device_dir)
    return BackingDevice(
        path=f"/dev/{name}",
        kind="dax",
        size=read_int(device_dir / "size"),
        align=read_int(device_dir / "align"),
        mode=mode_of_driver(driver),
        target_node=_node(read_int(device_dir / "target_node")),
        region=_region_id(parent, name),
        namespace=read_attr(parent / "namespace"),
        driver=driver,
    )


def _region_id(parent: Path, name: str) -> str | None:
    region = read_attr(parent / "dax_region" / "id")
    if region is not None:
        return region
    match = _DAX_NAME.fullmatch(name)
    return match.group(1) if match else None


def dax_devices(root: Path) -> list[BackingDevice]:
    """All devices on the dax bus with their true mode (``unbound`` included)."""
    found = (dax_device(root, name) for name in dax_names(root))
    return [device for device in found if device is not None]


# --- pmem namespaces ---------------------------------------------------------------------


class Namespace(NamedTuple):
    """A libnvdimm namespace and the device node it currently offers."""

    name: str
    mode: str
    size: int | None = None
    align: int | None = None
    blockdev: str | None = None
    chardev: str | None = None
    numa_node: int | None = None
    disabled: str | None = None  # why no driver serves it; None when it is live
    map: str | None = None  # fsdax/devdax: "dev" (page metadata on the media) or "mem"

    @property
    def enabled(self) -> bool:
        return self.disabled is None

    @property
    def device_path(self) -> str | None:
        if self.blockdev:
            return f"/dev/{self.blockdev}"
        if self.chardev:
            return f"/dev/{self.chardev}"
        return None

    def as_backing(self, path: str) -> BackingDevice:
        """What an nvdimm backed by ``path`` (this namespace's pmem device) may rely on."""
        return BackingDevice(
            path=path,
            kind="pmem",
            size=self.size,
            align=self.align,
            mode=self.mode,
            target_node=self.numa_node,
            namespace=self.name,
        )


def nd_bus_dir(root: Path) -> Path:
    return under(root, "/sys/bus/nd/devices")


def namespace_names(root: Path) -> list[str]:
    try:
        entries = os.listdir(nd_bus_dir(root))
    except OSError:
        return []
    return sorted((n for n in entries if _NAMESPACE_NAME.fullmatch(n)), key=natural_key)


def _first_child(directory: Path, pattern: str) -> str | None:
    try:
        names = sorted(os.listdir(directory), key=natural_key)
    except OSError:
        return None
    matches = [name for name in names if re.fullmatch(pattern, name)]
    return matches[0] if matches else None


def namespace_from_sysfs(root: Path, name: str) -> Namespace | None:
    """A namespace as sysfs shows it; None when it does not exist."""
    ns_dir = nd_bus_dir(root) / name
    if not _NAMESPACE_NAME.fullmatch(name) or not ns_dir.exists():
        return None
    raw_mode = read_attr(ns_dir / "mode") or "raw"
    holder = read_attr(ns_dir / "holder") or ""
    holder_dir = Path(os.path.join(ns_dir, os.pardir, holder)) if holder else None
    blockdev = _first_child(ns_dir / "block", r"pmem\d+.*")
    chardev = None
    align = None
    claim_map = "mem" if raw_mode == "memory" else None  # legacy pmem: no claim, map=mem
    if holder_dir is not None:
        blockdev = blockdev or _first_child(holder_dir / "block", r"pmem\d+.*")
        chardev = _first_child(holder_dir, r"dax\d+\.\d+")
        align = read_int(holder_dir / "align")
        claim_map = CLAIM_MAPS.get(read_attr(holder_dir / "mode") or "")
    size = read_int(ns_dir / "size")
    if blockdev:
        sectors = read_int(under(root, f"/sys/block/{blockdev}/size"))
        size = sectors * 512 if sectors else size
    # A live namespace is bound itself (raw, legacy) or through its claim (fsdax, devdax).
    bound = driver_name(ns_dir) or (holder_dir is not None and driver_name(holder_dir))
    return Namespace(
        name=name,
        mode=NAMESPACE_MODES.get(raw_mode, raw_mode),
        size=size,
        align=align,
        blockdev=blockdev,
        chardev=chardev,
        numa_node=_node(read_int(ns_dir / "numa_node")),
        disabled=None if bound and size != 0 else why_disabled(ns_dir, size),
        map=claim_map,
    )


def why_disabled(ns_dir: Path, size: int | None) -> str:
    """Why a namespace offers no device, as far as sysfs tells."""
    if size == 0:
        return (
            "size 0: the empty namespace a labelled region keeps for the next "
            "ndctl create-namespace; there is nothing on it"
        )
    start = read_int(ns_dir / "resource")  # readable by root only
    if start is not None and size and (start | (start + size)) % MAP_ALIGN:
        return (
            f"no driver is bound: its range {start:#x}-{start + size - 1:#x} is not 2 MiB "
            "aligned, so the kernel cannot map it (it logs 'misaligned, unable to map')"
        )
    return "no driver is bound (the kernel log says why it did not enable it)"


def namespaces_from_sysfs(root: Path) -> list[Namespace]:
    found = (namespace_from_sysfs(root, name) for name in namespace_names(root))
    return [ns for ns in found if ns is not None]


# --- memory blocks -----------------------------------------------------------------------


def memory_dir(root: Path) -> Path:
    return under(root, "/sys/devices/system/memory")


def auto_online_policy(root: Path) -> str | None:
    """The kernel's ``auto_online_blocks`` policy (``offline``, ``online``, ...)."""
    return read_attr(memory_dir(root) / "auto_online_blocks")


def memory_block_size(root: Path) -> int | None:
    """``block_size_bytes``: the unit in which the kernel adds memory (hex, no ``0x``)."""
    return _read_hex(memory_dir(root) / "block_size_bytes")


def dax_ranges(root: Path, name: str) -> list[tuple[int, int]]:
    """The device's physical ranges (inclusive), one per ``mappingN``, else from ``resource``."""
    device_dir = dax_bus_dir(root) / name
    try:
        mappings = sorted(
            (n for n in os.listdir(device_dir) if re.fullmatch(r"mapping\d+", n)), key=natural_key
        )
    except OSError:
        mappings = []
    ranges = []
    for mapping in mappings:
        start, end = (
            read_int(device_dir / mapping / "start"),
            read_int(device_dir / mapping / "end"),
        )
        if start is not None and end is not None and end >= start:
            ranges.append((start, end))
    if ranges:
        return ranges
    start, size = read_int(device_dir / "resource"), read_int(device_dir / "size")
    return [(start, start + size - 1)] if start is not None and size else []


def whole_blocks(ranges: list[tuple[int, int]], block_size: int) -> int:
    """How many memory blocks lie wholly inside the ranges: what kmem can add as RAM."""
    count = 0
    for start, end in ranges:
        first, stop = -(-start // block_size), (end + 1) // block_size
        count += max(0, stop - first)
    return count


def online_blocks_in_range(root: Path, start: int, size: int) -> int:
    """How many memory blocks covering ``[start, start + size)`` are online."""
    block_size = memory_block_size(root)
    if not block_size or size <= 0:
        return 0
    first, last = start // block_size, (start + size - 1) // block_size
    count = 0
    for index in range(first, last + 1):
        state = read_attr(memory_dir(root) / f"memory{index}" / "state")
        if state is not None and state.startswith("online"):
            count += 1
    return count
