"""What backs an nvdimm decides FX302/FX303's severity, wording and fix safety.

The kind comes from what is known -- a ``/dev/daxX.Y`` or ``/dev/pmemN`` name, or the device
facts of ``--host``/``--inventory`` -- and is "unknown" otherwise: a file in ``/dev/shm`` is
no dax device, and a path outside ``/dev`` is not known to be a regular file either.
"""

from __future__ import annotations

import pytest

from famfs_xml import api
from famfs_xml.core.findings import Applicability, Finding
from famfs_xml.core.inventory import BackingDevice, Inventory
from tests.samples import GUIDE_VM

MiB = 1024 * 1024
BARE = GUIDE_VM.replace("        <alignsize unit='MiB'>2</alignsize>\n        <pmem/>\n", "")


def _on(path: str) -> str:
    return BARE.replace("<path>/dev/dax1.0</path>", f"<path>{path}</path>")


def _found(text: str, code: str, **kwargs: object) -> Finding:
    [finding] = [f for f in api.lint_text(text, **kwargs) if f.code == code]  # type: ignore[arg-type]
    return finding


def _regular_file(path: str) -> Inventory:
    return Inventory([BackingDevice(path, "file", size=8 * 1024 * MiB)])


@pytest.mark.parametrize("path", ["/dev/dax1.0", "/dev/pmem0"])
def test_a_device_name_is_a_device(path: str) -> None:
    for code in ("FX302", "FX303"):
        finding = _found(_on(path), code)
        assert finding.severity.label == "error"
        assert finding.fix is not None and finding.fix.applicability is Applicability.SAFE
    kind = "dax" if "dax" in path else "pmem"
    assert f"the {kind} device {path}" in _found(_on(path), "FX302").message


@pytest.mark.parametrize("path", ["/dev/shm/famfs", "/var/lib/libvirt/images/famfs.img"])
def test_an_unknown_kind_is_said_and_not_guessed(path: str) -> None:
    alignsize = _found(_on(path), "FX302")
    assert alignsize.severity.label == "warning"
    assert "/dev/dax backing" not in alignsize.message
    assert f"the kind of {path} is unknown" in alignsize.message
    pmem = _found(_on(path), "FX303")
    assert pmem.severity.label == "warning"
    assert f"the kind of {path} is unknown" in pmem.message
    assert pmem.fix is not None and pmem.fix.applicability is Applicability.UNSAFE


def test_a_known_regular_file_is_named_as_one() -> None:
    path = "/dev/shm/famfs"
    facts = _regular_file(path)
    alignsize = _found(_on(path), "FX302", facts=facts)
    assert alignsize.severity.label == "warning"
    assert f"the regular file {path}" in alignsize.message
    pmem = _found(_on(path), "FX303", facts=facts)
    assert pmem.severity.label == "warning"
    assert "deprecated" in pmem.message  # QEMU 7.2's warning for pmem=on on a non-DAX file
    assert pmem.fix is not None and pmem.fix.applicability is Applicability.UNSAFE


def test_device_facts_beat_the_name() -> None:
    """A udev symlink to a dax device, as an inventory describes it."""
    path = "/dev/famfs/shared0"
    facts = Inventory([BackingDevice(path, "dax", size=8 * 1024 * MiB, align=2 * MiB)])
    assert _found(_on(path), "FX302", facts=facts).severity.label == "error"
    assert _found(_on(path), "FX303", facts=facts).severity.label == "error"


def test_safe_fix_never_adds_pmem_to_a_regular_file() -> None:
    """QEMU 7.2 warns "Using non DAX backing file with 'pmem=on' option is deprecated"."""
    path = "/var/lib/libvirt/images/famfs.img"
    for facts in (None, _regular_file(path)):
        fixed = api.fix_text(_on(path), facts=facts).decode()
        assert "<pmem/>" not in fixed
        assert "<alignsize unit='MiB'>2</alignsize>" in fixed  # harmless for any kind
        unsafe = api.fix_text(_on(path), facts=facts, unsafe_fixes=True).decode()
        assert "<pmem/>" in unsafe
    assert "<pmem/>" in api.fix_text(_on("/dev/dax1.0")).decode()
