"""A whole lint or fix run over command-line paths (everything but parsing options and printing)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from famfs_xml.document import Document
from famfs_xml.engine import (
    FixRefused,
    LintOptions,
    fix_document,
    lint_documents,
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


def _load_all(paths: Sequence[str], result: RunResult, *,
              only_domains: bool = False) -> list[tuple[Source, Document]]:
    """Read every source; ``only_domains`` treats named files like directory-scan finds
    (a file whose root is not ``<domain>`` is skipped silently)."""
    sources, errors = expand(paths)
    if only_domains:
        sources = [replace(source, explicit=False) for source in sources]
    result.errors.extend(errors)
    loaded = []
    for source in sources:
        try:
            loaded.append((source, read(source)))
        except OSError as exc:
            result.errors.append(f"{source.display}: {exc.strerror or exc}")
    return loaded


def lint_paths(paths: Sequence[str], options: LintOptions, *,
               only_domains: bool = False) -> RunResult:
    result = RunResult()
    loaded = _load_all(paths, result, only_domains=only_domains)
    checked = lint_documents([(doc, source.explicit) for source, doc in loaded], options)
    for item in checked:
        result.files.append(FileResult(item.doc.path, item.findings, skipped=item.skipped,
                                       offsets_are_file_bytes=_plain_utf8(item.doc)))
    return result


def fix_paths(paths: Sequence[str], options: LintOptions, *, diff: bool = False,
              only_domains: bool = False) -> RunResult:
    """Fix every file; write it back atomically unless ``diff`` (then only show the change)."""
    result = RunResult()
    loaded = _load_all(paths, result, only_domains=only_domains)
    final_docs: list[tuple[Document, bool]] = []
    changes: dict[str, list[str]] = {}
    for source, doc in loaded:
        try:
            outcome = fix_document(doc, options)
        except FixRefused as exc:
            result.errors.append(f"{source.display}: {exc}")
            final_docs.append((doc, source.explicit))
            continue
        final_docs.append((outcome.doc, source.explicit))
        if not outcome.changed:
            if source.path is None:
                result.stdout_data = doc.raw
            continue
        changes[source.display] = outcome.applied
        if diff:
            result.diffs.append(_unified_diff(source.display, doc.raw, outcome.data))
        elif source.path is None:
            result.stdout_data = outcome.data
        else:
            try:
                write_atomic(source.path, outcome.data)
            except OSError as exc:
                result.errors.append(
                    f"{source.display}: cannot write the fixed file ({exc.strerror or exc}); "
                    "the original is unchanged")
                changes.pop(source.display)
    for item in lint_documents(final_docs, options):
        applied = changes.get(item.doc.path, [])
        result.files.append(FileResult(item.doc.path, item.findings, skipped=item.skipped,
                                       offsets_are_file_bytes=_plain_utf8(item.doc),
                                       fixed_codes=applied, changed=bool(applied)))
    return result


def _plain_utf8(doc: Document) -> bool:
    return doc.style.encoding == "utf-8" and not doc.style.bom


def _unified_diff(name: str, before: bytes, after: bytes) -> str:
    old = before.decode("utf-8", errors="replace").splitlines(keepends=True)
    new = after.decode("utf-8", errors="replace").splitlines(keepends=True)
    lines = difflib.unified_diff(old, new, fromfile=f"a/{name}", tofile=f"b/{name}")
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
