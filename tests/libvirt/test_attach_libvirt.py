"""attach/detach results, judged by real libvirt: schema, define, QEMU command line, sizes.

libvirt recomputes ``<memory>`` and clamps ``<currentMemory>`` when it defines a domain; the
sizes it keeps must be the ones attach wrote ("what is in git is what runs").
"""

from __future__ import annotations

import re

import pytest
from libvirt_judge import LibvirtJudge, domain_name
from lxml import etree

from famfs_xml.attach import DeviceSpec, attach_document, detach_document
from famfs_xml.core import units
from famfs_xml.lint.document import load
from famfs_xml.lint.domain import build
from tests.attach.domains import domain_variants

VARIANTS = domain_variants()
DAX = "/dev/dax1.0"
SPEC = DeviceSpec(DAX, 8 * units.GiB, 2 * units.MiB, 16 * units.MiB)


def _sizes(xml: bytes | str) -> tuple[int | None, ...]:
    data = xml.encode() if isinstance(xml, str) else xml
    domain = build(etree.fromstring(data))
    memory = (domain.max_memory, domain.memory, domain.current_memory)
    return (
        *(None if s is None else s.bytes for s in memory),
        domain.slots,
        domain.cells_total,
        domain.devs_total,
    )


def _judge(judge: LibvirtJudge, data: bytes, original: bytes) -> None:
    """Schema, define (keeping our sizes) and the QEMU command line, where the original domain
    builds one on this host (hugepages need a mounted hugetlbfs): else the same refusal."""
    schema = judge.validate(data)
    assert schema.ok, schema.message
    defined = judge.define(data)
    assert defined.ok, defined.message
    name = domain_name(data)
    assert name is not None
    try:
        assert _sizes(judge.dumpxml_inactive(name)) == _sizes(data)
    finally:
        judge.undefine(name)
    native = judge.to_native(data)
    before = judge.to_native(original)
    if before.ok:
        assert native.ok, native.message
    else:
        assert native.message == before.message


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_attached_domain_is_accepted(libvirt_judge: LibvirtJudge, name: str) -> None:
    attached = attach_document(load(VARIANTS[name], f"{name}.xml"), SPEC)
    _judge(libvirt_judge, attached.after, VARIANTS[name])
    native = libvirt_judge.to_native(attached.after)
    if not native.ok:
        return  # the original builds none on this host either (checked by _judge)
    argv = native.output
    assert '"mem-path":"/dev/dax1.0","share":true' in argv
    assert '"align":2097152,"pmem":true' in argv
    assert '"driver":"nvdimm"' in argv and '"label-size":16777216' in argv


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_detached_domain_is_accepted(libvirt_judge: LibvirtJudge, name: str) -> None:
    attached = attach_document(load(VARIANTS[name], f"{name}.xml"), SPEC)
    detached = detach_document(attached.doc, DAX)
    _judge(libvirt_judge, detached.after, VARIANTS[name])
    assert "/dev/dax1.0" not in libvirt_judge.to_native(detached.after).output


def test_second_device_and_second_node(libvirt_judge: LibvirtJudge) -> None:
    first = attach_document(load(VARIANTS["libvirt-two-cells"], "two.xml"), SPEC)
    second = attach_document(
        first.doc, DeviceSpec("/dev/dax2.0", 4 * units.GiB, 2 * units.MiB, 16 * units.MiB, node=1)
    )
    _judge(libvirt_judge, second.after, VARIANTS["libvirt-two-cells"])
    argv = libvirt_judge.to_native(second.after).output
    assert '"node":1,"label-size":16777216,"memdev":"memnvdimm1","id":"nvdimm1","slot":1' in argv


def test_domain_without_memory_element(libvirt_judge: LibvirtJudge) -> None:
    original = re.sub(
        rb"  <(memory|currentMemory) unit='KiB'>8388608</\1>\n", b"", VARIANTS["libvirt-two-cells"]
    )
    attached = attach_document(load(original, "cells.xml"), SPEC)
    defined = libvirt_judge.define(attached.after)
    assert defined.ok, defined.message
    name = domain_name(attached.after)
    assert name is not None
    try:
        kept = build(etree.fromstring(libvirt_judge.dumpxml_inactive(name).encode()))
    finally:
        libvirt_judge.undefine(name)
    assert kept.memory is not None and kept.memory.bytes == 16 * units.GiB
    assert libvirt_judge.to_native(attached.after).ok
