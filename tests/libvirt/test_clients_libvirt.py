"""The client corpus (fixtures/clients) judged by real libvirt, as written and as fixed.

* libvirt's verdict on each file as written, and on what `famfs-xml fix` makes of it, is the
  one its manifest records;
* libvirt and famfs-xml agree: when libvirt rejects a version, famfs-xml reports an error;
* a fixed virt-install domain that famfs-xml finds no error in starts under TCG (its backing
  paths replaced by sparse files of the target size), or its manifest names why not.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fixture_data import to_bytes
from libvirt_judge import LibvirtJudge, Verdict, domain_name
from lxml import etree

from tests.clients.manifest import Client, errors, load_all, objections

CLIENT_FILES = load_all()


def _ids(client: Client) -> str:
    return client.name


def _judge(judge: LibvirtJudge, data: bytes) -> Verdict:
    """Schema, ``define --validate`` and the QEMU command line: all three must pass."""
    for step in (judge.validate, judge.define, judge.to_native):
        verdict = step(data)
        if not verdict.ok:
            return verdict
    return Verdict(True)


@pytest.mark.parametrize("client", CLIENT_FILES, ids=_ids)
def test_verdict_as_written(libvirt_judge: LibvirtJudge, client: Client) -> None:
    release = libvirt_judge.libvirt_version
    verdict = _judge(libvirt_judge, client.path.read_bytes())
    assert verdict.ok is (client.at("libvirt", release) == "accepts"), verdict.message
    if not verdict.ok:
        assert client.at("libvirt_message", release) in verdict.message


@pytest.mark.parametrize("client", CLIENT_FILES, ids=_ids)
def test_verdict_once_fixed(libvirt_judge: LibvirtJudge, client: Client) -> None:
    verdict = _judge(libvirt_judge, client.fixed())
    accepted = client.at("fixed_libvirt", libvirt_judge.libvirt_version) == "accepts"
    assert verdict.ok is accepted, verdict.message


@pytest.mark.parametrize("client", CLIENT_FILES, ids=_ids)
def test_what_libvirt_rejects_draws_an_error(libvirt_judge: LibvirtJudge, client: Client) -> None:
    """As written, safely fixed and unsafely fixed."""
    for data in {client.path.read_bytes(), client.fixed(), client.fixed(unsafe=True)}:
        verdict = _judge(libvirt_judge, data)
        release = libvirt_judge.libvirt_version
        assert verdict.ok or objections(client, data, release), verdict.message


def _with_sparse_backings(data: bytes, folder: Path) -> bytes:
    """The domain with every memory device's backing path replaced by a sparse file of the
    device's target size (the dax devices of the recipe do not exist here)."""
    root = etree.fromstring(data)
    for number, device in enumerate(root.iterfind("devices/memory")):
        path, size = device.find("source/path"), device.find("target/size")
        if path is None or size is None or not path.text or not size.text:
            continue
        backing = folder / f"backing-{number}"
        with backing.open("wb") as handle:
            handle.truncate(to_bytes(size.text, size.get("unit")))
        data = data.replace(
            f"<path>{path.text}</path>".encode(), f"<path>{backing}</path>".encode()
        )
    return data


@pytest.mark.parametrize("client", [c for c in CLIENT_FILES if "starts" in c.entry], ids=_ids)
def test_fixed_domain_starts(libvirt_judge: LibvirtJudge, client: Client, tmp_path: Path) -> None:
    fixed = client.fixed()
    assert not errors(client.lint(fixed))
    name = domain_name(fixed)
    assert name is not None
    try:
        verdict = libvirt_judge.start(_with_sparse_backings(fixed, tmp_path))
        detail = verdict.message + "\n" + libvirt_judge.qemu_log(name)[-2000:]
        release = libvirt_judge.libvirt_version
        assert verdict.ok is client.at("starts", release), detail
        if verdict.ok:
            assert libvirt_judge.domstate(name).startswith("running")
        else:
            assert client.at("start_message", release) in detail
    finally:
        libvirt_judge.destroy(name)
        libvirt_judge.undefine(name)
