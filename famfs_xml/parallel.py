"""Lint of many files on several cores (``lint --jobs``).

Files are independent except for FX501, which compares the nvdimms of every file that
shares a backing device. Worker processes run every per-file check on chunks of files and
send back each file's result. A file FX501 may concern (it has an nvdimm with a backing
path) comes back with its findings unsettled; the parent reads it again (parse and domain
view only, no checks), runs FX501 over all such files together and then applies the
suppressions, as a sequential run does. Results keep the order of the files.

Workers are forked, so they start with everything the parent has imported and with the
run's options; only paths go out and findings come back.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from famfs_xml import engine
from famfs_xml.findings import FileResult, Finding
from famfs_xml.sources import Source, read

# Below this many files a pool costs more (fork, pickling) than it saves.
AUTO_MIN_FILES = 200
# Files per task: large enough to amortise a round trip, small enough to balance the load.
_CHUNK_FILES = 32


class Outcome(NamedTuple):
    """What a worker made of one file: its result, a read error, or (``held``) the
    findings of a file that still waits for FX501 and the suppressions."""

    position: int  # in the list of sources
    result: FileResult | None = None
    error: str | None = None
    held: list[Finding] | None = None
    source: Source | None = None  # of a held file, to read it again


_options: engine.LintOptions | None = None  # the run's options, inherited by the workers


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
    sources: Iterable[tuple[int, Source]], options: engine.LintOptions, workers: int
) -> Iterator[Outcome]:
    """Each ``(position, source)``'s outcome, the sources taken as the workers need them
    (never all at once); held files are finished here, after all the others."""
    import multiprocessing  # only for runs that use workers: it is slow to import

    global _options
    _options = options
    held: list[tuple[int, engine.Checked]] = []
    # The collector in a worker would otherwise walk, and so copy, every inherited object.
    gc.freeze()
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for outcomes in pool.imap(_lint_chunk, _chunks(sources)):
                for outcome in outcomes:
                    if outcome.held is None:
                        yield outcome
                        continue
                    # Read it again while the workers go on: FX501 needs the document.
                    assert outcome.source is not None
                    reread = _reread(outcome.source, outcome.held, options)
                    if isinstance(reread, str):
                        yield Outcome(outcome.position, error=reread)
                    else:
                        held.append((outcome.position, reread))
    finally:
        gc.unfreeze()
    engine.add_cross_file_findings([item for _, item in held], options)
    for position, item in held:
        yield Outcome(position, result=engine.file_result_of(engine.settle(item, options)))


def _reread(
    source: Source, findings: list[Finding], options: engine.LintOptions
) -> engine.Checked | str:
    """A held file's document and domain view (no checks: the worker ran them), or the
    error that stops it being read now."""
    try:
        doc = read(source)
    except OSError as exc:
        return f"{source.display}: {exc.strerror or exc}"
    return engine.Checked(doc, findings, engine.context_for(doc, options))


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
    if "FX501" in options.codes and engine.may_share_backing(item):
        return Outcome(position, held=item.findings, source=source)
    return Outcome(position, result=engine.file_result_of(engine.settle(item, options)))
