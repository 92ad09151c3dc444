"""The host's dax devices and pmem namespaces, as ``famfs-xml devices`` shows them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from famfs_xml.core.inventory import BackingDevice
from famfs_xml.host.drivers import left_in_famfs_mode, return_hint
from famfs_xml.host.namespaces import default_ndctl, list_namespaces
from famfs_xml.host.sysfs import Namespace, dax_devices

JSON_VERSION = 1
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def _with_namespaces(dax: list[BackingDevice], namespaces: list[Namespace]) -> list[BackingDevice]:
    by_chardev = {f"/dev/{ns.chardev}": ns.name for ns in namespaces if ns.chardev}
    return [
        device._replace(namespace=device.namespace or by_chardev.get(device.path)) for device in dax
    ]


@dataclass(frozen=True)
class DeviceListing:
    """What ``famfs-xml devices`` shows: the device nodes, and every namespace with its state."""

    devices: list[BackingDevice]
    namespaces: list[Namespace] = field(default_factory=list)
    #: dax devices in famfs mode that no file system is mounted from
    left_in_famfs: list[BackingDevice] = field(default_factory=list)


def read_inventory(root: Path = Path("/"), ndctl: str | None = None) -> DeviceListing:
    """Dax devices (from sysfs, with their true mode), then pmem block devices, and the
    namespaces (natural order, disabled ones included).

    ``ndctl`` is the executable used to list namespaces; by default it is looked up on PATH
    only when ``root`` is ``/``, because it always describes the live machine.
    """
    if ndctl is None:
        ndctl = default_ndctl(root)
    namespaces = list_namespaces(root, ndctl)
    dax = _with_namespaces(dax_devices(root), namespaces)
    devices = dax + [ns.as_backing(f"/dev/{ns.blockdev}") for ns in namespaces if ns.blockdev]
    return DeviceListing(devices, namespaces, left_in_famfs_mode(root, dax))


def list_devices(root: Path = Path("/"), ndctl: str | None = None) -> list[BackingDevice]:
    """The device nodes of :func:`read_inventory`."""
    return read_inventory(root, ndctl).devices


def famfs_mode_note(device: BackingDevice) -> str:
    """What ``devices`` says about a dax device left in famfs mode."""
    return (
        f"{device.path} is in famfs mode ({device.driver or 'fsdev_dax'}) and no file system "
        "is mounted from it: a famfs mkfs or mount that failed leaves a device so, and nothing "
        f"can map it until it is in devdax mode again: {return_hint(device)}"
    )


def device_to_json(device: BackingDevice, left_in_famfs: bool = False) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "path": device.path,
        "kind": device.kind,
        "size": device.size,
        "align": device.align,
        "mode": device.mode,
    }
    if device.kind == "dax":
        entry["driver"] = device.driver
    if left_in_famfs:
        entry["note"] = famfs_mode_note(device)
    if device.target_node is not None:
        entry["target_node"] = device.target_node
    if device.region is not None:
        entry["region"] = device.region
    if device.namespace is not None:
        entry["namespace"] = device.namespace
    return entry


def namespace_to_json(namespace: Namespace) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": namespace.name,
        "mode": namespace.mode,
        "size": namespace.size,
        "state": "enabled" if namespace.enabled else "disabled",
        "paths": _namespace_paths(namespace),
    }
    if namespace.disabled is not None:
        entry["reason"] = namespace.disabled
    return entry


def _namespace_paths(namespace: Namespace) -> list[str]:
    return [f"/dev/{dev}" for dev in (namespace.blockdev, namespace.chardev) if dev]


def devices_to_json(
    devices: list[BackingDevice],
    namespaces: list[Namespace] | None = None,
    left_in_famfs: Sequence[BackingDevice] = (),
) -> dict[str, Any]:
    """The ``devices --json`` document, version 1.

    ``namespaces`` adds the optional ``namespaces`` key (each namespace with its state);
    the ``devices`` entries are the same with or without it. A dax device carries the
    ``driver`` bound to it (null: none), and a ``note`` when it is in ``left_in_famfs``.
    """
    left = {device.path for device in left_in_famfs}
    document: dict[str, Any] = {
        "version": JSON_VERSION,
        "devices": [device_to_json(d, d.path in left) for d in devices],
    }
    if namespaces is not None:
        document["namespaces"] = [namespace_to_json(ns) for ns in namespaces]
    return document


def format_size(size: int | None) -> str:
    """``8 GiB (8589934592)``; two decimals when the size is not a whole number of units."""
    if size is None:
        return "-"
    value, unit = float(size), 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value /= 1024
        unit += 1
    if unit == 0:
        return f"{size} B"
    number = f"{value:.0f}" if value.is_integer() else f"{value:.2f}"
    return f"{number} {_UNITS[unit]} ({size})"


def format_table(
    devices: list[BackingDevice],
    namespaces: Sequence[Namespace] = (),
    left_in_famfs: Sequence[BackingDevice] = (),
) -> str:
    """A plain text table: path, size, align, mode, NUMA node, namespace.

    Disabled namespaces have no device node: their rows show ``-`` as the path, and a
    line under the table says why each is disabled. A dax device left in famfs mode gets a
    line that says how to return it.
    """
    disabled = [ns for ns in namespaces if not ns.enabled]
    if not devices and not disabled:
        return "No dax devices or pmem namespaces found."
    header = ("PATH", "SIZE", "ALIGN", "MODE", "NODE", "NAMESPACE")
    rows = [header] + [
        (
            d.path,
            format_size(d.size),
            format_size(d.align),
            d.mode or "-",
            "-" if d.target_node is None else str(d.target_node),
            d.namespace or "-",
        )
        for d in devices
    ]
    rows += [_disabled_row(ns) for ns in disabled]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [_table_line(row, widths) for row in rows]
    if disabled or left_in_famfs:
        lines.append("")
        lines += [f"{ns.name} is disabled: {ns.disabled}" for ns in disabled]
        lines += [famfs_mode_note(device) for device in left_in_famfs]
    return "\n".join(lines)


def _disabled_row(namespace: Namespace) -> tuple[str, str, str, str, str, str]:
    node = "-" if namespace.numa_node is None else str(namespace.numa_node)
    size = format_size(namespace.size)
    return ("-", size, format_size(namespace.align), namespace.mode, node, namespace.name)


def _table_line(row: tuple[str, ...], widths: list[int]) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
