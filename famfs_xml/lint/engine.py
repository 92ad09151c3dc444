"""Running the rules over documents, and the fix loop.

The engine owns everything between a loaded :class:`Document` and a list of findings:
which rules run, the load-time codes, the cross-file check, suppressions (applied once, in
:func:`lint_documents`), and fixing to a fixed point with a well-formedness guard. It never
prints and never touches the file system.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, NamedTuple

from famfs_xml.core.findings import Edit, FileResult, Finding, Fix, Severity
from famfs_xml.lint import checks, domain
from famfs_xml.lint.catalog import RuleInfo, load_catalog
from famfs_xml.lint.checks.base import Check, RuleContext, finding_at
from famfs_xml.lint.document import Document, LoadProblem, load
from famfs_xml.lint.edits import apply_edits
from famfs_xml.lint.options import LintOptions

if TYPE_CHECKING:
    from famfs_xml.lint.checks.shared_backing import DeviceUse
    from famfs_xml.lint.hosts import Host

MAX_FIX_PASSES = 20


class FixRefused(Exception):
    """Applying the fixes would have produced a file we must not write."""


class Checked:
    """One document after its own checks: the findings, and the context FX501 needs."""

    __slots__ = ("context", "doc", "findings", "skipped")

    def __init__(
        self,
        doc: Document,
        findings: list[Finding],
        context: RuleContext | None = None,
        skipped: bool = False,
    ) -> None:
        self.doc = doc
        self.findings = findings
        self.context = context
        self.skipped = skipped


def lint_document(doc: Document, options: LintOptions, *, explicit: bool = True) -> Checked:
    """Run every selected per-document rule on ``doc``.

    ``explicit`` is False for files found by a directory scan: a file whose root is not
    ``<domain>`` is then skipped silently instead of drawing FX004.
    """
    catalog = load_catalog()
    if options.hosts.patterns:  # a path may name the host: the reports show it
        host_of(doc, options)
    fatal = [p for p in doc.problems if p.code in ("FX001", "FX003")]
    if fatal or doc.root is None:
        return Checked(doc, _load_findings(doc, fatal, options, catalog))
    root = doc.root
    if root.tag != "domain":
        if not explicit:
            return Checked(doc, [], skipped=True)
        findings = []
        if "FX004" in options.codes:
            findings.append(
                _finding(
                    catalog,
                    "FX004",
                    doc,
                    LoadProblem(
                        "FX004",
                        f"the root element is <{root.tag}>, not <domain>: not a libvirt domain",
                        *doc.position(root),
                    ),
                )
            )
        return Checked(doc, findings)
    context = context_for(doc, options)
    assert context is not None  # a parsed <domain>
    findings = []
    for check in _selected_checks(options.codes, bool(context.domain.memory_devices)):
        # a plain loop: a generator expression per check and document costs as much as
        # most checks themselves (which return at once for a domain they do not concern)
        for finding in check(context):
            if finding.severity is not Severity.INFO or _reported(finding, options, catalog):
                findings.append(finding)
    return Checked(doc, findings, context)


def _reported(finding: Finding, options: LintOptions, catalog: Mapping[str, RuleInfo]) -> bool:
    """Info findings are opt-in: a rule that is not itself info reports them (and fixes
    them) only when a selector names it, as an info rule runs only when named."""
    return (
        finding.severity is not Severity.INFO
        or catalog[finding.code].severity is Severity.INFO
        or finding.code in options.named
    )


def context_for(doc: Document, options: LintOptions) -> RuleContext | None:
    """What the checks see of ``doc``; None when it is not a parsed ``<domain>``."""
    if not doc.is_domain:
        return None
    assert doc.root is not None
    return RuleContext(
        doc,
        domain.build(doc.root),
        load_catalog(),
        options.facts,
        options.parameters,
        options.libvirt.version,
    )


@cache
def _selected_checks(codes: frozenset[str], memory_devices: bool) -> tuple[Check, ...]:
    """The per-document checks of a selection, in registry order (worked out once a run),
    for a domain with or without memory devices (see ``checks.MEMORY_DEVICE_CODES``)."""
    return tuple(
        check
        for code, check in checks.DOCUMENT_CHECKS.items()
        if code in codes and (memory_devices or code not in checks.MEMORY_DEVICE_CODES)
    )


def _load_findings(
    doc: Document,
    problems: Sequence[LoadProblem],
    options: LintOptions,
    catalog: Mapping[str, RuleInfo],
) -> list[Finding]:
    return [_finding(catalog, p.code, doc, p) for p in problems if p.code in options.codes]


def _finding(
    catalog: Mapping[str, RuleInfo], code: str, doc: Document, problem: LoadProblem
) -> Finding:
    return finding_at(catalog[code], doc.path, problem.line, problem.column, problem.message)


def cross_file_findings(checked: Sequence[Checked], options: LintOptions) -> list[Finding]:
    if "FX501" not in options.codes:
        return []
    contexts = [c.context for c in checked if c.context is not None]
    hosts = [host_of(ctx.doc, options) for ctx in contexts]
    return list(
        checks.check_shared_backing(
            contexts, hosts, options.hosts, peers=options.peers, every=options.compare_every
        )
    )


def host_of(doc: Document, options: LintOptions) -> Host:
    """The host ``doc`` belongs to: its own, else the one the run's rules give its path."""
    if doc.host is None:
        doc.host = options.hosts.host_of(doc.path)
    return doc.host


def add_cross_file_findings(checked: Sequence[Checked], options: LintOptions) -> None:
    """FX501 across ``checked``, each finding added to the document it is about."""
    by_path: dict[str, Checked] = {c.doc.path: c for c in checked}
    for finding in cross_file_findings(checked, options):
        by_path[finding.path].findings.append(finding)


def lint_documents(docs: Iterable[tuple[Document, bool]], options: LintOptions) -> list[Checked]:
    """Lint several documents as one run, FX501 included; findings sorted per document.

    This is the one place where suppressions apply (directives, the ``<metadata>`` block,
    per-file ignores), after every check has run: the fix loop lints through here too, so a
    suppressed finding's fix is never applied. :func:`lint_stream` is the same, one document
    at a time.
    """
    return [item for _, item in sorted(lint_stream(docs, options), key=lambda pair: pair[0])]


def lint_each(docs: Sequence[tuple[Document, LintOptions]], options: LintOptions) -> list[Checked]:
    """:func:`lint_documents` with options of each document's own (a run over several
    hypervisors: each host's libvirt release); FX501 across all as ``options`` says."""
    items = [lint_document(doc, own) for doc, own in docs]
    if "FX501" in options.codes:
        add_cross_file_findings([item for item in items if may_share_backing(item)], options)
    return [settle(item, own) for item, (_, own) in zip(items, docs, strict=True)]


def lint_stream(
    docs: Iterable[tuple[Document, bool]], options: LintOptions
) -> Iterator[tuple[int, Checked]]:
    """Lint documents one by one, yielding ``(position in docs, result)`` once each is final.

    Only a document that FX501 may concern (an nvdimm with a backing path) waits for the
    cross-file check at the end; every other one is yielded at once, so that a caller that
    keeps only the findings runs in flat memory however many files there are.
    """
    held: list[tuple[int, Checked]] = []
    for index, (doc, explicit) in enumerate(docs):
        item = lint_document(doc, options, explicit=explicit)
        if "FX501" in options.codes and may_share_backing(item):
            held.append((index, item))
        else:
            yield index, settle(item, options)
    add_cross_file_findings([c for _, c in held], options)
    for index, item in held:
        yield index, settle(item, options)


def may_share_backing(item: Checked) -> bool:
    """Whether FX501 may concern ``item``: it has an nvdimm with a backing path."""
    return item.context is not None and any(
        device.is_nvdimm and device.path for device in item.context.domain.memory_devices
    )


def settle(item: Checked, options: LintOptions) -> Checked:
    """A document's findings once every check, FX501 included, has run: suppressions
    applied, sorted."""
    if item.skipped:
        return item
    if may_hold_directives(item.doc):
        from famfs_xml.lint import suppressions

        item.findings = suppressions.settle(item.doc, item.findings, options)
        item.findings.sort(key=Finding.sort_key)
    else:
        item.findings = settle_without_directives(item.doc.path, item.findings, options)
    return item


def settle_without_directives(
    path: str, findings: list[Finding], options: LintOptions
) -> list[Finding]:
    """:func:`settle` for a document that holds no directive: only the configuration's
    per-file ignores apply, and nothing of the document is needed but its path."""
    if options.per_file_ignores:
        from famfs_xml.lint import suppressions

        ignored = suppressions.ignored_by_config(path, options)
        findings = [finding for finding in findings if finding.code not in ignored]
    return sorted(findings, key=Finding.sort_key)


def file_result_of(item: Checked) -> FileResult:
    """A linted document's result, as the reports see it."""
    doc = item.doc
    return FileResult(
        doc.path,
        item.findings,
        skipped=item.skipped,
        host=None if doc.host is None else doc.host.name,
        # edit offsets index the file's own bytes only in UTF-8 without a byte-order mark
        offsets_are_file_bytes=doc.encoding == "utf-8" and not doc.bom,
    )


def may_hold_directives(doc: Document) -> bool:
    """Whether ``doc`` can hold a suppression: every directive names famfs-xml (the comment
    marker, the metadata namespace), unless written with character references."""
    return b"famfs-xml" in doc.work or b"&#" in doc.work


class FixOutcome(NamedTuple):
    data: bytes  # the new file content (the original when nothing changed)
    doc: Document
    applied: list[str]  # codes of the fixes applied, in order

    @property
    def changed(self) -> bool:
        return bool(self.applied)


def fix_document(doc: Document, options: LintOptions) -> FixOutcome:
    """Apply allowed fixes pass after pass until nothing changes (bounded)."""
    applied: list[str] = []
    current = doc
    for _ in range(MAX_FIX_PASSES):
        result = lint_documents([(current, True)], options)[0]
        candidates = [
            (f.code, f.fix) for f in result.findings if f.fix is not None and options.allows(f.fix)
        ]
        chosen = _non_overlapping(_first_stage(candidates))
        if not chosen:
            break
        work = apply_edits(current.work, [edit for _, fix in chosen for edit in fix.edits])
        if work == current.work:
            break
        current = reload_checked(current, work)
        applied.extend(code for code, _ in chosen)
    data = doc.raw if not applied else encode(current)
    return FixOutcome(data, current, applied)


def fix_shared(
    outcomes: Sequence[FixOutcome],
    options: LintOptions,
    each: Sequence[LintOptions] | None = None,
) -> list[FixOutcome]:
    """The second step of a fix of documents that are checked together: move each outlier
    to what most domains on its device have (FX501, as far as its fix allows), then fix what
    that change calls for. Each document's own fixes (:func:`fix_document`) come first, so
    that the majority is read from documents as they will be written. ``each``: options of
    each document's own (see :func:`lint_each`)."""
    if "FX501" not in options.codes:
        return list(outcomes)
    uses = shared_uses([outcome.doc for outcome in outcomes], options)
    verdicts = checks.shared_backing.disagreements(uses, every=options.compare_every)
    movable = sorted({uses[verdict.at].document for verdict in verdicts if verdict.moves})
    fixed = list(outcomes)
    for number in movable:
        before = outcomes[number]
        peers = tuple(use for use in uses if use.document != number)
        own = options if each is None else each[number]
        try:
            again = fix_document(before.doc, own._replace(peers=peers))
        except FixRefused:
            continue  # the move is not made; the report still names the outlier
        if again.changed:
            fixed[number] = FixOutcome(again.data, again.doc, before.applied + again.applied)
    return fixed


def shared_uses(docs: Sequence[Document], options: LintOptions) -> list[DeviceUse]:
    """The nvdimms FX501 compares in ``docs``, numbered by position."""
    uses: list[DeviceUse] = []
    for number, doc in enumerate(docs):
        context = context_for(doc, options)
        if context is not None:
            host = host_of(doc, options)
            found = checks.shared_backing.device_uses(context, number, host, options.hosts)
            uses.extend(use for use, _ in found)
    return uses


def _first_stage(fixes: list[tuple[str, Fix]]) -> list[tuple[str, Fix]]:
    """The fixes of this pass: the unstaged ones, and of the staged ones only the earliest
    stage present (``checks.FIX_STAGES``); later stages wait for a pass that sees the sizes
    this one settles."""
    pending = {code for code, _ in fixes}
    for stage in checks.FIX_STAGES:
        if stage & pending:
            later = frozenset().union(*checks.FIX_STAGES) - stage
            return [(code, fix) for code, fix in fixes if code not in later]
    return fixes


def _non_overlapping(fixes: list[tuple[str, Fix]]) -> list[tuple[str, Fix]]:
    """Keep fixes whose edits touch no edit already kept (ruff's rule); the rest wait a pass."""
    kept: list[tuple[str, Fix]] = []
    taken: list[Edit] = []
    for code, fix in sorted(fixes, key=lambda item: min(e.start for e in item[1].edits)):
        if any(e.overlaps(t) for e in fix.edits for t in taken):
            continue
        kept.append((code, fix))
        taken.extend(fix.edits)
    return kept


def reload_checked(previous: Document, work: bytes) -> Document:
    """Load edited text as a new document; refuse text that is no longer well-formed XML
    with the same root (the guard every writer of edits goes through)."""
    raw = encode_work(work, previous)
    doc = load(raw, previous.path)
    broken = [p for p in doc.problems if p.code in ("FX001", "FX003")]
    if broken or doc.root is None or previous.root is None or doc.root.tag != previous.root.tag:
        detail = broken[0].message if broken else "the root element changed"
        raise FixRefused(f"refusing to write a fix that breaks the XML ({detail})")
    return doc


def encode_work(work: bytes, like: Document) -> bytes:
    """UTF-8 working text back to the file's own encoding (and byte-order mark)."""
    style = like.style
    if style.encoding == "utf-8" and not style.bom:
        return work
    return style.bom + work.decode("utf-8").encode(style.encoding)


def encode(doc: Document) -> bytes:
    return encode_work(doc.work, doc)


def fails(findings: Iterable[Finding], fail_on: Severity) -> bool:
    return any(f.severity >= fail_on for f in findings)
