"""lint, fix, attach and detach over the domain definitions a running libvirt holds.

Every change goes through libvirt's own define (validated against its schema), then the
definition is read back and its memory settings compared with what was written
(:mod:`famfs_xml.live.settings`). A define that libvirt refuses, a read-back that differs,
or a definition that someone changed meanwhile is an error, and libvirt's copy is left as it
was: the definition read at the start is defined again where needed. ``fix`` treats each
domain on its own; ``attach`` and ``detach`` change all the named domains or none, so a
failure also undoes the domains already changed in the same run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from famfs_xml.attach import Outcome, Request, attach_documents, detach_documents
from famfs_xml.core.findings import FileResult
from famfs_xml.lint.document import Document, load
from famfs_xml.lint.engine import (
    FixOutcome,
    FixRefused,
    file_result_of,
    fix_document,
    fix_shared,
    lint_documents,
    lint_each,
)
from famfs_xml.lint.hosts import named as named_host
from famfs_xml.lint.options import LintOptions
from famfs_xml.lint.run import RunResult, unified_diff
from famfs_xml.live.connection import DefineRefused, Hypervisor, LiveError
from famfs_xml.live.settings import differences, memory_settings

RUNNING_NOTE = (
    "running: the change applies at its next boot "
    "(shut it down and start it; a reboot keeps the running definition)"
)


class ChangeFailed(Exception):
    """A change did not land in libvirt; the message says why and what libvirt now holds."""


@dataclass(frozen=True)
class LiveDomain:
    """One domain as libvirt holds it: its definition (with secrets), its state, and the
    host of the daemon that holds it."""

    name: str
    definition: bytes
    running: bool
    persistent: bool = True
    host: str | None = None  # the host's name (FX501 compares one host's domains)
    qualified: bool = False  # shown with its host: the run reads several hosts

    @property
    def display(self) -> str:
        """How reports name the domain (line numbers are those of ``virsh dumpxml
        --inactive --security-info NAME``): ``libvirt:NAME``, or ``libvirt:HOST/NAME``
        when the run reads several hosts."""
        if self.qualified and self.host is not None:
            return f"libvirt:{self.host}/{self.name}"
        return f"libvirt:{self.name}"

    def on_host(self, host: str, *, qualified: bool) -> LiveDomain:
        return replace(self, host=host, qualified=qualified)

    def document(self, xml: bytes | None = None) -> Document:
        doc = load(self.definition if xml is None else xml, self.display)
        if self.host is not None:
            doc.host = named_host(self.host)
        return doc


@dataclass
class LiveOutcome:
    """A run over libvirt's domains: the report of what libvirt now holds, and one line
    per domain on what was done to it."""

    result: RunResult = field(default_factory=RunResult)
    messages: list[str] = field(default_factory=list)


def fetch(
    hypervisor: Hypervisor, names: Sequence[str], *, every: bool, to_change: bool
) -> list[LiveDomain]:
    """The named domains, or with ``every`` all of them, as libvirt holds them.

    A transient domain (running, never defined) has no definition to change: naming it for
    a change is an error, and ``every`` then passes it by; lint reads its running XML.
    """
    domains = []
    for name in hypervisor.names() if every else list(dict.fromkeys(names)):
        persistent = hypervisor.is_persistent(name)
        if not persistent and to_change:
            if every:
                continue
            raise LiveError(
                f"{name} is a transient domain: libvirt holds no definition of it to change"
            )
        domains.append(
            LiveDomain(name, hypervisor.definition(name), hypervisor.is_running(name), persistent)
        )
    return domains


def lint_domains(domains: Sequence[LiveDomain], options: LintOptions) -> RunResult:
    """Lint the definitions together, so that FX501 compares every domain sharing a device."""
    checked = lint_documents([(domain.document(), True) for domain in domains], options)
    return RunResult(files=[file_result_of(item) for item in checked], libvirt=options.libvirt)


class HostWork(NamedTuple):
    """One hypervisor's part of a run: its connection, its domains, the options its domains
    are checked with (its own libvirt release)."""

    hypervisor: Hypervisor
    domains: Sequence[LiveDomain]
    options: LintOptions


def lint_fleet(
    hosts: Sequence[tuple[Sequence[LiveDomain], LintOptions]], options: LintOptions
) -> RunResult:
    """Lint the definitions of several hosts in one run, each host's with its own options;
    FX501 compares the domains of each host (and of the devices hosts share)."""
    docs = [(domain.document(), own) for domains, own in hosts for domain in domains]
    checked = lint_each(docs, options)
    return RunResult(files=[file_result_of(item) for item in checked], libvirt=options.libvirt)


def fix_domains(
    hypervisor: Hypervisor, domains: Sequence[LiveDomain], options: LintOptions, *, diff: bool
) -> LiveOutcome:
    """Fix each definition and hand it back to libvirt (with ``diff``: only show it)."""
    return fix_fleet([HostWork(hypervisor, domains, options)], options, diff=diff)


def fix_fleet(work: Sequence[HostWork], options: LintOptions, *, diff: bool) -> LiveOutcome:
    """Fix the definitions of one or more hosts and hand each back to its libvirt (with
    ``diff``: only show them). Each definition's own fixes come first; then FX501 moves the
    outliers among them to the majority's settings, where its fix allows."""
    outcome = LiveOutcome(result=RunResult(libvirt=options.libvirt))
    items = [(host, domain) for host in work for domain in host.domains]
    fixed = _fixed_together(items, options, outcome.result.errors)
    held: list[bytes] = []  # what libvirt holds at the end, one per domain
    applied: dict[str, list[str]] = {}
    for (host, domain), done in zip(items, fixed, strict=True):
        held.append(domain.definition)
        if done is None or not done.changed:
            continue
        if diff:
            outcome.result.diffs.append(unified_diff(domain.display, domain.definition, done.data))
            continue
        try:
            held[-1] = redefine(host.hypervisor, domain, done.data)
        except ChangeFailed as exc:
            outcome.result.errors.append(str(exc))
            continue
        applied[domain.display] = done.applied
        codes = ", ".join(dict.fromkeys(done.applied))
        outcome.messages.append(_done(domain, f"fixed ({codes}) in libvirt's definition"))
    finals = [(domain, xml, host.options) for (host, domain), xml in zip(items, held, strict=True)]
    outcome.result.files = _report_each(finals, options, applied)
    return outcome


def _fixed_together(
    items: Sequence[tuple[HostWork, LiveDomain]], options: LintOptions, errors: list[str]
) -> list[FixOutcome | None]:
    """Each definition fixed (None where the fix was refused, with its error)."""
    fixed: list[FixOutcome | None] = []
    for host, domain in items:
        try:
            fixed.append(fix_document(domain.document(), host.options))
        except FixRefused as exc:
            errors.append(f"{domain.display}: {exc}")
            fixed.append(None)
    present = [number for number, done in enumerate(fixed) if done is not None]
    moved = fix_shared(
        [done for done in fixed if done is not None],
        options,
        [items[number][0].options for number in present],
    )
    for number, done in zip(present, moved, strict=True):
        fixed[number] = done
    return fixed


def attach_domains(
    hypervisor: Hypervisor,
    domains: Sequence[LiveDomain],
    request: Request,
    options: LintOptions,
    *,
    diff: bool,
) -> LiveOutcome:
    """Attach the device to every domain, all or none (with ``diff``: only show it)."""
    named = [(domain.display, domain.document()) for domain in domains]
    planned = attach_documents(named, request, options)
    return _carry_out(hypervisor, domains, planned, options, diff=diff)


def detach_domains(
    hypervisor: Hypervisor,
    domains: Sequence[LiveDomain],
    source: str,
    options: LintOptions,
    *,
    diff: bool,
) -> LiveOutcome:
    """Detach the device from every domain, all or none (with ``diff``: only show it)."""
    named = [(domain.display, domain.document()) for domain in domains]
    planned = detach_documents(named, source, options)
    return _carry_out(hypervisor, domains, planned, options, diff=diff)


def _carry_out(
    hypervisor: Hypervisor,
    domains: Sequence[LiveDomain],
    planned: Outcome,
    options: LintOptions,
    *,
    diff: bool,
) -> LiveOutcome:
    outcome = LiveOutcome(result=RunResult(libvirt=options.libvirt))
    if planned.errors:
        outcome.result.errors.extend(planned.errors)
        return outcome
    if diff:
        outcome.result.diffs.append(planned.diffs())
        return outcome
    held = [domain.definition for domain in domains]
    done: list[LiveDomain] = []
    for index, (domain, item) in enumerate(zip(domains, planned.files, strict=True)):
        if not item.change.changed:
            outcome.messages.append(f"{domain.display}: {item.change.message}")
            continue
        try:
            held[index] = redefine(hypervisor, domain, item.change.after)
        except ChangeFailed as exc:
            outcome.result.errors.append(str(exc))
            outcome.result.errors.extend(_undo(hypervisor, done))
            outcome.messages.clear()
            held = [domain.definition for domain in domains]
            break
        done.append(domain)
        outcome.messages.append(_done(domain, item.change.message))
    outcome.result.files = _report(domains, held, options)
    return outcome


def _undo(hypervisor: Hypervisor, done: Sequence[LiveDomain]) -> list[str]:
    """Give the domains already changed in this run their old definitions back."""
    return [
        f"{domain.display}: undone with the others: {restore(hypervisor, domain)}"
        for domain in reversed(done)
    ]


def redefine(hypervisor: Hypervisor, domain: LiveDomain, new: bytes) -> bytes:
    """Define ``new`` in place of ``domain``'s definition, read it back and verify it.

    Returns what libvirt now holds. Raises :class:`ChangeFailed` (libvirt's copy being
    as it was) when the definition changed since it was read, when libvirt refuses ``new``,
    or when the read-back's memory settings differ from ``new``'s.
    """
    if hypervisor.definition(domain.name) != domain.definition:
        raise ChangeFailed(
            f"{domain.display}: libvirt's definition changed since it was read; "
            "nothing was defined (run famfs-xml again)"
        )
    try:
        hypervisor.define(new)
    except DefineRefused as exc:
        raise ChangeFailed(
            f"{domain.display}: libvirt refused the new definition ({exc}); "
            f"{restore(hypervisor, domain)}"
        ) from None
    kept = hypervisor.definition(domain.name)
    changed = differences(memory_settings(new), memory_settings(kept))
    if changed:
        raise ChangeFailed(
            f"{domain.display}: libvirt did not keep what was written "
            f"({'; '.join(changed)}); {restore(hypervisor, domain)}"
        )
    return kept


def restore(hypervisor: Hypervisor, domain: LiveDomain) -> str:
    """Make libvirt hold ``domain``'s definition as it was read; say how that went."""
    try:
        if hypervisor.definition(domain.name) == domain.definition:
            return "its definition is unchanged"
        hypervisor.define(domain.definition)
        now = hypervisor.definition(domain.name)
    except (DefineRefused, LiveError) as exc:
        return (
            f"restoring its previous definition failed ({exc}): see "
            f"`virsh dumpxml --inactive {domain.name}`"
        )
    if now == domain.definition or not differences(
        memory_settings(domain.definition), memory_settings(now)
    ):
        return "its previous definition was restored"
    return (
        "its previous definition was defined again, but libvirt holds other memory "
        f"settings: see `virsh dumpxml --inactive {domain.name}`"
    )


def _done(domain: LiveDomain, what: str) -> str:
    line = f"{domain.display}: {what}; libvirt kept every memory setting written"
    return f"{line}; {RUNNING_NOTE}" if domain.running else line


def _report(
    domains: Sequence[LiveDomain],
    held: Sequence[bytes],
    options: LintOptions,
    applied: dict[str, list[str]] | None = None,
) -> list[FileResult]:
    """The findings of what libvirt holds now, linted together (FX501 across all)."""
    finals = [(domain, xml, options) for domain, xml in zip(domains, held, strict=True)]
    return _report_each(finals, options, applied)


def _report_each(
    finals: Sequence[tuple[LiveDomain, bytes, LintOptions]],
    options: LintOptions,
    applied: dict[str, list[str]] | None = None,
) -> list[FileResult]:
    """:func:`_report` with the options of each domain's host."""
    docs = [(domain.document(xml), own) for domain, xml, own in finals]
    files = []
    for item in lint_each(docs, options):
        result = file_result_of(item)
        codes = (applied or {}).get(result.path)
        if codes:
            result.fixed_codes, result.changed = codes, True
        files.append(result)
    return files
