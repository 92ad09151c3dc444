"""Where the machine has System RAM, from the firmware memory map or ``/proc/iomem``."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from famfs_xml.host.sysfs import natural_key, read_attr, read_int, under

# After boot with memmap=, /proc/iomem shows the carved-out range under these names.
_IOMEM_RAM_TYPES = ("System RAM", "Persistent Memory (legacy)", "Soft Reserved")
_IOMEM_LINE = re.compile(r"([0-9a-fA-F]+)-([0-9a-fA-F]+) : (.+)")


@dataclass(frozen=True)
class RamMap:
    """Inclusive ``(start, end)`` ranges of RAM, merged, and the file they came from."""

    ranges: tuple[tuple[int, int], ...]
    source: str

    def contains(self, start: int, end: int) -> bool:
        return any(low <= start and end <= high for low, high in self.ranges)

    @property
    def top(self) -> int:
        return max(high for _, high in self.ranges)


def _merge(ranges: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[tuple[int, int]] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return tuple(merged)


def _firmware_memmap(root: Path) -> RamMap | None:
    directory = under(root, "/sys/firmware/memmap")
    try:
        entries = sorted(os.listdir(directory), key=natural_key)
    except OSError:
        return None
    ranges = []
    for entry in entries:
        start, end = read_int(directory / entry / "start"), read_int(directory / entry / "end")
        if read_attr(directory / entry / "type") == "System RAM" and start is not None and end:
            ranges.append((start, end))
    return RamMap(_merge(ranges), "/sys/firmware/memmap") if ranges else None


def _iomem(root: Path, reserved_too: bool) -> RamMap | None:
    text = read_attr(under(root, "/proc/iomem"))
    if text is None:
        return None
    types = (*_IOMEM_RAM_TYPES, "Reserved") if reserved_too else _IOMEM_RAM_TYPES
    ranges = []
    for line in text.splitlines():
        match = _IOMEM_LINE.fullmatch(line)  # top-level lines only: no indentation
        name = match.group(3).strip() if match else ""
        # Linux 6.1 shows a soft-reserved range as "hmem.N" at the top, "Soft Reserved" inside
        if match and (name in types or (reserved_too and re.fullmatch(r"hmem\.\d+", name))):
            ranges.append((int(match.group(1), 16), int(match.group(2), 16)))
    if not ranges or all(high == 0 for _, high in ranges):
        return None  # unprivileged readers see only zeros
    return RamMap(_merge(ranges), "/proc/iomem")


def read_ram_map(root: Path, reserved_too: bool = False) -> RamMap | None:
    """The RAM ranges, or None when neither source can be read.

    ``/sys/firmware/memmap`` is the raw firmware map, untouched by ``memmap=``; the
    ``/proc/iomem`` fallback counts the ranges ``memmap=`` carved out as RAM too
    (``Reserved`` ones only with ``reserved_too``, for ``nn$ss``).
    """
    return _firmware_memmap(root) or _iomem(root, reserved_too)
