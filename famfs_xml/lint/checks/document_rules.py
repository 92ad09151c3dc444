"""FX001-FX005: whether the file is XML libvirt reads the way its author meant."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from famfs_xml.core.findings import Finding
from famfs_xml.lint.checks.base import RuleContext
from famfs_xml.lint.document import QEMU_NS


def check_xml_syntax(ctx: RuleContext) -> Iterator[Finding]:
    """FX001 for values libvirt cannot parse; load errors are reported by the engine."""
    for bad in ctx.domain.bad_values:
        yield ctx.finding("FX001", bad.element, f"<{bad.element.tag}> {bad.what}: {bad.message}")


def check_unbound_qemu_prefix(ctx: RuleContext) -> Iterator[Finding]:
    for problem in ctx.doc.problems:
        if problem.code != "FX002":
            continue
        root = ctx.domain.root
        finding = ctx.finding(
            "FX002",
            None,
            problem.message,
            fix=ctx.fix(
                "declare xmlns:qemu on <domain>",
                partial(ctx.editor.set_attribute, root, "xmlns:qemu", QEMU_NS),
            ),
        )
        yield _at(finding, problem.line, problem.column)


def check_qemu_namespace_missing(ctx: RuleContext) -> Iterator[Finding]:
    root = ctx.domain.root
    if QEMU_NS in root.nsmap.values() or any(p.code == "FX002" for p in ctx.doc.problems):
        return
    yield ctx.finding(
        "FX005",
        root,
        "<domain> does not declare xmlns:qemu (the famfs guide adds it before any qemu: "
        "element is needed)",
        fix=ctx.fix(
            "add xmlns:qemu to <domain>",
            partial(ctx.editor.set_attribute, root, "xmlns:qemu", QEMU_NS),
        ),
    )


def _at(finding: Finding, line: int, column: int) -> Finding:
    return finding._replace(line=line, column=column)
