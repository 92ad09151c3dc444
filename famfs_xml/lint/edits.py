"""Building text edits in the file's own style, and applying them.

Every helper returns :class:`~famfs_xml.core.findings.Edit` objects against
:attr:`Document.work`; nothing here touches the lxml tree. New markup takes the file's
quote character, indentation unit and depth (from its neighbours) and newline.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from lxml import etree

from famfs_xml.core import units
from famfs_xml.core.findings import Edit
from famfs_xml.lint.document import Document
from famfs_xml.lint.domain import Size

Element = etree._Element


class EditError(Exception):
    """An edit cannot be expressed safely on this file (e.g. a position is unknown)."""


class Node(NamedTuple):
    """A fragment of new markup, rendered later in the file's style."""

    tag: str
    attributes: Sequence[tuple[str, str]] = ()
    text: str | None = None
    children: Sequence[Node] = ()

    def render(self, doc: Document, indent: str) -> str:
        """The fragment, its first line unindented, later lines at ``indent`` + nesting."""
        style = doc.style
        attrs = "".join(
            f" {name}={style.quote}{_escape_attr(value, style.quote)}{style.quote}"
            for name, value in self.attributes
        )
        if self.children:
            inner = indent + style.indent_unit
            body = "".join(
                f"{style.newline}{inner}{child.render(doc, inner)}" for child in self.children
            )
            return f"<{self.tag}{attrs}>{body}{style.newline}{indent}</{self.tag}>"
        if self.text is not None:
            return f"<{self.tag}{attrs}>{_escape_text(self.text)}</{self.tag}>"
        return f"<{self.tag}{attrs}/>"


def _escape_attr(value: str, quote: str) -> str:
    value = value.replace("&", "&amp;").replace("<", "&lt;")
    return value.replace(quote, "&apos;" if quote == "'" else "&quot;")


def _escape_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Editor:
    """Edit builders for one document."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc

    # -- positions -------------------------------------------------------------------------

    def _span(self, element: Element) -> tuple[int, int, int, int, bool]:
        span = self.doc.span(element)
        if not span.known:
            raise EditError(f"no exact position for <{element.tag}>")
        return span.start, span.start_tag_end, span.end_tag_start, span.end, span.self_closing

    def indent_of(self, element: Element) -> str:
        start = self._span(element)[0]
        if self.doc.starts_line(start):
            return self.doc.line_indent(start)
        parent = element.getparent()
        if parent is None:
            return ""
        return self.indent_of(parent) + self.doc.style.indent_unit

    def child_indent(self, parent: Element) -> str:
        for child in _element_children(parent):
            start = self._span(child)[0]
            if self.doc.starts_line(start):
                return self.doc.line_indent(start)
        return self.indent_of(parent) + self.doc.style.indent_unit

    # -- attributes ------------------------------------------------------------------------

    def set_attribute(self, element: Element, name: str, value: str) -> Edit:
        existing = self.doc.attributes(element).get(name)
        if existing is not None:
            return Edit(
                existing.value_start, existing.value_end, _escape_attr(value, existing.quote)
            )
        return self._add_attribute(element, name, value)

    def _add_attribute(self, element: Element, name: str, value: str) -> Edit:
        start, tag_end, _, _, _ = self._span(element)
        attrs = self.doc.attributes(element)
        if attrs:
            at = max(a.value_end for a in attrs.values()) + 1  # past the closing quote
        else:
            at = start + 1 + len(self.doc.text(start + 1, tag_end).split(None, 1)[0].rstrip("/>"))
        quote = self.doc.style.quote
        return Edit(at, at, f" {name}={quote}{_escape_attr(value, quote)}{quote}")

    def remove_attribute(self, element: Element, name: str) -> Edit | None:
        existing = self.doc.attributes(element).get(name)
        if existing is None:
            return None
        begin = existing.start
        while begin > 0 and self.doc.work[begin - 1 : begin] in (b" ", b"\t", b"\n", b"\r"):
            begin -= 1
        return Edit(begin, existing.value_end + 1, "")

    # -- text and sizes --------------------------------------------------------------------

    def set_text(self, element: Element, text: str) -> Edit:
        _, tag_end, end_tag_start, _, self_closing = self._span(element)
        if self_closing:
            raise EditError(f"<{element.tag}/> has no text to set")
        return Edit(tag_end, end_tag_start, _escape_text(text))

    def set_size(self, size: Size, new_bytes: int, memory_unit: str | None) -> list[Edit]:
        """Write ``new_bytes`` into an existing size, in its own unit when exact."""
        unit, value = choose_unit(new_bytes, size.unit, memory_unit)
        edits: list[Edit] = []
        if size.attribute is None:
            edits.append(self.set_text(size.element, value))
        else:
            edits.append(self.set_attribute(size.element, size.attribute, value))
        if unit != size.unit and not (unit is None and size.unit is None):
            edits.append(self.set_attribute(size.element, "unit", unit or "KiB"))
        return edits

    # -- elements --------------------------------------------------------------------------

    def insert_child(self, parent: Element, node: Node, *, first: bool = False) -> Edit:
        """Add ``node`` as the last (or first) element child of ``parent``."""
        children = _element_children(parent)
        indent = self.child_indent(parent)
        newline = self.doc.style.newline
        rendered = node.render(self.doc, indent)
        if children:
            if first:
                return self.insert_before(children[0], node)
            return self.insert_after(children[-1], node)
        start, tag_end, end_tag_start, _, self_closing = self._span(parent)
        parent_indent = self.indent_of(parent)
        body = f"{newline}{indent}{rendered}{newline}{parent_indent}"
        if self_closing:
            slash = self.doc.work.rindex(b"/", start, tag_end)
            while self.doc.work[slash - 1 : slash] in (b" ", b"\t"):
                slash -= 1
            return Edit(slash, tag_end, f">{body}</{parent.tag}>")
        return Edit(tag_end, end_tag_start, body)

    def insert_before(self, sibling: Element, node: Node) -> Edit:
        start = self._span(sibling)[0]
        indent = self.indent_of(sibling)
        rendered = node.render(self.doc, indent)
        if self.doc.starts_line(start):
            return Edit(start, start, f"{rendered}{self.doc.style.newline}{indent}")
        return Edit(start, start, rendered)

    def insert_after(self, sibling: Element, node: Node) -> Edit:
        start, _, _, end, _ = self._span(sibling)
        indent = self.indent_of(sibling)
        rendered = node.render(self.doc, indent)
        if self.doc.starts_line(start):
            return Edit(end, end, f"{self.doc.style.newline}{indent}{rendered}")
        return Edit(end, end, rendered)

    def remove_element(self, element: Element) -> Edit:
        start, _, _, end, _ = self._span(element)
        work = self.doc.work
        if self.doc.starts_line(start):
            line_start = work.rfind(b"\n", 0, start) + 1
            rest = end
            while rest < len(work) and work[rest : rest + 1] in (b" ", b"\t"):
                rest += 1
            if work[rest : rest + 2] == b"\r\n":
                return Edit(line_start, rest + 2, "")
            if work[rest : rest + 1] == b"\n":
                return Edit(line_start, rest + 1, "")
        return Edit(start, end, "")


def _element_children(parent: Element) -> list[Element]:
    return [child for child in parent if isinstance(child.tag, str)]


def choose_unit(size: int, own_unit: str | None, memory_unit: str | None) -> tuple[str | None, str]:
    """(unit attribute, number) for ``size`` bytes: the element's own unit when exact,
    else ``<memory>``'s unit, else KiB (``None`` means KiB without a unit attribute)."""
    for candidate in (own_unit, memory_unit):
        if candidate is not None and _valid_unit(candidate) and units.fits_exactly(size, candidate):
            return candidate, units.format_value(size, candidate)
    if size % units.KiB == 0:
        kib = own_unit if own_unit is not None and _is_kib(own_unit) else None
        if kib is None and own_unit is not None:
            kib = "KiB"
        return kib, str(size // units.KiB)
    return "bytes", str(size)


def _valid_unit(unit: str) -> bool:
    try:
        units.multiplier(unit)
    except units.UnitError:
        return False
    return True


def _is_kib(unit: str) -> bool:
    return unit.lower() in ("k", "kib")


def apply_edits(work: bytes, edits: Iterable[Edit]) -> bytes:
    """Apply non-overlapping edits (the caller guarantees that) to ``work``."""
    out = []
    position = 0
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):
        out.append(work[position : edit.start])
        out.append(edit.text.encode("utf-8"))
        position = edit.end
    out.append(work[position:])
    return b"".join(out)
