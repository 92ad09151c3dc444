"""pmem namespaces: from ``ndctl list -N -i -v`` on the live machine, else from sysfs."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from famfs_xml.host.sysfs import (
    Namespace,
    namespace_from_sysfs,
    namespaces_from_sysfs,
    natural_key,
)
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


def _disabled(entry: Mapping[str, Any]) -> str | None:
    if _exact_int(entry.get("size")) == 0:
        return "size 0: an empty namespace; there is nothing on it"
    if entry.get("state") == "disabled":
        return "no driver is bound (ndctl lists it as disabled)"
    return None


def namespaces_from_ndctl_json(text: str) -> list[Namespace]:
    """Parse ``ndctl list -N -i -v`` output: an array, a bare object, or nothing at all."""
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
            disabled=_disabled(entry),
            map=str(entry["map"]) if entry.get("map") else None,
        )
        for entry in _entries(data)
    ]


def default_ndctl(root: Path) -> str | None:
    """ndctl only describes the live machine, so it is used only when ``root`` is ``/``."""
    if root.resolve() != Path("/"):
        return None
    return find_tool("ndctl")


def list_namespaces(root: Path, ndctl: str | None = None) -> list[Namespace]:
    """Every namespace, disabled ones included, in natural order (namespace0.0 first).

    Read with ``ndctl`` (the executable given) when there is one, else from sysfs under
    ``root``. ndctl lists a region's newest namespace first; the order here does not
    depend on the source.
    """
    namespaces = _from_ndctl(root, ndctl) if ndctl is not None else None
    if namespaces is None:
        namespaces = namespaces_from_sysfs(root)
    return sorted(namespaces, key=lambda namespace: natural_key(namespace.name))


def _from_ndctl(root: Path, ndctl: str) -> list[Namespace] | None:
    """None when ndctl fails or prints something else than JSON: sysfs is asked instead."""
    # -i: without it ndctl leaves out disabled namespaces and empty seeds.
    result = run_tool([ndctl, "list", "-N", "-i", "-v"], timeout=LIST_TIMEOUT)
    if not result.ok:
        return None
    try:
        return _explain_disabled(root, namespaces_from_ndctl_json(result.stdout))
    except NdctlOutputError:
        return None


def _explain_disabled(root: Path, namespaces: list[Namespace]) -> list[Namespace]:
    """ndctl only says "disabled"; sysfs can often say why (a misaligned range)."""
    explained = []
    for namespace in namespaces:
        seen = namespace_from_sysfs(root, namespace.name) if not namespace.enabled else None
        if seen is not None and not seen.enabled:
            namespace = namespace._replace(disabled=seen.disabled)
        explained.append(namespace)
    return explained


def find_namespace(namespaces: list[Namespace], name_or_path: str) -> Namespace | None:
    """The namespace called ``namespaceX.Y`` or offering the device node ``/dev/pmemX``."""
    for namespace in namespaces:
        if name_or_path in (namespace.name, namespace.device_path):
            return namespace
    return None
