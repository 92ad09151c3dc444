"""Suppressions: the findings the user has silenced, and FX006 for directives that do nothing.

Four layers, all applied by :func:`settle`, the one place the engine drops findings:

1. ``<!-- famfs-xml: disable=FX302,FX303 reason="..." -->`` right before an element covers
   that element's subtree (in the prolog: the root, so the whole file);
2. ``<!-- famfs-xml: disable-file=FX104 -->`` covers the whole file (put it in the prolog);
3. inside ``<metadata>``, a block that survives libvirt rewriting the file::

       <famfs:lint xmlns:famfs="urn:famfs-xml:lint:1">
         <famfs:ignore rule="FX302" reason="..."/>
         <famfs:ignore rule="FX303" path="/dev/dax1.0"/>
       </famfs:lint>

   covers the file, or with ``path=`` only the memory devices backed by that path; the block
   is validated against ``schemas/lint-1.xsd`` (xmlschema is imported only when a block exists);
4. per-file ignores from the configuration (glob -> codes), matched against the path as given
   and against its base name.

A directive names rules by code, prefix or name. A directive that suppressed nothing, an
unknown rule in a directive, a malformed directive and an invalid block are FX006 findings;
an unused directive comes with a safe fix that removes it (or just its unused rules).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from lxml import etree

from famfs_xml.core.findings import Applicability, Edit, Finding, Fix
from famfs_xml.lint.catalog import RuleInfo, load_catalog
from famfs_xml.lint.checks.base import finding_at
from famfs_xml.lint.document import Document
from famfs_xml.lint.edits import EditError, Editor
from famfs_xml.lint.selection import SelectionError, resolve

if TYPE_CHECKING:
    from famfs_xml.lint.options import LintOptions

Element = etree._Element

NAMESPACE = "urn:famfs-xml:lint:1"
UNUSED = "FX006"
SCHEMA_FILE = Path(__file__).resolve().parent / "schemas" / "lint-1.xsd"

_LINT = f"{{{NAMESPACE}}}lint"
_IGNORE = f"{{{NAMESPACE}}}ignore"
_MARKER = re.compile(r"\s*famfs-xml\s*:")
_TOKEN = re.compile(r'\s*([A-Za-z][A-Za-z-]*)\s*=\s*(?:"([^"]*)"|([^\s",]+(?:\s*,\s*[^\s",]+)*))')
_COMMENT_SCAN = re.compile(rb"<!--(.*?)-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>", re.DOTALL)
_ACTIONS = ("disable", "disable-file")

# Codes whose absence proves nothing: FX501 depends on which files are linted together;
# FX305 and FX309 (in part) on device facts that a run without --inventory/--host lacks.
_ALWAYS_UNJUDGED = frozenset({"FX501"})
_FACT_CODES = frozenset({"FX305", "FX309"})


@dataclass
class Selector:
    """One rule named in a directive, as written, and the codes it stands for."""

    text: str
    codes: frozenset[str]  # empty: unknown rule
    used: bool = False
    unused: bool = False  # known, judged in this run, and suppressed nothing


@dataclass
class Directive:
    """One suppression directive in one document."""

    origin: str  # "comment" or "metadata"
    line: int
    column: int
    selectors: list[Selector]
    scope: list[Element] | None  # None: the whole file
    why_empty: str = ""  # why ``scope`` is empty, for the FX006 message
    remove: Callable[[], list[Edit]] | None = None  # the whole directive
    rewrite: Callable[[str], list[Edit]] | None = None  # keep only these rules
    siblings: list[Directive] = field(default_factory=list)  # same metadata block

    def covers(self, code: str) -> list[Selector]:
        return [s for s in self.selectors if code in s.codes]


@dataclass
class Problem:
    """An FX006 finding waiting for its message and fix."""

    line: int
    column: int
    message: str
    fix: Fix | None = None


@dataclass
class Suppressions:
    directives: list[Directive] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


# -- collecting ---------------------------------------------------------------------------------


def collect(doc: Document, catalog: Mapping[str, RuleInfo] | None = None) -> Suppressions:
    """Every directive in ``doc`` (comments and metadata blocks), with problems found on the way."""
    found = Suppressions()
    root = doc.root
    if root is None:
        return found
    rules = catalog if catalog is not None else load_catalog()
    _collect_comments(doc, root, rules, found)
    _collect_metadata(doc, root, rules, found)
    return found


def _document_comments(root: Element) -> list[Element]:
    before = list(root.itersiblings(etree.Comment, preceding=True))
    before.reverse()
    inside = list(root.iter(etree.Comment))
    after = list(root.itersiblings(etree.Comment))
    return before + inside + after


@dataclass(frozen=True)
class _CommentSpan:
    start: int  # '<' of '<!--'
    end: int  # just past '-->'
    text_start: int  # first byte of the comment text


def _comment_spans(doc: Document, comments: Sequence[Element]) -> list[_CommentSpan] | None:
    """Byte spans of the document's comments in document order; None if they do not line up."""
    spans = [
        _CommentSpan(m.start(), m.end(), m.start(1))
        for m in _COMMENT_SCAN.finditer(doc.work)
        if m.group(1) is not None
    ]
    if len(spans) != len(comments):
        return None
    for span, comment in zip(spans, comments, strict=True):
        raw = doc.work[span.text_start : span.end - 3].decode("utf-8", "replace")
        if raw.replace("\r\n", "\n").replace("\r", "\n") != comment.text:
            return None
    return spans


def _sourceline(node: Element) -> int:
    line = node.sourceline
    return line if isinstance(line, int) else 0


def _line_col(work: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters, as findings count them) of a byte offset."""
    line_start = work.rfind(b"\n", 0, offset) + 1
    column = len(work[line_start:offset].decode("utf-8", "replace")) + 1
    return work.count(b"\n", 0, offset) + 1, column


def _collect_comments(
    doc: Document, root: Element, catalog: Mapping[str, RuleInfo], found: Suppressions
) -> None:
    comments = _document_comments(root)
    candidates = [(i, c) for i, c in enumerate(comments) if _MARKER.match(c.text or "")]
    if not candidates:
        return
    spans = _comment_spans(doc, comments)
    for index, comment in candidates:
        span = spans[index] if spans is not None else None
        if span is not None:
            line, column = _line_col(doc.work, span.start)
        else:
            line, column = max(_sourceline(comment), 1), 1
        parsed = _parse_comment(comment.text or "")
        if isinstance(parsed, str):
            found.problems.append(Problem(line, column, f"malformed famfs-xml directive: {parsed}"))
            continue
        action, value, value_offset = parsed
        scope: list[Element] | None
        why = ""
        if action == "disable-file":
            scope = None
        else:
            target = _next_element(comment, root)
            scope = [] if target is None else [target]
            if target is None:
                why = "no element follows it"
        directive = Directive("comment", line, column, _selectors(value, catalog), scope, why)
        if span is not None:
            directive.remove = _comment_removal(doc, span)
            directive.rewrite = _comment_rewrite(
                doc, span, comment.text or "", value_offset, len(value)
            )
        found.directives.append(directive)


def _parse_comment(text: str) -> tuple[str, str, int] | str:
    """(action, rule list, offset of the rule list in ``text``) or an error message."""
    marker = _MARKER.match(text)
    assert marker is not None
    position = marker.end()
    action: tuple[str, str, int] | None = None
    while text[position:].strip():
        token = _TOKEN.match(text, position)
        if token is None:
            return f"cannot read '{text[position:].strip()}'"
        key = token.group(1)
        raw = token.group(2) if token.group(2) is not None else token.group(3)
        start = token.start(2) if token.group(2) is not None else token.start(3)
        if key in _ACTIONS:
            if action is not None:
                return "one disable= or disable-file= per comment"
            action = (key, raw, start)
        elif key != "reason":
            return f"unknown key '{key}' (use disable=, disable-file= and reason=)"
        position = token.end()
    if action is None:
        return "expected disable=RULES or disable-file=RULES"
    if not action[1].strip():
        return f"{action[0]}= names no rule"
    return action


def _selectors(value: str, catalog: Mapping[str, RuleInfo]) -> list[Selector]:
    result = []
    for part in value.split(","):
        text = part.strip()
        if not text:
            continue
        try:
            codes = frozenset(resolve(text, catalog))
        except SelectionError:
            codes = frozenset()
        result.append(Selector(text, codes))
    return result


def _next_element(comment: Element, root: Element) -> Element | None:
    if comment.getparent() is None:  # prolog or epilog
        following = comment.itersiblings()
        return root if any(node is root for node in following) else None
    node = comment.getnext()
    while node is not None and not isinstance(node.tag, str):
        node = node.getnext()
    return node


def _comment_removal(doc: Document, span: _CommentSpan) -> Callable[[], list[Edit]]:
    def build() -> list[Edit]:
        work = doc.work
        line_start = work.rfind(b"\n", 0, span.start) + 1
        end = span.end
        while end < len(work) and work[end : end + 1] in (b" ", b"\t"):
            end += 1
        alone = not work[line_start : span.start].strip()
        if alone and work[end : end + 2] == b"\r\n":
            return [Edit(line_start, end + 2, "")]
        if alone and work[end : end + 1] == b"\n":
            return [Edit(line_start, end + 1, "")]
        return [Edit(span.start, span.end, "")]

    return build


def _comment_rewrite(
    doc: Document, span: _CommentSpan, text: str, value_offset: int, value_length: int
) -> Callable[[str], list[Edit]]:
    start = span.text_start + len(text[:value_offset].encode("utf-8"))
    end = start + len(text[value_offset : value_offset + value_length].encode("utf-8"))

    def build(value: str) -> list[Edit]:
        return [Edit(start, end, value)]

    return build


def _collect_metadata(
    doc: Document, root: Element, catalog: Mapping[str, RuleInfo], found: Suppressions
) -> None:
    metadata = root.find("metadata")
    for stray in root.iter(_LINT):
        if stray.getparent() is not metadata:
            line, column = doc.position(stray)
            found.problems.append(
                Problem(
                    line,
                    column,
                    "a famfs:lint block outside the domain's <metadata> is not applied",
                )
            )
    if metadata is None:
        return
    ours = [
        child
        for child in metadata
        if isinstance(child.tag, str) and child.tag.startswith(f"{{{NAMESPACE}}}")
    ]
    for block in ours:
        line, column = doc.position(block)
        errors = validate_block(block)
        if errors:
            found.problems.append(
                Problem(line, column, f"invalid famfs:lint block, not applied: {errors[0]}")
            )
            continue
        members: list[Directive] = []
        for ignore in block:
            if ignore.tag != _IGNORE:
                continue
            members.append(_metadata_directive(doc, root, block, ignore, catalog))
        for member in members:
            member.siblings = members
        found.directives.extend(members)


def _metadata_directive(
    doc: Document, root: Element, block: Element, ignore: Element, catalog: Mapping[str, RuleInfo]
) -> Directive:
    line, column = doc.position(ignore)
    path = ignore.get("path")
    scope: list[Element] | None = None
    why = ""
    if path is not None:
        scope = [
            device
            for device in root.iterfind("devices/memory")
            if (device.findtext("source/path") or "").strip() == path.strip()
        ]
        if not scope:
            why = f"no memory device is backed by {path}"
    editor = Editor(doc)
    directive = Directive(
        "metadata", line, column, _selectors(ignore.get("rule", ""), catalog), scope, why
    )

    def remove() -> list[Edit]:
        if not all(s.unused for d in directive.siblings for s in d.selectors):
            return [editor.remove_element(ignore)]
        parent = block.getparent()
        alone = parent is not None and [c for c in parent if isinstance(c.tag, str)] == [block]
        return [editor.remove_element(parent if alone and parent is not None else block)]

    def rewrite(value: str) -> list[Edit]:
        return [editor.set_attribute(ignore, "rule", value)]

    directive.remove = remove
    directive.rewrite = rewrite
    return directive


@cache
def _schema() -> Any:
    import xmlschema  # deferred: importing it costs more than a whole lint run

    return xmlschema.XMLSchema(str(SCHEMA_FILE))


def validate_block(block: Element) -> list[str]:
    """Schema errors of one ``<famfs:lint>`` block (empty when it is valid)."""
    schema = _schema()
    return [_one_line(error) for error in schema.iter_errors(block)]


def _one_line(error: Any) -> str:
    reason = getattr(error, "reason", None) or str(error)
    path = getattr(error, "path", None)
    text = " ".join(str(reason).split())
    return f"{text} (at {path})" if path else text


# -- applying -----------------------------------------------------------------------------------


def ignored_by_config(path: str, options: LintOptions) -> frozenset[str]:
    """Codes that the configuration's per-file ignores switch off for ``path``."""
    if not options.per_file_ignores:
        return frozenset()
    name = PurePath(path).name
    codes: set[str] = set()
    for pattern, pattern_codes in options.per_file_ignores:
        if fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(name, pattern):
            codes |= pattern_codes
    return frozenset(codes)


class _Locator:
    """Which element a finding points at, to test it against a directive's scope."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self._by_position: dict[tuple[int, int], Element] | None = None

    def element(self, finding: Finding) -> Element | None:
        if self._by_position is None:
            root = self.doc.root
            self._by_position = {}
            if root is not None:
                for element in root.iter():
                    if isinstance(element.tag, str) and self.doc.span(element).known:
                        self._by_position.setdefault(self.doc.position(element), element)
        return self._by_position.get((finding.line, finding.column))

    def inside(self, finding: Finding, scope: Iterable[Element]) -> bool:
        element = self.element(finding)
        targets = list(scope)
        if element is not None:
            chain = [element, *element.iterancestors()]
            return any(node is target for node in chain for target in targets)
        for target in targets:  # no exact position: fall back to the lines the subtree spans
            first = _sourceline(target)
            last = max(_sourceline(d) for d in target.iter())
            if first <= finding.line <= last:
                return True
        return False


def settle(doc: Document, findings: Sequence[Finding], options: LintOptions) -> list[Finding]:
    """The findings that survive every suppression, plus FX006 for directives that did nothing."""
    config_off = ignored_by_config(doc.path, options)
    root = doc.root
    found = collect(doc) if root is not None else Suppressions()
    if not found.directives and not found.problems:
        return [f for f in findings if f.code not in config_off]
    locator = _Locator(doc)
    kept = [f for f in findings if not _suppress(f, found.directives, locator, mark=True)]
    kept = [f for f in kept if f.code not in config_off]
    if UNUSED not in options.codes or UNUSED in config_off:
        return kept
    extra = _unused_findings(doc, found, options)
    return kept + [f for f in extra if not _suppress(f, found.directives, locator, mark=False)]


def _suppress(
    finding: Finding, directives: Sequence[Directive], locator: _Locator, *, mark: bool
) -> bool:
    suppressed = False
    for directive in directives:
        selectors = directive.covers(finding.code)
        if not selectors:
            continue
        if directive.scope is not None and not locator.inside(finding, directive.scope):
            continue
        suppressed = True
        if not mark:
            return True
        for selector in selectors:
            selector.used = True
    return suppressed


def _unused_findings(doc: Document, found: Suppressions, options: LintOptions) -> list[Finding]:
    rule = load_catalog()[UNUSED]
    unjudged = set(_ALWAYS_UNJUDGED)
    if options.facts is None:
        unjudged |= _FACT_CODES
    for directive in found.directives:
        dead = directive.scope == []  # covers no element: it can never suppress anything
        for selector in directive.selectors:
            judged = dead or (selector.codes <= options.codes and not selector.codes & unjudged)
            selector.unused = bool(selector.codes) and judged and not selector.used
    problems = list(found.problems)
    for directive in found.directives:
        problems.extend(_directive_problems(directive))
    return [finding_at(rule, doc.path, p.line, p.column, p.message, fix=p.fix) for p in problems]


def _directive_problems(directive: Directive) -> list[Problem]:
    problems = []
    unknown = [s for s in directive.selectors if not s.codes]
    for selector in unknown:
        problems.append(
            Problem(
                directive.line, directive.column, f"unknown rule '{selector.text}' in a suppression"
            )
        )
    unused = [s for s in directive.selectors if s.unused]
    if not unused:
        return problems
    names = ", ".join(s.text for s in unused)
    reason = f" ({directive.why_empty})" if directive.why_empty else ""
    message = f"unused suppression: {names} suppressed nothing{reason}"
    keep = [s.text for s in directive.selectors if s not in unused]
    fix = None
    if keep and directive.rewrite is not None:
        rewrite = directive.rewrite
        fix = _fix(f"drop {names} from the suppression", lambda: rewrite(",".join(keep)))
    elif not keep and directive.remove is not None:
        fix = _fix("remove the unused suppression", directive.remove)
    problems.append(Problem(directive.line, directive.column, message, fix))
    return problems


def _fix(message: str, build: Callable[[], list[Edit]]) -> Fix | None:
    try:
        edits = tuple(build())
    except EditError:
        return None
    return Fix(Applicability.SAFE, message, edits) if edits else None
