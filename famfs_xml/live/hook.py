"""The start-time gate: famfs-xml as libvirt's qemu hook.

libvirt runs the hook (``/etc/libvirt/hooks/qemu``, or a script in ``/etc/libvirt/hooks/qemu.d/``)
as root for every step of every domain's life, with the arguments ``NAME OPERATION
SUB-OPERATION EXTRA`` and the domain's XML on stdin. A non-zero exit at ``prepare begin``
refuses the start, and ``virsh start`` shows the hook's stderr. The gate:

* lets every other operation through at once, without reading stdin;
* lets a domain without memory devices through without parsing it;
* otherwise lints the domain with this host's device facts (as ``lint --host``), together
  with the other domains that share one of its backing paths: the running ones (their live
  XML in ``/run/libvirt/qemu``) and the defined ones (their saved definitions in
  ``/etc/libvirt/qemu``);
* refuses the start only when it would fail or would break sharing: an error of the
  memory, NUMA or nvdimm rules (FX1xx, FX2xx, FX3xx) that keeps QEMU or libvirt from
  starting it, or a mismatch FX501 sees with another domain on the same device. An error
  that is this domain's own choice and starts fine does not refuse it (lint still
  reports it): a private nvdimm (FX301), unless another defined or running domain uses
  the same backing, no ``<pmem/>`` (FX303), cells that count the nvdimm twice (FX202),
  vCPUs libvirt places in a cell itself (FX203).

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
# Errors after which the domain still starts: its own choice, reported by lint, not refused.
STARTS_ANYWAY = frozenset({"FX202", "FX203", "FX301", "FX303"})
# ...except a private mapping of a backing that another domain uses: the guests would not
# see each other's writes.
SHARING = frozenset({"FX301"})
DEFINED_DIR = "/etc/libvirt/qemu"  # the system daemon's saved definitions


def gated(operation: str, sub_operation: str) -> bool:
    """Whether the gate looks at this hook call (the step before QEMU starts)."""
    return (operation, sub_operation) == GATED


def may_have_memory_devices(xml: bytes) -> bool:
    """False when the domain surely has no ``<memory>`` device, found without parsing: the
    gate's answer for most domains, in well under a millisecond."""
    devices = xml.find(b"<devices")
    return devices >= 0 and xml.find(b"<memory", devices) >= 0


def refusal(
    name: str,
    xml: bytes,
    options: LintOptions,
    run_dir: Path,
    defined_dir: Path | str = DEFINED_DIR,
) -> str | None:
    """Why the domain ``name`` (defined by ``xml``) must not start; None to let it start."""
    from famfs_xml.lint.document import load
    from famfs_xml.lint.engine import lint_documents

    starting = load(xml, f"libvirt:{name}")
    if starting.root is None or starting.root.tag != "domain":
        return None  # not a domain libvirt would start: not the gate's business
    paths = _backing_paths(starting)
    others = [
        *_running_sharers(paths, name, run_dir),
        *_defined_sharers(paths, name, defined_dir),
    ]
    # FX501 names every domain that differs, not the outliers only: a start must agree with
    # each domain already on the device, however many others agree with that one
    everyone = options._replace(compare_every=True)
    checked = lint_documents([(starting, True), *((doc, True) for doc in others)], everyone)
    shared = _private_and_shared(starting, others)
    blocking = [
        finding
        for finding in checked[0].findings
        if finding.severity.label == "error"
        and finding.code.startswith(BLOCKING)
        and (finding.code not in STARTS_ANYWAY or (finding.code in SHARING and shared))
    ]
    return _reason(name, blocking) if blocking else None


def _private_and_shared(starting: Document, others: Sequence[Document]) -> bool:
    """Whether a backing that ``starting`` maps privately is used by another domain."""
    from famfs_xml.lint.access import device_access
    from famfs_xml.lint.domain import build

    assert starting.root is not None
    domain = build(starting.root)
    private = [
        device.path.encode()
        for device in domain.memory_devices
        if device.is_nvdimm and device.path and not device_access(domain, device).shared
    ]
    return any(path in _backing_paths(other) for other in others for path in private)


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


def _running_sharers(paths: list[bytes], name: str, run_dir: Path) -> Iterator[Document]:
    """The running domains whose live XML names one of ``paths``."""
    for other, status in _files_naming(paths, name, run_dir):
        doc = _domain_of_status(status, f"libvirt:{other} (running)")
        if doc is not None:
            yield doc


def _defined_sharers(paths: list[bytes], name: str, defined_dir: Path | str) -> Iterator[Document]:
    """The defined domains whose saved definition names one of ``paths``."""
    from famfs_xml.lint.document import load

    for other, definition in _files_naming(paths, name, defined_dir):
        doc = load(definition, f"libvirt:{other} (defined)")
        if doc.root is not None and doc.root.tag == "domain":
            yield doc


def _files_naming(
    paths: list[bytes], name: str, directory: Path | str
) -> Iterator[tuple[str, bytes]]:
    """``NAME.xml`` files of ``directory`` (other than ``name``'s) that mention one of
    ``paths``, found without parsing the rest."""
    if not paths:
        return
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except OSError:
        return  # no such domains (or no daemon state to read): nothing to compare
    for entry in entries:
        other = entry.name.removesuffix(".xml")
        if other == entry.name or other == name or not entry.is_file():
            continue
        try:
            with open(entry.path, "rb") as handle:
                data = handle.read()
        except OSError:
            continue
        if any(path in data for path in paths):
            yield other, data


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
