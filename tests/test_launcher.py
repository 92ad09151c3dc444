"""The launcher's plain ``lint`` path: the same options, results and messages as typer's,
without importing typer."""

from __future__ import annotations

import io
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
import typer

from famfs_xml.cli import app as cli
from famfs_xml.cli import commands, main, plain
from famfs_xml.cli.options import FailOn, LintArgs, OutputFormat, declared
from tests.conftest import FIXTURES

GUIDE = str(FIXTURES / "guide" / "f39-dev2.xml")
PRIVATE = str(FIXTURES / "defects" / "FX301-nvdimm-private.xml")
BROKEN = str(FIXTURES / "defects" / "FX001-unclosed-pmem-tag.xml")
INVENTORY = str(FIXTURES / "inventory" / "daxctl-list-devdax.json")


def _lint_params() -> dict[str, typer.core.TyperOption]:
    group = typer.main.get_command(cli.app)
    assert isinstance(group, typer.core.TyperGroup)
    command = group.commands["lint"]
    return {
        opt: param
        for param in command.params
        if isinstance(param, typer.core.TyperOption)
        for opt in param.opts + param.secondary_opts
    }


def test_jobs_is_lints_number_of_workers() -> None:
    for spelling in plain.JOBS:
        param = _lint_params()[spelling]
        assert param.name == "jobs"
        assert param.default == 0 and not param.is_flag


@pytest.mark.parametrize(("spelling", "name"), sorted(plain.LINT_FLAGS.items()))
def test_every_plain_flag_is_a_flag_of_lint(spelling: str, name: str) -> None:
    param = _lint_params()[spelling]
    assert param.name == name
    assert param.is_flag and param.default is False


@pytest.mark.parametrize("spelling", sorted(plain.VALUE_OPTIONS))
def test_every_value_option_is_an_option_of_lint_with_a_value(spelling: str) -> None:
    param = _lint_params()[spelling]
    assert param.name == plain.VALUE_OPTIONS[spelling].name
    assert not param.is_flag


def test_the_launcher_leaves_only_connect_to_typer() -> None:
    """Every option of lint but --connect (libvirt's domains, not files) is the launcher's:
    each one's kind is one it converts (a value of a kind it does not know would make every
    call with that option typer's)."""
    known = set(plain.LINT_FLAGS) | set(plain.VALUE_OPTIONS)
    assert set(_lint_params()) - known == {"--connect", "-c"}
    for spelling, item in plain.VALUE_OPTIONS.items():
        assert plain._converted(item, "1") is not None or item.kind is not int, spelling
        if item.name != "jobs" and plain._choices(item.kind) is None:
            assert plain._converted(item, "x") is not None, spelling


@pytest.mark.parametrize(
    ("args", "plain_call"),
    [
        (["lint", "a.xml"], (["a.xml"], {})),
        (
            ["lint", "--only-domains", "a.xml", "-v", "b.xml"],
            (["a.xml", "b.xml"], {"only_domains": True, "verbose": True}),
        ),
        (["lint", "-"], (["-"], {})),
        (["lint", "-j", "1", "a.xml"], (["a.xml"], {"jobs": 1})),
        (
            ["lint", "--jobs=3", "--exit-zero", "a.xml"],
            (["a.xml"], {"jobs": 3, "exit_zero": True}),
        ),
        (
            ["lint", "--format", "sarif", "a.xml"],
            (["a.xml"], {"output_format": OutputFormat.sarif}),
        ),
        (["lint", "--format=json", "a.xml"], (["a.xml"], {"output_format": OutputFormat.json})),
        (
            ["lint", "--select=FX3", "--select", "FX1", "--ignore", "FX301", "a.xml"],
            (["a.xml"], {"select": ["FX3", "FX1"], "ignore": ["FX301"]}),
        ),
        (
            ["lint", "--fail-on", "info", "--output", "r.txt", "a.xml"],
            (["a.xml"], {"fail_on": FailOn.info, "output": Path("r.txt")}),
        ),
        (["lint", "--jobs", "-1", "a.xml"], None),  # typer words a bad number
        (["lint", "--jobs", "two", "a.xml"], None),
        (["lint", "-j2", "a.xml"], None),
        (["lint", "a.xml", "-j"], None),
        (["lint", "--format", "SARIF", "a.xml"], None),  # typer words a bad choice
        (["lint", "--format", "", "a.xml"], None),
        (["lint", "--select", "--ignore", "a.xml"], None),
        (["lint", "--connect", "qemu:///system", "vm1"], None),  # libvirt's domains
        (["lint", "-c", "qemu:///system", "vm1"], None),
        (["lint"], None),  # typer words the missing argument
        (["lint", "--help"], None),
        (["lint", "--", "a.xml"], None),
        (["lint", "-x.xml"], None),
        (["fix", "a.xml"], None),
        ([], None),
    ],
)
def test_which_calls_are_plain(
    args: list[str], plain_call: tuple[list[str], dict[str, object]] | None
) -> None:
    assert plain.plain_lint(args) == plain_call


def _outcome(run: Callable[[list[str]], int], args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = run(args)
    return code, out.getvalue(), err.getvalue()


PLAIN_CALLS = [
    ["lint", GUIDE],
    ["lint", PRIVATE, GUIDE],
    ["lint", "--exit-zero", PRIVATE],
    ["lint", "--statistics", "--isolated", PRIVATE, BROKEN],
    ["lint", "--only-domains", str(FIXTURES / "defects")],
    ["lint", "-v", "--host", GUIDE],
    ["lint", "no-such-file.xml", GUIDE],
    ["lint", "-j", "2", str(FIXTURES)],
    ["lint", "--jobs=1", "--exit-zero", str(FIXTURES)],
    ["lint", "--format", "sarif", PRIVATE, BROKEN],
    ["lint", "--format=json", "--statistics", PRIVATE],
    ["lint", "--format", "github", PRIVATE],
    ["lint", "--format", "junit", PRIVATE, GUIDE],
    ["lint", "--select", "FX3", "--ignore=FX301", PRIVATE],
    ["lint", "--extend-select", "FX105", "--fail-on", "error", PRIVATE],
    ["lint", "--fail-on", "info", "--select", "no-such-rule", GUIDE],
    ["lint", "--inventory", INVENTORY, GUIDE],
    ["lint", "--inventory", "no-such-inventory.json", GUIDE],
    ["lint", "--config", "no-such-config.toml", GUIDE],
    ["lint", "--libvirt-schemas", str(FIXTURES), GUIDE],
    ["lint", "--host", "--root", str(FIXTURES), GUIDE],
    ["lint", "--libvirt-version", "9.0", PRIVATE],
    ["lint", "--libvirt-version=12.8", "--format", "json", PRIVATE],
    ["lint", "--libvirt-version", "nine", GUIDE],
    ["lint", "--all", GUIDE],
]


@pytest.mark.parametrize("args", PLAIN_CALLS)
def test_plain_path_and_typer_agree(args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    assert plain.plain_lint(args) is not None
    assert _outcome(main.run, args) == _outcome(cli.run, args)


def _options_given(
    run: Callable[[list[str]], int], args: list[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[list[str], dict[str, object]]:
    """The paths and every option value that ``run`` hands to the lint command."""
    seen: list[tuple[list[str], dict[str, object]]] = []

    def record(paths: list[str], lint_args: LintArgs) -> int:
        values = {item.name: getattr(lint_args, item.name) for item in declared(LintArgs)}
        seen.append((list(paths), values))
        return 0

    monkeypatch.setattr(commands, "lint", record)
    assert run(args) == 0
    (given,) = seen
    return given


@pytest.mark.parametrize("args", PLAIN_CALLS)
def test_the_launcher_hands_lint_what_typer_hands_it(
    args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _options_given(main.run, args, monkeypatch) == _options_given(cli.run, args, monkeypatch)


def test_an_output_file_is_written_alike(tmp_path: Path) -> None:
    reports = []
    for run in (main.run, cli.run):
        report = tmp_path / f"report-{len(reports)}.sarif"
        args = ["lint", "--format", "sarif", "--output", str(report), PRIVATE]
        assert plain.plain_lint(args) is not None
        assert _outcome(run, args) == (1, "", "")
        reports.append(report.read_text(encoding="utf-8"))
    assert reports[0] == reports[1]


def test_internal_errors_are_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from famfs_xml.cli import commands

    def broken(*_args: object, **_kwargs: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(commands, "lint", broken)
    monkeypatch.delenv("FAMFS_XML_DEBUG", raising=False)
    assert _outcome(main.run, ["lint", GUIDE]) == (
        2,
        "",
        "famfs-xml: internal error: RuntimeError: boom\n",
    )
