"""Kernel command line parameters: splitting, sizes, and ``memmap=`` ranges."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SUFFIXES = {"K": 10, "M": 20, "G": 30, "T": 40, "P": 50, "E": 60}
_NUMBER = r"(?:0[xX][0-9a-fA-F]+|\d+)[KMGTPEkmgtpe]?"
_MEMMAP = re.compile(rf"({_NUMBER})([!$])({_NUMBER})")
MEMMAP_KINDS = {"!": "protected", "$": "reserved"}


def memparse(text: str) -> int:
    """A kernel size such as ``8G``, ``512M`` or ``0x200000`` in bytes (like memparse())."""
    text = text.strip()
    shift = 0
    if text and text[-1].upper() in _SUFFIXES:
        shift = _SUFFIXES[text[-1].upper()]
        text = text[:-1]
    return int(text, 0) << shift


def unescape(value: str) -> str:
    """Grub needs ``\\$`` where the kernel sees ``$``; compare values without the escape."""
    return re.sub(r"\\+\$", "$", value)


def split_cmdline(text: str) -> list[str]:
    """Split a command line on blanks, keeping double-quoted parts together (as the kernel)."""
    params: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text.strip():
        if char == '"':
            quoted = not quoted
        elif char.isspace() and not quoted:
            if current:
                params.append("".join(current))
            current = []
        else:
            current.append(char)
    if current:
        params.append("".join(current))
    return params


def values_of(params: list[str], key: str) -> list[str]:
    """The values of every ``key=value`` parameter, in order."""
    prefix = f"{key}="
    return [param[len(prefix) :] for param in params if param.startswith(prefix)]


def has_param(params: list[str], key: str) -> bool:
    return any(param == key or param.startswith(f"{key}=") for param in params)


@dataclass(frozen=True)
class MemmapRange:
    """One ``nn!ss`` (protected: pmem) or ``nn$ss`` (reserved) region of a ``memmap=``."""

    text: str
    kind: str
    size: int
    start: int

    @property
    def end(self) -> int:
        """The last byte (inclusive), as memory maps write it."""
        return self.start + self.size - 1


def memmap_ranges(value: str) -> list[MemmapRange]:
    """The ``!`` and ``$`` regions of one ``memmap=`` value; other forms are skipped."""
    ranges = []
    for part in unescape(value).split(","):
        match = _MEMMAP.fullmatch(part.strip())
        if match:
            size, sign, start = match.groups()
            ranges.append(
                MemmapRange(part.strip(), MEMMAP_KINDS[sign], memparse(size), memparse(start))
            )
    return ranges


def kernel_version(release: str) -> tuple[int, int] | None:
    """``(6, 11)`` from ``6.11.0-1-amd64``."""
    match = re.match(r"(\d+)\.(\d+)", release.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None
