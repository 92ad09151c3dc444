"""A whole lint or fix run over command-line paths (everything but parsing options and printing)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence

from famfs_xml.core.fileio import FileChanged, write_atomic
from famfs_xml.core.findings import FileResult, Finding
from famfs_xml.core.libvirt_version import UNKNOWN, LibvirtTarget
from famfs_xml.lint import parallel
from famfs_xml.lint.document import Document
from famfs_xml.lint.engine import (
    Checked,
    FixOutcome,
    FixRefused,
    context_for,
    file_result_of,
    fix_document,
    fix_shared,
    lint_stream,
    may_share_backing,
)
from famfs_xml.lint.hosts import HostRecord
from famfs_xml.lint.options import LintOptions
from famfs_xml.lint.sources import STDIN, Source, expand, libvirt_owned_note, read


class RunResult:
    """What a run over many files found, fixed or could not read."""

    def __init__(
        self,
        files: list[FileResult] | None = None,
        errors: list[str] | None = None,
        diffs: list[str] | None = None,
        stdout_data: bytes | None = None,
        notes: list[str] | None = None,
        libvirt: LibvirtTarget = UNKNOWN,
        hosts: list[HostRecord] | None = None,
    ) -> None:
        self.files: list[FileResult] = [] if files is None else files
        self.errors: list[str] = [] if errors is None else errors  # one line each: exit 2
        self.diffs: list[str] = [] if diffs is None else diffs  # fix --diff
        self.stdout_data = stdout_data  # fix - : the fixed document
        self.notes: list[str] = [] if notes is None else notes  # one line each, on stderr
        self.libvirt = libvirt  # the release the findings speak of (reports carry it)
        # the hypervisors a run read (--connect): each one's URI, release and error
        self.hosts: list[HostRecord] = [] if hosts is None else hosts

    @property
    def findings(self) -> list[Finding]:
        return [f for result in self.files for f in result.findings]

    @property
    def linted(self) -> list[FileResult]:
        return [r for r in self.files if not r.skipped]


def _sources(
    paths: Sequence[str], errors: list[str], *, only_domains: bool = False
) -> Iterator[Source]:
    """The files to read, found as they are consumed (a directory's error lands in
    ``errors`` when the walk meets it); ``only_domains`` treats named files like
    directory-scan finds (a file whose root is not ``<domain>`` is skipped silently)."""
    sources, _ = expand(paths, errors)
    for source in sources:
        yield source._replace(explicit=False) if only_domains else source


def _read_each(sources: Iterable[Source], result: RunResult) -> Iterator[tuple[Source, Document]]:
    """Read the sources one at a time, as they are consumed (nothing is kept here)."""
    for source in sources:
        try:
            doc = read(source)
        except OSError as exc:
            result.errors.append(f"{source.display}: {exc.strerror or exc}")
            continue
        yield source, doc


def _load_all(
    paths: Sequence[str], result: RunResult, *, only_domains: bool = False
) -> Iterator[tuple[Source, Document]]:
    return _read_each(_sources(paths, result.errors, only_domains=only_domains), result)


def _numbered(
    paths: Sequence[str], errors_at: dict[int, list[str]], *, only_domains: bool
) -> Iterator[tuple[int, Source]]:
    """The sources with their positions, found as they are consumed; a path error met on the
    way is kept in ``errors_at`` under the position of the source it came before, so that
    a run that reads the files out of order can still report in the order of a lazy walk."""
    found: list[str] = []
    count = 0
    for source in _sources(paths, found, only_domains=only_domains):
        if found:
            errors_at[count] = found[:]
            found.clear()
        yield count, source
        count += 1
    if found:
        errors_at[count] = found


def _errors_in_order(
    errors_at: dict[int, list[str]], read_errors: dict[int, str], result: RunResult
) -> None:
    for position in sorted(errors_at.keys() | read_errors.keys()):
        result.errors.extend(errors_at.get(position, ()))
        if position in read_errors:
            result.errors.append(read_errors[position])


def _in_order(
    stream: Iterator[tuple[int, Checked]], changes: dict[str, list[str]] | None = None
) -> list[FileResult]:
    """Each document's result in the order the documents came, keeping no document."""
    results: list[FileResult | None] = []
    for index, item in stream:
        file_result = file_result_of(item)
        applied = changes.get(item.doc.path) if changes is not None else None
        if applied:
            file_result.fixed_codes, file_result.changed = applied, True
        results.extend([None] * (index + 1 - len(results)))
        results[index] = file_result
    return [file_result for file_result in results if file_result is not None]


def lint_paths(
    paths: Sequence[str], options: LintOptions, *, only_domains: bool = False, jobs: int = 1
) -> RunResult:
    """Lint every file. ``jobs``: processes that lint, this one included (1: this one
    alone; 0: one per core when there are enough files to pay for the others, see
    :func:`famfs_xml.lint.parallel.workers_for`)."""
    result = RunResult(libvirt=options.libvirt)
    if jobs == 1 or STDIN in paths:
        loaded = _load_all(paths, result, only_domains=only_domains)
    else:
        errors_at: dict[int, list[str]] = {}
        numbered = _numbered(paths, errors_at, only_domains=only_domains)
        first = list(itertools.islice(numbered, max(jobs, parallel.AUTO_MIN_FILES)))
        workers = parallel.workers_for(jobs, len(first))
        if workers > 1 and parallel.may_fork():
            read_errors = _lint_in_workers(
                itertools.chain(first, numbered), options, workers, result
            )
            _errors_in_order(errors_at, read_errors, result)
            return result
        # in this process after all: the files listed so far, and the rest as found
        loaded = _read_numbered(itertools.chain(first, numbered), errors_at, result)
    result.files = _in_order(
        lint_stream(((doc, source.explicit) for source, doc in loaded), options)
    )
    return result


def _read_numbered(
    numbered: Iterable[tuple[int, Source]], errors_at: dict[int, list[str]], result: RunResult
) -> Iterator[tuple[Source, Document]]:
    """:func:`_read_each` over numbered sources, path errors in their places (a source's
    errors are in ``errors_at`` by the time the source comes)."""
    for position, source in numbered:
        result.errors.extend(errors_at.pop(position, ()))
        yield from _read_each((source,), result)
    for position in sorted(errors_at):
        result.errors.extend(errors_at[position])


def _lint_in_workers(
    numbered: Iterable[tuple[int, Source]], options: LintOptions, workers: int, result: RunResult
) -> dict[int, str]:
    files: dict[int, FileResult] = {}
    read_errors: dict[int, str] = {}
    for outcome in parallel.lint_in_workers(numbered, options, workers):
        if outcome.result is not None:
            files[outcome.position] = outcome.result
        if outcome.error is not None:
            read_errors[outcome.position] = outcome.error
    result.files = [files[position] for position in sorted(files)]
    return read_errors


def fix_paths(
    paths: Sequence[str], options: LintOptions, *, diff: bool = False, only_domains: bool = False
) -> RunResult:
    """Fix every file; write it back atomically unless ``diff`` (then only show the change).

    One file at a time: read, fix, write, then lint what was written (with FX501 across all).
    A file FX501 may concern (an nvdimm with a backing path) is written once every such file
    is fixed, because its outliers move to what the others have (:func:`engine.fix_shared`).
    """
    result = RunResult(libvirt=options.libvirt)
    changes: dict[str, list[str]] = {}
    diffs: dict[int, str] = {}
    order: list[int] = []  # the position of each document as it goes to the final lint
    loaded = _load_all(paths, result, only_domains=only_domains)
    fixed = _fix_each(enumerate(loaded), options, result)
    written = _write_each(_together(fixed, options), diff, result, changes, diffs)
    final = _recorded(written, order)
    result.files = _in_order(((order[i], item) for i, item in lint_stream(final, options)), changes)
    result.diffs = [diffs[position] for position in sorted(diffs)]
    return result


def _recorded(
    written: Iterable[tuple[int, Document, bool]], order: list[int]
) -> Iterator[tuple[Document, bool]]:
    """The documents as they come, each one's position appended to ``order``."""
    for position, doc, explicit in written:
        order.append(position)
        yield doc, explicit


# A file as fixed: its position, source, document as read and outcome (None: refused).
_Fixed = tuple[int, Source, Document, FixOutcome | None]


def _fix_each(
    loaded: Iterable[tuple[int, tuple[Source, Document]]], options: LintOptions, result: RunResult
) -> Iterator[_Fixed]:
    for position, (source, doc) in loaded:
        try:
            outcome: FixOutcome | None = fix_document(doc, options)
        except FixRefused as exc:
            result.errors.append(f"{source.display}: {exc}")
            outcome = None
        yield position, source, doc, outcome


def _together(fixed: Iterable[_Fixed], options: LintOptions) -> Iterator[_Fixed]:
    """The files as fixed; those FX501 may concern wait for the others, then their outliers
    move to the majority (the rest pass on at once: memory stays flat)."""
    held: list[tuple[int, Source, Document, FixOutcome]] = []
    for position, source, doc, outcome in fixed:
        if "FX501" in options.codes and outcome is not None and _shares(outcome.doc, options):
            held.append((position, source, doc, outcome))
        else:
            yield position, source, doc, outcome
    moved = fix_shared([outcome for *_, outcome in held], options)
    for (position, source, doc, _), outcome in zip(held, moved, strict=True):
        yield position, source, doc, outcome


def _shares(doc: Document, options: LintOptions) -> bool:
    context = context_for(doc, options)
    return context is not None and may_share_backing(Checked(doc, [], context))


def _write_each(
    fixed: Iterable[_Fixed],
    diff: bool,
    result: RunResult,
    changes: dict[str, list[str]],
    diffs: dict[int, str],
) -> Iterator[tuple[int, Document, bool]]:
    """Write each fixed file (or with ``diff`` only show it); the document that now holds."""
    for position, source, doc, outcome in fixed:
        if outcome is None:
            yield position, doc, source.explicit
            continue
        if not outcome.changed:
            if source.path is None:
                result.stdout_data = doc.raw
            yield position, outcome.doc, source.explicit
            continue
        if source.path is not None:
            note = libvirt_owned_note(source.display, doc.raw, "fix")
            if note is not None:
                result.notes.append(note)
        if diff:
            diffs[position] = unified_diff(source.display, doc.raw, outcome.data)
        elif source.path is None:
            result.stdout_data = outcome.data
        else:
            error = write_checked(source.path, outcome.data, doc.raw, source.display, "fixed")
            if error is not None:
                result.errors.append(error)
                yield position, doc, source.explicit
                continue
        changes[source.display] = outcome.applied
        yield position, outcome.doc, source.explicit


def write_checked(path: str, data: bytes, read: bytes, display: str, what: str) -> str | None:
    """Write ``data`` over the file that held ``read``; the error line, or None when written.

    The file is written only if it still holds what was read: another program (libvirt, an
    editor, a second famfs-xml) may have written it since.
    """
    try:
        write_atomic(path, data, expected=read)
    except FileChanged:
        return (
            f"{display}: changed by another program since it was read; "
            f"the {what} file was not written (run famfs-xml again)"
        )
    except OSError as exc:
        return (
            f"{display}: cannot write the {what} file ({exc.strerror or exc}); "
            "the original is unchanged"
        )
    return None


def unified_diff(name: str, before: bytes, after: bytes) -> str:
    import difflib

    old = before.decode("utf-8", errors="replace").splitlines(keepends=True)
    new = after.decode("utf-8", errors="replace").splitlines(keepends=True)
    # git's a/ and b/ prefixes; an absolute path keeps one slash, as `git diff` writes it
    shown = name.lstrip("/")
    lines = difflib.unified_diff(old, new, fromfile=f"a/{shown}", tofile=f"b/{shown}")
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
