"""How libvirt decides an nvdimm's sharing, and FX301 saying the same.

The device's ``access``, else the ``memAccess`` of its NUMA cell, else the domain's
``<memoryBacking><access>``, else private: read off the ``"share"`` of the nvdimm's
``memory-backend-file`` in the QEMU command line libvirt builds (``domxml-to-native``).
"""

from __future__ import annotations

import json
import re

import pytest
from fixture_data import FIXTURES
from libvirt_judge import LibvirtJudge

from famfs_xml import api
from famfs_xml.core.findings import Severity

GUIDE = (FIXTURES / "guide" / "f39-dev2.xml").read_text()
CELL = "<cell id='0' cpus='0-1' memory='32' unit='GiB'/>"


def _domain(device: str | None, cell: str | None, backing: str | None) -> str:
    text = GUIDE.replace(
        "<memory model='nvdimm' access='shared'>",
        "<memory model='nvdimm'>"
        if device is None
        else f"<memory model='nvdimm' access='{device}'>",
    )
    if cell is not None:
        text = text.replace(CELL, CELL.replace("/>", f" memAccess='{cell}'/>"))
    if backing is not None:
        block = f"  <memoryBacking>\n    <access mode='{backing}'/>\n  </memoryBacking>\n"
        text = text.replace("  <vcpu", block + "  <vcpu", 1)
    return text


CASES = {
    # (device access, cell memAccess, memoryBacking access): what libvirt gives QEMU
    (None, None, None): False,
    (None, "shared", None): True,
    (None, None, "shared"): True,
    (None, "private", "shared"): False,
    ("private", "shared", "shared"): False,
    ("shared", "private", "private"): True,
}


def _nvdimm_share(argv: str) -> bool:
    """The nvdimm backend's ``share`` (libvirt leaves it out for a private mapping)."""
    for match in re.finditer(r"-object '(\{[^']*\"memory-backend-file\"[^']*\})'", argv):
        backend = json.loads(match.group(1))
        if backend["mem-path"] == "/dev/dax1.0":
            return bool(backend.get("share", False))
    raise AssertionError(f"no backend for /dev/dax1.0 in {argv}")


@pytest.mark.parametrize(("settings", "shared"), list(CASES.items()), ids=str)
def test_libvirt_shares_as_fx301_says(
    libvirt_judge: LibvirtJudge, settings: tuple[str | None, str | None, str | None], shared: bool
) -> None:
    text = _domain(*settings)
    native = libvirt_judge.to_native(text)
    assert native.ok, native.message
    assert _nvdimm_share(native.output) is shared
    fx301 = [f for f in api.lint_text(text) if f.code == "FX301"]
    errors = [f for f in fx301 if f.severity is Severity.ERROR]
    assert bool(errors) is not shared  # an error exactly where QEMU maps it privately
    if shared and settings[0] is None:
        [warning] = fx301  # inherited: said, at a lower severity
        assert warning.severity is Severity.WARNING
