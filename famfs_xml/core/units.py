"""libvirt size units, parsed exactly as libvirt's ``virScaleInteger`` does.

The default unit is KiB; ``k``/``KiB`` and friends are powers of 1024; ``KB``/``MB``/... (a
letter followed by ``b``) are powers of 1000; ``b``/``byte``/``bytes`` are bytes. libvirt
stores every size in KiB, rounding bytes up, so :func:`to_bytes` does the same.
"""

from __future__ import annotations

import itertools

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

_PREFIXES = "kmgtpe"
_BINARY_NAMES = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
_DECIMAL_NAMES = ("KB", "MB", "GB", "TB", "PB", "EB")
_LIMIT = 2**63 - 1  # LLONG_MAX bytes: libvirt's overflow limit on 64-bit hosts


class UnitError(ValueError):
    """A size that libvirt would refuse; the message is libvirt's own wording where it has one."""


def multiplier(unit: str | None) -> int:
    """Bytes per unit for a libvirt ``unit=`` value (None or empty means KiB)."""
    if unit is None or unit == "":
        return KiB
    lowered = unit.lower()
    if lowered in ("b", "byte", "bytes"):
        return 1
    if lowered[0] in _PREFIXES:
        power = _PREFIXES.index(lowered[0]) + 1
        rest = lowered[1:]
        if rest in ("", "ib"):
            return int(1024**power)
        if rest == "b":
            return int(1000**power)
    raise UnitError(f"unknown suffix '{unit}'")


def is_decimal(unit: str | None) -> bool:
    """True for the 1000-based units (``KB``, ``mb``, ``Gb``...)."""
    return (
        bool(unit)
        and len(unit or "") == 2
        and (unit or "").lower()[1] == "b"
        and ((unit or "").lower()[0] in _PREFIXES)
    )


def binary_counterpart(unit: str) -> str:
    """``GB`` -> ``GiB``: the unit that was almost certainly meant."""
    return _BINARY_NAMES[_PREFIXES.index(unit.lower()[0])]


def parse_number(text: str | None) -> int:
    """A non-negative base-10 integer, surrounding whitespace allowed, nothing else."""
    digits = "" if text is None else text.strip()
    if not (digits.isascii() and digits.isdigit()):  # ASCII 0-9 only, at least one
        raise UnitError(f"Invalid value '{digits}'")
    return int(digits)


def to_bytes(value: str | None, unit: str | None) -> int:
    """The size in bytes as libvirt stores it (rounded up to a whole KiB)."""
    number = parse_number(value)
    total = number * multiplier(unit)
    if total > _LIMIT:
        raise UnitError(f"value too large: {number}{unit or ''}")
    return -(-total // KiB) * KiB


def canonical_unit(unit: str | None) -> str:
    """The spelling we write back for a unit already in the file (``g`` -> ``GiB``)."""
    if unit is None or unit == "":
        return "KiB"
    lowered = unit.lower()
    if lowered in ("b", "byte", "bytes"):
        return "bytes"
    if is_decimal(unit):
        return _DECIMAL_NAMES[_PREFIXES.index(lowered[0])]
    return _BINARY_NAMES[_PREFIXES.index(lowered[0])]


def fits_exactly(size: int, unit: str | None) -> bool:
    return size % multiplier(unit) == 0


def format_value(size: int, unit: str | None) -> str:
    """The number to write for ``size`` bytes in ``unit`` (the caller checked it is exact)."""
    return str(size // multiplier(unit))


_SCALES = (
    ("EiB", 1024**6),
    ("PiB", 1024**5),
    ("TiB", 1024**4),
    ("GiB", GiB),
    ("MiB", MiB),
    ("KiB", KiB),
)


def exact(size: int) -> str:
    """``size`` in the largest binary unit that holds it exactly: ``1028 GiB``, ``5119 MiB``.

    What a fix message says it writes, and what a finding shows where a rounded value would
    hide the difference it is about.
    """
    for name, scale in _SCALES:
        if size >= scale and size % scale == 0:
            return f"{size // scale} {name}"
    return f"{size} bytes"


def human(size: int) -> str:
    """``8 GiB`` for exact binary sizes, else the largest unit with a short decimal.

    A rounded value that reads like a whole number (5119 MiB as "5.00 GiB", 1028 GiB as
    "1.00 TiB") is shown exactly instead: it would pass for a size it is not.
    """
    for name, scale in _SCALES:
        if size >= scale:
            if size % scale == 0:
                return f"{size // scale} {name}"
            rounded = f"{size / scale:.2f}"
            if rounded.endswith(".00"):
                return exact(size)
            return f"{rounded} {name}"
    return f"{size} bytes"


def distinct(*sizes: int) -> tuple[str, ...]:
    """:func:`human` for each size, or :func:`exact` for all of them when two different sizes
    would otherwise read the same: a message that compares sizes never shows equal values."""
    shown = tuple(human(size) for size in sizes)
    for first, second in itertools.combinations(range(len(sizes)), 2):
        if shown[first] == shown[second] and sizes[first] != sizes[second]:
            return tuple(exact(size) for size in sizes)
    return shown
