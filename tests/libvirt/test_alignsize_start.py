"""What QEMU 7.2 does with an alignsize coarser than needed, as FX302 words it.

A 64 MiB regular file with a 128 KiB label: QEMU maps the target size minus the label,
aligned down to alignsize. 32 MiB leaves 32 MiB and starts (FX302: a warning about the
usable size); 64 MiB leaves nothing, and QEMU refuses (FX302: an error).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from libvirt_judge import LibvirtJudge
from test_start import MiB, small_guest

from famfs_xml import api
from famfs_xml.core.findings import Severity


@pytest.fixture
def backing(tmp_path: Path) -> Path:
    path = tmp_path / "famfs-backing"
    with path.open("wb") as handle:
        handle.truncate(64 * MiB)
    return path


@pytest.mark.parametrize(("align_mib", "starts"), [(32, True), (64, False)])
def test_coarse_alignsize(
    libvirt_judge: LibvirtJudge, backing: Path, align_mib: int, starts: bool
) -> None:
    name = f"famfs-start-align-{align_mib}"
    xml = small_guest(name, backing).replace(
        "<alignsize unit='MiB'>2</alignsize>", f"<alignsize unit='MiB'>{align_mib}</alignsize>"
    )
    [finding] = [f for f in api.lint_text(xml) if f.code == "FX302"]
    try:
        verdict = libvirt_judge.start(xml)
        assert verdict.ok is starts, verdict.message
        if starts:
            assert finding.severity is Severity.WARNING
            assert "(32 MiB instead of 62 MiB)" in finding.message
        else:
            assert finding.severity is Severity.ERROR
            # libvirt quotes QEMU's refusal, unless QEMU exits before libvirt reaches its
            # monitor ("failed to connect to monitor socket"): then QEMU's log holds it
            said = verdict.message + libvirt_judge.qemu_log(name)
            assert "is too small to contain nvdimm label (0x20000) and aligned PMEM" in said
    finally:
        libvirt_judge.destroy(name)
        libvirt_judge.undefine(name)
