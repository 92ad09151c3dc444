"""Lint of many files on several cores (``lint --jobs``).

Files are independent except for FX501, which compares the nvdimms of every file that
shares a backing device. Worker processes run every per-file check on chunks of files and
send back each file's result. For a file FX501 may concern (an nvdimm with a backing path)
they also send the nvdimms' settings and places (:class:`DeviceUse`); once all files are
in, the parent compares those, adds the FX501 findings and applies the suppressions (a
file with directives is read again for them). Results keep the order of the files.

Workers are forked, so they start with everything the parent has imported and with the
run's options; only paths go out and findings come back.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from famfs_xml.core.findings import FileResult, Finding
from famfs_xml.lint import engine
from famfs_xml.lint.catalog import load_catalog
from famfs_xml.lint.checks import shared_backing
from famfs_xml.lint.checks.base import finding_at
from famfs_xml.lint.checks.shared_backing import DeviceUse
from famfs_xml.lint.document import Document
from famfs_xml.lint.options import LintOptions
from famfs_xml.lint.sources import Source, read

# Below this many files a pool costs more (fork, pickling) than it saves.
AUTO_MIN_FILES = 200
# Files per task: large enough to amortise a round trip, small enough to balance the load.
_CHUNK_FILES = 32


class Held(NamedTuple):
    """What the parent needs to finish a file that FX501 may concern."""

    source: Source
    uses: list[tuple[DeviceUse, int, int]]  # each compared nvdimm, with its line and column
    needs_document: bool  # it may hold suppression directives: they need the document


class Outcome(NamedTuple):
    """What a worker made of one file: its result or a read error; a ``held`` file's
    result still lacks FX501 and the suppressions."""

    position: int  # in the run's order of files
    result: FileResult | None = None
    error: str | None = None
    held: Held | None = None


_options: LintOptions | None = None  # the run's options, inherited by the workers


def available_cores() -> int:
    """The cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - platforms without sched_getaffinity
        return os.cpu_count() or 1


def workers_for(jobs: int, files: int) -> int:
    """Worker processes for ``files`` files: ``jobs`` when given (> 0), else automatic:
    one per core (at most 8) once there are enough files to pay for the pool, else none."""
    if jobs > 0:
        return max(1, min(jobs, files))
    if files < AUTO_MIN_FILES:
        return 1
    return min(available_cores(), 8)


def lint_in_workers(
    sources: Iterable[tuple[int, Source]], options: LintOptions, workers: int
) -> Iterator[Outcome]:
    """Each ``(position, source)``'s outcome, the sources taken as the workers need them
    (never all at once); held files are finished here, after all the others."""
    import multiprocessing  # only for runs that use workers: it is slow to import

    global _options
    _options = options
    held: list[Outcome] = []
    # The collector in a worker would otherwise walk, and so copy, every inherited object.
    frozen_before = gc.get_freeze_count() > 0
    gc.freeze()
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for outcomes in pool.imap(_lint_chunk, _chunks(sources)):
                for outcome in outcomes:
                    if outcome.held is None:
                        yield outcome
                    else:
                        held.append(outcome)
    finally:
        if not frozen_before:
            gc.unfreeze()
    yield from _finish_held(held, options)


# An FX501 finding of a held file, and what its fix needs: the device's ordinal, the verdict.
_Reported = tuple[Finding, int, shared_backing.Verdict]


def _finish_held(held: list[Outcome], options: LintOptions) -> Iterator[Outcome]:
    """FX501 over every held file's nvdimms, then each file's suppressions."""
    located = [
        (outcome.position, use, line, column)
        for outcome in held
        if outcome.held is not None
        for use, line, column in outcome.held.uses
    ]
    extra: dict[int, list[_Reported]] = {}
    rule = load_catalog()[shared_backing.CODE]
    uses = [use for _, use, _, _ in located]
    for verdict in shared_backing.disagreements(uses, every=options.compare_every):
        position, use, line, column = located[verdict.at]
        finding = finding_at(rule, use.doc_path, line, column, verdict.message)
        extra.setdefault(position, []).append((finding, use.ordinal, verdict))
    for outcome in held:
        assert outcome.result is not None and outcome.held is not None
        yield _settled(outcome, outcome.held, extra.get(outcome.position, []), options)


def _settled(
    outcome: Outcome, held: Held, reported: list[_Reported], options: LintOptions
) -> Outcome:
    assert outcome.result is not None
    findings = outcome.result.findings + [finding for finding, _, _ in reported]
    movable = any(verdict.moves for _, _, verdict in reported)
    if not held.needs_document and not movable:
        outcome.result.findings = engine.settle_without_directives(
            outcome.result.path, findings, options
        )
        return outcome
    try:
        doc = read(held.source)  # again: its directives or FX501's fix need the document
    except OSError as exc:
        return Outcome(outcome.position, error=f"{held.source.display}: {exc.strerror or exc}")
    if movable:
        findings = outcome.result.findings + _with_fixes(doc, reported, options)
    item = engine.settle(engine.Checked(doc, findings), options)
    result = engine.file_result_of(item)
    result.host = outcome.result.host
    return Outcome(outcome.position, result=result)


def _with_fixes(doc: Document, reported: list[_Reported], options: LintOptions) -> list[Finding]:
    """The FX501 findings with the fixes that move each outlier to the majority."""
    context = engine.context_for(doc, options)
    if context is None:  # the file changed since the worker read it
        return [finding for finding, _, _ in reported]
    devices = shared_backing.compared(context)
    return [
        finding._replace(fix=shared_backing.move_fix(context, devices[ordinal], verdict))
        if verdict.moves and ordinal < len(devices)
        else finding
        for finding, ordinal, verdict in reported
    ]


def _chunks(sources: Iterable[tuple[int, Source]]) -> Iterator[list[tuple[int, Source]]]:
    chunk: list[tuple[int, Source]] = []
    for item in sources:
        chunk.append(item)
        if len(chunk) == _CHUNK_FILES:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _lint_chunk(chunk: list[tuple[int, Source]]) -> list[Outcome]:
    return [_lint_one(position, source) for position, source in chunk]


def _lint_one(position: int, source: Source) -> Outcome:
    options = _options
    assert options is not None
    try:
        doc = read(source)
    except OSError as exc:
        return Outcome(position, error=f"{source.display}: {exc.strerror or exc}")
    item = engine.lint_document(doc, options, explicit=source.explicit)
    if "FX501" not in options.codes or not engine.may_share_backing(item):
        return Outcome(position, result=engine.file_result_of(engine.settle(item, options)))
    assert item.context is not None
    host = engine.host_of(doc, options)
    uses = [
        (use, *doc.position(device.element))
        for use, device in shared_backing.device_uses(item.context, position, host, options.hosts)
    ]
    held = Held(source, uses, engine.may_hold_directives(doc))
    return Outcome(position, result=engine.file_result_of(item), held=held)
