"""The ``<metadata>`` suppression block survives libvirt; comment directives do not.

libvirt rewrites a domain whenever it saves it (``virsh define``, ``virsh edit``) and keeps
none of the user's comments, but it keeps ``<metadata>`` children in their own namespace.
These tests define domains in the real libvirt QEMU driver (the session's ``libvirt_judge``),
and lint both what ``dumpxml --inactive`` returns and the file libvirt saved.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from libvirt_judge import LibvirtJudge

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "workflow"))

from workflow_samples import BROKEN

from famfs_xml import api

METADATA = """  <metadata>
    <famfs:lint xmlns:famfs="urn:famfs-xml:lint:1">
      <famfs:ignore rule="FX301" reason="lab box: a private copy is wanted"/>
      <famfs:ignore rule="nvdimm-alignsize,FX303" path="/dev/dax1.0"/>
    </famfs:lint>
  </metadata>
"""
VCPU = "  <vcpu placement='static'>2</vcpu>\n"
NVDIMM = "    <memory model='nvdimm'>"


def _codes(xml: str | bytes) -> list[str]:
    return sorted(f.code for f in api.lint_text(xml, path="vm1.xml"))


def _round_trip(judge: LibvirtJudge, xml: str) -> tuple[str, bytes]:
    """(``dumpxml --inactive``, the file libvirt saved) after ``define --validate``."""
    verdict = judge.define(xml, validate=True)
    assert verdict.ok, verdict.message
    try:
        return judge.dumpxml_inactive("vm1"), judge.saved_xml("vm1")
    finally:
        judge.undefine("vm1")


def _without_metadata(xml: str) -> str:
    start = xml.index("  <metadata>")
    end = xml.index("</metadata>\n") + len("</metadata>\n")
    return xml[:start] + xml[end:]


@pytest.mark.parametrize("form", ["dumpxml", "saved file"])
def test_metadata_suppression_survives_define(libvirt_judge: LibvirtJudge, form: str) -> None:
    original = BROKEN.replace(VCPU, METADATA + VCPU)
    assert _codes(original) == []
    assert _codes(_without_metadata(original)) == ["FX301", "FX302", "FX303"]
    dumped, saved = _round_trip(libvirt_judge, original)
    text = dumped if form == "dumpxml" else saved.decode("utf-8")
    assert 'xmlns:famfs="urn:famfs-xml:lint:1"' in text
    assert text.count("<famfs:ignore ") == 2
    assert _codes(text) == []  # still suppressed, and no directive went unused
    assert _codes(_without_metadata(text)) == ["FX301", "FX302", "FX303"]


def test_comment_directives_do_not_survive_define(libvirt_judge: LibvirtJudge) -> None:
    original = BROKEN.replace(NVDIMM, f"    <!-- famfs-xml: disable=FX3 -->\n{NVDIMM}")
    assert _codes(original) == []
    dumped, saved = _round_trip(libvirt_judge, original)
    for text in (dumped, saved.decode("utf-8")):
        assert "famfs-xml:" not in text
        assert _codes(text) == ["FX301", "FX302", "FX303"]
