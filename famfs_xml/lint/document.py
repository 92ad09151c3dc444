"""Loading one domain file: bytes in, a parsed tree, exact positions and the file's style out.

lxml analyses, it never writes: fixes are text edits on :attr:`Document.work`, so every
fact an edit needs (byte spans, quote character, indentation, newline) is recorded here.
"""

from __future__ import annotations

import codecs
import re
from functools import cached_property
from typing import TYPE_CHECKING, NamedTuple

from lxml import etree

if TYPE_CHECKING:
    from famfs_xml.lint.hosts import Host

QEMU_NS = "http://libvirt.org/schemas/domain/qemu/1.0"

_DECLARED_ENCODING = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Compiled on first use (re keeps them): a file without a DOCTYPE, a finding or a fix
# needs none of them, and compiling costs start-up time.
_PROLOG_ITEM = rb"\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE|<!ENTITY"
_ATTRIBUTE = rb"""([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')"""
_QUOTED_ATTR = rb"""=\s*(["'])"""
_INDENT = rb"\n([ \t]+)<"


class LoadProblem(NamedTuple):
    """A problem found while loading: FX001 (syntax), FX002 (unbound qemu:) or FX003."""

    code: str
    message: str
    line: int
    column: int


class Style(NamedTuple):
    """How the file writes XML, so that inserted text looks like its neighbours."""

    quote: str = "'"
    indent_unit: str = "  "
    newline: str = "\n"
    has_declaration: bool = False
    encoding: str = "utf-8"
    bom: bytes = b""


class Span(NamedTuple):
    """Where one element sits in :attr:`Document.work` (byte offsets, 1-based line/column)."""

    line: int
    column: int
    start: int  # the '<' of the start tag
    start_tag_end: int  # just after the start tag's '>'
    end_tag_start: int  # the '<' of the end tag (== start_tag_end for <x/>)
    end: int  # just after the end tag (== start_tag_end for <x/>)
    self_closing: bool

    @property
    def known(self) -> bool:
        return self.start >= 0


class AttributeSpan(NamedTuple):
    name: str
    value: str
    quote: str
    start: int  # first byte of the attribute name
    value_start: int
    value_end: int  # the closing quote


class Document:
    """One file, loaded. ``root`` is None when the file could not be parsed at all."""

    def __init__(
        self,
        path: str,
        raw: bytes,
        work: bytes,
        encoding: str = "utf-8",  # the codec to write back with
        bom: bytes = b"",  # the byte-order mark to write back
        tree: etree._ElementTree | None = None,
        problems: list[LoadProblem] | None = None,
    ) -> None:
        self.path = path
        self.raw = raw
        self.work = work
        self.encoding = encoding
        self.bom = bom
        self.tree = tree
        self.problems: list[LoadProblem] = [] if problems is None else problems
        # the machine the domain belongs to; None: the run's host rules decide by the path
        self.host: Host | None = None

    @cached_property
    def style(self) -> Style:
        """How the file writes XML; worked out only when a fix needs it."""
        return detect_style(self.work, self.encoding, self.bom)

    @property
    def root(self) -> etree._Element | None:
        return None if self.tree is None else self.tree.getroot()

    @property
    def is_domain(self) -> bool:
        root = self.root
        return root is not None and root.tag == "domain"

    def text(self, start: int, end: int) -> str:
        return self.work[start:end].decode("utf-8")

    def span(self, element: etree._Element) -> Span:
        """The exact position of ``element``; falls back to its line when expat disagrees."""
        found = self._spans.get(element)
        if found is not None:
            if isinstance(found, Span):
                return found
            made = _make_span(self.work, *found)
            self._spans[element] = made
            return made
        line = element.sourceline if isinstance(element.sourceline, int) else 1
        return Span(
            line=line,
            column=1,
            start=-1,
            start_tag_end=-1,
            end_tag_start=-1,
            end=-1,
            self_closing=False,
        )

    def position(self, element: etree._Element) -> tuple[int, int]:
        span = self.span(element)
        return span.line, span.column

    def attributes(self, element: etree._Element) -> dict[str, AttributeSpan]:
        """The start tag's attributes as written (prefixed names kept, e.g. ``xmlns:qemu``)."""
        span = self.span(element)
        if span.start < 0:
            return {}
        result: dict[str, AttributeSpan] = {}
        tag = self.work[span.start : span.start_tag_end]
        for match in re.compile(_ATTRIBUTE).finditer(tag, _tag_name_end(tag)):
            group = 2 if match.group(2) is not None else 3
            name = match.group(1).decode("utf-8")
            result[name] = AttributeSpan(
                name=name,
                value=match.group(group).decode("utf-8"),
                quote='"' if group == 2 else "'",
                start=span.start + match.start(1),
                value_start=span.start + match.start(group),
                value_end=span.start + match.end(group),
            )
        return result

    def line_indent(self, offset: int) -> str:
        """The whitespace that starts the line holding byte ``offset``."""
        line_start = self.work.rfind(b"\n", 0, offset) + 1
        end = line_start
        while end < len(self.work) and self.work[end] in b" \t":
            end += 1
        return self.work[line_start:end].decode("utf-8")

    def starts_line(self, offset: int) -> bool:
        """True when only whitespace precedes ``offset`` on its line."""
        line_start = self.work.rfind(b"\n", 0, offset) + 1
        return not self.work[line_start:offset].strip()

    @cached_property
    def _spans(self) -> dict[etree._Element, Span | list[int]]:
        """Each element's position as expat saw it; made into a :class:`Span` when asked."""
        root = self.root
        if root is None:
            return {}
        spans = _expat_spans(self.work)
        elements = list(root.iter(etree.Element))
        if len(spans) != len(elements):
            return {}
        return dict(zip(elements, spans, strict=True))


def _tag_name_end(tag: bytes) -> int:
    index = 1
    while index < len(tag) and tag[index] not in b" \t\r\n/>":
        index += 1
    return index


def _expat_spans(work: bytes) -> list[list[int]]:
    """Every element's (start offset, end tag offset), in document order, from expat without
    namespaces.

    Without namespace processing expat accepts an unbound ``qemu:`` prefix, and it reports
    the byte index of each tag, which lxml does not. Lines and columns are worked out later,
    for the few elements a finding points at.
    """
    import xml.parsers.expat  # only for a finding's or a fix's position

    parser = xml.parsers.expat.ParserCreate(encoding="UTF-8")
    parser.ordered_attributes = True  # a list per start tag is cheaper to build than a dict
    starts: list[list[int]] = []
    stack: list[int] = []

    def on_start(_name: str, _attrs: object) -> None:
        stack.append(len(starts))
        starts.append([parser.CurrentByteIndex, -1])

    def on_end(_name: str) -> None:
        starts[stack.pop()][1] = parser.CurrentByteIndex

    parser.StartElementHandler = on_start
    parser.EndElementHandler = on_end
    try:
        parser.Parse(work, True)
    except xml.parsers.expat.ExpatError:
        return []
    return starts


def _make_span(work: bytes, start: int, end_index: int) -> Span:
    line, column = _line_col(work, start)
    tag_end = _start_tag_end(work, start)
    if work[tag_end - 2 : tag_end] == b"/>":
        return Span(line, column, start, tag_end, tag_end, tag_end, True)
    close = work.index(b">", end_index) + 1
    return Span(line, column, start, tag_end, end_index, close, False)


# A start tag: quoted attribute values may hold '>' (one regex match instead of a byte loop).
_START_TAG = rb"""<[^\s/>'"]+(?:[^'">]|"[^"]*"|'[^']*')*>"""


def _start_tag_end(work: bytes, start: int) -> int:
    """The offset just past the '>' that closes the start tag at ``start``."""
    match = re.compile(_START_TAG).match(work, start)
    if match is not None:
        return match.end()
    quote = 0
    index = start + 1
    while True:
        char = work[index]
        if quote:
            if char == quote:
                quote = 0
        elif char in b"'\"":
            quote = char
        elif char == 0x3E:  # '>'
            return index + 1
        index += 1


def detect_style(work: bytes, encoding: str, bom: bytes) -> Style:
    quotes = re.compile(_QUOTED_ATTR).findall(work[:65536])
    single = sum(1 for q in quotes if q == b"'")
    quote = "'" if single * 2 >= len(quotes) and quotes else ('"' if quotes else "'")
    newline = "\r\n" if b"\r\n" in work[:65536] else "\n"
    return Style(
        quote=quote,
        indent_unit=_indent_unit(work),
        newline=newline,
        has_declaration=work.lstrip().startswith(b"<?xml"),
        encoding=encoding,
        bom=bom,
    )


def _indent_unit(work: bytes) -> str:
    indents = {m.group(1) for m in re.compile(_INDENT).finditer(work[:65536])}
    if not indents:
        return "  "
    if any(i.startswith(b"\t") for i in indents):
        return "\t"
    return " " * min(len(i) for i in indents)


def _decode(raw: bytes) -> tuple[bytes, str, bytes]:
    """(UTF-8 work bytes, codec to write back with, BOM to write back)."""
    for bom, codec in _BOMS:
        if raw.startswith(bom):
            text = raw[len(bom) :].decode(codec)
            return text.encode("utf-8"), codec, bom
    declared = _DECLARED_ENCODING.match(raw)
    if declared:
        codec = codecs.lookup(declared.group(1).decode("ascii")).name
        if codec not in ("utf-8", "ascii"):
            return raw.decode(codec).encode("utf-8"), codec, b""
    return raw, "utf-8", b""


def _line_col(work: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column of a byte offset; the column counts characters, as expat and
    editors do."""
    line_start = work.rfind(b"\n", 0, offset) + 1
    column = len(work[line_start:offset].decode("utf-8", "replace")) + 1
    return work.count(b"\n", 0, offset) + 1, column


def _find_doctype(work: bytes) -> int | None:
    """The offset of a DOCTYPE or entity declaration in the prolog, if there is one."""
    if b"<!DOCTYPE" not in work and b"<!ENTITY" not in work:
        return None
    offset = 0
    while True:
        match = re.compile(_PROLOG_ITEM, re.DOTALL).match(work, offset)
        if match is None:
            return None
        if match.group(0) in (b"<!DOCTYPE", b"<!ENTITY"):
            return match.start()
        offset = match.end()


def _parser(*, recover: bool = False) -> etree.XMLParser:
    """A fresh parser per document: a parser's error log outlives one parse."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=False,
        remove_pis=False,
        encoding="utf-8",
        recover=recover,
    )


def load(raw: bytes, path: str) -> Document:
    """Load ``raw`` (the file's bytes); problems become :class:`LoadProblem`, never exceptions."""
    try:
        work, encoding, bom = _decode(raw)
    except (UnicodeDecodeError, LookupError) as exc:
        return _broken(raw, path, f"cannot decode the file: {exc}")
    doc = Document(path=path, raw=raw, work=work, encoding=encoding, bom=bom)
    if b"\x00" in work[:8192]:
        doc.problems.append(LoadProblem("FX001", "binary data (NUL bytes), not XML text", 1, 1))
        return doc
    doctype = _find_doctype(work)
    if doctype is not None:
        line, column = _line_col(work, doctype)
        doc.problems.append(
            LoadProblem(
                "FX003",
                "DOCTYPE or entity declaration: refused, libvirt never writes one",
                line,
                column,
            )
        )
        return doc
    _parse(doc)
    return doc


def _broken(raw: bytes, path: str, message: str) -> Document:
    doc = Document(path=path, raw=raw, work=raw)
    doc.problems.append(LoadProblem("FX001", message, 1, 1))
    return doc


def _parse(doc: Document) -> None:
    parser = _parser()
    try:
        doc.tree = etree.ElementTree(etree.fromstring(doc.work, parser))
        return
    except etree.XMLSyntaxError as exc:
        # The exception's own log can hold earlier documents' errors; the parser's cannot.
        errors: list[etree._LogEntry] = list(parser.error_log)
        first = errors[0] if errors else None
        if errors and all(_is_unbound_qemu(e) for e in errors):
            _recover_unbound(doc, errors)
            return
        message = first.message if first is not None else str(exc)
        line = first.line if first is not None else 1
        column = first.column if first is not None else 1
        doc.problems.append(LoadProblem("FX001", message.strip(), max(line, 1), max(column, 1)))


def _is_unbound_qemu(error: etree._LogEntry) -> bool:
    return error.type_name == "NS_ERR_UNDEFINED_NAMESPACE" and "prefix qemu " in error.message


def _recover_unbound(doc: Document, errors: list[etree._LogEntry]) -> None:
    """libvirt silently drops ``qemu:`` elements without a namespace: parse on and report it."""
    try:
        doc.tree = etree.ElementTree(etree.fromstring(doc.work, _parser(recover=True)))
    except etree.XMLSyntaxError:
        doc.tree = None
    first = errors[0]
    doc.problems.append(
        LoadProblem(
            "FX002",
            f"{first.message.strip()}: libvirt silently drops qemu: elements when xmlns:qemu "
            "is not declared",
            first.line,
            first.column,
        )
    )
