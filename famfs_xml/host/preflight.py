"""Checks to run before a device mode change destroys what is on the device.

``daxctl`` does not notice a process that has ``/dev/daxX.Y`` mapped, and ``ndctl`` only
notices a mounted block device, so these checks look for themselves: mounts, holders, open
files and mappings in ``/proc``, and a famfs superblock on the media.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from famfs_xml.host.sysfs import read_attr, under

FAMFS_SUPER_MAGIC = 0x87B282FF
SUPERBLOCK_MAP_SIZE = 2 * 1024 * 1024


@dataclass(frozen=True)
class PreflightFinding:
    """One reason to stop (``blocking``), or a note about what could not be checked."""

    check: str
    message: str
    blocking: bool = True


def _is_device_or_partition(source: str, paths: Iterable[str]) -> bool:
    for path in paths:
        if source == path:
            return True
        if (
            path.startswith("/dev/pmem")
            and source.startswith(path)
            and source[len(path) :] in ("s", *(f"p{n}" for n in range(1, 129)))
        ):
            return True
    return False


def check_mounts(root: Path, paths: list[str]) -> list[PreflightFinding]:
    """A ``/proc/mounts`` entry whose source is the device (or a partition of it)."""
    text = read_attr(under(root, "/proc/mounts"))
    if text is None:
        return [PreflightFinding("mounted", "cannot read /proc/mounts", blocking=False)]
    found = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3 and _is_device_or_partition(fields[0], paths):
            found.append(
                PreflightFinding(
                    "mounted", f"{fields[0]} is mounted on {fields[1]} (type {fields[2]})"
                )
            )
    return found


def check_holders(root: Path, blockdev: str | None) -> list[PreflightFinding]:
    """Another block device (device-mapper, md) stacked on top of ``blockdev``."""
    if not blockdev:
        return []
    try:
        holders = sorted(os.listdir(under(root, f"/sys/block/{blockdev}/holders")))
    except OSError:
        return []
    return [
        PreflightFinding("held", f"/dev/{blockdev} is held by /dev/{holder}") for holder in holders
    ]


def _process_name(proc: Path) -> str:
    return read_attr(proc / "comm") or "?"


def _open_paths(proc: Path) -> set[str]:
    opened: set[str] = set()
    try:
        fds = os.listdir(proc / "fd")
    except OSError:
        return opened
    for fd in fds:
        try:
            opened.add(os.readlink(proc / "fd" / fd))
        except OSError:
            continue
    return opened


def _mapped_paths(proc: Path) -> set[str]:
    text = read_attr(proc / "maps")
    if not text:
        return set()
    mapped: set[str] = set()
    for line in text.splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) == 6:
            mapped.add(fields[5].strip())
    return mapped


def check_users(root: Path, paths: list[str]) -> list[PreflightFinding]:
    """Processes that have the device open (``/proc/*/fd``) or mapped (``/proc/*/maps``)."""
    proc_dir = under(root, "/proc")
    try:
        pids = sorted((p for p in os.listdir(proc_dir) if p.isdigit()), key=int)
    except OSError:
        return [PreflightFinding("in-use", "cannot list /proc", blocking=False)]
    wanted = set(paths)
    found = []
    for pid in pids:
        proc = proc_dir / pid
        for how, seen in (("has", _open_paths(proc)), ("maps", _mapped_paths(proc))):
            for path in sorted(wanted & seen):
                verb = "has open" if how == "has" else "has mapped"
                found.append(
                    PreflightFinding(
                        "in-use", f"process {pid} ({_process_name(proc)}) {verb} {path}"
                    )
                )
    return found


def _first_u64(path: Path, use_mmap: bool, map_size: int) -> int:
    with open(path, "rb") as handle:
        if not use_mmap:
            data = handle.read(8)
        else:
            size = os.fstat(handle.fileno()).st_size  # 0 for a character device
            length = min(size, map_size) if size else map_size
            with mmap.mmap(handle.fileno(), length, mmap.MAP_SHARED, mmap.PROT_READ) as view:
                data = view[:8]
    if len(data) < 8:
        return 0
    value: int = struct.unpack("<Q", data)[0]
    return value


def check_superblock(
    root: Path, path: str, use_mmap: bool, map_size: int | None = None
) -> list[PreflightFinding]:
    """A famfs superblock at offset 0.

    devdax devices refuse read(2), so they are mapped instead, in a whole multiple of the
    device's alignment (``map_size``; 2 MiB when unknown).
    """
    length = max(map_size or SUPERBLOCK_MAP_SIZE, SUPERBLOCK_MAP_SIZE)
    try:
        magic = _first_u64(under(root, path), use_mmap, length)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return [
            PreflightFinding(
                "superblock", f"cannot read the start of {path}: {reason}", blocking=False
            )
        ]
    if magic == FAMFS_SUPER_MAGIC:
        return [PreflightFinding("superblock", f"{path} holds a famfs file system (superblock)")]
    return []
