"""The launcher's plain ``lint`` path: the same results as typer's, without importing typer."""

from __future__ import annotations

import io
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout

import pytest
import typer

from famfs_xml.cli import app as cli
from famfs_xml.cli import main
from tests.conftest import FIXTURES

GUIDE = str(FIXTURES / "guide" / "f39-dev2.xml")
PRIVATE = str(FIXTURES / "defects" / "FX301-nvdimm-private.xml")
BROKEN = str(FIXTURES / "defects" / "FX001-unclosed-pmem-tag.xml")


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
    for spelling in main.JOBS:
        param = _lint_params()[spelling]
        assert param.name == "jobs"
        assert param.default == 0 and not param.is_flag


@pytest.mark.parametrize(("spelling", "name"), sorted(main.LINT_FLAGS.items()))
def test_every_plain_flag_is_a_flag_of_lint(spelling: str, name: str) -> None:
    param = _lint_params()[spelling]
    assert param.name == name
    assert param.is_flag and param.default is False


@pytest.mark.parametrize(
    ("args", "plain"),
    [
        (["lint", "a.xml"], (["a.xml"], set(), 0)),
        (
            ["lint", "--only-domains", "a.xml", "-v", "b.xml"],
            (["a.xml", "b.xml"], {"only_domains", "verbose"}, 0),
        ),
        (["lint", "-"], (["-"], set(), 0)),
        (["lint", "-j", "1", "a.xml"], (["a.xml"], set(), 1)),
        (["lint", "--jobs=3", "--exit-zero", "a.xml"], (["a.xml"], {"exit_zero"}, 3)),
        (["lint", "--jobs", "-1", "a.xml"], None),  # typer words a bad number
        (["lint", "--jobs", "two", "a.xml"], None),
        (["lint", "a.xml", "-j"], None),
        (["lint"], None),  # typer words the missing argument
        (["lint", "--format", "json", "a.xml"], None),  # an option with a value
        (["lint", "--select=FX3", "a.xml"], None),
        (["lint", "--help"], None),
        (["lint", "--", "a.xml"], None),
        (["lint", "-x.xml"], None),
        (["fix", "a.xml"], None),
        ([], None),
    ],
)
def test_which_calls_are_plain(
    args: list[str], plain: tuple[list[str], set[str], int] | None
) -> None:
    assert main.plain_lint(args) == plain


def _outcome(run: Callable[[list[str]], int], args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = run(args)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    "args",
    [
        ["lint", GUIDE],
        ["lint", PRIVATE, GUIDE],
        ["lint", "--exit-zero", PRIVATE],
        ["lint", "--statistics", "--isolated", PRIVATE, BROKEN],
        ["lint", "--only-domains", str(FIXTURES / "defects")],
        ["lint", "-v", "--host", GUIDE],
        ["lint", "no-such-file.xml", GUIDE],
        ["lint", "-j", "2", str(FIXTURES)],
        ["lint", "--jobs=1", "--exit-zero", str(FIXTURES)],
    ],
)
def test_plain_path_and_typer_agree(args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    assert main.plain_lint(args) is not None
    assert _outcome(main.run, args) == _outcome(cli.run, args)


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
