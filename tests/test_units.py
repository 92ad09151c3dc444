"""Units exactly as libvirt's virScaleInteger parses them."""

from __future__ import annotations

import pytest

from famfs_xml.core import units


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        ("40", "GiB", 40 * units.GiB),
        ("40", "G", 40 * units.GiB),
        ("40", "g", 40 * units.GiB),
        ("2048", None, 2 * units.MiB),  # no unit: KiB
        ("2048", "", 2 * units.MiB),
        ("2048", "k", 2 * units.MiB),
        ("2048", "KIB", 2 * units.MiB),
        ("1", "KB", 1024),  # 1000 bytes, rounded up to a whole KiB
        ("128", "KB", 125 * units.KiB),  # 128000 bytes = 125 KiB: below the label minimum
        ("40", "GB", 39062500 * units.KiB),  # 40e9 bytes
        ("8", "Gb", 8 * 10**9),
        ("1", "b", 1024),
        ("2048", "bytes", 2048),
        ("1", "TiB", 1024**4),
        ("1", "EiB", 1024**6),
    ],
)
def test_to_bytes(value: str, unit: str | None, expected: int) -> None:
    assert units.to_bytes(value, unit) == expected


@pytest.mark.parametrize("value", ["8G", "-1", "", " ", "1.5", "0x10", None, "1e3"])
def test_bad_numbers_are_refused(value: str | None) -> None:
    with pytest.raises(units.UnitError, match="Invalid value"):
        units.to_bytes(value, "GiB")


@pytest.mark.parametrize("unit", ["GIGA", "Gi", "x", "KiBB", "iB"])
def test_unknown_suffix(unit: str) -> None:
    with pytest.raises(units.UnitError, match="unknown suffix"):
        units.to_bytes("1", unit)


def test_overflow_is_an_error_not_a_crash() -> None:
    with pytest.raises(units.UnitError, match="too large"):
        units.to_bytes("9" * 30, "EiB")


def test_whitespace_around_the_number_is_accepted() -> None:
    assert units.to_bytes(" 40\n", "GiB") == 40 * units.GiB


@pytest.mark.parametrize(
    ("unit", "decimal", "binary"),
    [
        ("GB", True, "GiB"),
        ("mb", True, "MiB"),
        ("kB", True, "KiB"),
        ("Tb", True, "TiB"),
        ("GiB", False, None),
        ("G", False, None),
        (None, False, None),
        ("bytes", False, None),
    ],
)
def test_decimal_units(unit: str | None, decimal: bool, binary: str | None) -> None:
    assert units.is_decimal(unit) is decimal
    if binary:
        assert units.binary_counterpart(unit or "") == binary


def test_human() -> None:
    assert units.human(8 * units.GiB) == "8 GiB"
    assert units.human(2 * units.MiB) == "2 MiB"
    assert units.human(1536 * units.KiB) == "1.50 MiB"
    assert units.human(512) == "512 bytes"


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (1028 * units.GiB, "1028 GiB"),  # not "1.00 TiB"
        (5119 * units.MiB, "5119 MiB"),  # not "5.00 GiB"
        (32 * units.GiB + units.MiB, "32769 MiB"),
        (units.GiB + units.KiB, "1048577 KiB"),
        (39062500 * units.KiB, "37.25 GiB"),  # 40 GB: a rounded value that says it is one
    ],
)
def test_human_never_rounds_to_what_looks_like_a_whole_size(size: int, shown: str) -> None:
    assert units.human(size) == shown


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (1028 * units.GiB, "1028 GiB"),
        (8 * units.GiB, "8 GiB"),
        (1536 * units.KiB, "1536 KiB"),
        (39062500 * units.KiB, "39062500 KiB"),
        (1000, "1000 bytes"),
    ],
)
def test_exact(size: int, shown: str) -> None:
    assert units.exact(size) == shown


def test_distinct_shows_two_different_sizes_differently() -> None:
    close = (1536 * units.KiB, 1537 * units.KiB)
    assert units.human(close[0]) == units.human(close[1])  # both "1.50 MiB"
    assert units.distinct(*close) == ("1536 KiB", "1537 KiB")
    assert units.distinct(5 * units.GiB, 4 * units.GiB) == ("5 GiB", "4 GiB")
    assert units.distinct(units.GiB, units.GiB) == ("1 GiB", "1 GiB")
