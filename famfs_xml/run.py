"""A whole lint or fix run over command-line paths (everything but parsing options and printing)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from famfs_xml.document import Document
from famfs_xml.engine import (
    Checked,
    FixRefused,
    LintOptions,
    fix_document,
    lint_stream,
)
from famfs_xml.fileio import write_atomic
from famfs_xml.findings import FileResult, Finding
from famfs_xml.sources import Source, expand, read


@dataclass
class RunResult:
    files: list[FileResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # one line each; any error means exit 2
    diffs: list[str] = field(default_factory=list)  # fix --diff
    stdout_data: bytes | None = None  # fix - : the fixed document

    @property
    def findings(self) -> list[Finding]:
        return [f for result in self.files for f in result.findings]

    @property
    def linted(self) -> list[FileResult]:
        return [r for r in self.files if not r.skipped]


def _load_all(
    paths: Sequence[str], result: RunResult, *, only_domains: bool = False
) -> Iterator[tuple[Source, Document]]:
    """Read the sources one at a time, as they are consumed (nothing is kept here);
    ``only_domains`` treats named files like directory-scan finds (a file whose root is not
    ``<domain>`` is skipped silently)."""
    sources, _ = expand(paths, result.errors)
    for source in sources:
        if only_domains:
            source = source._replace(explicit=False)
        try:
            doc = read(source)
        except OSError as exc:
            result.errors.append(f"{source.display}: {exc.strerror or exc}")
            continue
        yield source, doc


def _in_order(
    stream: Iterator[tuple[int, Checked]], changes: dict[str, list[str]] | None = None
) -> list[FileResult]:
    """Each document's result in the order the documents came, keeping no document."""
    results: list[FileResult | None] = []
    for index, item in stream:
        applied = changes.get(item.doc.path) if changes is not None else None
        file_result = FileResult(
            item.doc.path,
            item.findings,
            skipped=item.skipped,
            offsets_are_file_bytes=_plain_utf8(item.doc),
        )
        if applied:
            file_result.fixed_codes, file_result.changed = applied, True
        results.extend([None] * (index + 1 - len(results)))
        results[index] = file_result
    return [file_result for file_result in results if file_result is not None]


def lint_paths(
    paths: Sequence[str], options: LintOptions, *, only_domains: bool = False
) -> RunResult:
    result = RunResult()
    loaded = _load_all(paths, result, only_domains=only_domains)
    result.files = _in_order(
        lint_stream(((doc, source.explicit) for source, doc in loaded), options)
    )
    return result


def fix_paths(
    paths: Sequence[str], options: LintOptions, *, diff: bool = False, only_domains: bool = False
) -> RunResult:
    """Fix every file; write it back atomically unless ``diff`` (then only show the change).

    One file at a time: read, fix, write, then lint what was written (with FX501 across all).
    """
    result = RunResult()
    changes: dict[str, list[str]] = {}
    loaded = _load_all(paths, result, only_domains=only_domains)
    final_docs = _fix_each(loaded, options, diff, result, changes)
    result.files = _in_order(lint_stream(final_docs, options), changes)
    return result


def _fix_each(
    loaded: Iterator[tuple[Source, Document]],
    options: LintOptions,
    diff: bool,
    result: RunResult,
    changes: dict[str, list[str]],
) -> Iterator[tuple[Document, bool]]:
    for source, doc in loaded:
        try:
            outcome = fix_document(doc, options)
        except FixRefused as exc:
            result.errors.append(f"{source.display}: {exc}")
            yield doc, source.explicit
            continue
        if not outcome.changed:
            if source.path is None:
                result.stdout_data = doc.raw
            yield outcome.doc, source.explicit
            continue
        if diff:
            result.diffs.append(unified_diff(source.display, doc.raw, outcome.data))
        elif source.path is None:
            result.stdout_data = outcome.data
        else:
            try:
                write_atomic(source.path, outcome.data)
            except OSError as exc:
                result.errors.append(
                    f"{source.display}: cannot write the fixed file ({exc.strerror or exc}); "
                    "the original is unchanged"
                )
                yield outcome.doc, source.explicit
                continue
        changes[source.display] = outcome.applied
        yield outcome.doc, source.explicit


def _plain_utf8(doc: Document) -> bool:
    return doc.encoding == "utf-8" and not doc.bom


def unified_diff(name: str, before: bytes, after: bytes) -> str:
    import difflib

    old = before.decode("utf-8", errors="replace").splitlines(keepends=True)
    new = after.decode("utf-8", errors="replace").splitlines(keepends=True)
    lines = difflib.unified_diff(old, new, fromfile=f"a/{name}", tofile=f"b/{name}")
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
