"""``lint --jobs``: worker processes give exactly the sequential run's result.

famfs-xml never forks a process that runs other threads (:func:`parallel.may_fork`), and this
test process may run some by the time these tests run (import-linter's, for one). So every
check that needs real workers runs in a fresh interpreter, a process with no other thread,
as famfs-xml's own is: the ``_check_...`` functions below, run by :func:`_in_a_fresh_process`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from famfs_xml.lint import parallel
from famfs_xml.lint.catalog import load_catalog
from famfs_xml.lint.checks import OPT_IN_CODES
from famfs_xml.lint.options import LintOptions
from famfs_xml.lint.run import RunResult, lint_paths
from famfs_xml.lint.selection import select_codes
from famfs_xml.lint.sources import Source, expand
from tests.conftest import FIXTURES, REPO
from tests.samples import GUIDE_VM

OPTIONS = LintOptions(select_codes(load_catalog(), None, None, None, OPT_IN_CODES))
PLAIN = (FIXTURES / "libvirt-style" / "plain-debian12.xml").read_text(encoding="utf-8")
# The guide's VM with a label that disagrees with GUIDE_VM's about the shared /dev/dax1.0.
OTHER_LABEL = GUIDE_VM.replace("<name>f39-dev2</name>", "<name>f39-dev3</name>").replace(
    "<size unit='MiB'>16</size>", "<size unit='MiB'>32</size>"
)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Files spread over several worker chunks: plain domains, VMs sharing a device in
    different chunks (FX501), one of them with a suppression, broken XML, a network."""
    for number in range(90):
        (tmp_path / f"plain-{number:03}.xml").write_text(PLAIN, encoding="utf-8")
    (tmp_path / "a-first.xml").write_text(GUIDE_VM, encoding="utf-8")
    # as many domains with GUIDE_VM's label as with the other: no majority, so FX501 names
    # every one of them (an outlier among many is tests/test_fleet.py's)
    for name in ("plain-010-same", "plain-085-same"):
        (tmp_path / f"{name}.xml").write_text(GUIDE_VM.replace("f39-dev2", name), "utf-8")
    (tmp_path / "plain-050-shared.xml").write_text(OTHER_LABEL, encoding="utf-8")
    suppressed = OTHER_LABEL.replace("f39-dev3", "f39-dev4").replace(
        "    <memory model='nvdimm'",
        "    <!-- famfs-xml: disable=FX501 -->\n    <memory model='nvdimm'",
    )
    (tmp_path / "z-suppressed.xml").write_text(suppressed, encoding="utf-8")
    unused = OTHER_LABEL.replace("f39-dev3", "f39-dev5").replace(
        "  <vcpu ", "  <!-- famfs-xml: disable=FX104 -->\n  <vcpu "
    )
    (tmp_path / "plain-070-unused.xml").write_text(unused, encoding="utf-8")
    (tmp_path / "plain-020-broken.xml").write_text("<domain><name>x</name>", encoding="utf-8")
    (tmp_path / "nets").mkdir()
    (tmp_path / "nets" / "default.xml").write_text("<network/>", encoding="utf-8")
    return tmp_path


def _numbered_sources(tree: Path) -> list[tuple[int, Source]]:
    sources, _ = expand([str(tree)], [])
    return list(enumerate(sources))


def _summary(result: RunResult) -> list[tuple[str, bool, list[tuple[str, int, int, str]]]]:
    return [
        (r.path, r.skipped, [(f.code, f.line, f.column, f.message) for f in r.findings])
        for r in result.files
    ]


def _in_a_fresh_process(check: Callable[[str], None], tree: Path) -> None:
    """``check(tree)`` in a new interpreter, which first makes sure it may fork."""
    code = (
        "import sys\n"
        "from famfs_xml.lint import parallel\n"
        "assert parallel.may_fork(), 'a fresh interpreter runs other threads'\n"
        f"from tests.test_parallel import {check.__name__}\n"
        f"{check.__name__}(sys.argv[1])\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("FAMFS_XML_DEBUG", None)
    done = subprocess.run(
        [sys.executable, "-c", code, str(tree)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]


def _check_workers_give_the_sequential_result(tree: str) -> None:
    sequential = lint_paths([tree], OPTIONS, jobs=1)
    for jobs in (2, 3):
        in_workers = lint_paths([tree], OPTIONS, jobs=jobs)
        assert _summary(in_workers) == _summary(sequential), jobs
        assert in_workers.errors == sequential.errors, jobs
    codes = {f.code for f in sequential.findings}
    assert {"FX001", "FX006", "FX501"} <= codes  # the tree exercises every path


def _check_per_file_ignores_apply_in_workers(tree: str) -> None:
    options = OPTIONS._replace(per_file_ignores=(("plain-0[5-7]*", frozenset({"FX501"})),))
    sequential = lint_paths([tree], options, jobs=1)
    assert _summary(lint_paths([tree], options, jobs=2)) == _summary(sequential)
    fx501 = {Path(f.path).name for f in sequential.findings if f.code == "FX501"}
    assert fx501 == {"a-first.xml", "plain-010-same.xml", "plain-085-same.xml"}


def _check_fx501_spans_chunks_and_honours_suppressions(tree: str) -> None:
    result = lint_paths([tree], OPTIONS, jobs=2)
    fx501 = {Path(f.path).name for f in result.findings if f.code == "FX501"}
    assert fx501 == {
        "a-first.xml",
        "plain-010-same.xml",
        "plain-085-same.xml",
        "plain-050-shared.xml",
        "plain-070-unused.xml",
    }


def _check_path_errors_keep_their_place(tree: str) -> None:
    base = Path(tree)
    paths = [str(base / "missing.xml"), tree, str(base / "also-missing.xml")]
    assert lint_paths(paths, OPTIONS, jobs=2).errors == lint_paths(paths, OPTIONS).errors
    assert len(lint_paths(paths, OPTIONS).errors) == 2


def _check_the_workers_lint_their_share(tree: str) -> None:
    """Files really are linted in other processes (each outcome says where)."""
    parent = os.getpid()
    in_process = parallel._lint_one

    def marked(position: int, source: Source) -> parallel.Outcome:
        outcome = in_process(position, source)
        return outcome._replace(error=None if os.getpid() == parent else "worker")

    parallel._lint_one = marked  # type: ignore[assignment]  # the workers inherit it
    numbered = iter(_numbered_sources(Path(tree)))
    where = {outcome.error for outcome in parallel.lint_in_workers(numbered, OPTIONS, 2)}
    assert where == {"worker", None}


def _in_workers_only(misbehave: Callable[[int], parallel.Outcome]) -> None:
    """``misbehave`` in place of a file's lint in the forked workers (which inherit it); this
    process, which lints its share too, lints as ever."""
    parent, lint_one = os.getpid(), parallel._lint_one

    def patched(position: int, source: Source) -> parallel.Outcome:
        if os.getpid() == parent:
            return lint_one(position, source)
        return misbehave(position)

    parallel._lint_one = patched  # type: ignore[assignment]


def _check_an_error_in_a_worker_is_raised_in_the_parent(tree: str) -> None:
    def broken(position: int) -> parallel.Outcome:
        raise RuntimeError(f"boom at {position}")

    _in_workers_only(broken)
    with pytest.raises(RuntimeError, match="boom at"):
        lint_paths([tree], OPTIONS, jobs=2)
    _check_no_child_is_left()


def _check_a_worker_that_dies_is_an_error_not_a_hang(tree: str) -> None:
    def dies(position: int) -> parallel.Outcome:
        os._exit(3)

    _in_workers_only(dies)
    with pytest.raises(parallel.WorkerFailed):
        lint_paths([tree], OPTIONS, jobs=2)
    _check_no_child_is_left()


def _check_every_worker_is_reaped(tree: str) -> None:
    lint_paths([tree], OPTIONS, jobs=3)
    _check_no_child_is_left()


def _check_no_child_is_left() -> None:
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


@pytest.mark.parametrize(
    "check",
    [
        _check_workers_give_the_sequential_result,
        _check_per_file_ignores_apply_in_workers,
        _check_fx501_spans_chunks_and_honours_suppressions,
        _check_path_errors_keep_their_place,
        _check_the_workers_lint_their_share,
        _check_an_error_in_a_worker_is_raised_in_the_parent,
        _check_a_worker_that_dies_is_an_error_not_a_hang,
        _check_every_worker_is_reaped,
    ],
    ids=lambda check: check.__name__.removeprefix("_check_"),
)
def test_with_workers(tree: Path, check: Callable[[str], None]) -> None:
    _in_a_fresh_process(check, tree)


def test_the_cli_reports_the_same_with_and_without_workers(tree: Path) -> None:
    """The program, as installed: a process of its own, which forks its workers."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("GITHUB_ACTIONS", None)
    program = [sys.executable, str(REPO / "scripts" / "famfs-xml"), "lint", "--format", "json"]
    runs = [
        subprocess.run(
            [*program, *jobs, str(tree)], env=env, capture_output=True, text=True, check=False
        )
        for jobs in (["--jobs", "1"], ["-j", "2"])
    ]
    assert [run.returncode for run in runs] == [1, 1], runs[1].stderr
    assert json.loads(runs[1].stdout) == json.loads(runs[0].stdout)


@pytest.mark.parametrize(
    ("jobs", "files", "expected"),
    [
        (1, 5000, 1),  # --jobs 1: never a pool
        (4, 2, 2),  # no more workers than files
        (3, 1000, 3),
        (0, parallel.AUTO_MIN_FILES - 1, 1),  # automatic: a small tree stays in-process
    ],
)
def test_worker_count(jobs: int, files: int, expected: int) -> None:
    assert parallel.workers_for(jobs, files) == expected


def test_automatic_workers_follow_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "available_cores", lambda: 2)
    assert parallel.workers_for(0, parallel.AUTO_MIN_FILES) == 2
    monkeypatch.setattr(parallel, "available_cores", lambda: 64)
    assert parallel.workers_for(0, 10_000) == 8
    monkeypatch.setattr(parallel, "available_cores", lambda: 1)
    assert parallel.workers_for(0, 10_000) == 1


def test_the_result_does_not_depend_on_the_order_workers_finish_in(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outcomes come back as workers finish their chunks; FX501's messages name the first
    domain that disagrees in the order of the files, whatever that order was."""
    sequential = lint_paths([str(tree)], OPTIONS, jobs=1)

    def last_chunk_first(chunks: Iterator[list[tuple[int, Source]]], _count: int) -> Iterator[Any]:
        finished = [[parallel._lint_one(*item) for item in chunk] for chunk in chunks]
        for outcomes in reversed(finished):
            yield from reversed(outcomes)

    monkeypatch.setattr(parallel, "_forked", last_chunk_first)
    monkeypatch.setattr(parallel, "may_fork", lambda: True)
    assert _summary(lint_paths([str(tree)], OPTIONS, jobs=2)) == _summary(sequential)


def test_a_process_with_other_threads_does_not_fork(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # more files than are listed before the number of processes is chosen
    for number in range(parallel.AUTO_MIN_FILES):
        (tree / f"more-{number:03}.xml").write_text(PLAIN, encoding="utf-8")
    (tree / "zz-last-broken.xml").write_text("<domain>", encoding="utf-8")
    (tree / "zz-unreadable.xml").mkdir()
    sequential = lint_paths([str(tree)], OPTIONS, jobs=1)
    assert len(sequential.files) > parallel.AUTO_MIN_FILES + 90

    def no_fork(*_args: object) -> None:
        raise AssertionError("forked while another thread runs")

    monkeypatch.setattr(parallel, "_Worker", no_fork)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not parallel.may_fork()
        for jobs in (0, 2):
            alone = lint_paths([str(tree)], OPTIONS, jobs=jobs)
            assert _summary(alone) == _summary(sequential), jobs
            assert alone.errors == sequential.errors, jobs
    finally:
        stop.set()
        other.join()
