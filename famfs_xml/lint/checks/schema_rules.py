"""FX901: the domain against libvirt's own RelaxNG grammar, when that grammar is at hand."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from lxml import etree

from famfs_xml.core.findings import Finding
from famfs_xml.lint.checks.base import RuleContext

if TYPE_CHECKING:
    from famfs_xml.lint.libvirt_schema import SchemaError


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
    places = _places(ctx, errors)
    for error, (line, column) in zip(errors, places, strict=True):
        finding = ctx.finding("FX901", None, f"libvirt schema: {error.message}")
        yield finding._replace(line=line, column=column)


def _places(ctx: RuleContext, errors: list[SchemaError]) -> list[tuple[int, int]]:
    """Where each error points: the element the validator names, else the place of the
    error it leads to. libxml2 reports an interleave's "Extra element cpu" with no place at
    all, and names the element in the "failed to validate content" error that follows."""
    own = [_place(ctx, error) for error in errors]
    places: list[tuple[int, int]] = []
    for index, place in enumerate(own):
        if place is None:
            place = next((later for later in own[index + 1 :] if later), None)
        places.append(place or (1, 1))
    return places


def _place(ctx: RuleContext, error: SchemaError) -> tuple[int, int] | None:
    tree = ctx.doc.tree
    if error.path and tree is not None:
        try:
            found = tree.xpath(error.path)
        except etree.XPathError:  # a prefixed step such as /domain/qemu:commandline
            found = None
        if isinstance(found, list) and found and isinstance(found[0], etree._Element):
            return ctx.doc.position(found[0])
    if error.line > 0:
        return error.line, max(error.column, 1)
    return None
