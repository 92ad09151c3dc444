"""pmem namespaces: from ``ndctl list -N -v`` on the live machine, else from sysfs."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from famfs_xml.host.sysfs import Namespace, namespaces_from_sysfs
from famfs_xml.host.tools import find_tool, run_tool

LIST_TIMEOUT = 30.0


class NdctlOutputError(Exception):
    """``ndctl list`` printed something that is not the JSON it documents."""


def _exact_int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _entries(data: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(data, list):
        for item in data:
            yield from _entries(item)
    elif isinstance(data, Mapping):
        if str(data.get("dev", "")).startswith("namespace"):
            yield data
        for key in ("namespaces", "regions"):
            yield from _entries(data.get(key, []))


def _chardev(entry: Mapping[str, Any]) -> str | None:
    if entry.get("chardev"):
        return str(entry["chardev"])
    region = entry.get("daxregion")
    if isinstance(region, Mapping):
        for device in region.get("devices", []):
            if isinstance(device, Mapping) and device.get("chardev"):
                return str(device["chardev"])
    return None


def namespaces_from_ndctl_json(text: str) -> list[Namespace]:
    """Parse ``ndctl list -N -v`` output: an array, a bare object, or nothing at all."""
    if not text.strip():
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NdctlOutputError(f"ndctl printed something that is not JSON ({exc.msg})") from None
    return [
        Namespace(
            name=str(entry["dev"]),
            mode=str(entry.get("mode", "raw")),
            size=_exact_int(entry.get("size")),
            align=_exact_int(entry.get("align")),
            blockdev=str(entry["blockdev"]) if entry.get("blockdev") else None,
            chardev=_chardev(entry),
            numa_node=_exact_int(entry.get("numa_node", entry.get("target_node"))),
        )
        for entry in _entries(data)
    ]


def default_ndctl(root: Path) -> str | None:
    """ndctl only describes the live machine, so it is used only when ``root`` is ``/``."""
    if root.resolve() != Path("/"):
        return None
    return find_tool("ndctl")


def list_namespaces(root: Path, ndctl: str | None = None) -> list[Namespace]:
    """Namespaces via ``ndctl`` (the executable given), falling back to sysfs under ``root``."""
    if ndctl is not None:
        result = run_tool([ndctl, "list", "-N", "-v"], timeout=LIST_TIMEOUT)
        if result.ok:
            try:
                return namespaces_from_ndctl_json(result.stdout)
            except NdctlOutputError:
                pass
    return namespaces_from_sysfs(root)


def find_namespace(namespaces: list[Namespace], name_or_path: str) -> Namespace | None:
    """The namespace called ``namespaceX.Y`` or offering the device node ``/dev/pmemX``."""
    for namespace in namespaces:
        if name_or_path in (namespace.name, namespace.device_path):
            return namespace
    return None
