"""What a check function sees, and how it reports."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from lxml import etree

from famfs_xml.core.findings import Applicability, Edit, Finding, Fix, Severity
from famfs_xml.lint.catalog import RuleInfo
from famfs_xml.lint.document import Document
from famfs_xml.lint.domain import Domain
from famfs_xml.lint.edits import EditError, Editor

if TYPE_CHECKING:
    from famfs_xml.core.inventory import DeviceFacts
    from famfs_xml.core.libvirt_version import LibvirtVersion

Element = etree._Element


class RuleContext:
    """One document under one rule run."""

    __slots__ = (
        "catalog",
        "doc",
        "domain",
        "editor",
        "facts",
        "libvirt_version",
        "memo",
        "parameters",
    )

    def __init__(
        self,
        doc: Document,
        domain: Domain,
        catalog: Mapping[str, RuleInfo],
        facts: DeviceFacts | None = None,
        parameters: Mapping[str, Mapping[str, Any]] | None = None,
        libvirt_version: LibvirtVersion | None = None,
    ) -> None:
        self.doc = doc
        self.domain = domain
        self.catalog = catalog
        self.facts = facts
        self.parameters: Mapping[str, Mapping[str, Any]] = parameters or {}
        # the release whose behaviour the messages describe; None: unknown
        self.libvirt_version = libvirt_version
        self.editor = Editor(doc)
        # what several rules work out from the same facts, worked out once (by key)
        self.memo: dict[str, object] = {}

    def parameter(self, code: str, key: str, default: Any) -> Any:
        return self.parameters.get(code, {}).get(key, default)

    def finding(
        self,
        code: str,
        element: Element | None,
        message: str,
        *,
        severity: Severity | None = None,
        fix: Fix | None = None,
    ) -> Finding:
        line, column = self.doc.position(element) if element is not None else (1, 1)
        return finding_at(self.catalog[code], self.doc.path, line, column, message, severity, fix)

    def fix(
        self,
        message: str,
        build: Callable[[], Edit | Iterable[Edit | None] | None],
        applicability: Applicability = Applicability.SAFE,
    ) -> Fix | None:
        """A fix whose edits come from ``build``; None when they cannot be placed exactly.

        ``build`` runs at once, so a lambda may close over loop variables.
        """
        try:
            built = build()
        except EditError:
            return None
        if built is None:
            return None
        candidates = [built] if isinstance(built, Edit) else list(built)
        edits = tuple(edit for edit in candidates if edit is not None)
        if not edits:
            return None
        return Fix(applicability, message, edits)


Check = Callable[[RuleContext], Iterator[Finding]]


def finding_at(
    rule: RuleInfo,
    path: str,
    line: int,
    column: int,
    message: str,
    severity: Severity | None = None,
    fix: Fix | None = None,
) -> Finding:
    """A finding of ``rule`` at a known place."""
    return Finding(
        code=rule.code,
        name=rule.name,
        severity=severity or rule.severity,
        path=path,
        line=line,
        column=column,
        message=message,
        fix=fix,
    )
