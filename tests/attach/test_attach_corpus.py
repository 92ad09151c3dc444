"""attach/detach over corpora of real domains: no crash, and no new problem.

The corpora are not part of this repository: ``FAMFS_XML_LIBVIRT_CORPUS`` and
``FAMFS_XML_WILD_CORPUS`` name folders of domain XML files, searched recursively (``.ci/run``
sets them). Without either the test skips; under ``CI=true`` it fails instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from famfs_xml import api
from famfs_xml.attach import AttachError, DeviceSpec, attach_document, detach_document
from famfs_xml.core import units
from famfs_xml.core.findings import Severity
from famfs_xml.lint.document import load

CORPORA = [
    Path(p)
    for p in (os.environ.get("FAMFS_XML_LIBVIRT_CORPUS"), os.environ.get("FAMFS_XML_WILD_CORPUS"))
    if p
]
SPEC = DeviceSpec("/dev/dax9.0", 2 * units.GiB, 2 * units.MiB, 16 * units.MiB)


def _files() -> list[Path]:
    return sorted(path for corpus in CORPORA for path in corpus.rglob("*.xml"))


def _codes(data: bytes) -> set[str]:
    return {f.code for f in api.lint_text(data) if f.severity >= Severity.WARNING}


def test_attach_adds_no_problem_to_real_domains() -> None:
    if not CORPORA:
        reason = "set FAMFS_XML_LIBVIRT_CORPUS or FAMFS_XML_WILD_CORPUS to run this test"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {reason}", pytrace=False)
        pytest.skip(reason)
    files = _files()
    assert files, f"no *.xml under {', '.join(map(str, CORPORA))}"
    worse: list[str] = []
    for path in files:
        raw = path.read_bytes()
        try:
            attached = attach_document(load(raw, str(path)), SPEC)
        except AttachError:
            continue  # refused with a message: fine
        new = _codes(attached.after) - _codes(raw)
        detached = detach_document(attached.doc, SPEC.path)
        new |= _codes(detached.after) - _codes(raw)
        if new:
            worse.append(f"{path.name}: {sorted(new)}")
    assert worse == []
