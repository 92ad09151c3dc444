"""The ``<metadata>`` suppression block survives libvirt; comment directives do not.

libvirt rewrites a domain whenever it saves it (``virsh define``, ``virsh edit``) and keeps
none of the user's comments, but it keeps ``<metadata>`` children in their own namespace.
This test defines domains in a real, embedded libvirt QEMU driver, dumps them back and lints
the dump.

It uses the session's ``libvirt_judge`` fixture when the test-suite provides one, and
otherwise drives ``virsh -c qemu:///embed?root=DIR`` itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest

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


class Libvirt(Protocol):
    def define_and_dump(self, xml: str) -> str: ...


class _Virsh:
    """A bare embedded QEMU driver, for when the suite's judge is not available."""

    def __init__(self, root: Path) -> None:
        (root / "etc").mkdir(parents=True)
        (root / "etc" / "qemu.conf").write_text('user = "root"\ngroup = "root"\n')
        self.uri = f"qemu:///embed?root={root}"
        self.env = dict(os.environ, LIBVIRT_LOG_OUTPUTS="4:file:/dev/null")
        self.scratch = root

    def _virsh(self, *args: str) -> str:
        done = subprocess.run(["virsh", "-q", "-c", self.uri, *args], env=self.env,
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise AssertionError(f"virsh {args[0]} failed: {done.stderr.strip()}")
        return done.stdout

    def define_and_dump(self, xml: str) -> str:
        if not os.access("/dev/kvm", os.R_OK | os.W_OK):
            xml = xml.replace("<domain type='kvm'", "<domain type='qemu'", 1)
        source = self.scratch / "domain.xml"
        source.write_text(xml)
        self._virsh("define", "--validate", str(source))
        try:
            return self._virsh("dumpxml", "--inactive", "vm1")
        finally:
            self._virsh("undefine", "--nvram", "vm1")


class _Judge:
    """Adapter over the suite's ``libvirt_judge``."""

    def __init__(self, judge: object) -> None:
        self.judge = judge

    def define_and_dump(self, xml: str) -> str:
        judge = self.judge
        verdict = judge.define(xml, validate=True)  # type: ignore[attr-defined]
        assert verdict, f"libvirt refused the domain: {verdict}"
        try:
            dumped: str = judge.dumpxml_inactive("vm1")  # type: ignore[attr-defined]
        finally:
            judge.undefine("vm1")  # type: ignore[attr-defined]
        return dumped


@pytest.fixture(scope="module")
def libvirt(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Libvirt]:
    try:
        judge = request.getfixturevalue("libvirt_judge")
    except pytest.FixtureLookupError:
        judge = None
    if judge is not None:
        yield _Judge(judge)
        return
    if shutil.which("virsh") is None:
        message = "virsh is not installed: cannot ask libvirt"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    yield _Virsh(tmp_path_factory.mktemp("libvirt"))


def _codes(xml: str) -> list[str]:
    return [f.code for f in api.lint_text(xml, path="dumped.xml")]


def test_metadata_suppression_survives_define_and_dump(libvirt: Libvirt) -> None:
    original = BROKEN.replace(VCPU, METADATA + VCPU)
    assert _codes(original) == []
    dumped = libvirt.define_and_dump(original)
    assert 'xmlns:famfs="urn:famfs-xml:lint:1"' in dumped
    assert "<famfs:ignore" in dumped
    assert _codes(dumped) == []  # still suppressed, nothing unused
    without = dumped.replace(dumped[dumped.index("  <metadata>"):
                                    dumped.index("</metadata>\n") + len("</metadata>\n")], "")
    assert sorted(_codes(without)) == ["FX301", "FX302", "FX303"]


def test_comment_directives_do_not_survive_libvirt(libvirt: Libvirt) -> None:
    original = BROKEN.replace("    <memory model='nvdimm'>",
                              "    <!-- famfs-xml: disable=FX3 -->\n    <memory model='nvdimm'>")
    assert _codes(original) == []
    dumped = libvirt.define_and_dump(original)
    assert "famfs-xml:" not in dumped
    assert sorted(_codes(dumped)) == ["FX301", "FX302", "FX303"]
