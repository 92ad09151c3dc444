"""Domain trees of many hypervisors, generated from one template (tests and benchmarks).

The large cases are written into a temporary directory when needed rather than committed:
2000 domains that share ``/dev/dax1.0``, a handful of them with another label size, is what
a fleet repository looks like, and what FX501 must answer with the handful only.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tests.samples import GUIDE_VM

LABEL_16 = "<size unit='MiB'>16</size>"
LABEL_32 = "<size unit='MiB'>32</size>"
# The four that differ in the 2000-domain case: first, middle, one the issue names, last.
OUTLIERS = (7, 500, 1007, 1999)


def domain(
    name: str, *, label_mib: int = 16, size_gib: int = 8, backing: str = "/dev/dax1.0"
) -> str:
    """The famfs guide's VM (GUIDE_VM) named ``name``, with its nvdimm's label size, target
    size (the totals follow it) and backing path as asked."""
    xml = GUIDE_VM.replace("<name>f39-dev2</name>", f"<name>{name}</name>")
    xml = xml.replace(LABEL_16, f"<size unit='MiB'>{label_mib}</size>")
    xml = xml.replace("<size unit='GiB'>8</size>", f"<size unit='GiB'>{size_gib}</size>")
    total = 32 + size_gib
    for element in ("maxMemory slots='2'", "memory", "currentMemory"):
        tag = element.split()[0]
        xml = xml.replace(
            f"<{element} unit='GiB'>40</{tag}>", f"<{element} unit='GiB'>{total}</{tag}>"
        )
    return xml.replace("<path>/dev/dax1.0</path>", f"<path>{backing}</path>")


def outlier_tree(
    directory: Path, count: int = 2000, outliers: Iterable[int] = OUTLIERS
) -> list[Path]:
    """``count`` domains ``vm0000.xml``... in ``directory`` sharing /dev/dax1.0 with a 16 MiB
    label, except ``outliers`` (32 MiB); the outliers' paths."""
    directory.mkdir(parents=True, exist_ok=True)
    odd = set(outliers)
    written = []
    for number in range(count):
        name = f"vm{number:04}"
        path = directory / f"{name}.xml"
        path.write_text(domain(name, label_mib=32 if number in odd else 16), encoding="utf-8")
        if number in odd:
            written.append(path)
    return written
