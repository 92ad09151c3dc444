"""Domains for the attach/detach tests: libvirt-written and hand-written, in several styles."""

from __future__ import annotations

import re
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"

_LEADING_SPACES = re.compile(rb"^( +)", re.MULTILINE)


def crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def tabs(data: bytes, width: int) -> bytes:
    """Leading indentation of ``width`` spaces per level turned into tabs."""
    return _LEADING_SPACES.sub(lambda m: b"\t" * (len(m.group(1)) // width), data)


def domain_variants() -> dict[str, bytes]:
    """Every test domain, plus CRLF and tab-indented copies of two of them."""
    variants = {path.stem: path.read_bytes() for path in sorted(DATA.glob("*.xml"))}
    variants["libvirt-plain-crlf"] = crlf(variants["libvirt-plain"])
    variants["handwritten-no-cpu-tabs"] = tabs(variants["handwritten-no-cpu"], 4)
    variants["virt-manager-passthrough-crlf-tabs"] = crlf(
        tabs(variants["virt-manager-passthrough"], 2)
    )
    return variants
