"""FX901: the domain against libvirt's own RelaxNG grammar, when that grammar is at hand."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from famfs_xml.core.findings import Finding
from famfs_xml.lint.checks.base import RuleContext


def schema_path(ctx: RuleContext) -> Path | None:
    from famfs_xml.lint import libvirt_schema

    given = ctx.parameter("FX901", "schemas", None)
    return libvirt_schema.find_schema(Path(given) if given else None)


def check_libvirt_schema(ctx: RuleContext) -> Iterator[Finding]:
    """Skipped silently when no schema is found; the CLI says so with ``-v``."""
    from famfs_xml.lint import libvirt_schema

    path = schema_path(ctx)
    if path is None or ctx.doc.tree is None:
        return
    try:
        errors = libvirt_schema.validate(ctx.doc.tree, path)
    except libvirt_schema.SchemaUnavailable:
        return
    for error in errors:
        finding = ctx.finding("FX901", None, f"libvirt schema: {error.message}")
        yield finding._replace(line=max(error.line, 1), column=max(error.column, 1))
