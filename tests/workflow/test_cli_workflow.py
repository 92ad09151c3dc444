"""Command-line behaviour for git hooks: --only-domains, and the options in --help."""

from __future__ import annotations

from pathlib import Path

from workflow_samples import BROKEN, CLEAN, NETWORK, Cli


def test_only_domains_skips_other_libvirt_xml(cli: Cli, workdir: Path) -> None:
    (workdir / "default.xml").write_text(NETWORK)
    (workdir / "vm1.xml").write_text(CLEAN)
    named = cli("lint", "--isolated", "default.xml", "vm1.xml")
    assert named.code == 1 and "FX004" in named.stdout
    quiet = cli("lint", "--isolated", "--only-domains", "default.xml", "vm1.xml")
    assert quiet.code == 0, quiet.stdout
    assert quiet.stdout == "Found 0 problems (0 fixable).\n"
    fixed = cli("fix", "--isolated", "--only-domains", "--exit-non-zero-on-fix", "default.xml")
    assert fixed.code == 0
    assert (workdir / "default.xml").read_text() == NETWORK


def test_fix_from_stdin_reports_on_stderr(cli: Cli) -> None:
    result = cli("fix", "--isolated", "--show-fixes", "-", stdin=BROKEN.encode())
    assert result.code == 0
    assert "access='shared'" in result.stdout
    assert result.stderr.startswith("Fixed 3 problems:\n- -:\n")


def test_help_lists_the_workflow_options(cli: Cli) -> None:
    lint_help = cli("lint", "--help").stdout
    for option in (
        "--format",
        "--output",
        "--statistics",
        "--config",
        "--isolated",
        "--only-domains",
    ):
        assert option in lint_help
    for name in ("sarif", "github", "junit"):
        assert name in lint_help
    fix_help = cli("fix", "--help").stdout
    for option in ("--exit-non-zero-on-fix", "--show-fixes", "--statistics", "--config"):
        assert option in fix_help
