"""Lint of many files on several cores (``lint --jobs``).

Files are independent except for FX501, which compares the nvdimms of every file that
shares a backing device. The parent and its forked worker processes run every per-file
check on chunks of files; the workers send back each file's result. For a file FX501 may
concern (an nvdimm with a backing path) the result comes with the nvdimms' settings and
places (:class:`DeviceUse`); once all files are in, the parent compares those, adds the
FX501 findings and applies the suppressions (a file with directives is read again for
them). Results keep the order of the files.

Workers are forked, so they start with everything the parent has imported and with the
run's options; only paths go out and findings come back. A process that runs other threads
does not fork (see :func:`may_fork`): its run stays in one process, with the same result.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, NamedTuple, NoReturn, cast

from famfs_xml.core.findings import FileResult, Finding
from famfs_xml.lint import engine
from famfs_xml.lint.catalog import load_catalog
from famfs_xml.lint.checks import shared_backing
from famfs_xml.lint.checks.base import finding_at
from famfs_xml.lint.checks.shared_backing import DeviceUse
from famfs_xml.lint.document import Document
from famfs_xml.lint.options import LintOptions
from famfs_xml.lint.sources import Source, read

if TYPE_CHECKING:
    import select

# Below this many files forking costs more than it saves: measured on two cores with
# Python 3.11 and 3.14, a second process costs ~6 ms and pays for itself from ~300 of
# libvirt's test domains on (docs/performance.md, "Workers").
AUTO_MIN_FILES = 300
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
    """Processes that lint ``files`` files, this one included: ``jobs`` when given (> 0),
    else automatic: one per core (at most 8) once there are enough files to pay for the
    forks, else this one alone."""
    if jobs > 0:
        return max(1, min(jobs, files))
    if files < AUTO_MIN_FILES:
        return 1
    return min(available_cores(), 8)


def lint_in_workers(
    sources: Iterable[tuple[int, Source]], options: LintOptions, workers: int
) -> Iterator[Outcome]:
    """Each ``(position, source)``'s outcome, in no particular order, the sources taken as
    the workers need them (never all at once); held files are finished here, after all the
    others."""
    global _options
    _options = options
    held: list[Outcome] = []
    # The collector in a worker would otherwise walk, and so copy, every inherited object.
    frozen_before = gc.get_freeze_count() > 0
    gc.freeze()
    try:
        for outcome in _forked(_chunks(sources), workers):
            if outcome.held is None:
                yield outcome
            else:
                held.append(outcome)
    finally:
        if not frozen_before:
            gc.unfreeze()
    # in the order of the files, as a single process compares them (outcomes arrive in the
    # order the workers finish their chunks)
    held.sort(key=lambda outcome: outcome.position)
    yield from _finish_held(held, options)


def may_fork() -> bool:
    """Whether this process may fork workers: not while other threads run (a forked child
    could inherit a lock one of them holds; Python 3.12+ warns of exactly that)."""
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        return False
    try:  # threads started outside Python (a C library's) count too
        with open("/proc/self/stat", "rb") as stat:
            return int(stat.read().rsplit(b")", 1)[1].split()[17]) == 1
    except (OSError, ValueError, IndexError):
        return True  # no /proc: the check above is all there is


class WorkerFailed(Exception):
    """A worker process ended without sending its results."""


# -- forked workers --------------------------------------------------------------------------
#
# No multiprocessing: its import and its pool's threads cost more than a lint of a thousand
# small files. Each worker is a plain fork with two pipes: chunks of paths go in, a list of
# outcomes per chunk comes out (a length, then a pickle). A worker gets its next chunk only
# after the parent has read its results, so neither side can block the other on a full pipe.


class _Worker:
    def __init__(self, others: list[_Worker]) -> None:
        tasks_r, self.tasks = os.pipe()
        self.results, results_w = os.pipe()
        self.stopped = False
        self.pid = os.fork()
        if self.pid == 0:  # the child: serves chunks until told to stop, never returns
            # the parent's ends of every pipe, its own and the earlier workers', stay there
            for fd in (self.tasks, self.results, *(f for w in others for f in w.fds)):
                os.close(fd)
            _serve(tasks_r, results_w)
        os.close(tasks_r)
        os.close(results_w)

    @property
    def fds(self) -> tuple[int, int]:
        return self.tasks, self.results

    def give(self, chunk: list[tuple[int, Source]] | None) -> None:
        self.stopped = chunk is None
        _send(self.tasks, chunk)

    def take(self) -> list[Outcome]:
        outcomes = _receive(self.results)
        if isinstance(outcomes, BaseException):
            raise outcomes
        if outcomes is None:
            raise WorkerFailed(f"lint worker {self.pid} ended without its results")
        return cast("list[Outcome]", outcomes)


def _forked(chunks: Iterator[list[tuple[int, Source]]], count: int) -> Iterator[Outcome]:
    """The outcomes of ``count`` processes: this one and ``count - 1`` forked workers.

    This process lints too (on two cores a coordinator that only waited would leave one of
    them to the other worker's overhead): between two of its own files it hands a chunk to
    every worker that has finished one, without waiting for any.
    """
    import pickle  # noqa: F401  (here, before the fork: the workers inherit it imported)
    import signal

    workers: list[_Worker] = []
    try:
        for _ in range(count - 1):
            workers.append(_Worker(workers))
        pending = _Pending(chunks, workers)
        pending.feed()
        while (own := pending.next_chunk()) is not None:
            for position, source in own:
                yield _lint_one(position, source)
                yield from pending.collect(wait=False)
        while pending.busy:
            yield from pending.collect(wait=True)
        for worker in workers:
            worker.give(None)
    finally:
        for worker in workers:
            for fd in worker.fds:
                os.close(fd)
            if not worker.stopped:  # the run ends early (an error, an interrupt)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.pid, signal.SIGTERM)
        for worker in workers:
            os.waitpid(worker.pid, 0)


class _Pending:
    """The chunks still to lint, and the workers that have one."""

    def __init__(self, chunks: Iterator[list[tuple[int, Source]]], workers: list[_Worker]) -> None:
        import select

        self.chunks = chunks
        self.idle = list(reversed(workers))
        self.busy: dict[int, _Worker] = {}
        self.poller: select.poll = select.poll()
        for worker in workers:
            self.poller.register(worker.results, select.POLLIN)

    def next_chunk(self) -> list[tuple[int, Source]] | None:
        return next(self.chunks, None)

    def feed(self) -> None:
        """A chunk for every idle worker, while there are chunks."""
        while self.idle:
            chunk = self.next_chunk()
            if chunk is None:
                return
            worker = self.idle.pop()
            worker.give(chunk)
            self.busy[worker.results] = worker

    def collect(self, *, wait: bool) -> Iterator[Outcome]:
        """The outcomes of the workers that have finished a chunk (waiting for one, with
        ``wait``), each given its next chunk."""
        if not self.busy:
            return
        for fd, _event in self.poller.poll(-1 if wait else 0):
            worker = self.busy.pop(fd)
            yield from worker.take()
            self.idle.append(worker)
        self.feed()


def _serve(tasks: int, results: int) -> NoReturn:
    code = 0
    try:
        while (chunk := _receive(tasks)) is not None:
            numbered = cast("list[tuple[int, Source]]", chunk)
            _send(results, [_lint_one(position, source) for position, source in numbered])
    except BaseException as exc:  # every failure goes to the parent, which raises it
        code = 1
        with contextlib.suppress(BaseException):
            _send(results, exc)
    finally:
        os._exit(code)  # no interpreter shutdown: the parent owns every inherited resource


_HEADER = 8  # bytes of a message's length


def _send(fd: int, message: object) -> None:
    import pickle  # a run without workers does without it

    data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    view = memoryview(len(data).to_bytes(_HEADER, "little") + data)
    while view:
        view = view[os.write(fd, view) :]


def _receive(fd: int) -> object:
    """The next message; None at the end of the pipe (the other side closed it)."""
    header = _read_exactly(fd, _HEADER)
    if header is None:
        return None
    data = _read_exactly(fd, int.from_bytes(header, "little"))
    if data is None:
        return None
    import pickle

    return pickle.loads(data)


def _read_exactly(fd: int, size: int) -> bytes | None:
    parts: list[bytes] = []
    while size:
        part = os.read(fd, min(size, 1 << 20))
        if not part:
            return None
        parts.append(part)
        size -= len(part)
    return b"".join(parts)


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
