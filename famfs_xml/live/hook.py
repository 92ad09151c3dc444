"""The start-time gate: famfs-xml as libvirt's qemu hook.

libvirt runs the hook (``/etc/libvirt/hooks/qemu``, or a script in ``/etc/libvirt/hooks/qemu.d/``)
as root for every step of every domain's life, with the arguments ``NAME OPERATION
SUB-OPERATION EXTRA`` and the domain's XML on stdin. A non-zero exit at ``prepare begin``
refuses the start, and ``virsh start`` shows the hook's stderr. The gate:

* lets every other operation through at once, without reading stdin;
* lets a domain without memory devices through without parsing it;
* otherwise lints the domain with this host's device facts (as ``lint --host``), together
  with the running domains that share one of its backing paths (their live XML in
  ``/run/libvirt/qemu``), and refuses the start when an error of the memory, NUMA,
  nvdimm or shared-backing rules (FX1xx, FX2xx, FX3xx, FX501) remains.

Suppressions apply as in any lint, so ``<famfs:ignore>`` in the domain's ``<metadata>``
(which survives libvirt's saves) is the way to start such a domain on purpose. A hook must
never call back into libvirt (the daemon waits for it): nothing here does.
"""

from __future__ import annotations

import os

# typing.TYPE_CHECKING without importing typing: the launcher decides libvirt's every other
# event (:func:`gated`) with nothing but this module loaded.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

    from famfs_xml.core.findings import Finding
    from famfs_xml.lint.document import Document
    from famfs_xml.lint.options import LintOptions

GATED = ("prepare", "begin")
BLOCKING = ("FX1", "FX2", "FX3", "FX5")  # memory sizes, NUMA, nvdimm, shared backing


def gated(operation: str, sub_operation: str) -> bool:
    """Whether the gate looks at this hook call (the step before QEMU starts)."""
    return (operation, sub_operation) == GATED


def may_have_memory_devices(xml: bytes) -> bool:
    """False when the domain surely has no ``<memory>`` device, found without parsing: the
    gate's answer for most domains, in well under a millisecond."""
    devices = xml.find(b"<devices")
    return devices >= 0 and xml.find(b"<memory", devices) >= 0


def refusal(name: str, xml: bytes, options: LintOptions, run_dir: Path) -> str | None:
    """Why the domain ``name`` (defined by ``xml``) must not start; None to let it start."""
    from famfs_xml.lint.document import load
    from famfs_xml.lint.engine import lint_documents

    starting = load(xml, f"libvirt:{name}")
    if starting.root is None or starting.root.tag != "domain":
        return None  # not a domain libvirt would start: not the gate's business
    others = list(_running_sharers(starting, name, run_dir))
    checked = lint_documents([(starting, True), *((doc, True) for doc in others)], options)
    blocking = [
        finding
        for finding in checked[0].findings
        if finding.severity.label == "error" and finding.code.startswith(BLOCKING)
    ]
    return _reason(name, blocking) if blocking else None


def _reason(name: str, blocking: Sequence[Finding]) -> str:
    first, *rest = blocking
    more = f" (also {', '.join(dict.fromkeys(f.code for f in rest))})" if rest else ""
    return (
        f"famfs-xml refuses to start {name}: {first.code} {first.message}{more}; "
        f"see `famfs-xml lint --connect qemu:///system {name}`, "
        f"repair with `famfs-xml fix --connect qemu:///system {name}`"
    )


def _backing_paths(doc: Document) -> list[bytes]:
    from famfs_xml.lint.domain import build

    assert doc.root is not None
    return [
        device.path.encode()
        for device in build(doc.root).memory_devices
        if device.is_nvdimm and device.path
    ]


def _running_sharers(starting: Document, name: str, run_dir: Path) -> Iterator[Document]:
    """The running domains whose live XML names one of ``starting``'s backing paths."""
    paths = _backing_paths(starting)
    if not paths:
        return
    try:
        entries = sorted(os.scandir(run_dir), key=lambda entry: entry.name)
    except OSError:
        return  # no running domains (or no daemon state to read): nothing to compare
    for entry in entries:
        other = entry.name.removesuffix(".xml")
        if other == entry.name or other == name or not entry.is_file():
            continue
        try:
            with open(entry.path, "rb") as handle:
                status = handle.read()
        except OSError:
            continue
        if any(path in status for path in paths):
            doc = _domain_of_status(status, f"libvirt:{other} (running)")
            if doc is not None:
                yield doc


def _domain_of_status(status: bytes, display: str) -> Document | None:
    """The ``<domain>`` inside libvirt's ``<domstatus>`` file of a running domain."""
    from lxml import etree

    from famfs_xml.lint.document import load

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(status, parser)
    except etree.XMLSyntaxError:
        return None
    domain = root if root.tag == "domain" else root.find("domain")
    if domain is None:
        return None
    return load(etree.tostring(domain), display)
