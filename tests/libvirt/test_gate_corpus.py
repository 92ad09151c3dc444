"""The start-time gate over libvirt's own test domains with memory devices.

Every such domain that libvirt defines, its backing paths pointed at files that exist, alone
on the host: the gate must let it start. A hook runs for every domain of a host, famfs or
not; a private nvdimm, a dimm without ``<pmem/>`` or any other choice of one domain alone is
lint's to report, not the gate's to refuse (tests/live/test_hook.py has what it refuses).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from libvirt_judge import LibvirtJudge

from famfs_xml.cli.commands import Selection, settings_for
from famfs_xml.live.hook import refusal
from tests.conftest import unavailable

_CORPUS = os.environ.get("FAMFS_XML_LIBVIRT_CORPUS", "")
INPUTS = Path(_CORPUS) / "inputs" if _CORPUS else None
WITH_MEMORY_DEVICES = (
    sorted(p for p in INPUTS.glob("*.xml") if b"<memory model" in p.read_bytes())
    if INPUTS is not None and INPUTS.is_dir()
    else []
)


def _with_existing_backings(data: bytes, folder: Path) -> bytes:
    for number, path in enumerate(sorted(set(re.findall(rb"<path>([^<]+)</path>", data)))):
        backing = folder / f"backing-{number}"
        with backing.open("wb") as handle:
            handle.truncate(1024**3)
        data = data.replace(b"<path>" + path + b"</path>", f"<path>{backing}</path>".encode())
    return data


def test_the_corpus_has_domains_with_memory_devices() -> None:
    if INPUTS is None or not INPUTS.is_dir():
        unavailable("the gate corpus test", "set FAMFS_XML_LIBVIRT_CORPUS to libvirt's corpus")
    assert len(WITH_MEMORY_DEVICES) >= 20


@pytest.mark.parametrize("path", WITH_MEMORY_DEVICES, ids=lambda p: p.name)
def test_a_domain_libvirt_defines_is_let_through_alone(
    libvirt_judge: LibvirtJudge, path: Path, tmp_path: Path
) -> None:
    data = _with_existing_backings(path.read_bytes(), tmp_path)
    defined = libvirt_judge.define(data, validate=False)
    if not defined.ok:
        pytest.skip(f"libvirt {libvirt_judge.libvirt_version} refuses it: {defined.message}")
    empty = tmp_path / "none"
    empty.mkdir()
    # as the hook builds its settings: no config, this host's device facts
    settings = settings_for(Selection(None, None, None, None, None, True), (None, True, Path("/")))
    assert refusal(path.stem, data, settings.options, empty, empty) is None
