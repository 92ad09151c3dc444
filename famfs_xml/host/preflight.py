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
    """One reason to stop (``blocking``), or a note about what could not be checked.

    ``--force`` goes ahead despite a blocking finding unless it is not ``overridable``:
    when the command cannot do what was asked, running it only does harm.
    """

    check: str
    message: str
    blocking: bool = True
    overridable: bool = True


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


def _open_paths(proc: Path) -> set[str] | None:
    """The files a process has open; None when its ``fd`` directory may not be read."""
    opened: set[str] = set()
    try:
        fds = os.listdir(proc / "fd")
    except PermissionError:
        return None  # another user's process, unless we are root
    except OSError:
        return opened  # the process has ended
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
    """Processes that have the device open (``/proc/*/fd``) or mapped (``/proc/*/maps``).

    Only root may look into other users' processes: when some could not be looked into,
    the check says so as a blocking finding, because "nobody uses it" would be a guess.
    """
    proc_dir = under(root, "/proc")
    try:
        pids = sorted((p for p in os.listdir(proc_dir) if p.isdigit()), key=int)
    except OSError:
        return [PreflightFinding("in-use", "cannot list /proc", blocking=False)]
    wanted = set(paths)
    found = []
    hidden = []
    for pid in pids:
        proc = proc_dir / pid
        opened = _open_paths(proc)
        if opened is None:
            hidden.append(pid)
            continue
        for how, seen in (("has open", opened), ("has mapped", _mapped_paths(proc))):
            for path in sorted(wanted & seen):
                found.append(
                    PreflightFinding(
                        "in-use", f"process {pid} ({_process_name(proc)}) {how} {path}"
                    )
                )
    if hidden:
        found.append(_unchecked(hidden, paths))
    return found


def _unchecked(pids: list[str], paths: list[str]) -> PreflightFinding:
    count = len(pids)
    return PreflightFinding(
        "in-use",
        f"could not check {count} process{'es' if count != 1 else ''} for {', '.join(paths)} "
        f"(/proc/PID/fd and /proc/PID/maps of other users' processes, e.g. {pids[0]}, are "
        "readable by root only): run as root",
    )


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
    root: Path,
    path: str,
    use_mmap: bool,
    map_size: int | None = None,
    kept_on: str | None = None,
) -> list[PreflightFinding]:
    """A famfs superblock at offset 0.

    devdax devices refuse read(2), so they are mapped instead, in a whole multiple of the
    device's alignment (``map_size``; 2 MiB when unknown). ``kept_on`` names the device on
    which a conversion that keeps the data will show the superblock: then it is a note.
    Not being allowed to read the device blocks, since nothing was checked.
    """
    length = max(map_size or SUPERBLOCK_MAP_SIZE, SUPERBLOCK_MAP_SIZE)
    try:
        magic = _first_u64(under(root, path), use_mmap, length)
    except (OSError, ValueError) as exc:
        return [_unreadable(path, exc)]
    if magic != FAMFS_SUPER_MAGIC:
        return []
    if kept_on is not None:
        return [
            PreflightFinding(
                "superblock",
                f"{path} holds a famfs file system; it is kept: the superblock will be at "
                f"offset 0 of {kept_on}",
                blocking=False,
            )
        ]
    return [PreflightFinding("superblock", f"{path} holds a famfs file system (superblock)")]


def _unreadable(path: str, exc: OSError | ValueError) -> PreflightFinding:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    if isinstance(exc, PermissionError):
        return PreflightFinding(
            "superblock", f"cannot read the start of {path}: {reason}: run as root"
        )
    return PreflightFinding(
        "superblock", f"cannot read the start of {path}: {reason}", blocking=False
    )
