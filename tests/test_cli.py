"""The command line: outputs (syrupy snapshots), exit codes, and one-line errors."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from tests.conftest import Cli, run_entry_point
from tests.samples import GUIDE_VM

BROKEN_VM = (
    GUIDE_VM.replace(" access='shared'", "")
    .replace("<alignsize unit='MiB'>2</alignsize>", "<alignsize unit='KiB'>4</alignsize>")
    .replace("<size unit='MiB'>16</size>", "<size unit='MB'>16</size>")
)


@pytest.fixture
def vms(tmp_path: Path) -> Path:
    (tmp_path / "good.xml").write_text(GUIDE_VM)
    (tmp_path / "broken.xml").write_text(BROKEN_VM)
    return tmp_path


def test_lint_clean_file(cli: Cli, vms: Path, snapshot: SnapshotAssertion) -> None:
    result = cli("lint", "good.xml", cwd=vms)
    assert result.exit_code == 0
    assert result.snapshot() == snapshot


def test_lint_findings_text(cli: Cli, vms: Path, snapshot: SnapshotAssertion) -> None:
    result = cli("lint", "broken.xml", cwd=vms)
    assert result.exit_code == 1
    assert "broken.xml:22:5: FX301 [*] " in result.stdout
    assert result.snapshot() == snapshot


def test_lint_findings_json(cli: Cli, vms: Path, snapshot: SnapshotAssertion) -> None:
    result = cli("lint", "--format", "json", "broken.xml", cwd=vms)
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["version"] == 1
    assert report["summary"] == {"files": 1, "findings": 3, "fixable": 2}
    first = report["findings"][0]
    assert set(first) == {
        "code",
        "name",
        "severity",
        "path",
        "line",
        "column",
        "message",
        "fix",
        "host",
    }
    assert first["host"] is None and report["hosts"] == []  # files of no named host
    assert report == snapshot


def test_fail_on_error_ignores_warnings(cli: Cli, vms: Path) -> None:
    only_warning = GUIDE_VM.replace("<size unit='MiB'>16</size>", "<size unit='MB'>16</size>")
    (vms / "warn.xml").write_text(only_warning)
    assert cli("lint", "warn.xml", cwd=vms).exit_code == 1
    assert cli("lint", "--fail-on", "error", "warn.xml", cwd=vms).exit_code == 0
    assert cli("lint", "--exit-zero", "broken.xml", cwd=vms).exit_code == 0


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        (["--select", "FX301"], ["FX301"]),
        (["--select", "FX3"], ["FX301", "FX302"]),
        (["--select", "nvdimm-access-not-shared,FX106"], ["FX301", "FX106"]),
        (["--ignore", "FX3"], ["FX106"]),
        (["--select", "FX301", "--extend-select", "FX106"], ["FX301", "FX106"]),
    ],
)
def test_rule_selection(cli: Cli, vms: Path, selector: list[str], expected: list[str]) -> None:
    result = cli("lint", "--format", "json", *selector, "broken.xml", cwd=vms)
    found = [f["code"] for f in json.loads(result.stdout)["findings"]]
    assert sorted(found) == sorted(expected)


def test_info_rules_are_opt_in(cli: Cli, vms: Path) -> None:
    plain = GUIDE_VM.replace("machine='pc-q35-7.2'", "machine='pc-i440fx-7.2'")
    (vms / "pc.xml").write_text(plain)
    assert cli("lint", "pc.xml", cwd=vms).exit_code == 0
    result = cli("lint", "--extend-select", "FX403", "pc.xml", cwd=vms)
    assert "FX403" in result.stdout
    assert result.exit_code == 0  # info stays below the default --fail-on warning
    assert (
        cli("lint", "--extend-select", "FX403", "--fail-on", "info", "pc.xml", cwd=vms).exit_code
        == 1
    )


def test_fix_in_place_keeps_mode(cli: Cli, vms: Path, snapshot: SnapshotAssertion) -> None:
    target = vms / "broken.xml"
    os.chmod(target, 0o640)
    result = cli("fix", "broken.xml", cwd=vms)
    assert result.exit_code == 1  # the decimal label unit is only fixed with --unsafe-fixes
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert "access='shared'" in target.read_text()
    assert result.snapshot() == snapshot
    result = cli("fix", "--unsafe-fixes", "broken.xml", cwd=vms)
    assert result.exit_code == 0
    # An existing value keeps its own unit when the new size is exact in it.
    assert target.read_text() == GUIDE_VM.replace(
        "<alignsize unit='MiB'>2</alignsize>", "<alignsize unit='KiB'>2048</alignsize>"
    )
    assert list(vms.glob(".*.tmp")) == []


def test_fix_diff_writes_nothing(cli: Cli, vms: Path, snapshot: SnapshotAssertion) -> None:
    before = (vms / "broken.xml").read_bytes()
    result = cli("fix", "--diff", "broken.xml", cwd=vms)
    assert result.exit_code == 1
    assert (vms / "broken.xml").read_bytes() == before
    assert result.snapshot() == snapshot
    assert cli("fix", "--diff", "good.xml", cwd=vms).exit_code == 0


def test_fix_stdin_to_stdout(cli: Cli) -> None:
    result = cli("fix", "-", stdin=BROKEN_VM.encode())
    assert result.stdout.startswith("<domain type='kvm'")
    assert "<memory model='nvdimm' access='shared'>" in result.stdout
    assert "Fixed 2 problems" in result.stderr


def test_lint_stdin(cli: Cli) -> None:
    result = cli("lint", "-", stdin=BROKEN_VM.encode())
    assert result.exit_code == 1
    assert result.stdout.startswith("-:22:5: FX301")


def test_directory_scan_skips_symlinks_and_other_documents(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "vm.xml").write_text(BROKEN_VM)
    (tmp_path / "networks").mkdir()
    (tmp_path / "networks" / "default.xml").write_text(
        "<network><name>default</name><bridge name='virbr0'/></network>\n"
    )
    (tmp_path / "autostart").mkdir()
    (tmp_path / "autostart" / "vm.xml").symlink_to(tmp_path / "vm.xml")
    (tmp_path / "loop").symlink_to(tmp_path)
    (tmp_path / "notes.txt").write_text("not xml")
    result = cli("lint", "--format", "json", str(tmp_path))
    report = json.loads(result.stdout)
    assert {Path(f["path"]).name for f in report["findings"]} == {"vm.xml"}
    assert report["summary"]["files"] == 1


def test_a_non_domain_named_explicitly_is_fx004(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "net.xml").write_text("<network><name>default</name></network>\n")
    result = cli("lint", "net.xml", cwd=tmp_path)
    assert result.exit_code == 1
    assert "FX004" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["lint", "missing.xml"],
        ["lint", "--bogus", "good.xml"],
        ["lint", "--fail-on", "sometimes", "good.xml"],
        ["lint", "--select", "FX999", "good.xml"],
        ["lint", "--inventory", "missing.json", "good.xml"],
        ["lint", "-", "-"],
        ["explain", "FX999"],
    ],
)
def test_usage_errors_are_one_line_exit_2(
    cli: Cli, vms: Path, args: list[str], snapshot: SnapshotAssertion
) -> None:
    result = cli(*args, cwd=vms)
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("famfs-xml: error: ")
    assert "Traceback" not in result.stderr
    assert result.snapshot() == snapshot


def test_unreadable_file_is_exit_2(cli: Cli, vms: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode")
    target = vms / "good.xml"
    target.chmod(0)
    result = cli("lint", "good.xml", cwd=vms)
    assert result.exit_code == 2
    assert "Permission denied" in result.stderr


def test_read_errors_are_exit_2(cli: Cli, vms: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(path: object, limit: int = 0) -> bytes:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("famfs_xml.lint.sources.read_limited", refuse)
    result = cli("lint", "good.xml", cwd=vms)
    assert result.exit_code == 2
    assert result.stderr == "famfs-xml: error: good.xml: Permission denied\n"


def test_rules_and_explain(cli: Cli, snapshot: SnapshotAssertion) -> None:
    listing = cli("rules")
    assert listing.exit_code == 0
    assert "FX302  nvdimm-alignsize" in listing.stdout
    as_json = json.loads(cli("rules", "--format", "json").stdout)
    assert {r["code"] for r in as_json["rules"]} >= {"FX001", "FX302", "FX501"}
    by_name = cli("explain", "nvdimm-alignsize")
    assert by_name.exit_code == 0
    assert by_name.stdout == cli("explain", "fx302").stdout
    assert by_name.stdout == snapshot


def test_entry_point_runs_as_a_process(tmp_path: Path) -> None:
    (tmp_path / "vm.xml").write_text(BROKEN_VM)
    result = run_entry_point(["lint", "vm.xml"], cwd=tmp_path)
    assert result.exit_code == 1
    assert "vm.xml:22:5: FX301" in result.stdout
    version = run_entry_point(["--version"])
    assert version.exit_code == 0 and version.stdout.startswith("famfs-xml ")
    bad = run_entry_point(["lint", "--nope"])
    assert bad.exit_code == 2 and "Traceback" not in bad.stderr
