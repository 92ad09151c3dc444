"""Kernel command line parameters: splitting, sizes, and ``memmap=`` ranges."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SUFFIXES = {"K": 10, "M": 20, "G": 30, "T": 40, "P": 50, "E": 60}
_NUMBER = r"(?:0[xX][0-9a-fA-F]+|\d+)[KMGTPEkmgtpe]?"
_TYPE = r"(?:0[xX][0-9a-fA-F]+|\d+)"
_MEMMAP = re.compile(rf"({_NUMBER})([!$])({_NUMBER})")
_CONVERT = re.compile(rf"({_NUMBER})%({_NUMBER})((?:-{_TYPE})?(?:\+{_TYPE})?)")
MEMMAP_KINDS = {"!": "protected", "$": "reserved"}
E820_SOFT_RESERVED = 0xEFFFFFFF
"""The e820 type of "specific purpose" memory, which ``dax_hmem`` offers as a dax device."""
E820_KINDS = {1: "ram", 2: "reserved", 12: "protected", E820_SOFT_RESERVED: "soft-reserved"}
"""The ``+type`` of ``memmap=nn%ss-old+new``, by the kind of range it makes."""


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
    """One region of a ``memmap=``: ``nn!ss`` (protected: legacy pmem), ``nn$ss`` (reserved),
    or ``nn%ss-old+new`` (converted to e820 type ``new``: ``soft-reserved`` for
    0xefffffff, ``protected`` for 12, ``reserved`` for 2, ``ram`` for 1; ``removed`` without
    ``+new``)."""

    text: str
    kind: str
    size: int
    start: int
    sign: str = "!"  # "!", "$" or "%"
    tail: str = ""  # the "-old+new" of a "%" region

    @property
    def end(self) -> int:
        """The last byte (inclusive), as memory maps write it."""
        return self.start + self.size - 1

    @property
    def carves_memory(self) -> bool:
        """It takes a range of RAM away from the kernel (for a device, or for nothing)."""
        return self.kind in ("protected", "reserved", "soft-reserved")

    def moved(self, size: str, start: str) -> str:
        """The same kind of region, written with another size and start."""
        return f"{size}{self.sign}{start}{self.tail}"


def _e820_kind(tail: str) -> str:
    new = re.search(rf"\+({_TYPE})$", tail)
    return E820_KINDS.get(int(new.group(1), 0), "other") if new else "removed"


def memmap_ranges(value: str) -> list[MemmapRange]:
    """The ``!``, ``$`` and ``%`` regions of one ``memmap=`` value; other forms are skipped."""
    ranges = []
    for part in (p.strip() for p in unescape(value).split(",")):
        match = _MEMMAP.fullmatch(part)
        if match:
            size, sign, start = match.groups()
            kind = MEMMAP_KINDS[sign]
            ranges.append(MemmapRange(part, kind, memparse(size), memparse(start), sign))
            continue
        converted = _CONVERT.fullmatch(part)
        if converted and converted.group(3):
            size, start, tail = converted.groups()
            kind = _e820_kind(tail)
            ranges.append(MemmapRange(part, kind, memparse(size), memparse(start), "%", tail))
    return ranges


@dataclass(frozen=True)
class FakeMemRange:
    """One ``nn@ss:attr`` region of ``efi_fake_mem=`` (attr 0x40000: specific purpose)."""

    size: int
    start: int
    attribute: int
    size_text: str
    start_text: str


EFI_MEMORY_SP = 0x40000
_FAKE_MEM = re.compile(rf"({_NUMBER})@({_NUMBER}):({_TYPE})")


def fake_mem_ranges(value: str) -> list[FakeMemRange]:
    """The regions of one ``efi_fake_mem=`` value."""
    found = []
    for part in value.split(","):
        match = _FAKE_MEM.fullmatch(part.strip())
        if match:
            size, start, attribute = match.groups()
            found.append(
                FakeMemRange(memparse(size), memparse(start), int(attribute, 0), size, start)
            )
    return found


def kernel_version(release: str) -> tuple[int, int] | None:
    """``(6, 11)`` from ``6.11.0-1-amd64``."""
    match = re.match(r"(\d+)\.(\d+)", release.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None
