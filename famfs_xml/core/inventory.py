"""Facts about the devices and files that back an nvdimm.

Rules never look at the machine themselves: every external fact reaches them through a
:class:`DeviceFacts` object. ``--inventory FILE`` builds one from saved ``daxctl list`` /
``ndctl list`` / ``famfs-xml devices --json`` output; ``--host`` builds one from the live
machine (see :mod:`famfs_xml.host.facts`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple, Protocol


class InventoryError(Exception):
    """The inventory file cannot be read or has no shape we know."""


class BackingDevice(NamedTuple):
    """What we know about one backing path.

    ``kind`` is ``dax`` (a /dev/daxX.Y), ``pmem`` (a /dev/pmemX block device) or ``file``.
    ``mode`` is the dax mode from the sysfs driver link (``devdax``, ``system-ram``, ``famfs``,
    ``unbound``) or the namespace mode (``fsdax``, ``devdax``, ``raw``, ``sector``).
    ``exists`` is False when the path was looked up and is not there. ``driver`` is the
    kernel driver bound to a dax device (``device_dax``, ``kmem``, ``fsdev_dax``), when known.
    """

    path: str
    kind: str
    size: int | None = None
    align: int | None = None
    mode: str | None = None
    exists: bool = True
    target_node: int | None = None
    region: str | None = None
    namespace: str | None = None
    driver: str | None = None


class DeviceFacts(Protocol):
    """A source of backing-device facts: ``lookup`` returns None when it knows nothing."""

    def lookup(self, path: str) -> BackingDevice | None: ...


class Inventory:
    """Backing-device facts loaded from saved JSON."""

    def __init__(self, devices: Iterable[BackingDevice] = ()) -> None:
        self._by_path: dict[str, BackingDevice] = {}
        for device in devices:
            self._by_path[device.path] = device

    def lookup(self, path: str) -> BackingDevice | None:
        return self._by_path.get(path)

    def __iter__(self) -> Iterator[BackingDevice]:
        return iter(self._by_path.values())

    def __len__(self) -> int:
        return len(self._by_path)

    @classmethod
    def from_file(cls, path: str | Path) -> Inventory:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise InventoryError(f"cannot read inventory {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise InventoryError(f"inventory {path} is not UTF-8 text") from None
        return cls.from_json_text(text, source=str(path))

    @classmethod
    def from_json_text(cls, text: str, source: str = "inventory") -> Inventory:
        if not text.strip():
            # daxctl/ndctl print nothing at all when there are no devices.
            return cls()
        import json

        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InventoryError(f"{source}: not JSON ({exc.msg} at line {exc.lineno})") from None
        devices = list(_devices_from_json(data))
        if not devices and not _is_empty_listing(data):
            raise InventoryError(f"{source}: no dax devices or pmem namespaces found in this JSON")
        return cls(devices)


def _is_empty_listing(data: Any) -> bool:
    if isinstance(data, list):
        return not data
    return isinstance(data, dict) and data.get("devices") == []


def _devices_from_json(data: Any) -> Iterator[BackingDevice]:
    """Accept every shape daxctl, ndctl and ``famfs-xml devices --json`` print."""
    if isinstance(data, list):
        for item in data:
            yield from _devices_from_json(item)
        return
    if not isinstance(data, Mapping):
        return
    if "version" in data and isinstance(data.get("devices"), list) and "path" in str(data):
        for entry in data["devices"]:
            if isinstance(entry, Mapping) and isinstance(entry.get("path"), str):
                yield _from_famfs_xml(entry)
        return
    if "chardev" in data and "dev" not in data:
        yield _from_daxctl_device(data)
        return
    if str(data.get("dev", "")).startswith("namespace"):
        yield from _from_ndctl_namespace(data)
        return
    # A region (daxctl list -R, ndctl list -R, or ndctl's nested daxregion) or an ndctl
    # listing object such as {"regions": [...]} / {"namespaces": [...]}.
    for key in ("devices", "namespaces", "regions", "daxregion"):
        nested = data.get(key)
        if nested is not None:
            region = data.get("id", data.get("dev"))
            for device in _devices_from_json(nested):
                if device.region is None and region is not None:
                    device = device._replace(region=str(region))
                yield device


def _exact_int(value: Any) -> int | None:
    """Sizes printed with ``-u`` ("7.86 GiB (8.44 GB)") are rounded: never trust them."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _from_daxctl_device(entry: Mapping[str, Any]) -> BackingDevice:
    name = str(entry["chardev"])
    mode = entry.get("mode")
    if entry.get("state") == "disabled":
        # daxctl calls a disabled device "devdax"; it is not usable as one.
        mode = "unbound"
    return BackingDevice(
        path=f"/dev/{name}",
        kind="dax",
        size=_exact_int(entry.get("size")),
        align=_exact_int(entry.get("align")),
        mode=str(mode) if mode is not None else None,
        target_node=_exact_int(entry.get("target_node")),
    )


def _from_ndctl_namespace(entry: Mapping[str, Any]) -> Iterator[BackingDevice]:
    namespace = str(entry["dev"])
    align = _exact_int(entry.get("align"))
    if entry.get("blockdev"):
        yield BackingDevice(
            path=f"/dev/{entry['blockdev']}",
            kind="pmem",
            size=_exact_int(entry.get("size")),
            align=align,
            mode=str(entry.get("mode", "raw")),
            target_node=_exact_int(entry.get("target_node", entry.get("numa_node"))),
            namespace=namespace,
        )
    if entry.get("chardev"):
        yield BackingDevice(
            path=f"/dev/{entry['chardev']}",
            kind="dax",
            size=_exact_int(entry.get("size")),
            align=align,
            mode="devdax",
            namespace=namespace,
        )
    daxregion = entry.get("daxregion")
    if isinstance(daxregion, Mapping):
        for device in _devices_from_json(daxregion.get("devices", [])):
            yield BackingDevice(
                path=device.path,
                kind=device.kind,
                size=device.size,
                align=device.align or _exact_int(daxregion.get("align")) or align,
                mode=device.mode,
                target_node=device.target_node,
                region=str(daxregion.get("id")),
                namespace=namespace,
            )


def _from_famfs_xml(entry: Mapping[str, Any]) -> BackingDevice:
    return BackingDevice(
        path=str(entry["path"]),
        kind=str(entry.get("kind", "dax")),
        size=_exact_int(entry.get("size")),
        align=_exact_int(entry.get("align")),
        mode=entry.get("mode"),
        exists=bool(entry.get("exists", True)),
        target_node=_exact_int(entry.get("target_node")),
        region=None if entry.get("region") is None else str(entry["region"]),
        namespace=entry.get("namespace"),
        driver=entry.get("driver"),
    )


class ChainedFacts:
    """Ask several sources in turn; the first that knows the path wins."""

    def __init__(self, *sources: DeviceFacts) -> None:
        self._sources = sources

    def lookup(self, path: str) -> BackingDevice | None:
        for source in self._sources:
            found = source.lookup(path)
            if found is not None:
                return found
        return None
