"""A small library surface for scripts and tests: lint or fix XML given as text."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from famfs_xml.core.findings import Finding
from famfs_xml.core.inventory import DeviceFacts
from famfs_xml.core.libvirt_version import UNKNOWN, LibvirtTarget, LibvirtVersion, TargetSource
from famfs_xml.lint.catalog import load_catalog
from famfs_xml.lint.checks import OPT_IN_CODES
from famfs_xml.lint.document import Document, load
from famfs_xml.lint.engine import fix_document, fix_shared, lint_documents
from famfs_xml.lint.options import LintOptions
from famfs_xml.lint.selection import named_codes, select_codes


def options(
    *,
    select: Iterable[str] | None = None,
    extend_select: Iterable[str] = (),
    ignore: Iterable[str] = (),
    facts: DeviceFacts | None = None,
    parameters: Mapping[str, Mapping[str, Any]] | None = None,
    unsafe_fixes: bool = False,
    libvirt_version: str | LibvirtVersion | None = None,
) -> LintOptions:
    """The options of a run; ``libvirt_version`` (e.g. ``"12.8"``) is the release the rules
    speak of, None for unknown (the messages then say which releases do what)."""
    catalog = load_catalog()
    codes = select_codes(catalog, select, extend_select, ignore, OPT_IN_CODES)
    named = named_codes(catalog, select, extend_select, ignore)
    target = UNKNOWN
    if libvirt_version is not None:
        if isinstance(libvirt_version, str):
            libvirt_version = LibvirtVersion.parse(libvirt_version)
        target = LibvirtTarget(libvirt_version, TargetSource.OPTION)
    return LintOptions(codes, facts, parameters or {}, unsafe_fixes, named=named, libvirt=target)


def _as_bytes(text: str | bytes) -> bytes:
    return text.encode("utf-8") if isinstance(text, str) else text


def lint_text(
    text: str | bytes,
    *,
    path: str = "<string>",
    peers: Sequence[str | bytes] = (),
    **option_args: Any,
) -> list[Finding]:
    """Findings for ``text``; ``peers`` are other domains linted in the same run (FX501)."""
    docs = [(load(_as_bytes(text), path), True)]
    docs += [(doc, True) for doc in _peer_documents(peers)]
    return lint_documents(docs, options(**option_args))[0].findings


def fix_text(
    text: str | bytes,
    *,
    path: str = "<string>",
    peers: Sequence[str | bytes] = (),
    **option_args: Any,
) -> bytes:
    """``text`` with every allowed fix applied (safe ones; unsafe with ``unsafe_fixes=True``);
    ``peers`` are other domains of the same run, fixed beside it but not returned: FX501
    moves ``text``'s nvdimms to what most of them have."""
    run = options(**option_args)
    outcome = fix_document(load(_as_bytes(text), path), run)
    if peers:
        others = [fix_document(doc, run) for doc in _peer_documents(peers)]
        outcome = fix_shared([outcome, *others], run)[0]
    return outcome.data


def _peer_documents(peers: Sequence[str | bytes]) -> list[Document]:
    return [load(_as_bytes(peer), f"<peer {number}>") for number, peer in enumerate(peers, 1)]
