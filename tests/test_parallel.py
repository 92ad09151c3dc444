"""``lint --jobs``: worker processes give exactly the sequential run's result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from famfs_xml.lint import parallel
from famfs_xml.lint.catalog import load_catalog
from famfs_xml.lint.checks import OPT_IN_CODES
from famfs_xml.lint.options import LintOptions
from famfs_xml.lint.run import RunResult, lint_paths
from famfs_xml.lint.selection import select_codes
from tests.conftest import FIXTURES, Cli
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


def _summary(result: RunResult) -> list[tuple[str, bool, list[tuple[str, int, int, str]]]]:
    return [
        (r.path, r.skipped, [(f.code, f.line, f.column, f.message) for f in r.findings])
        for r in result.files
    ]


@pytest.mark.parametrize("jobs", [2, 3])
def test_workers_give_the_sequential_result(tree: Path, jobs: int) -> None:
    sequential = lint_paths([str(tree)], OPTIONS, jobs=1)
    in_workers = lint_paths([str(tree)], OPTIONS, jobs=jobs)
    assert _summary(in_workers) == _summary(sequential)
    assert in_workers.errors == sequential.errors
    codes = {f.code for f in sequential.findings}
    assert {"FX001", "FX006", "FX501"} <= codes  # the tree exercises every path


def test_per_file_ignores_apply_in_workers(tree: Path) -> None:
    options = OPTIONS._replace(per_file_ignores=(("plain-0[5-7]*", frozenset({"FX501"})),))
    sequential = lint_paths([str(tree)], options, jobs=1)
    assert _summary(lint_paths([str(tree)], options, jobs=2)) == _summary(sequential)
    fx501 = {Path(f.path).name for f in sequential.findings if f.code == "FX501"}
    assert fx501 == {"a-first.xml", "plain-010-same.xml", "plain-085-same.xml"}


def test_fx501_spans_chunks_and_honours_suppressions(tree: Path) -> None:
    result = lint_paths([str(tree)], OPTIONS, jobs=2)
    fx501 = {Path(f.path).name for f in result.findings if f.code == "FX501"}
    assert fx501 == {
        "a-first.xml",
        "plain-010-same.xml",
        "plain-085-same.xml",
        "plain-050-shared.xml",
        "plain-070-unused.xml",
    }


def test_path_errors_keep_their_place(tree: Path) -> None:
    paths = [str(tree / "missing.xml"), str(tree), str(tree / "also-missing.xml")]
    assert lint_paths(paths, OPTIONS, jobs=2).errors == lint_paths(paths, OPTIONS).errors
    assert len(lint_paths(paths, OPTIONS).errors) == 2


def test_the_cli_reports_the_same_with_and_without_workers(cli: Cli, tree: Path) -> None:
    one = cli("lint", "--format", "json", "--jobs", "1", str(tree))
    two = cli("lint", "--format", "json", "-j", "2", str(tree))
    assert one.exit_code == two.exit_code == 1
    assert json.loads(two.stdout) == json.loads(one.stdout)


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
